import type { MailingService } from '../domain/mailings';

const MAILINGS_PER_RUN = 500;

export function createReconcileActivities(mailings: Pick<MailingService, 'startUnstarted'>) {
  return {
    startUnstartedMailings: () => mailings.startUnstarted(MAILINGS_PER_RUN),
  };
}

export type ReconcileActivities = ReturnType<typeof createReconcileActivities>;
