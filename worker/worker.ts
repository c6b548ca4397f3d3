import { Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createDailyStatsActivities, type DailyStatsDeps } from '../activities/daily-stats';
import { createMailingActivities, SendingPolicy } from '../activities/mailing';
import type { Provider } from '../activities/provider';
import { createRateLimiter } from '../activities/rate-limit';
import { createReconcileActivities } from '../activities/reconcile';
import type { Logger } from '../config/logger';
import type { MailingService } from '../domain/mailings';
import { takeProviderTokens } from '../storage/provider-rate';
import { RECONCILE_SCHEDULE_ID, reconcileMailings } from '../workflows/reconcile';

export interface MailingWorkerDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  provider: Provider;
  policy: SendingPolicy;
  /** Provider requests per second across all workers; 0 for no limit. */
  rateLimit: number;
  mailings: Pick<MailingService, 'reconcile'>;
  logger: Logger;
  /** A bundle from `npm run bundle`; without one the worker bundles the workflows itself at start. */
  workflowBundlePath?: string;
  /** Workflows kept in memory between their tasks (WORKER_CACHED_WORKFLOWS). */
  cachedWorkflows: number;
  /** How the daily statistics e-mail goes out; without it, its send fails for good (no SMTP_URL). */
  dailyStats?: DailyStatsDeps['mail'];
}

const MAX_CONCURRENT_ACTIVITIES = 1_000;

/** The worker that runs mailing workflows and their activities; tests build it with fakes. */
export function createMailingWorker(deps: MailingWorkerDeps) {
  const { connection, namespace, taskQueue, provider, policy, rateLimit, mailings, logger, workflowBundlePath, cachedWorkflows } = deps;
  const rateLimiter = createRateLimiter(rateLimit, takeProviderTokens);
  return Worker.create({
    connection,
    namespace,
    taskQueue,
    ...(workflowBundlePath ? { workflowBundle: { codePath: workflowBundlePath } } : { workflowsPath: require.resolve('../workflows') }),
    activities: {
      ...createMailingActivities({ provider, rateLimiter, policy, logger }),
      ...createReconcileActivities(mailings.reconcile),
      ...createDailyStatsActivities({ mail: deps.dailyStats ?? null, logger }),
    },
    // Each heartbeat the server gets is a write of the activity's state: with 50 mailings sending at once,
    // one a second per send batch took the Temporal server 29 s of CPU per 100,000 messages, against 15
    // at 8 s (`npm run bench`, many). A batch finds a pause or a delete in its terms within a second
    // (activities/send-batch.ts); the cancellation, carried by a heartbeat's answer, is the backstop.
    maxHeartbeatThrottleInterval: '5 seconds',
    // A send batch mostly waits its turn for one of the worker's provider slots (a first-come queue), so
    // every mailing's batches may run at once and share the slots fairly; with the SDK's 100, batches
    // beyond it waited for whole batches to finish, and mailings started late by seconds.
    maxConcurrentActivityTaskExecutions: MAX_CONCURRENT_ACTIVITIES,
    // The SDK sizes its cache by the heap, and the worker's capped heap gave it 10: with more mailings
    // sending than that, nearly every workflow task of theirs was a cache miss that fetched and
    // replayed the whole history, and 50 mailings starting together waited seconds between commands.
    maxCachedWorkflows: cachedWorkflows,
    // On SIGTERM requests in flight finish (they are bounded by the request timeout) before exit.
    shutdownGraceTime: policy.requestTimeoutMs + 5_000,
  });
}

/** Creates the reconciler's schedule once; later starts find it in place. */
export async function ensureReconcileSchedule(client: Client, taskQueue: string): Promise<void> {
  try {
    await client.schedule.create({
      scheduleId: RECONCILE_SCHEDULE_ID,
      spec: { intervals: [{ every: '30 seconds' }] },
      action: { type: 'startWorkflow', workflowType: reconcileMailings, taskQueue, workflowId: 'mailing-reconciler-run' },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    });
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
}
