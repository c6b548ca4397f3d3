import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { Model } from 'objection';
import { createLogger } from '../../config/logger';
import { createMailingActivities, type BatchReport, type SendingPolicy } from '../../activities/mailing';
import { createProvider, type Provider } from '../../activities/provider';
import type { OutcomeWriterTimes } from '../../activities/outcome-writer';
import type { RateLimiter } from '../../activities/rate-limit';
import { startFakeProvider, type FakeProvider } from '../../stack/fake-provider';
import { connectDatabase, type Database } from '../../storage/database';

export const TOKEN = 'send-batch-spec-token';
export const SECOND = 1000;
const logger = createLogger('silent', 'send-batch-spec');
const unlimited: RateLimiter = { acquire: async () => undefined };

export const POLICY: SendingPolicy = {
  concurrency: 4,
  requestTimeoutMs: 2 * SECOND,
  // Long, so that a message retried by a test is certainly not due again within the test.
  retryInitialMs: 60 * SECOND,
  retryMaxMs: 600 * SECOND,
  outageThreshold: 3,
};

/** A provider client that notes when each request starts, in front of the real HTTP client. */
export function timed(provider: Provider) {
  const starts: { id: number; at: number }[] = [];
  const wrapped: Provider = {
    send(message, signal) {
      starts.push({ id: message.id, at: Date.now() });
      return provider.send(message, signal);
    },
    close: () => provider.close(),
  };
  return { provider: wrapped, starts };
}

interface Overrides {
  provider?: Provider;
  rateLimiter?: RateLimiter;
  policy?: Partial<SendingPolicy>;
  outcomeTimes?: Partial<OutcomeWriterTimes>;
}

export interface SendBatchWorld {
  db: Database;
  fake: FakeProvider;
  /** The real HTTP client of the fake provider. */
  client: Provider;
  /** The activities as a worker builds them, with POLICY, no rate limit and `client` unless overridden. */
  activitiesWith(overrides?: Overrides): ReturnType<typeof createMailingActivities>;
  environment(): MockActivityEnvironment;
  sendBatch(mailingId: number, limit?: number, activities?: ReturnType<typeof createMailingActivities>, env?: MockActivityEnvironment): Promise<BatchReport>;
}

/**
 * The send activity's world for the specs of one describe block: the database, a fake provider (its
 * faults reset before each test) and a client of it; `db`, `fake` and `client` are set once the
 * block's `before` hooks have run.
 */
export function useSendBatch(): SendBatchWorld {
  const world: SendBatchWorld = {
    db: undefined as unknown as Database,
    fake: undefined as unknown as FakeProvider,
    client: undefined as unknown as Provider,
    activitiesWith: (overrides = {}) =>
      createMailingActivities({
        provider: overrides.provider ?? world.client,
        rateLimiter: overrides.rateLimiter ?? unlimited,
        policy: { ...POLICY, ...overrides.policy },
        logger,
        outcomeTimes: overrides.outcomeTimes,
      }),
    environment: () => new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') }),
    sendBatch: (mailingId, limit = 1000, activities = world.activitiesWith(), env = world.environment()) => env.run(activities.sendBatch, mailingId, limit),
  };
  before(async () => {
    world.db = connectDatabase(process.env.DATABASE_URL!);
    world.fake = await startFakeProvider({ token: TOKEN, seed: 3 });
    world.client = createProvider({ url: world.fake.url, token: TOKEN, timeoutMs: POLICY.requestTimeoutMs, connections: 16 });
  });
  beforeEach(() => {
    Model.knex(world.db);
    world.fake.reset();
  });
  after(async () => {
    await world.client?.close();
    await world.fake?.stop();
    await world.db?.destroy();
  });
  return world;
}
