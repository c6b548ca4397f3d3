import { proxyActivities } from '@temporalio/workflow';
import type { ReconcileActivities } from '../activities/reconcile';

export const RECONCILE_SCHEDULE_ID = 'mailing-reconciler';

const { startUnstartedMailings } = proxyActivities<ReconcileActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

/**
 * Run by a Temporal Schedule: every mailing that is not final gets a running workflow, whether its row
 * was saved while Temporal could not be reached or its workflow was terminated or failed.
 */
export async function reconcileMailings(): Promise<number> {
  return startUnstartedMailings();
}
