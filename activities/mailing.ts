import { Context } from '@temporalio/activity';
import { Sema } from 'async-sema';
import type { Logger } from '../config/logger';
import * as mailings from '../storage/mailings';
import * as messages from '../storage/messages';
import type { Provider } from './provider';
import type { RateLimiter } from './rate-limit';
import { BatchReport, SendBatch, SendingPolicy } from './send-batch';

export type { BatchReport, SendingPolicy };

export interface MailingActivityDeps {
  provider: Provider;
  /** The deployment-wide provider rate (SEND_RATE_LIMIT). */
  rateLimiter: RateLimiter;
  policy: SendingPolicy;
  logger: Logger;
}

export function createMailingActivities({ provider, rateLimiter, policy, logger }: MailingActivityDeps) {
  const slots = new Sema(policy.concurrency);

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

    /** Sends up to `limit` due messages of a mailing; see SendBatch. */
    sendBatch(mailingId: number, limit: number): Promise<BatchReport> {
      return new SendBatch({ activity: Context.current(), provider, rateLimiter, slots, policy, logger }, mailingId, limit).run();
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
