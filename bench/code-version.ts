import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../stack/repo-root';

/** The folders whose code a run of the service executes (the workers load it when they start). */
const SERVICE_DIRS = ['activities', 'api', 'config', 'domain', 'stack', 'storage', 'worker', 'workflows'];

/** Which code ran, as in bench/mailing.ts: other work may be uncommitted while a run goes on. */
export function codeVersion(): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' });
  try {
    // Porcelain lines are "XY path": the status letters, a space, the path.
    const changed = git('status', '--porcelain', '--untracked-files=all', '--', ...SERVICE_DIRS)
      .split('\n')
      .filter(Boolean)
      .map((line) => line.slice(3));
    return `${git('rev-parse', '--short', 'HEAD').trim()}${changed.length ? ` + uncommitted changes to ${changed.join(', ')}` : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/** Size and modification time of every file of the service, to tell whether it changed during a run. */
export function codeSnapshot(): Map<string, string> {
  const files = new Map<string, string>();
  for (const dir of SERVICE_DIRS) {
    let names: string[];
    try {
      names = readdirSync(path.join(repoRoot, dir), { recursive: true, encoding: 'utf8' });
    } catch {
      continue;
    }
    for (const name of names) {
      const file = path.join(dir, name);
      try {
        const stat = statSync(path.join(repoRoot, file));
        if (stat.isFile()) files.set(file, `${stat.size}:${stat.mtimeMs}`);
      } catch {
        // removed meanwhile
      }
    }
  }
  return files;
}

/** Files added, removed or modified between two snapshots. */
export function changedFiles(before: Map<string, string>, after: Map<string, string>): string[] {
  const changed = new Set<string>();
  for (const [file, sig] of before) if (after.get(file) !== sig) changed.add(file);
  for (const file of after.keys()) if (!before.has(file)) changed.add(file);
  return [...changed].sort();
}
