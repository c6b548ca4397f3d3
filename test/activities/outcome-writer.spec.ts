import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { OutcomeWriter } from '../../activities/outcome-writer';
import { createLogger } from '../../config/logger';
import type { ClaimOutcome } from '../../storage/messages';

const logger = createLogger('silent', 'test');
const entry = (id: number, token = 'claim'): ClaimOutcome => ({ token, outcome: { id, status: 'sent', error: null, retryAt: null, attempted: true } });

/** A statement that ends when the test says: the entries of every call, when it came, and a way to end each. */
function heldStatements() {
  const calls: { ids: number[]; at: number; end: (written: number[] | Error) => void }[] = [];
  const record = (entries: ClaimOutcome[]) =>
    new Promise<Set<number>>((resolve, reject) => {
      calls.push({ ids: entries.map((e) => e.outcome.id), at: Date.now(), end: (written) => (written instanceof Error ? reject(written) : resolve(new Set(written))) });
    });
  return { calls, record };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(2);
}

/** Whether a promise has settled by the time the event loop is idle. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await sleep(10);
  return settled;
}

describe('the outcome writer shared by the send batches of a worker', () => {
  it('writes an outcome once the flush interval after it is over, not at once', async () => {
    const { calls, record } = heldStatements();
    const writer = new OutcomeWriter(record, logger, { flushIntervalMs: 100 });
    const addedAt = Date.now();
    writer.add(writer.batch(1, logger), entry(1));
    await sleep(50);
    assert.equal(calls.length, 0);
    await until(() => calls.length === 1);
    assert.ok(calls[0].at - addedAt >= 95, `written ${calls[0].at - addedAt} ms after it came`);
  });

  it('writes the outcomes of every batch that came within the interval together, as one statement', async () => {
    const { calls, record } = heldStatements();
    const writer = new OutcomeWriter(record, logger, { flushIntervalMs: 30 });
    const [a, b] = [writer.batch(1, logger), writer.batch(2, logger)];
    writer.add(a, entry(1));
    writer.add(b, entry(2, 'other claim'));
    writer.add(a, entry(3));
    await until(() => calls.length === 1);
    await sleep(60);
    assert.deepEqual(calls.map((c) => c.ids), [[1, 2, 3]]);
  });

  it('writes at once what waits when a batch asks for its outcomes to be settled', () => {
    const { calls, record } = heldStatements();
    const writer = new OutcomeWriter(record, logger, { flushIntervalMs: 60_000 });
    const batch = writer.batch(1, logger);
    writer.add(batch, entry(1));
    void writer.settled(batch);
    assert.deepEqual(calls.map((c) => c.ids), [[1]]);
  });

  it('settles a batch only once the statement with its outcomes is done, whether or not their claims still held them', async () => {
    const { calls, record } = heldStatements();
    const writer = new OutcomeWriter(record, logger, { flushIntervalMs: 60_000 });
    const batch = writer.batch(1, logger);
    writer.add(batch, entry(1));
    writer.add(batch, entry(2));
    const settled = writer.settled(batch);
    assert.equal(await isSettled(settled), false);
    // Message 2's claim was gone: it was not written, and is not waited for.
    calls[0].end([1]);
    await settled;
  });

  it('settles a batch with no outcome at once', async () => {
    const { calls, record } = heldStatements();
    const writer = new OutcomeWriter(record, logger);
    await writer.settled(writer.batch(1, logger));
    assert.equal(calls.length, 0);
  });

  it('writes what came while a statement was under way in the next one, as soon as it is done when its time is up', async () => {
    const { calls, record } = heldStatements();
    const writer = new OutcomeWriter(record, logger, { flushIntervalMs: 10 });
    const batch = writer.batch(1, logger);
    writer.add(batch, entry(1));
    await until(() => calls.length === 1);
    writer.add(batch, entry(2));
    writer.add(batch, entry(3));
    await sleep(40);
    assert.equal(calls.length, 1, 'a second statement started while the first was under way');
    calls[0].end([1]);
    await until(() => calls.length === 2);
    assert.deepEqual(calls[1].ids, [2, 3]);
  });

  it('tries a failed statement again after the retry delay, with what came meanwhile', async () => {
    const { calls, record } = heldStatements();
    const writer = new OutcomeWriter(record, logger, { flushIntervalMs: 10, retryDelayMs: 200 });
    const batch = writer.batch(1, logger);
    writer.add(batch, entry(1));
    await until(() => calls.length === 1);
    const failedAt = Date.now();
    calls[0].end(new Error('the database went away'));
    writer.add(batch, entry(2));
    const settled = writer.settled(batch);
    await until(() => calls.length === 2);
    assert.ok(calls[1].at - failedAt >= 190, `tried again ${calls[1].at - failedAt} ms after the failure`);
    assert.deepEqual(calls[1].ids, [1, 2]);
    calls[1].end([1, 2]);
    await settled;
  });

  it('fails a batch once one of its outcomes failed every try, and still writes the other batches', async () => {
    const { calls, record } = heldStatements();
    const writer = new OutcomeWriter(record, logger, { flushIntervalMs: 10, retryDelayMs: 10, attempts: 2 });
    const [doomed, other] = [writer.batch(1, logger), writer.batch(2, logger)];
    writer.add(doomed, entry(1));
    const failing = writer.settled(doomed);
    calls[0].end(new Error('the database went away'));
    writer.add(other, entry(2));
    await until(() => calls.length === 2);
    calls[1].end(new Error('still away'));
    await assert.rejects(failing, /still away/);
    await until(() => calls.length === 3);
    assert.deepEqual(calls[2].ids, [2]);
  });
});
