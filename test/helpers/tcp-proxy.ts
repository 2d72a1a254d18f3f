import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real server (PostgreSQL here), to make it fail the ways networks
 * fail: `refuse` (connections reset and new ones refused) and `blackhole` (connections stay open
 * and nothing crosses, as behind a dropped route). `forward` restores it.
 */
export interface TcpProxy {
  port: number;
  mode(mode: 'forward' | 'refuse' | 'blackhole'): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let current: 'forward' | 'refuse' | 'blackhole' = 'forward';
  const pairs = new Set<[Socket, Socket | null]>();
  let server: Server;
  let port = 0;

  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        client.on('error', () => undefined);
        if (current === 'blackhole') {
          const held: [Socket, Socket | null] = [client, null];
          pairs.add(held);
          client.on('close', () => pairs.delete(held));
          return;
        }
        const upstream = connect(target.port, target.host);
        upstream.on('error', () => client.destroy());
        const pair: [Socket, Socket | null] = [client, upstream];
        pairs.add(pair);
        const forward = (from: Socket, to: Socket) =>
          from.on('data', (chunk) => {
            if (current === 'forward') to.write(chunk);
          });
        forward(client, upstream);
        forward(upstream, client);
        const end = () => {
          pairs.delete(pair);
          client.destroy();
          upstream.destroy();
        };
        client.on('close', end);
        upstream.on('close', end);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server.address() as { port: number }).port;
        resolve();
      });
    });
  await listen();

  const closeServer = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return {
    get port() {
      return port;
    },
    async mode(next) {
      const before = current;
      current = next;
      if (next === 'refuse') {
        for (const [client, upstream] of pairs) {
          client.destroy();
          upstream?.destroy();
        }
        pairs.clear();
        await closeServer();
      } else if (before === 'refuse') {
        await listen();
      }
    },
    async close() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream?.destroy();
      }
      if (current !== 'refuse') await closeServer();
    },
  };
}
