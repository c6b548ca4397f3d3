import { Context } from '@temporalio/activity';
import { Sema } from 'async-sema';
import type { Logger } from '../config/logger';
import { recordAudienceChunk, type FirstSendAt } from '../storage/audience';
import { recordClaimOutcomes } from '../storage/messages';
import * as lifecycle from '../storage/mailing-lifecycle';
import * as mailings from '../storage/mailings';
import { countOutageBackoff, countOutcome } from './metrics';
import { OutcomeWriter, type OutcomeWriterTimes } from './outcome-writer';
import type { Provider } from './provider';
import type { RateLimiter } from './rate-limit';
import { BatchReport, SendBatch } from './send-batch';
import type { SendingPolicy } from './send-outcome';
import { nextOpening } from './send-window';

export type { BatchReport, SendingPolicy };

/** A claimed start carries the schedule as it was once the first clients were recorded, so the workflow need not read it again. */
export type StartClaim = Exclude<lifecycle.StartClaim, { result: 'started' }> | { result: 'started'; schedule?: mailings.MailingSchedule };

export interface MailingActivityDeps {
  provider: Provider;
  /** The deployment-wide provider rate (SEND_RATE_LIMIT). */
  rateLimiter: RateLimiter;
  policy: SendingPolicy;
  logger: Logger;
  /** How outcomes are written (OutcomeWriter's defaults unless set; tests shorten them). */
  outcomeTimes?: Partial<OutcomeWriterTimes>;
}

// Clients per audience chunk: one short transaction each, so a delete or an edit waits at most that long.
const AUDIENCE_CHUNK = 10_000;
// Recorded with the start claim, so that sending begins at once while the rest is recorded.
const FIRST_AUDIENCE_CHUNK = 1_000;
// Audience chunks (after the first) a worker records at once. Each holds a database connection for
// its transaction: with 50 mailings starting together their chunks took the whole pool, and the
// sends' claims and outcome writes waited seconds behind them.
export const AUDIENCE_CHUNKS_AT_ONCE = 2;
// A recording waiting for its turn still heartbeats (its timeout is a minute), and so hears a cancellation.
const WAITING_HEARTBEAT_MS = 10_000;

/** Not before the start nor now; a window that opens only after the end leaves the message due at the end, to expire. */
const firstSendAt: FirstSendAt = (window, zones, startAt, endAt) => {
  const from = Math.max(Date.now(), startAt.getTime());
  return zones.map((zone) => new Date(Math.min(nextOpening(zone, window, from).at, endAt.getTime())));
};

export function createMailingActivities({ provider, rateLimiter, policy, logger, outcomeTimes }: MailingActivityDeps) {
  const slots = new Sema(policy.concurrency);
  const outcomes = new OutcomeWriter(recordClaimOutcomes, logger, outcomeTimes);
  const fronts = new Map<number, number>();
  const audienceTurns = new Sema(AUDIENCE_CHUNKS_AT_ONCE);

  /** Waits for a turn to record a chunk, heartbeating; a cancellation ends the wait (and gives the turn back once it comes). */
  async function audienceTurn(activity: Context, recorded: number): Promise<void> {
    const turn = audienceTurns.acquire();
    const beat = setInterval(() => activity.heartbeat(recorded), WAITING_HEARTBEAT_MS);
    try {
      await Promise.race([turn, activity.cancelled]);
    } catch (error) {
      void turn.then(() => audienceTurns.release());
      throw error;
    } finally {
      clearInterval(beat);
    }
  }

  /** Records the audience chunk by chunk until every matching client has a message; resumes where a crash left off. */
  async function recordAudience(mailingId: number): Promise<number> {
    const activity = Context.current();
    let recorded = 0;
    for (;;) {
      await audienceTurn(activity, recorded);
      let chunk;
      try {
        chunk = await recordAudienceChunk(mailingId, AUDIENCE_CHUNK, firstSendAt);
      } finally {
        audienceTurns.release();
      }
      countOutcome('cancelled', chunk.cancelled);
      recorded += chunk.recorded;
      if (chunk.done) break;
      activity.heartbeat(recorded);
      // Between chunks, never inside one: a cancelled recording leaves whole chunks behind.
      if (activity.cancellationSignal.aborted) await activity.cancelled;
    }
    logger.info({ mailingId, recorded }, 'mailing audience recorded');
    return recorded;
  }

  /** Deleted (or cancelled in Temporal): unsent messages are cancelled once nothing sends any more. */
  async function cancelMailing(mailingId: number): Promise<void> {
    await lifecycle.markDeleted(mailingId);
    const cancelled = await lifecycle.closeDeleted(mailingId);
    countOutcome('cancelled', cancelled);
    logger.info({ mailingId, cancelled }, 'mailing cancelled');
  }

  return {
    async readSchedule(mailingId: number): Promise<mailings.MailingSchedule | null> {
      return (await mailings.readSchedule(mailingId)) ?? null;
    },

    async claimStart(mailingId: number): Promise<StartClaim> {
      const claim = await lifecycle.claimStart(mailingId);
      logger.info({ mailingId, ...claim }, 'mailing start claimed');
      if (claim.result !== 'started') return claim;
      await recordAudienceChunk(mailingId, FIRST_AUDIENCE_CHUNK, firstSendAt);
      const schedule = await mailings.readSchedule(mailingId);
      return schedule ? { result: 'started', schedule } : claim;
    },

    recordAudience,

    /** Sends up to `limit` due messages of a mailing; see SendBatch. */
    async sendBatch(mailingId: number, limit: number): Promise<BatchReport> {
      const activity = Context.current();
      // Its lines (and its messages') name the run and the attempt, as the Web UI shows them.
      const { workflowExecution, activityId, attempt } = activity.info;
      const batchLogger = logger.child({ workflowId: workflowExecution?.workflowId, activityId, attempt });
      const report = await new SendBatch({ activity, provider, rateLimiter, slots, outcomes, fronts, policy, logger: batchLogger }, mailingId, limit).run();
      if (report.providerDown) countOutageBackoff();
      return report;
    },

    /** Nothing pending any more, or the end time came (what is still pending expires). */
    async finishMailing(mailingId: number, reachedEnd: boolean): Promise<lifecycle.LifecycleStatus> {
      const { status, expired, cancelled } = await lifecycle.finishRun(mailingId, reachedEnd);
      countOutcome('expired', expired);
      countOutcome('cancelled', cancelled);
      logger.info({ mailingId, status, expired }, 'mailing finished');
      return status;
    },

    cancelMailing,

    // Histories written before the lifecycle change (workflows/legacy-mailing.ts) call these two.
    async startSending(mailingId: number): Promise<number> {
      const claim = await lifecycle.claimStart(mailingId);
      return claim.result === 'started' ? recordAudience(mailingId) : 0;
    },
    syncAudience: async (mailingId: number): Promise<void> => {
      await recordAudience(mailingId);
    },
  };
}

export type MailingActivities = ReturnType<typeof createMailingActivities>;
