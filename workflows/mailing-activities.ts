import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { MailingActivities } from '../activities/mailing';

/** The mailing activities as the workflow calls them, with their timeouts and retries. */

export const { readSchedule, claimStart, finishMailing, cancelMailing } = proxyActivities<MailingActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

// Runs chunk by chunk (heartbeating) and is never abandoned: a delete waits for the chunk under way.
export const { recordAudience } = proxyActivities<MailingActivities>({
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '1 minute',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export const { sendBatch } = proxyActivities<MailingActivities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '10 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
