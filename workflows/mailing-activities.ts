import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { MailingActivities } from '../activities/mailing';

/**
 * The mailing activities as the workflow calls them, with their timeouts and retries, and the
 * summary each shows in the Temporal Web UI.
 */

const short = {
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
} as const;

export const { readSchedule } = proxyActivities<MailingActivities>({ ...short, summary: 'read schedule and status' });
export const { claimStart } = proxyActivities<MailingActivities>({ ...short, summary: 'claim the start, record the first clients' });
export const { cancelMailing } = proxyActivities<MailingActivities>({ ...short, summary: 'deleted: cancel unsent messages' });
const finishing = proxyActivities<MailingActivities>(short);

/** Nothing pending any more, or the end time came (what is pending expires). */
export const finishMailing = (mailingId: number, reachedEnd: boolean) =>
  finishing.finishMailing.executeWithOptions({ summary: reachedEnd ? 'end_at: expire what is pending' : 'finish: nothing pending' }, [mailingId, reachedEnd]);

// Runs chunk by chunk (heartbeating) and is never abandoned: a delete waits for the chunk under way.
export const { recordAudience } = proxyActivities<MailingActivities>({
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '1 minute',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
  summary: 'record the audience',
});

const sending = proxyActivities<MailingActivities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '10 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export const sendBatch = (mailingId: number, limit: number) =>
  sending.sendBatch.executeWithOptions({ summary: `send batch: up to ${limit} messages` }, [mailingId, limit]);
