import { proxyActivities } from '@temporalio/workflow';
import type { ReconcileActivities } from '../activities/reconcile';

export const RECONCILE_SCHEDULE_ID = 'mailing-reconciler';

const { startUnstartedMailings } = proxyActivities<ReconcileActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

/**
 * Run by a Temporal Schedule: starts the workflows of mailings whose row was saved while Temporal
 * could not be reached, so that no mailing is lost between the database and Temporal.
 */
export async function reconcileMailings(): Promise<number> {
  return startUnstartedMailings();
}
