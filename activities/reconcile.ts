import type { MailingService } from '../domain/mailings';

export function createReconcileActivities(mailings: Pick<MailingService, 'reconcile'>) {
  return {
    /** Named for what it first did; it now also restarts closed workflows of open mailings. */
    startUnstartedMailings: () => mailings.reconcile(),
  };
}

export type ReconcileActivities = ReturnType<typeof createReconcileActivities>;
