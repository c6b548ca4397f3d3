/** TCP ports: a free one to listen on, and whether something listens on one. */
import net from 'node:net';

/** A TCP port nobody listens on right now, picked by the OS. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on host:port; rejects otherwise. */
export function tcpProbe(host: string, port: number, timeoutMs = 2_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
    socket.once('timeout', () => socket.destroy(new Error(`connect to ${host}:${port} timed out`)));
    socket.once('error', reject);
  });
}

/**
 * Throws when something already accepts connections on host:port: a part started there would fail to
 * listen, while its readiness probe reached the other server (a second checkout's stack, say) and
 * the stack went on against it.
 */
export async function assertPortFree(name: string, host: string, port: number): Promise<void> {
  const taken = await tcpProbe(host, port, 1_000).then(
    () => true,
    () => false,
  );
  if (taken) throw new Error(`${name} cannot listen on ${host}:${port}: another server already does (a second stack?); stop it or choose another port`);
}
