import { Context } from '@temporalio/activity';
import { Sema } from 'async-sema';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../config/logger';
import * as mailings from '../storage/mailings';
import * as messages from '../storage/messages';
import type { ClaimedMessage, SendOutcome } from '../storage/messages';
import type { Delivery, Provider } from './provider';
import type { RateLimiter } from './rate-limit';

export interface SendingPolicy {
  /** Requests in flight at once on this worker, across all mailings. */
  concurrency: number;
  requestTimeoutMs: number;
  /** Backoff of a message's retries: from `retryInitialMs`, doubling, never above `retryMaxMs`. */
  retryInitialMs: number;
  retryMaxMs: number;
  /** Consecutive unreachable answers after which a batch stops and lets the workflow back off. */
  outageThreshold: number;
}

export interface MailingActivityDeps {
  provider: Provider;
  /** The deployment-wide provider rate (SEND_RATE_LIMIT). */
  rateLimiter: RateLimiter;
  policy: SendingPolicy;
  logger: Logger;
}

export interface BatchReport {
  attempted: number;
  sent: number;
  failed: number;
  retried: number;
  /** The provider looked down (connections refused): the workflow should pause before the next batch. */
  providerDown: boolean;
  pending: number;
  nextDueAt: string | null;
}

// Outcomes are written in small batches: at most this many, or this old. A crash loses only the
// answers of that window (and of requests in flight), whose messages are then sent again.
const FLUSH_EVERY = 100;
const FLUSH_INTERVAL_MS = 50;
const OUTCOME_WRITE_ATTEMPTS = 30;

/** Full jitter over an exponential backoff, so that retries of many messages spread out. */
function backoffMs(policy: SendingPolicy, attempt: number): number {
  const ceiling = Math.min(policy.retryMaxMs, policy.retryInitialMs * 2 ** Math.min(attempt - 1, 30));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function toOutcome(policy: SendingPolicy, message: ClaimedMessage, delivery: Delivery): SendOutcome {
  switch (delivery.result) {
    case 'sent':
      return { id: message.id, status: 'sent', error: null, retryAt: null };
    case 'failed':
      return { id: message.id, status: 'failed', error: delivery.error, retryAt: null };
    case 'retry': {
      const delay = delivery.retryAfterMs ?? backoffMs(policy, message.attempts + 1);
      return { id: message.id, status: 'pending', error: delivery.error, retryAt: new Date(Date.now() + delay) };
    }
  }
}

export function createMailingActivities({ provider, rateLimiter, policy, logger }: MailingActivityDeps) {
  const slots = new Sema(policy.concurrency);
  // A lease outlives any request of the batch, so only a batch that died loses its messages to another.
  const leaseMs = 2 * policy.requestTimeoutMs + 5_000;

  return {
    async readSchedule(mailingId: number): Promise<mailings.MailingSchedule | null> {
      return (await mailings.readSchedule(mailingId)) ?? null;
    },

    /** Records the audience as pending messages and marks the mailing running. */
    async startSending(mailingId: number): Promise<number> {
      const terms = await mailings.readSendingTerms(mailingId);
      if (!terms || terms.deleted) return 0;
      const recorded = await messages.recordAudience(mailingId, terms.filter);
      await mailings.setMailingStatus(mailingId, 'running');
      logger.info({ mailingId, recorded }, 'mailing started');
      return recorded;
    },

    /** After a filter edit: newly matching clients get a message, those no longer matching lose theirs. */
    async syncAudience(mailingId: number): Promise<void> {
      const terms = await mailings.readSendingTerms(mailingId);
      if (!terms || terms.deleted) return;
      const added = await messages.recordAudience(mailingId, terms.filter);
      const cancelled = await messages.cancelUnmatched(mailingId, terms.filter);
      logger.info({ mailingId, added, cancelled }, 'mailing audience updated');
    },

    /**
     * Sends up to `limit` due messages of a mailing, holding at most `policy.concurrency` requests in
     * flight on this worker. Outcomes are written as they arrive, so a crash loses at most the answers
     * of requests in flight. No request starts after the mailing's end time or a cancellation.
     */
    async sendBatch(mailingId: number, limit: number): Promise<BatchReport> {
      const activity = Context.current();
      const report: BatchReport = { attempted: 0, sent: 0, failed: 0, retried: 0, providerDown: false, pending: 0, nextDueAt: null };
      const outcomes: SendOutcome[] = [];
      const inFlight = new Set<Promise<void>>();
      let queue: ClaimedMessage[] = [];
      // Beats even while every slot waits on a stalled request, so a short heartbeat timeout detects
      // only a batch whose worker died.
      const alive = setInterval(() => activity.heartbeat(report.attempted), 1000);
      let unreachableStreak = 0;
      let unauthorizedLogged = false;
      let flushing: Promise<void> | undefined;
      let flushedAt = Date.now();

      const flush = async () => {
        flushedAt = Date.now();
        const batch = outcomes.splice(0);
        try {
          await messages.recordOutcomes(batch);
        } catch (error) {
          outcomes.unshift(...batch);
          throw error;
        }
        activity.heartbeat(report.attempted);
      };

      // The provider accepted these: writing them down is worth riding out a database restart for,
      // since a lost outcome means the message is sent again after its lease.
      // A failed write keeps the outcomes buffered for the next flush.
      const flushSoon = () => {
        if (flushing || (outcomes.length < FLUSH_EVERY && Date.now() - flushedAt < FLUSH_INTERVAL_MS)) return;
        flushing = flush()
          .catch((error) => logger.warn({ mailingId, err: error }, 'could not record send outcomes yet'))
          .finally(() => (flushing = undefined));
      };

      const flushPatiently = async () => {
        await flushing;
        for (let attempt = 1; ; attempt++) {
          try {
            return await flush();
          } catch (error) {
            if (attempt >= OUTCOME_WRITE_ATTEMPTS) throw error;
            logger.warn({ mailingId, err: error, attempt }, 'could not record send outcomes; retrying');
            await sleep(1000);
          }
        }
      };

      const deliver = async (message: ClaimedMessage, text: string, signal: AbortSignal) => {
        if (!message.phone) {
          outcomes.push({ id: message.id, status: 'cancelled', error: 'client was deleted', retryAt: null });
          return;
        }
        const delivery = await provider.send({ id: message.id, phone: message.phone, text }, signal);
        outcomes.push(toOutcome(policy, message, delivery));
        flushSoon();
        report[delivery.result === 'retry' ? 'retried' : delivery.result]++;
        unreachableStreak = delivery.result === 'retry' && delivery.unreachable ? unreachableStreak + 1 : 0;
        if (unreachableStreak >= policy.outageThreshold) report.providerDown = true;
        if (delivery.result === 'retry') {
          if (delivery.unauthorized && !unauthorizedLogged) {
            unauthorizedLogged = true;
            logger.error({ mailingId, messageId: message.id }, delivery.error);
          }
          logger.debug({ mailingId, messageId: message.id, error: delivery.error }, 'send will be retried');
        }
        activity.heartbeat(report.attempted);
      };

      // Terms are re-read before each claim, so a new text or end time applies to messages not yet
      // sent, and a new filter ends the batch early for the workflow to re-sync the audience.
      const initial = await mailings.readSendingTerms(mailingId);
      let terms = initial;
      let stop = activity.cancellationSignal;
      const claimable = () =>
        terms && !terms.deleted && terms.endAt.getTime() > Date.now() && JSON.stringify(terms.filter) === JSON.stringify(initial?.filter);

      /** Starts the next request in an acquired slot; false when there is nothing more to start. */
      const launchNext = async (): Promise<boolean> => {
        if (queue.length === 0) {
          terms = await mailings.readSendingTerms(mailingId);
          if (!claimable()) return false;
          stop = AbortSignal.any([activity.cancellationSignal, AbortSignal.timeout(terms!.endAt.getTime() - Date.now())]);
          queue = await messages.claimDue(mailingId, Math.min(policy.concurrency, limit - report.attempted), leaseMs);
          if (queue.length === 0) return false;
        }
        await rateLimiter.acquire();
        if (stop.aborted) return false;
        const message = queue.shift()!;
        report.attempted++;
        const sending: Promise<void> = deliver(message, terms!.text, stop).finally(() => {
          slots.release();
          inFlight.delete(sending);
        });
        inFlight.add(sending);
        return true;
      };

      try {
        while (report.attempted < limit && !report.providerDown) {
          await slots.acquire();
          let launched = false;
          try {
            launched = await launchNext();
          } finally {
            if (!launched) slots.release();
          }
          if (!launched) break;
        }
      } finally {
        await Promise.allSettled(inFlight);
        clearInterval(alive);
      }
      await flushPatiently();
      await messages.releaseLeases(queue.map((m) => m.id));
      Object.assign(report, await messages.pendingSummary(mailingId));
      logger.info({ mailingId, ...report }, 'send batch done');
      if (activity.cancellationSignal.aborted) await activity.cancelled;
      return report;
    },

    /** At the end time every message still pending expires; the mailing is `expired` if any did. */
    async finishMailing(mailingId: number, reachedEnd: boolean): Promise<'finished' | 'expired'> {
      if (reachedEnd) await messages.closePending(mailingId, 'expired', 'the mailing ended before the message could be sent');
      const counts = (await messages.countsByMailing([mailingId])).get(mailingId)!;
      const status = counts.expired > 0 ? 'expired' : 'finished';
      await mailings.setMailingStatus(mailingId, status);
      logger.info({ mailingId, status, ...counts }, 'mailing finished');
      return status;
    },

    async cancelMailing(mailingId: number): Promise<void> {
      const cancelled = await messages.closePending(mailingId, 'cancelled', 'the mailing was deleted');
      logger.info({ mailingId, cancelled }, 'mailing cancelled');
    },
  };
}

export type MailingActivities = ReturnType<typeof createMailingActivities>;
