import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger';

export interface MetricsServer {
  /** The port it listens on (the OS's pick when asked for a free one). */
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` of `registry` (Prometheus text format) on its own port, apart from the API:
 * no authentication applies to it, and it need not be exposed where the API is. A port already in
 * use is logged and the process carries on without metrics: metrics are an aid, not a reason to stop
 * sending (Prometheus then reports the target down).
 */
export async function serveMetrics(registry: Registry, port: number, host: string, logger: Logger): Promise<MetricsServer | undefined> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error) => {
        logger.error({ err: error }, 'could not collect metrics');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('could not collect metrics\n');
      },
    );
  });
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, () => resolve()));
  } catch (error) {
    logger.error({ err: error, port }, 'metrics port unavailable: this process serves no metrics');
    return undefined;
  }
  const { port: bound } = server.address() as AddressInfo;
  logger.info({ url: `http://localhost:${bound}/metrics` }, 'metrics listening');
  return { port: bound, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
