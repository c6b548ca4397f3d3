import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../config/logger';
import { startEmbeddedPostgres } from '../stack/postgres/server';
import { startTemporalDevServer } from '../stack/temporal/dev-server';

/** A server holding a free port on loopback, as another stack's part would. */
async function holdPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('the local stack on a port another server holds', () => {
  const logger = createLogger('silent', 'stack-ports-spec');

  it('refuses to start PostgreSQL there, naming the port, before it creates anything', async () => {
    const held = await holdPort();
    const dataDir = path.join(os.tmpdir(), `stack-ports-${process.pid}-${Date.now()}`, 'postgres');
    try {
      await assert.rejects(startEmbeddedPostgres({ dataDir, port: held.port, logger }), new RegExp(`postgres cannot listen on 127\\.0\\.0\\.1:${held.port}`));
      assert.equal(existsSync(dataDir), false);
    } finally {
      await held.close();
    }
  });

  it('refuses to start the Temporal dev server there, naming the port', async () => {
    const held = await holdPort();
    try {
      await assert.rejects(
        startTemporalDevServer({ cliPath: '/nonexistent/temporal', port: held.port, namespace: 'default', logger }),
        new RegExp(`temporal cannot listen on 127\\.0\\.0\\.1:${held.port}`),
      );
    } finally {
      await held.close();
    }
  });
});
