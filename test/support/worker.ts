import { NativeConnection, Worker } from '@temporalio/worker';
import type { SendingPolicy } from '../../activities/mailing';
import { createProvider } from '../../activities/provider';
import { loadConfig } from '../../config';
import { createLogger } from '../../config/logger';
import type { MailingService } from '../../domain/mailings';
import { createMailingWorker, type MailingWorkerDeps } from '../../worker/worker';
import { testStack } from './stack';

export const testPolicy: SendingPolicy = {
  concurrency: 16,
  requestTimeoutMs: 2_000,
  retryInitialMs: 200,
  retryMaxMs: 2_000,
  outageThreshold: 5,
};

export interface RunningWorker {
  worker: Worker;
  stop(): Promise<void>;
}

/** A real mailing worker on the test stack's Temporal, sending to `providerUrl`. */
export async function startWorker(options: {
  taskQueue: string;
  providerUrl: string;
  mailings: Pick<MailingService, 'reconcile'>;
  policy?: Partial<SendingPolicy>;
  rateLimit?: number;
  dailyStats?: MailingWorkerDeps['dailyStats'];
}): Promise<RunningWorker> {
  const policy = { ...testPolicy, ...options.policy };
  const connection = await NativeConnection.connect({ address: testStack().temporalAddress });
  const provider = createProvider({ url: options.providerUrl, token: 'test-token', timeoutMs: policy.requestTimeoutMs, connections: policy.concurrency });
  const worker = await createMailingWorker({
    connection,
    namespace: testStack().namespace,
    taskQueue: options.taskQueue,
    provider,
    policy,
    rateLimit: options.rateLimit ?? 0,
    mailings: options.mailings,
    dailyStats: options.dailyStats,
    cachedWorkflows: loadConfig({}).WORKER_CACHED_WORKFLOWS,
    logger: createLogger(process.env.LOG_LEVEL ?? 'silent', 'test-worker'),
  });
  const running = worker.run();
  return {
    worker,
    async stop() {
      worker.shutdown();
      await running;
      await Promise.allSettled([provider.close(), connection.close()]);
    },
  };
}
