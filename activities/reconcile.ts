/** `reconcile` is the domain's (the worker injects it): every open mailing gets a running workflow. */
export function createReconcileActivities(reconcile: () => Promise<number>) {
  return {
    /** Named for what it first did; it now also restarts closed workflows of open mailings. */
    startUnstartedMailings: () => reconcile(),
  };
}

export type ReconcileActivities = ReturnType<typeof createReconcileActivities>;
