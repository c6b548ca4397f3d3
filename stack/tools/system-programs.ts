/** Programs of the operating system: found as `which` finds them, or installed from Debian when missing. */
import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const INSTALL_TIMEOUT_MS = 15 * 60_000;

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The first executable called `name` on PATH, as `which` finds it. */
export function findOnPath(name: string, searchPath = process.env.PATH ?? ''): string | undefined {
  return searchPath
    .split(path.delimiter)
    .filter(Boolean)
    .map((dir) => path.join(dir, name))
    .find(isExecutable);
}

/** A program the tests need from the operating system, and the Debian packages that bring it. */
export interface SystemProgram {
  binary: string;
  /** Where Debian puts it when it is not on PATH (chromium's real binary). */
  knownPaths?: string[];
  packages: string[];
}

/** Real Chromium for the browser tests (playwright-core drives it; its own downloads cannot work here). */
export const CHROMIUM: SystemProgram = { binary: 'chromium', knownPaths: ['/usr/lib/chromium/chromium'], packages: ['chromium', 'fonts-liberation'] };
/** Real Prometheus (and promtool) for the metrics tests and the alert rules' check. */
export const PROMETHEUS: SystemProgram = { binary: 'prometheus', packages: ['prometheus'] };
export const PROMTOOL: SystemProgram = { binary: 'promtool', packages: ['prometheus'] };

export function findSystemProgram(program: SystemProgram): string | undefined {
  return (program.knownPaths ?? []).find(isExecutable) ?? findOnPath(program.binary);
}

/**
 * The program's path, installing its Debian packages with apt-get when it is missing and this runs as
 * root (CI, containers); otherwise an error that says what to install.
 */
export async function systemProgram(program: SystemProgram): Promise<string> {
  const found = findSystemProgram(program);
  if (found) return found;
  const aptGet = findOnPath('apt-get');
  if (!aptGet || process.getuid?.() !== 0) {
    throw new Error(`${program.binary} is not installed: install the Debian package(s) ${program.packages.join(' ')} (apt-get install -y ${program.packages.join(' ')})`);
  }
  process.stderr.write(`installing ${program.packages.join(' ')} with apt-get (once)\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await run(aptGet, ['install', '-y', '--no-install-recommends', ...program.packages], { env, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
  } catch {
    // A fresh container has no package lists yet.
    await run(aptGet, ['update'], { env, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
    await run(aptGet, ['install', '-y', '--no-install-recommends', ...program.packages], { env, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
  }
  const installed = findSystemProgram(program);
  if (!installed) throw new Error(`apt-get installed ${program.packages.join(' ')}, but ${program.binary} is still not found`);
  return installed;
}
