import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { repoRoot } from './repo-root';

const adminDir = path.join(repoRoot, 'admin');
/** What the console's build reads: its sources, its build settings and the installed versions. */
const SOURCES = [path.join(adminDir, 'src'), path.join(adminDir, 'index.html'), path.join(adminDir, 'vite.config.mts'), path.join(repoRoot, 'contract', 'schema.d.ts'), path.join(repoRoot, 'package-lock.json')];
const BUILT = path.join(adminDir, 'dist', 'index.html');

async function newestChange(file: string): Promise<number> {
  const info = await stat(file);
  if (!info.isDirectory()) return info.mtimeMs;
  const entries = await readdir(file);
  return Math.max(info.mtimeMs, ...(await Promise.all(entries.map((entry) => newestChange(path.join(file, entry))))));
}

/** True when admin/dist is missing or older than anything it is built from. */
export async function adminBuildIsStale(): Promise<boolean> {
  const built = await stat(BUILT).then((s) => s.mtimeMs, () => undefined);
  if (built === undefined) return true;
  const changed = await Promise.all(SOURCES.map(newestChange));
  return Math.max(...changed) > built;
}

/**
 * Builds the admin console (`npm run build:admin`) when it is missing or stale, so that a fresh clone's
 * `npm start` and `npm test` serve the console without a separate step. A few seconds when it runs.
 */
export async function ensureAdminBuilt(log: (message: string) => void = () => undefined): Promise<void> {
  if (!(await adminBuildIsStale())) return;
  log('building the admin console (npm run build:admin)');
  const child = spawn('npm', ['run', '--silent', 'build:admin'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`npm run build:admin failed (exit ${code}):\n${errors.slice(-3000)}`);
}
