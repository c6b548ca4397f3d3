import assert from 'node:assert/strict';
import { OutcomeWriter } from '../../activities/outcome-writer';
import type { ClaimOutcome } from '../../storage/messages';

const entry = (id: number, token = 'claim'): ClaimOutcome => ({ token, outcome: { id, status: 'sent', error: null, retryAt: null, attempted: true } });

/** A statement that ends when the test says: the entries of every call, and a way to end each. */
function heldStatements() {
  const calls: { ids: number[]; end: (written: number[] | Error) => void }[] = [];
  const record = (entries: ClaimOutcome[]) =>
    new Promise<Set<number>>((resolve, reject) => {
      calls.push({ ids: entries.map((e) => e.outcome.id), end: (written) => (written instanceof Error ? reject(written) : resolve(new Set(written))) });
    });
  return { calls, record };
}

describe('the outcome writer shared by the send batches of a worker', () => {
  it('writes at once when no write is under way', () => {
    const { calls, record } = heldStatements();
    void new OutcomeWriter(record).write([entry(1), entry(2)]);
    assert.deepEqual(calls.map((c) => c.ids), [[1, 2]]);
  });

  it('writes what batches ask for while a write is under way together, as the next single statement', async () => {
    const { calls, record } = heldStatements();
    const writer = new OutcomeWriter(record);
    const first = writer.write([entry(1)]);
    const second = writer.write([entry(2, 'other claim')]);
    const third = writer.write([entry(3), entry(4)]);
    assert.equal(calls.length, 1);
    calls[0].end([1]);
    await first;
    assert.deepEqual(calls.map((c) => c.ids), [[1], [2, 3, 4]]);
    calls[1].end([2, 3, 4]);
    assert.deepEqual(await Promise.all([second, third]), [1, 2]);
  });

  it('answers each batch how many of its own outcomes were written', async () => {
    const { calls, record } = heldStatements();
    const writer = new OutcomeWriter(record);
    const blocker = writer.write([entry(9)]);
    const mine = writer.write([entry(1), entry(2)]);
    const theirs = writer.write([entry(3)]);
    calls[0].end([9]);
    await blocker;
    // Message 2's claim was gone: it was not written.
    calls[1].end([1, 3]);
    assert.deepEqual(await Promise.all([mine, theirs]), [1, 1]);
  });

  it('fails every batch of a failed statement, and writes what waits after it', async () => {
    const { calls, record } = heldStatements();
    const writer = new OutcomeWriter(record);
    const failing = writer.write([entry(1)]);
    const next = writer.write([entry(2)]);
    calls[0].end(new Error('the database went away'));
    await assert.rejects(failing, /went away/);
    assert.deepEqual(calls.map((c) => c.ids), [[1], [2]]);
    calls[1].end([2]);
    assert.equal(await next, 1);
  });
});
