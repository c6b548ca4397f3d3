import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import { sendLimits } from '../config';
import type { Logger } from '../config/logger';
import type { MailingService } from '../domain/mailings';
import type { StopSignals } from '../stack/process/script';
import type { Database } from '../storage/database';
import type { Accounted } from './common';
import type { providerControl } from './provider-control';
import type { BenchStack } from './stack';
import type { SummaryRow } from './summary';

/** The fake provider's fixed answer time in every scenario. */
export const PROVIDER_LATENCY_MS = 20;
export const TEXT = 'Benchmark message';

/** What every scenario gets: the running stack and clients of it. */
export interface BenchContext {
  config: Config;
  limits: ReturnType<typeof sendLimits>;
  logger: Logger;
  signals: StopSignals;
  stack: BenchStack;
  db: Database;
  temporal: Client;
  control: ReturnType<typeof providerControl>;
  /** Mailings created in this process, as the API would create them. */
  service: MailingService;
  /** PostgreSQL, Temporal and the fake provider, whose CPU every scenario accounts. */
  stackParts: Accounted[];
}

/** What a scenario hands back: its figures for the summary table, sanity checks and the details for the JSON. */
export interface ScenarioResult {
  summary: SummaryRow[];
  sanity: [string, boolean][];
  details: Record<string, unknown>;
}

/** The provider's limit: SEND_CONCURRENCY requests in flight, each taking the provider's latency. */
export const providerLimit = (config: Config) => (config.SEND_CONCURRENCY * 1000) / PROVIDER_LATENCY_MS;
