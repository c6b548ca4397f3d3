import assert from 'node:assert/strict';
import { ClaimSize } from '../../activities/claim-size';

/** The sizes of the claims after each use, starting from `floor`. */
function sizesAfter(floor: number, uses: [claimed: number, elapsedMs: number][]): number[] {
  const size = new ClaimSize(floor);
  return uses.map(([claimed, elapsedMs]) => {
    size.usedUp(claimed, elapsedMs);
    return size.value;
  });
}

describe('the size of a send batch claim', () => {
  it('starts at the concurrency', () => {
    assert.equal(new ClaimSize(64).value, 64);
  });

  it('doubles while full claims are used up within half a second, up to 512', () => {
    assert.deepEqual(sizesAfter(64, [[64, 100], [128, 200], [256, 400], [512, 300], [512, 300]]), [128, 256, 512, 512, 512]);
  });

  it('stays when a claim got fewer messages than it asked for: nothing more is due now', () => {
    assert.deepEqual(sizesAfter(64, [[10, 5], [63, 5]]), [64, 64]);
  });

  it('stays when a claim took between half a second and a second', () => {
    assert.deepEqual(sizesAfter(64, [[64, 100], [128, 800]]), [128, 128]);
  });

  it('halves after a claim that took over a second, never below the concurrency', () => {
    assert.deepEqual(sizesAfter(64, [[64, 10], [128, 10], [256, 10], [512, 1500], [256, 20_000], [128, 5000], [64, 5000]]), [128, 256, 512, 256, 128, 64, 64]);
  });

  it('never goes below a concurrency above 512', () => {
    assert.deepEqual(sizesAfter(1000, [[1000, 10], [1000, 2000]]), [1000, 1000]);
  });
});
