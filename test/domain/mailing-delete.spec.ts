import assert from 'node:assert/strict';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure, RetryState } from '@temporalio/common';
import { Model } from 'objection';
import { createLogger } from '../../config/logger';
import { UnavailableError } from '../../domain/errors';
import { createMailingService } from '../../domain/mailings';
import { connectDatabase, type Database } from '../../storage/database';
import { insertMailing } from '../activities/fixtures';

const LIMITS = { batchSize: 50, parallelBatches: 2, outagePauseMs: 1000, outagePauseMaxMs: 60000 };

/** A Temporal client whose mailing workflows accept a cancellation and then answer `result` as given. */
function temporalAnswering(result: () => Promise<unknown>): Client {
  const handle = { cancel: async () => undefined, result };
  return { workflow: { getHandle: () => handle }, withAbortSignal: (_signal: AbortSignal, fn: () => unknown) => fn() } as unknown as Client;
}

describe('deleting a running mailing', () => {
  let db: Database;
  before(() => {
    db = connectDatabase(process.env.DATABASE_URL!);
  });
  beforeEach(() => Model.knex(db));
  after(() => db?.destroy());

  const serviceWith = (temporal: Client) => createMailingService({ temporal, taskQueue: 'unused', limits: LIMITS, stopWaitMs: 1000, logger: createLogger('silent', 'delete-spec') });

  it('answers once its workflow has ended cancelled', async () => {
    const id = await insertMailing(db, { status: 'running' });
    const cancelled = new WorkflowFailedError('Workflow execution cancelled', new CancelledFailure('cancelled'), RetryState.NON_RETRYABLE_FAILURE);
    await serviceWith(temporalAnswering(() => Promise.reject(cancelled))).remove(id);
  });

  it('is unavailable (503, to be repeated) when the wait for its workflow fails without the workflow having ended', async () => {
    const id = await insertMailing(db, { status: 'running' });
    const lost = temporalAnswering(() => Promise.reject(new Error('14 UNAVAILABLE: Connection dropped')));
    await assert.rejects(serviceWith(lost).remove(id), UnavailableError);
  });
});
