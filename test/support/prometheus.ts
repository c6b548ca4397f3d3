import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { createLogger } from '../../config/logger';
import { PROMETHEUS, systemProgram } from '../../stack/tools/system-programs';
import { freePort } from '../../stack/process/ports';
import { spawnManaged } from '../../stack/process/managed-process';
import { eventually } from './eventually';

export interface RunningPrometheus {
  url: string;
  /** The value of an instant query that yields one sample, undefined while it yields none. */
  value(query: string): Promise<number | undefined>;
  /** Every loaded rule's name and health (`ok` once evaluated without error). */
  rules(): Promise<{ name: string; health: string; lastError?: string }[]>;
  stop(): Promise<void>;
}

/**
 * A real Prometheus (Debian's package) scraping `targets` (job name to `host:port`) every second and
 * evaluating `ruleFiles`, with its data in a temp dir, on a free port; resolves once it is ready.
 */
export async function startPrometheus(targets: Record<string, string>, ruleFiles: string[] = []): Promise<RunningPrometheus> {
  const binary = await systemProgram(PROMETHEUS);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'prometheus-test-'));
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: ruleFiles,
    scrape_configs: Object.entries(targets).map(([job, target]) => ({ job_name: job, static_configs: [{ targets: [target] }] })),
  };
  await writeFile(path.join(dir, 'prometheus.yml'), stringify(config));
  const url = `http://127.0.0.1:${await freePort()}`;
  const prometheus = await spawnManaged({
    name: 'prometheus',
    command: binary,
    args: [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=${new URL(url).host}`,
      '--log.level=warn',
    ],
    logger: createLogger(process.env.LOG_LEVEL ?? 'silent', 'prometheus'),
    output: { stdout: 'debug', stderr: 'debug' },
  });
  const stop = async () => {
    await prometheus.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await eventually(async () => ((await fetch(`${url}/-/ready`).catch(() => undefined))?.ok ? true : undefined), 30_000);
  } catch (error) {
    await stop();
    throw new Error(`Prometheus did not become ready: ${(error as Error).message}\n${prometheus.recentOutput()}`);
  }
  return {
    url,
    async value(query) {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
      const body = (await response.json()) as { status: string; error?: string; data: { result: { value: [number, string] }[] } };
      if (body.status !== 'success') throw new Error(`query ${query} failed: ${body.error}`);
      const [sample] = body.data.result;
      return sample === undefined ? undefined : Number(sample.value[1]);
    },
    async rules() {
      const body = (await (await fetch(`${url}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } };
      return body.data.groups.flatMap((group) => group.rules.map(({ name, health, lastError }) => ({ name, health, lastError })));
    },
    stop,
  };
}
