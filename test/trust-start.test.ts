import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { request } from './helpers/client.js';
import { startServerProcess } from './helpers/process.js';
import { givenDatabase } from './helpers/server.js';

/**
 * Issue 06, item 12: `npm start` (the README's command) is one process that handles SIGTERM and
 * SIGINT itself: a signal to it stops the server, leaving nothing behind.
 */
const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(true));
  });

describe('npm start and signals', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s to the npm start process stops the server: npm exits 0 and nothing listens any more',
    async (signal) => {
      const server = await startServerProcess({ DATABASE_URL: await givenDatabase() }, 90_000, { npm: true });
      expect((await request(server.url, 'GET', '/readyz')).status).toBe(200);
      const port = Number(new URL(server.url).port);
      const exited = new Promise<number | null>((resolve) => server.child.on('exit', (code) => resolve(code)));
      server.child.kill(signal);
      expect(await exited).toBe(0);
      expect(server.output()).toContain(`${signal} received: shutting down`);
      expect(await refused(port)).toBe(true);
    },
    120_000,
  );
});
