/**
 * Takes docs/temporal-web-ui-mailing.png (the run's timeline) and docs/temporal-web-ui-mailing-summary.png
 * (its summary, details and current details): runs `npm start` on free ports with a throwaway data
 * directory, sends a small mailing through a provider that stalls and fails now and then (so the run
 * has a timer until its start, send batches, retries and their timers), and photographs the run's page
 * in the dev server's Web UI with Debian's Chromium (playwright-core).
 *
 *   npm run docs:screenshot
 */
import { Client, Connection } from '@temporalio/client';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { loadConfig } from '../config';
import { createLogger } from '../config/logger';
import { CHROMIUM, systemProgram } from '../stack/tools/system-programs';
import { freePort } from '../stack/process/ports';
import { spawnManaged, waitUntilReady } from '../stack/process/managed-process';
import { repoRoot } from '../stack/repo-root';
import { runMain } from '../stack/process/script';

const TIMELINE = path.join(__dirname, 'temporal-web-ui-mailing.png');
const SUMMARY = path.join(__dirname, 'temporal-web-ui-mailing-summary.png');
const CLIENTS = 40;
const STARTUP_TIMEOUT_MS = 180_000;
const MAILING_TIMEOUT_MS = 180_000;

async function request(url: string, method = 'GET', body?: unknown, apiKey?: string) {
  const headers: Record<string, string> = body ? { 'content-type': 'application/json' } : {};
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  const response = await fetch(url, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function main() {
  const logger = createLogger('info', 'screenshot');
  const chromiumPath = await systemProgram(CHROMIUM);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mailings-screenshot-'));
  // mkdtemp makes it 0700; as root, the postgres OS user must be able to enter it.
  await chmod(dataDir, 0o755);
  const [port, temporalPort, uiPort, postgresPort, providerPort, oidcPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  const api = `http://127.0.0.1:${port}`;
  const ui = `http://127.0.0.1:${uiPort}`;
  const { SEND_API_TOKEN: _, DATABASE_URL: __, TEMPORAL_ADDRESS: ___, ...env } = process.env;
  const stack = await spawnManaged({
    name: 'npm start',
    command: process.execPath,
    args: ['--import', 'tsx', 'stack/start.ts'],
    cwd: repoRoot,
    env: {
      ...env,
      LOG_LEVEL: 'warn',
      DATA_DIR: dataDir,
      PORT: String(port),
      TEMPORAL_DEV_PORT: String(temporalPort),
      TEMPORAL_UI_PORT: String(uiPort),
      EMBEDDED_POSTGRES_PORT: String(postgresPort),
      FAKE_PROVIDER_PORT: String(providerPort),
      OIDC_DEV_PORT: String(oidcPort),
      API_METRICS_PORT: '0',
      METRICS_PORT: '0',
      SDK_METRICS_PORT: '0',
      SEND_RETRY_INITIAL_MS: '3000',
    },
    logger,
    output: { stdout: 'info', stderr: 'warn' },
    stopTimeoutMs: 60_000,
  });
  try {
    await waitUntilReady(stack, () => request(`${api}/readyz`), STARTUP_TIMEOUT_MS);
    // The operator key npm start made for this data directory.
    const key = (await readFile(path.join(dataDir, 'operator-api-key'), 'utf8')).trim();
    await request(`http://127.0.0.1:${providerPort}/control/faults`, 'PUT', { latencyMs: { min: 50, max: 400 }, errorRate: 0.3, errorStatus: 503 });
    const tag = 'spring-sale';
    for (let i = 0; i < CLIENTS; i++) {
      const phone = `79${String(100_000_000 + i * 7_919).padStart(9, '0')}`;
      await request(`${api}/api/clients/`, 'POST', { phone_number: phone, timezone: 'Europe/Moscow', tag }, key);
    }
    const mailing = await request(`${api}/api/mailings/`, 'POST', {
      start_at: new Date(Date.now() + 5_000).toISOString(),
      end_at: new Date(Date.now() + 3_600_000).toISOString(),
      text: 'Spring sale: 20% off everything until Sunday. Show this message at the till.',
      filter: { tag },
    }, key);
    const deadline = Date.now() + MAILING_TIMEOUT_MS;
    while ((await request(`${api}/api/mailings/${mailing.id}/`, 'GET', undefined, key)).status !== 'finished') {
      if (Date.now() > deadline) throw new Error(`mailing ${mailing.id} did not finish in time`);
      await sleep(500);
    }

    const connection = await Connection.connect({ address: `127.0.0.1:${temporalPort}` });
    const workflowId = `mailing-${mailing.id}`;
    const { runId } = await new Client({ connection, namespace: loadConfig().TEMPORAL_NAMESPACE }).workflow.getHandle(workflowId).describe();
    await connection.close();

    const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1600, height: 1250 }, colorScheme: 'light' });
      const run = `${ui}/namespaces/${loadConfig().TEMPORAL_NAMESPACE}/workflows/${workflowId}/${runId}`;
      // The timeline from the start: the timer until start_at, the claim, the audience, the batches and their timers.
      await page.goto(`${run}/timeline`);
      await page.getByRole('button', { name: 'Descending' }).click();
      await page.getByText('until start_at').first().waitFor({ timeout: 60_000 });
      await page.screenshot({ path: TIMELINE });
      // The run's summary, details and current details.
      await page.goto(`${run}/user-metadata`);
      // The UI renders each markdown text in an iframe of its own.
      await page.frameLocator('#user-metadata-summary').getByText(`mailing ${mailing.id}:`).waitFor({ timeout: 60_000 });
      await page.locator('iframe').last().contentFrame().getByText(`sent ${CLIENTS}`).waitFor({ timeout: 60_000 });
      await page.screenshot({ path: SUMMARY, clip: { x: 0, y: 0, width: 1600, height: 880 } });
    } finally {
      await browser.close();
    }
    logger.info({ files: [TIMELINE, SUMMARY].map((file) => path.relative(repoRoot, file)), workflowId }, 'screenshots saved');
  } finally {
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

runMain(main);
