import type { Logger } from '../config/logger';
import { spawnManaged, type ManagedProcess } from './managed-process';
import type { Parts } from './parts';
import { repoRoot } from './repo-root';

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
