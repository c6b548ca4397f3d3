import assert from 'node:assert/strict';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure, RetryState } from '@temporalio/common';
import { Model } from 'objection';
import { createLogger } from '../../config/logger';
import { UnavailableError } from '../../domain/errors';
import { createMailingService } from '../../domain/mailings';
import { connectDatabase, type Database } from '../../storage/database';
import { insertMailing } from '../activities/fixtures';
import { eventually } from '../support/eventually';

const LIMITS = { batchSize: 50, parallelBatches: 2, outagePauseMs: 1000, outagePauseMaxMs: 60000 };

/**
 * A Temporal client whose mailing workflows accept a cancellation and then answer `result` as given,
 * and note what they were told (`calls`).
 */
function temporalAnswering(result: () => Promise<unknown> = async () => undefined) {
  const calls: string[] = [];
  const handle = {
    cancel: async () => void calls.push('cancel'),
    result,
    signal: async () => void calls.push('signal'),
    executeUpdate: async () => void calls.push('update'),
  };
  const temporal = { workflow: { getHandle: () => handle }, withAbortSignal: (_signal: AbortSignal, fn: () => unknown) => fn() } as unknown as Client;
  return Object.assign(temporal, { calls });
}

describe('the mailing service', () => {
  let db: Database;
  before(() => {
    db = connectDatabase(process.env.DATABASE_URL!);
  });
  beforeEach(() => Model.knex(db));
  after(() => db?.destroy());

  const serviceWith = (temporal: Client) => createMailingService({ temporal, taskQueue: 'unused', limits: LIMITS, stopWaitMs: 1000, logger: createLogger('silent', 'mailing-service-spec') });

  describe('deleting a running mailing', () => {
    it('answers once its workflow has ended cancelled', async () => {
      const id = await insertMailing(db, { status: 'running' });
      const cancelled = new WorkflowFailedError('Workflow execution cancelled', new CancelledFailure('cancelled'), RetryState.NON_RETRYABLE_FAILURE);
      let ended = false;
      const temporal = temporalAnswering(async () => {
        await new Promise((resolve) => setImmediate(resolve));
        ended = true;
        throw cancelled;
      });
      await serviceWith(temporal).remove(id);
      assert.equal(ended, true, 'answered before the workflow ended');
      assert.deepEqual(temporal.calls, ['cancel']);
      assert.notEqual((await db('mailings').where({ id }).first('deleted_at')).deleted_at, null);
    });

    it('is unavailable (503, to be repeated) when the wait for its workflow fails without the workflow having ended', async () => {
      const id = await insertMailing(db, { status: 'running' });
      const lost = temporalAnswering(() => Promise.reject(new Error('14 UNAVAILABLE: Connection dropped')));
      await assert.rejects(serviceWith(lost).remove(id), UnavailableError);
    });
  });

  describe('pausing a mailing', () => {
    it('waits for the batches to stop when a start came between its read and its pause (not only a signal, as for a scheduled one)', async () => {
      const id = await insertMailing(db, { status: 'scheduled', audienceDone: false });
      const temporal = temporalAnswering();
      const start = await db.transaction();
      await start.raw(`UPDATE mailings SET status = 'running', started_at = now() WHERE id = ?`, [id]);
      const pausing = serviceWith(temporal).pause(id);
      // Once the pause waits for the start's lock, the start commits.
      await eventually(async () => {
        const { rows } = await db.raw(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%UPDATE mailings SET status = ''paused''%'`);
        return rows.length > 0 || undefined;
      });
      await start.commit();
      assert.equal((await pausing).status, 'paused');
      assert.deepEqual(temporal.calls, ['update']);
    });

    it('waits for the batches again when the mailing is paused already (a repeat after a 503 confirms the stop)', async () => {
      const id = await insertMailing(db, { status: 'paused', startedAt: new Date() });
      const unconfirmed = Object.assign(temporalAnswering(), { withAbortSignal: () => Promise.reject(new Error('deadline exceeded')) });
      await assert.rejects(serviceWith(unconfirmed).pause(id), UnavailableError);
      const temporal = temporalAnswering();
      assert.equal((await serviceWith(temporal).pause(id)).status, 'paused');
      assert.deepEqual(temporal.calls, ['update']);
    });

    it('answers at once for a mailing paused before its start: it has no batches to wait for', async () => {
      const id = await insertMailing(db, { status: 'paused', startedAt: null });
      const temporal = temporalAnswering();
      assert.equal((await serviceWith(temporal).pause(id)).status, 'paused');
      assert.deepEqual(temporal.calls, []);
    });
  });
});
