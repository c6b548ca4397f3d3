import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import dockerignore from '@balena/dockerignore';
import { parseAllDocuments } from 'yaml';
import {
  buildOverlay,
  checkCompose,
  checkComposeSettings,
  checkGitlabCi,
  checkManifestSettings,
  lintDockerfile,
  OVERLAYS,
  validateManifests,
  type CheckResult,
} from '../stack/deploy/check';
import { deployTools, type DeployToolPaths } from '../stack/deploy/tools';
import { freePort } from '../stack/process/ports';
import { testStack } from './support/stack';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..');

/**
 * The deployment files, checked by the real tools offline (stack/deploy/check.ts, `npm run
 * check:deploy`): each check passes on the file in the repository and fails on a copy broken on
 * purpose, so none of them can pass by not looking. Then the image's build, done as the Dockerfile
 * does it but without Docker: the build context .dockerignore leaves, `npm run build` in it, production
 * dependencies only, and the compiled API, migration and worker started from that.
 */
describe('deployment files, checked offline', function () {
  let tools: DeployToolPaths;
  let work: string;

  before(async function () {
    // The first run installs the validators (kustomize is compiled: about a minute).
    this.timeout(10 * 60_000);
    tools = await deployTools();
    work = await mkdtemp(path.join(os.tmpdir(), 'deploy-spec-'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  /** A copy of the repo file `relative` in a fresh folder, each `[from, to]` replaced once (and required to occur). */
  async function brokenCopy(relative: string, edits: [string, string][]): Promise<string> {
    const dir = await mkdtemp(path.join(work, 'broken-'));
    const file = path.join(dir, path.basename(relative));
    let text = await readFile(path.join(ROOT, relative), 'utf8');
    for (const [from, to] of edits) {
      assert.ok(text.includes(from), `${relative} no longer contains ${JSON.stringify(from)}: update the broken copy`);
      text = text.replace(from, to);
    }
    await writeFile(file, text);
    return file;
  }

  /** A copy of deploy/k8s with `edits` per file (relative to deploy/k8s), for an overlay to be built from. */
  async function brokenK8s(edits: Record<string, [string, string][]>, remove: string[] = []): Promise<string> {
    const dir = path.join(await mkdtemp(path.join(work, 'k8s-')), 'k8s');
    await cp(path.join(ROOT, 'deploy', 'k8s'), dir, { recursive: true });
    for (const [file, changes] of Object.entries(edits)) {
      let text = await readFile(path.join(dir, file), 'utf8');
      for (const [from, to] of changes) {
        assert.ok(text.includes(from), `deploy/k8s/${file} no longer contains ${JSON.stringify(from)}: update the broken copy`);
        text = text.replace(from, to);
      }
      await writeFile(path.join(dir, file), text);
    }
    for (const file of remove) await rm(path.join(dir, file));
    return dir;
  }

  const passes = (result: CheckResult) => assert.ok(result.ok, `${result.command} failed:\n${result.output}`);
  function fails(result: CheckResult, ...expected: (string | RegExp)[]) {
    assert.equal(result.ok, false, `${result.command} passed a broken file:\n${result.output}`);
    for (const words of expected) {
      assert.ok(typeof words === 'string' ? result.output.includes(words) : words.test(result.output), `${result.command} did not say ${words}:\n${result.output}`);
    }
  }

  describe('Dockerfile (hadolint)', () => {
    it('passes, every finding counted (failure-threshold: style)', async () => {
      passes(await lintDockerfile(tools, path.join(ROOT, 'Dockerfile')));
    });

    it('fails on an unpinned apt package (DL3008)', async () => {
      fails(await lintDockerfile(tools, await brokenCopy('Dockerfile', [['tini=0.19.0-1+b3', 'tini']])), 'DL3008');
    });

    it('fails on an image that runs as root (DL3002) and on apt lists left in the image (DL3009)', async () => {
      const file = await brokenCopy('Dockerfile', [
        ['USER 1000:1000', 'USER root'],
        [' \\\n && rm -rf /var/lib/apt/lists/*', ''],
      ]);
      fails(await lintDockerfile(tools, file), 'DL3002', 'DL3009');
    });
  });

  describe('docker-compose.yml (Compose specification schema, settings of config/index.ts)', () => {
    it('passes', async () => {
      passes(await checkCompose(tools, path.join(ROOT, 'docker-compose.yml')));
      passes(checkComposeSettings(await readFile(path.join(ROOT, 'docker-compose.yml'), 'utf8')));
    });

    it('fails on a misspelled key and on a value outside its enumeration', async () => {
      const file = await brokenCopy('docker-compose.yml', [
        ['stop_grace_period: 30s', 'stop_grace_perod: 30s'],
        ['condition: service_completed_successfully', 'condition: service_finished'],
      ]);
      fails(await checkCompose(tools, file), "'stop_grace_perod' was unexpected", "'service_finished' is not one of");
    });

    it('fails on a variable config/index.ts does not know (a typo) and on one only the local stack reads', async () => {
      const file = await brokenCopy('docker-compose.yml', [
        ['SEND_CONCURRENCY: ${SEND_CONCURRENCY:-64}', 'SEND_CONCURENCY: "64"'],
        ['LOG_LEVEL: info', 'LOG_LEVEL: info\n  DATA_DIR: /data'],
      ]);
      fails(checkComposeSettings(await readFile(file, 'utf8')), 'service worker: SEND_CONCURENCY is not a setting', 'DATA_DIR is for the local stack only');
    });
  });

  describe('Kubernetes overlays (kustomize build, kubernetes-validate --strict)', () => {
    for (const overlay of OVERLAYS) {
      it(`builds ${overlay}, valid for Kubernetes 1.29 and 1.37, with every setting in place`, async () => {
        const built = await buildOverlay(tools, path.join(ROOT, 'deploy', 'k8s', 'overlays', overlay));
        passes(built);
        passes(await validateManifests(tools, built.output));
        passes(checkManifestSettings(built.output));
        const kinds = [...built.output.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]).sort();
        assert.deepEqual(
          [...new Set(kinds)],
          ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Job', 'Namespace', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'ServiceAccount'],
        );
      });
    }

    it('lets the worker out to SMTP submission (587, 465), for the daily statistics e-mail', async () => {
      const built = await buildOverlay(tools, path.join(ROOT, 'deploy', 'k8s', 'overlays', 'prod'));
      passes(built);
      type Policy = { kind: string; spec: { podSelector: { matchLabels?: Record<string, string> }; egress?: { ports?: { port: number }[] }[] } };
      const policies = parseAllDocuments(built.output).map((doc) => doc.toJSON() as Policy).filter((doc) => doc?.kind === 'NetworkPolicy');
      // The policies that select every pod of the service, or the worker's.
      const forWorker = policies.filter(({ spec }) => [undefined, 'worker'].includes(spec.podSelector.matchLabels?.['app.kubernetes.io/component']));
      const ports = new Set(forWorker.flatMap(({ spec }) => (spec.egress ?? []).flatMap((rule) => (rule.ports ?? []).map((p) => p.port))));
      assert.ok(ports.has(587) && ports.has(465), `worker egress ports: ${[...ports].join(', ')}`);
    });

    it('fails to build an overlay whose base lists a file that is gone', async () => {
      const dir = await brokenK8s({}, ['base/network-policy.yaml']);
      fails(await buildOverlay(tools, path.join(dir, 'overlays', 'prod')), 'network-policy.yaml');
    });

    it('fails strict validation on a misspelled field and on a value of the wrong type', async () => {
      const dir = await brokenK8s({
        'base/worker.yaml': [['terminationGracePeriodSeconds: 45', 'terminationGracePeriodSecond: 45']],
        'base/api.yaml': [['containerPort: 8000', 'containerPort: "8000"']],
      });
      const built = await buildOverlay(tools, path.join(dir, 'overlays', 'prod'));
      passes(built);
      fails(await validateManifests(tools, built.output), "'terminationGracePeriodSecond' was unexpected", "'8000' is not of type 'integer'");
    });

    it('fails on a setting config/index.ts does not know, a missing one and a secret in the ConfigMap', async () => {
      const dir = await brokenK8s({
        'base/kustomization.yaml': [
          ['- SEND_CONCURRENCY=64', '- SEND_CONCURENCY=64'],
          ['- LOG_LEVEL=info', '- LOG_LEVEL=info\n      - SEND_API_TOKEN=in-plain-sight'],
        ],
      });
      const built = await buildOverlay(tools, path.join(dir, 'overlays', 'prod'));
      passes(built);
      fails(checkManifestSettings(built.output), 'SEND_CONCURENCY is not a setting', 'lacks SEND_CONCURRENCY', 'SEND_API_TOKEN is a secret');
    });
  });

  describe('.gitlab-ci.yml (GitLab CI schema)', () => {
    it('passes', async () => {
      passes(await checkGitlabCi(tools, path.join(ROOT, '.gitlab-ci.yml')));
    });

    it('fails on an unknown job keyword and on a value outside its enumeration', async () => {
      const file = await brokenCopy('.gitlab-ci.yml', [
        ['  script:\n    - npm run lint', '  scirpt:\n    - npm run lint'],
        ['      when: manual', '      when: sometimes'],
      ]);
      fails(await checkGitlabCi(tools, file), "'scirpt' was unexpected", "'sometimes' is not one of");
    });
  });

  describe('the image, built without Docker as the Dockerfile builds it', function () {
    let context: string;
    let runtime: string;
    const children: ChildProcess[] = [];

    before(async function () {
      // npm run build (tsc, the workflow bundle) and npm ci of the production dependencies: about 30 s.
      this.timeout(5 * 60_000);
      const dockerfile = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
      for (const step of ['RUN npm run build', 'npm ci --omit=dev --no-audit --no-fund --ignore-scripts', 'COPY --from=build /app/dist ./dist']) {
        assert.ok(dockerfile.includes(step), `the Dockerfile no longer says ${step}: update this emulation`);
      }
      // Build stage: `COPY . .` of the context .dockerignore leaves; the same dependencies as `npm ci`.
      context = path.join(work, 'context');
      await copyBuildContext(ROOT, context);
      await symlink(path.join(ROOT, 'node_modules'), path.join(context, 'node_modules'), 'dir');
      await run('npm', ['run', 'build'], { cwd: context, timeout: 4 * 60_000, maxBuffer: 64 * 1024 * 1024 });
      // Runtime stage: package files, production dependencies only (the npm cache serves them), dist/.
      runtime = path.join(work, 'runtime');
      await mkdir(runtime);
      for (const file of ['package.json', 'package-lock.json']) await cp(path.join(context, file), path.join(runtime, file));
      await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--ignore-scripts', '--prefer-offline'], {
        cwd: runtime,
        timeout: 4 * 60_000,
        maxBuffer: 64 * 1024 * 1024,
      });
      await cp(path.join(context, 'dist'), path.join(runtime, 'dist'), { recursive: true });
    });

    afterEach(async () => {
      for (const child of children.splice(0)) {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = once(child, 'exit');
          child.kill('SIGKILL');
          await exited;
        }
      }
    });

    /** A process of the image: plain node in the runtime folder, production settings, the test stack. */
    function startCompiled(args: string[], env: Record<string, string> = {}): { child: ChildProcess; output: () => string; waitFor: (marker: string) => Promise<void> } {
      const { databaseUrl, temporalAddress, namespace } = testStack();
      const child = spawn(process.execPath, args, {
        cwd: runtime,
        env: {
          PATH: process.env.PATH,
          NODE_ENV: 'production',
          WORKFLOW_BUNDLE_PATH: path.join(runtime, 'dist', 'workflow-bundle.js'),
          DATABASE_URL: databaseUrl,
          TEMPORAL_ADDRESS: temporalAddress,
          TEMPORAL_NAMESPACE: namespace,
          LOG_LEVEL: 'info',
          // Metrics endpoints only where a test gives them a free port.
          API_METRICS_PORT: '0',
          METRICS_PORT: '0',
          SDK_METRICS_PORT: '0',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let output = '';
      const listeners = new Set<() => void>();
      const collect = (chunk: Buffer) => {
        output += chunk.toString();
        for (const listener of listeners) listener();
      };
      child.stdout!.on('data', collect);
      child.stderr!.on('data', collect);
      const waitFor = (marker: string) =>
        new Promise<void>((resolve, reject) => {
          const check = () => output.includes(marker) && resolve();
          listeners.add(check);
          check();
          child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code} before "${marker}":\n${output.slice(-3000)}`)));
        });
      return { child, output: () => output, waitFor };
    }

    it('has a build context with the sources and the spec, without local data, tests, tooling or secrets', async () => {
      const ignore = dockerignore().add(await readFile(path.join(ROOT, '.dockerignore'), 'utf8'));
      for (const kept of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'openapi.yaml', 'api/main.ts', 'worker/bundle.ts', 'storage/migrations/x.ts']) {
        assert.equal(ignore.ignores(kept), false, `${kept} is left out of the build context`);
      }
      for (const left of ['node_modules/x', 'dist/x', '.git/config', '.venv/bin/x', '.data/postgres', 'test/x.spec.ts', '.env', 'config/.env.local', 'deploy/k8s/x', 'keys/client.key', 'client.pem']) {
        assert.equal(ignore.ignores(left), true, `${left} would be sent to the Docker daemon`);
      }
      assert.equal(await dirHas(context, 'test'), false);
    });

    it('migrates with the compiled code against a database migrated under tsx (one knex history)', async () => {
      const migrate = startCompiled(['dist/storage/migrate.js']);
      const [code] = (await once(migrate.child, 'exit')) as [number | null];
      assert.equal(code, 0, migrate.output());
      assert.match(migrate.output(), /"schema is up to date"/);
    });

    it('serves the API from dist/ with production dependencies only: /healthz, /readyz, the spec, Swagger UI, the admin console, /metrics', async () => {
      // The way in: an operator key made by the compiled tool, as an operator of the image makes one.
      const keyTool = startCompiled(['dist/api/auth/api-key-cli.js', 'create', '--name', `deploy-spec-${process.pid}-${Date.now()}`, '--role', 'operator']);
      const [keyToolCode] = (await once(keyTool.child, 'exit')) as [number | null];
      assert.equal(keyToolCode, 0, keyTool.output());
      const key = /msk_\S+/.exec(keyTool.output())![0];
      const [port, metricsPort] = [await freePort(), await freePort()];
      const api = startCompiled(['--min-semi-space-size=16', 'dist/api/main.js'], { PORT: String(port), HOST: '127.0.0.1', API_METRICS_PORT: String(metricsPort) });
      await api.waitFor('"API listening"');
      const base = `http://127.0.0.1:${port}`;
      assert.deepEqual(await (await fetch(`${base}/healthz`)).json(), { status: 'ok' });
      const ready = await fetch(`${base}/readyz`);
      assert.equal(ready.status, 200, await ready.text());
      for (const [url, type] of [
        ['/openapi.yaml', /yaml/],
        ['/docs/', /html/],
        ['/docs/swagger-ui-bundle.js', /javascript/],
        ['/admin/', /html/],
        ['/api/clients/?limit=1', /json/],
      ] as const) {
        const response = await fetch(`${base}${url}`, { headers: { authorization: `Bearer ${key}` } });
        assert.equal(response.status, 200, `${url}: ${response.status}`);
        assert.match(response.headers.get('content-type') ?? '', type, url);
        await response.arrayBuffer();
      }
      assert.equal((await fetch(`${base}/api/clients/?limit=1`)).status, 401);
      // Metrics on their own port, without credentials.
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      assert.match(metrics, /^http_request_duration_seconds_count\{method="GET",route="\/api\/clients\/",status="200"\} 1$/m);
      assert.match(metrics, /^http_request_duration_seconds_count\{method="GET",route="\/api\/clients\/",status="401"\} 1$/m);
      assert.match(metrics, /^mailing_messages_pending \d+$/m);
      assert.doesNotMatch(api.output(), /tsx/);
      api.child.kill('SIGTERM');
      const [code] = (await once(api.child, 'exit')) as [number | null];
      assert.equal(code, 0, api.output());
    });

    it('runs the worker from dist/ and the prebuilt workflow bundle, serving its metrics and the SDK\'s, and it stops cleanly on SIGTERM', async () => {
      const [metricsPort, sdkMetricsPort] = [await freePort(), await freePort()];
      const worker = startCompiled(['--max-old-space-size=128', '--max-semi-space-size=8', 'dist/worker/main.js'], {
        // A queue of its own: this worker must not take other tests' work.
        TEMPORAL_TASK_QUEUE: `deploy-spec-${process.pid}`,
        SEND_API_URL: 'http://127.0.0.1:9/v1',
        SEND_API_TOKEN: 'deploy-spec',
        METRICS_PORT: String(metricsPort),
        SDK_METRICS_PORT: String(sdkMetricsPort),
      });
      await worker.waitFor('"worker running"');
      assert.match(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(), /^mailing_messages_total\{outcome="sent"\} 0$/m);
      assert.match(await (await fetch(`http://127.0.0.1:${sdkMetricsPort}/metrics`)).text(), /^temporal_/m);
      worker.child.kill('SIGTERM');
      const [code] = (await once(worker.child, 'exit')) as [number | null];
      assert.equal(code, 0, worker.output());
      assert.match(worker.output(), /"worker stopped"/);
    });

    it('loads its workflows from WORKFLOW_BUNDLE_PATH, not by bundling at start (a broken bundle stops it)', async () => {
      const broken = path.join(runtime, 'dist', 'broken-bundle.js');
      await writeFile(broken, 'this is not a workflow bundle');
      const worker = startCompiled(['--max-old-space-size=128', '--max-semi-space-size=8', 'dist/worker/main.js'], {
        TEMPORAL_TASK_QUEUE: `deploy-spec-${process.pid}`,
        SEND_API_URL: 'http://127.0.0.1:9/v1',
        SEND_API_TOKEN: 'deploy-spec',
        WORKFLOW_BUNDLE_PATH: broken,
      });
      const [code] = (await once(worker.child, 'exit')) as [number | null];
      assert.notEqual(code, 0, worker.output());
      assert.doesNotMatch(worker.output(), /"worker running"/);
    });
  });
});

/** Copies what `docker build` would send: the tree under `root` less what .dockerignore excludes. */
async function copyBuildContext(root: string, target: string): Promise<void> {
  const rules = await readFile(path.join(root, '.dockerignore'), 'utf8');
  assert.doesNotMatch(rules, /^\s*!/m, '.dockerignore re-includes paths (!): copyBuildContext must then enter excluded folders');
  const ignore = dockerignore().add(rules);
  async function walk(relative: string): Promise<void> {
    for (const entry of await readdir(path.join(root, relative), { withFileTypes: true })) {
      const child = relative ? `${relative}/${entry.name}` : entry.name;
      // No `!` rule in .dockerignore: an excluded folder is excluded whole, so it is not entered.
      if (ignore.ignores(child)) continue;
      if (entry.isDirectory()) await walk(child);
      else if (entry.isFile()) await cp(path.join(root, child), path.join(target, child));
    }
  }
  await walk('');
}

async function dirHas(dir: string, name: string): Promise<boolean> {
  return (await readdir(dir)).includes(name);
}
