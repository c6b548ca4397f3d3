import { Client, Connection } from '@temporalio/client';

/** Temporal's TimeoutType enum, by number. */
const TIMEOUT_TYPES = ['unspecified', 'start-to-close', 'schedule-to-start', 'schedule-to-close', 'heartbeat'];

/**
 * The timeouts in a workflow's histories (every run, continue-as-new included), counted by kind: a
 * workflow task that timed out schedule-to-start waited on the sticky queue of a dead worker; an
 * activity that timed out on its heartbeat ran on one.
 */
export async function timeoutsInHistory(address: string, namespace: string, workflowId: string): Promise<Record<string, number>> {
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace });
    const counts: Record<string, number> = {};
    const count = (key: string) => (counts[key] = (counts[key] ?? 0) + 1);
    for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
      const history = await client.workflow.getHandle(workflowId, execution.runId).fetchHistory();
      for (const event of history.events ?? []) {
        const workflowTask = event.workflowTaskTimedOutEventAttributes;
        if (workflowTask) count(`workflow task ${TIMEOUT_TYPES[Number(workflowTask.timeoutType ?? 0)] ?? workflowTask.timeoutType}`);
        const activity = event.activityTaskTimedOutEventAttributes;
        if (activity) count(`activity ${TIMEOUT_TYPES[Number(activity.failure?.timeoutFailureInfo?.timeoutType ?? 0)] ?? 'unknown'}`);
      }
    }
    return counts;
  } finally {
    await connection.close();
  }
}
