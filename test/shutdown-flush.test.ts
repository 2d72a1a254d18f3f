import { describe, expect, it } from 'vitest';
import { request } from './helpers/client.js';
import { startServerProcess } from './helpers/process.js';
import { givenDevFlag, givenSdkWorld, snapshotsCaughtUp } from './helpers/sdk.js';
import { givenDatabase, startServer } from './helpers/server.js';

// What a node holds in memory when it is told to stop (tracked events, evaluation counts) is
// written before the process exits: the real server process (`src/main.ts`), SIGTERM, then the
// rows are looked for in the database.

describe('SIGTERM', () => {
  it('flushes buffered events and evaluation counts before the process exits', { timeout: 180_000 }, async () => {
    const databaseUrl = await givenDatabase();
    // Seed through an in-process node on the same database, then stop it.
    const seeder = await startServer({ AUTH_RATE_LIMIT: '10000', MANAGEMENT_RATE_LIMIT: '10000' }, { databaseUrl });
    const world = await givenSdkWorld(seeder);
    const flag = await givenDevFlag(seeder, world, {}, { on: true, fallthrough: { variation: 0 } });
    await snapshotsCaughtUp(seeder, [world.dev.id]);

    const node = await startServerProcess({ DATABASE_URL: databaseUrl, EVALUATION_RATE_LIMIT: '100000' });
    try {
      const headers = { 'x-api-key': world.dev.server };
      const events = Array.from({ length: 300 }, (_, i) => ({
        kind: 'custom',
        key: 'checkout',
        context_key: `shutdown-${i % 3}`,
        value: i,
      }));
      expect((await request(node.url, 'POST', '/v1/track', { body: { events }, headers })).status).toBe(202);
      // The event that used to stop every later flush (and so the one at shutdown) is refused.
      const poison = { events: [{ kind: 'custom', key: 'checkout', context_key: 'shutdown-\u0000' }] };
      expect((await request(node.url, 'POST', '/v1/track', { body: poison, headers })).status).toBe(400);
      for (let i = 0; i < 7; i++) {
        const res = await request(node.url, 'POST', '/v1/evaluate', {
          body: { flag_key: flag.key, context: { key: `user-${i}` } },
          headers,
        });
        expect(res.body).toMatchObject({ value: true });
      }
    } finally {
      expect(await node.stop()).toBe(0);
    }
    expect(node.output()).not.toMatch(/flush failed/);

    const [tracked] = await seeder.sql<{ n: string }>(
      "select count(*)::text as n from tracked_events where environment_id = ? and context_key like 'shutdown-%'",
      [world.dev.id],
    );
    expect(tracked?.n).toBe('300');
    const [counted] = await seeder.sql<{ n: string }>(
      'select coalesce(sum(count), 0)::text as n from evaluation_counts where environment_id = ? and flag_key = ?',
      [world.dev.id, flag.key],
    );
    expect(counted?.n).toBe('7');
  });
});
