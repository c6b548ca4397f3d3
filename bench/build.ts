import { execFile } from 'node:child_process';
import { copyFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../stack/repo-root';

const buildDir = path.join(repoRoot, 'bench', '.build');

/** Entry points of the compiled processes, relative to the repository (bench/tsconfig.build.json). */
export type BuiltEntry = 'worker/main.ts' | 'api/main.ts' | 'stack/fake-provider/main.ts' | 'bench/baseline-main.ts';

/** Where the compiled form of an entry point is. */
export const builtPath = (entry: BuiltEntry) => path.join(buildDir, entry.replace(/\.ts$/, '.js'));

/**
 * Compiles the measured processes with tsc, as `npm run build` compiles the service for production.
 * Run through tsx instead, a worker at 256 requests in flight took 40% more CPU per message and 38 MB
 * more memory (0.193 against 0.138 ms, 263 against 225 MB, one run each). The code tsx produces is the
 * slower part (esbuild's keepNames adds a call for every function created, and source maps are on):
 * the tsc output with tsx merely loaded ran as fast as without it, at 252 MB, tsx's loader thread.
 */
export async function buildMeasuredProcesses(): Promise<void> {
  await rm(buildDir, { recursive: true, force: true });
  await promisify(execFile)(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(repoRoot, 'bench', 'tsconfig.build.json')], { cwd: repoRoot });
  // The API finds its spec beside its folder, as in dist/.
  await copyFile(path.join(repoRoot, 'openapi.yaml'), path.join(buildDir, 'openapi.yaml'));
}
