/** The started pieces of the stack, stopped in reverse order, and this repo's services started as node children. */
import type { Logger } from '../../config/logger';
import { repoRoot } from '../repo-root';
import { spawnManaged, type ExitStatus, type ManagedProcess } from './managed-process';

/** One started piece of the stack: a server process, an in-process fake, … */
export interface Part {
  name: string;
  stop(): Promise<void>;
  /** Settles when a child process exits; absent for in-process parts. */
  exited?: Promise<ExitStatus>;
}

/** What has been started, so it can be stopped in reverse order: clients before their servers. */
export class Parts {
  private readonly started: Part[] = [];

  constructor(private readonly logger: Logger) {}

  add(part: Part): void {
    this.started.push(part);
  }

  /** The first part whose process exits, with how it exited. */
  firstExit(): Promise<{ name: string; status: ExitStatus }> {
    const exits = this.started.flatMap(({ name, exited }) => (exited ? [exited.then((status) => ({ name, status }))] : []));
    return Promise.race(exits);
  }

  async stopAll(): Promise<void> {
    for (const part of this.started.splice(0).reverse()) {
      this.logger.info(`stopping ${part.name}`);
      try {
        await part.stop();
      } catch (error) {
        this.logger.error({ err: error }, `stopping ${part.name} failed`);
      }
    }
  }
}

export interface NodePartOptions {
  name: string;
  /** The entry point: TypeScript (`.ts`) runs with tsx, compiled JavaScript with node alone. */
  entry: string;
  /** Node flags placed before the entry, e.g. the worker's heap cap. */
  flags?: string[];
  env: NodeJS.ProcessEnv;
  logger: Logger;
  stopTimeoutMs: number;
}

/**
 * Starts a service of this repo as a node child (not through npm, so its pid is the node process)
 * and registers it with `parts`, which stops it in reverse order.
 */
export async function startNodePart(parts: Parts, { name, entry, flags = [], env, logger, stopTimeoutMs }: NodePartOptions): Promise<ManagedProcess> {
  const child = await spawnManaged({
    name,
    command: process.execPath,
    args: entry.endsWith('.ts') ? [...flags, '--import', 'tsx', entry] : [...flags, entry],
    cwd: repoRoot,
    env,
    logger,
    output: 'inherit',
    stopTimeoutMs,
  });
  parts.add({ name, exited: child.exited, stop: async () => void (await child.stop()) });
  return child;
}
