import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { WORKER_NODE_FLAGS } from '../../worker/node-flags';
import { testStack } from './stack';

const root = path.join(__dirname, '..', '..');

/**
 * The real worker entry point (`worker/main.ts`) as a child process, so a test can SIGKILL it the way
 * a crash would. Settings arrive as environment variables, exactly as in production.
 */
export class WorkerProcess {
  private child?: ChildProcess;
  private output = '';

  constructor(private readonly env: Record<string, string>) {}

  async start(): Promise<void> {
    const { databaseUrl, temporalAddress, namespace } = testStack();
    this.output = '';
    const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, '--import', 'tsx', 'worker/main.ts'], {
      cwd: root,
      // No metrics endpoints unless a test asks for them: several workers may run at once.
      env: { ...process.env, DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporalAddress, TEMPORAL_NAMESPACE: namespace, LOG_LEVEL: 'info', METRICS_PORT: '0', SDK_METRICS_PORT: '0', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        this.output += chunk.toString();
        if (this.output.includes('"worker running"')) resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready:\n${this.output.slice(-2000)}`)));
    });
    await ready;
  }

  /** Everything the worker logged so far. */
  logs(): string {
    return this.output;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }
}
