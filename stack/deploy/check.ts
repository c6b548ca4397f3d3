import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import { configKeys, secretKeys } from '../../config';
import { repoRoot } from '../repo-root';
import { PROMTOOL, systemProgram } from '../tools/system-programs';
import { checkMonitoringFiles } from './metrics-check';
import { deployTools, type DeployToolPaths } from './tools';

const run = promisify(execFile);

/**
 * Offline checks of the deployment files (`npm run check:deploy`, test/deploy.spec.ts): the Dockerfile
 * by hadolint, docker-compose.yml against the Compose specification schema kept in deploy/schemas/,
 * the Kustomize overlays built by kustomize and checked strictly against the Kubernetes schemas of
 * kubernetes-validate, .gitlab-ci.yml against GitLab's CI schema, and the settings the compose file
 * and the manifests set against config/index.ts, and the monitoring files by promtool
 * (stack/deploy/metrics-check.ts). Where the machine allows it, every tool runs in a
 * network namespace of its own with no network at all, which proves it downloads nothing.
 */

export interface CheckResult {
  ok: boolean;
  /** What ran, for the report. */
  command: string;
  /** The tool's own words (stdout and stderr). */
  output: string;
}

/** Kubernetes versions the manifests are validated against: the oldest one supported and the newest. */
export const KUBERNETES_VERSIONS = ['1.29.0', '1.37.0'];

/** Settings only the local stack (`npm start`, tests) reads: a deployment has no use for them. */
export const LOCAL_ONLY_SETTINGS = [
  'DATA_DIR',
  'EMBEDDED_POSTGRES_PORT',
  'TEMPORAL_DEV_PORT',
  'TEMPORAL_UI_PORT',
  'TEMPORAL_CLI_PATH',
  'TEMPORAL_TEST_SERVER_PATH',
  'FAKE_PROVIDER_PORT',
  'OIDC_DEV_PORT',
];

/** `unshare -n` (or, unprivileged, `unshare -rn`) when this machine lets a process drop its network. */
export const offlinePrefix: string[] = (() => {
  for (const prefix of [['unshare', '-n'], ['unshare', '-rn']]) {
    try {
      execFileSync(prefix[0], [...prefix.slice(1), 'true'], { stdio: 'ignore', timeout: 5_000 });
      return prefix;
    } catch {
      // not permitted here (a container without CAP_SYS_ADMIN, no user namespaces): run as is
    }
  }
  return [];
})();

async function tool(binary: string, args: string[], cwd = repoRoot): Promise<CheckResult> {
  const [command, ...rest] = [...offlinePrefix, binary, ...args];
  const relative = (file: string) => (path.relative(cwd, file).startsWith('..') ? file : path.relative(cwd, file) || '.');
  const shown = [path.basename(binary), ...args.map((a) => (path.isAbsolute(a) ? relative(a) : a))].join(' ');
  try {
    const { stdout, stderr } = await run(command, rest, { cwd, timeout: 120_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } });
    return { ok: true, command: shown, output: `${stdout}${stderr}` };
  } catch (error) {
    const { stdout = '', stderr = '', message } = error as { stdout?: string; stderr?: string; message: string };
    return { ok: false, command: shown, output: `${stdout}${stderr}` || message };
  }
}

export function lintDockerfile(tools: DeployToolPaths, dockerfile: string, config = path.join(repoRoot, '.hadolint.yaml')): Promise<CheckResult> {
  return tool(tools.hadolint, ['--no-color', '--config', config, dockerfile]);
}

export function checkCompose(tools: DeployToolPaths, file: string, schema = path.join(repoRoot, 'deploy', 'schemas', 'compose-spec.json')): Promise<CheckResult> {
  return tool(tools['check-jsonschema'], ['--color', 'never', '--verbose', '--schemafile', schema, file]);
}

export function checkGitlabCi(tools: DeployToolPaths, file: string): Promise<CheckResult> {
  return tool(tools['check-jsonschema'], ['--color', 'never', '--verbose', '--builtin-schema', 'vendor.gitlab-ci', file]);
}

/** `kustomize build <overlay>`: the manifests as `kubectl apply -k` would send them (in `output`). */
export async function buildOverlay(tools: DeployToolPaths, overlay: string): Promise<CheckResult> {
  const result = await tool(tools.kustomize, ['build', overlay]);
  return result;
}

/** kubernetes-validate --strict (unknown fields are errors) of a multi-document YAML, per version. */
export async function validateManifests(tools: DeployToolPaths, yaml: string, versions = KUBERNETES_VERSIONS): Promise<CheckResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'manifests-'));
  try {
    const file = path.join(dir, 'manifests.yaml');
    await writeFile(file, yaml);
    const results = await Promise.all(versions.map((version) => tool(tools['kubernetes-validate'], ['--strict', '--quiet', '-k', version, file], dir)));
    return {
      ok: results.every((r) => r.ok),
      command: results.map((r) => r.command).join(' && '),
      output: results.map((r) => r.output).join(''),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

type Doc = { kind?: string; metadata?: { name?: string }; data?: Record<string, string>; spec?: Record<string, unknown> };
type Container = { name: string; env?: { name: string; valueFrom?: { secretKeyRef?: { key: string } } }[]; envFrom?: { configMapRef?: { name: string } }[] };

/**
 * The settings built manifests give the containers, against config/index.ts: every name is a setting,
 * every non-secret setting a deployment uses is in the ConfigMap, every secret comes from a Secret and
 * none sits in the ConfigMap.
 */
export function checkManifestSettings(yaml: string): CheckResult {
  const docs = parseAllDocuments(yaml).map((d) => d.toJS() as Doc);
  const problems: string[] = [];
  const known = new Set<string>(configKeys);
  const configMaps = new Map(docs.filter((d) => d.kind === 'ConfigMap').map((d) => [d.metadata?.name ?? '', d.data ?? {}]));
  const templates = docs.flatMap((d) => {
    const spec = d.kind === 'Job' || d.kind === 'Deployment' ? (d.spec as { template?: { spec?: { containers?: Container[] } } }) : undefined;
    return spec?.template?.spec?.containers?.map((c) => ({ owner: `${d.kind}/${d.metadata?.name}`, container: c })) ?? [];
  });
  if (!templates.length) problems.push('no Deployment or Job found');
  const fromSecrets = new Set<string>();
  for (const [name, data] of configMaps) {
    for (const key of Object.keys(data)) {
      if (!known.has(key)) problems.push(`ConfigMap ${name}: ${key} is not a setting of config/index.ts`);
      if ((secretKeys as readonly string[]).includes(key)) problems.push(`ConfigMap ${name}: ${key} is a secret; it belongs in a Secret`);
      if (LOCAL_ONLY_SETTINGS.includes(key)) problems.push(`ConfigMap ${name}: ${key} is for the local stack only`);
    }
    for (const key of configKeys) {
      const needed = !LOCAL_ONLY_SETTINGS.includes(key) && !(secretKeys as readonly string[]).includes(key);
      if (needed && !(key in data)) problems.push(`ConfigMap ${name} lacks ${key} (every non-secret setting, empty for unset)`);
    }
  }
  for (const { owner, container } of templates) {
    for (const ref of container.envFrom ?? []) {
      if (ref.configMapRef && !configMaps.has(ref.configMapRef.name)) problems.push(`${owner}: ConfigMap ${ref.configMapRef.name} is not in the manifests`);
    }
    for (const variable of container.env ?? []) {
      if (!known.has(variable.name)) problems.push(`${owner}: ${variable.name} is not a setting of config/index.ts`);
      if (variable.valueFrom?.secretKeyRef) fromSecrets.add(variable.name);
      else if ((secretKeys as readonly string[]).includes(variable.name)) problems.push(`${owner}: ${variable.name} is a secret; take it from a Secret`);
    }
  }
  for (const key of secretKeys) {
    if (!fromSecrets.has(key)) problems.push(`no container takes ${key} from a Secret`);
  }
  return { ok: problems.length === 0, command: 'settings of the manifests vs config/index.ts', output: problems.join('\n') };
}

/** The environment the compose file gives the service's own containers (those built from the Dockerfile), against config/index.ts. */
export function checkComposeSettings(composeYaml: string): CheckResult {
  const compose = parse(composeYaml, { merge: true }) as { services?: Record<string, { build?: unknown; environment?: Record<string, unknown> | string[] }> };
  const problems: string[] = [];
  const ours = Object.entries(compose.services ?? {}).filter(([, service]) => service.build !== undefined);
  if (!ours.length) problems.push('no service is built from the Dockerfile');
  for (const [name, service] of ours) {
    const env = service.environment ?? {};
    const keys = Array.isArray(env) ? env.map((entry) => entry.split('=')[0]) : Object.keys(env);
    for (const key of keys) {
      if (!(configKeys as string[]).includes(key)) problems.push(`service ${name}: ${key} is not a setting of config/index.ts`);
      else if (LOCAL_ONLY_SETTINGS.includes(key)) problems.push(`service ${name}: ${key} is for the local stack only`);
    }
  }
  return { ok: problems.length === 0, command: 'settings of docker-compose.yml vs config/index.ts', output: problems.join('\n') };
}

export const OVERLAYS = ['dev', 'prod'];

/** Every check on the files under `root` (the repository, or a copy of it). */
export async function checkDeployFiles(tools: DeployToolPaths, root = repoRoot): Promise<CheckResult[]> {
  const results = [
    await lintDockerfile(tools, path.join(root, 'Dockerfile')),
    await checkCompose(tools, path.join(root, 'docker-compose.yml')),
    checkComposeSettings(await readFile(path.join(root, 'docker-compose.yml'), 'utf8')),
    await checkGitlabCi(tools, path.join(root, '.gitlab-ci.yml')),
  ];
  for (const overlay of OVERLAYS) {
    const built = await buildOverlay(tools, path.join(root, 'deploy', 'k8s', 'overlays', overlay));
    results.push({ ...built, output: built.ok ? '' : built.output });
    if (!built.ok) continue;
    results.push(await validateManifests(tools, built.output));
    results.push({ ...checkManifestSettings(built.output), command: `settings of overlay ${overlay} vs config/index.ts` });
  }
  results.push(...(await checkMonitoringFiles(await systemProgram(PROMTOOL), root)));
  return results;
}

if (require.main === module) {
  (async () => {
    const tools = await deployTools();
    if (!offlinePrefix.length) console.log('(no network namespace available: the tools run with the network)');
    const results = await checkDeployFiles(tools);
    for (const result of results) {
      console.log(`${result.ok ? 'ok  ' : 'FAIL'} ${result.command}`);
      if (!result.ok) console.log(result.output.replace(/^/gm, '     '));
    }
    process.exitCode = results.every((r) => r.ok) ? 0 : 1;
  })().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
