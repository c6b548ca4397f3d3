import { Runtime, type RuntimeOptions } from '@temporalio/worker';
import { collectDefaultMetrics } from 'prom-client';
import { workerMetrics } from '../activities/metrics';
import type { Config } from '../config';
import type { Logger } from '../config/logger';
import { serveMetrics, type MetricsServer } from '../config/metrics-server';

const address = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/**
 * Installs the SDK's runtime (once per process) with its own Prometheus exporter on SDK_METRICS_PORT:
 * the SDK's worker metrics (`temporal_*`: task slots, poll and schedule-to-start latencies, activity
 * and workflow task outcomes) come from its Rust core, which serves them itself, so they have their own
 * port rather than being copied into the worker's `/metrics`. A port in use leaves the SDK without
 * its exporter, not the worker without its runtime.
 */
export function installRuntime(options: RuntimeOptions, config: Pick<Config, 'SDK_METRICS_PORT' | 'HOST'>, logger: Logger): void {
  if (config.SDK_METRICS_PORT) {
    const bindAddress = address(config.HOST, config.SDK_METRICS_PORT);
    try {
      Runtime.install({ ...options, telemetryOptions: { ...options.telemetryOptions, metrics: { prometheus: { bindAddress, useSecondsForDurations: true } } } });
      logger.info({ url: `http://localhost:${config.SDK_METRICS_PORT}/metrics` }, 'Temporal SDK metrics listening');
      return;
    } catch (error) {
      logger.error({ err: error, port: config.SDK_METRICS_PORT }, 'SDK metrics port unavailable: the Temporal SDK exports no metrics');
    }
  }
  Runtime.install(options);
}

/** The worker's own metrics (activities/metrics.ts) and its process metrics, on METRICS_PORT. */
export async function serveWorkerMetrics(config: Pick<Config, 'METRICS_PORT' | 'HOST'>, logger: Logger): Promise<MetricsServer | undefined> {
  if (!config.METRICS_PORT) return undefined;
  collectDefaultMetrics({ register: workerMetrics });
  return serveMetrics(workerMetrics, config.METRICS_PORT, config.HOST, logger);
}
