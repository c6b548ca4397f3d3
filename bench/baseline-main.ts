import { createInterface } from 'node:readline';
import { loadConfig, requireSetting } from '../config';
import { runMain } from '../stack/process/script';
import { connectDatabase } from '../storage/database';
import { runBaseline } from './baseline';

/**
 * The plain loop as its own process, as the worker is one; `npm run bench` runs both compiled. Its
 * settings are the service's (DATABASE_URL, SEND_API_URL, SEND_API_TOKEN, SEND_CONCURRENCY,
 * SEND_TIMEOUT_MS, DATABASE_POOL_MAX). It prints `{"event":"ready"}`, starts on a line on its stdin,
 * prints `{"event":"done","mailingId":…}` and exits once its stdin closes, so that the benchmark can
 * read the CPU time of the loop alone, start-up left out, while the process is still there.
 */
async function main() {
  const config = loadConfig();
  const db = connectDatabase(requireSetting(config, 'DATABASE_URL'), config.DATABASE_POOL_MAX);
  const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
  const input = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  try {
    say({ event: 'ready' });
    if ((await input.next()).done) return;
    const mailingId = await runBaseline(db, {
      providerUrl: config.SEND_API_URL,
      token: requireSetting(config, 'SEND_API_TOKEN'),
      concurrency: config.SEND_CONCURRENCY,
      timeoutMs: config.SEND_TIMEOUT_MS,
    });
    say({ event: 'done', mailingId });
    while (!(await input.next()).done);
  } finally {
    await db.destroy();
  }
}

runMain(main);
