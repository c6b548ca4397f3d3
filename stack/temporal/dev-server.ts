import { Connection } from '@temporalio/client';
import type { Logger } from '../../config/logger';
import { spawnManaged, waitUntilReady, type ExitStatus } from '../process/managed-process';
import { assertPortFree } from '../process/ports';

/** Generous: the first start creates the SQLite schema, and CI has two busy cores. */
const STARTUP_TIMEOUT_MS = 60_000;

export interface TemporalDevServerOptions {
  cliPath: string;
  /** SQLite file that keeps workflows across restarts; in memory when absent. */
  dbFile?: string;
  port: number;
  /** Web UI port; no UI (`--headless`) when absent. */
  uiPort?: number;
  namespace: string;
  logger: Logger;
}

export interface RunningTemporal {
  /** gRPC frontend, `127.0.0.1:PORT`. */
  address: string;
  exited: Promise<ExitStatus>;
  stop(): Promise<void>;
}

/** `temporal server start-dev`, ready once `namespace` can be described. */
export async function startTemporalDevServer(options: TemporalDevServerOptions): Promise<RunningTemporal> {
  const { cliPath, dbFile, port, uiPort, namespace, logger } = options;
  const args = [
    'server', 'start-dev',
    // Loopback by IP: "localhost" may resolve to ::1 for some clients and 127.0.0.1 for others.
    '--ip', '127.0.0.1',
    '--port', String(port),
    '--namespace', namespace,
    '--search-attribute', 'MailingId=Int',
    '--log-level', 'warn',
    ...(dbFile ? ['--db-filename', dbFile] : []),
    ...(uiPort ? ['--ui-port', String(uiPort)] : ['--headless']),
  ];
  await assertPortFree('temporal', '127.0.0.1', port);
  if (uiPort) await assertPortFree('temporal web UI', '127.0.0.1', uiPort);
  const server = await spawnManaged({
    name: 'temporal',
    command: cliPath,
    args,
    logger: logger.child({ component: 'temporal' }),
    // stdout is a start-up banner. stderr has only warnings and up, but they are mostly benign
    // (cluster id, pollers reconnecting); a failed start-up quotes them anyway.
    output: { stdout: 'debug', stderr: 'info' },
  });
  const address = `127.0.0.1:${port}`;
  try {
    await waitUntilReady(server, () => describeNamespace(address, namespace), STARTUP_TIMEOUT_MS);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { address, exited: server.exited, stop: async () => void (await server.stop()) };
}

async function describeNamespace(address: string, namespace: string): Promise<void> {
  const connection = await Connection.connect({ address, connectTimeout: 2_000 });
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } finally {
    await connection.close();
  }
}
