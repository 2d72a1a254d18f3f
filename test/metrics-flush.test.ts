import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/clock.js';
import { createOrm, type Orm } from '../src/db/orm.js';
import { entities } from '../src/entities.js';
import type { EvaluationResult } from '../src/evaluation/index.js';
import type { TrackedEventRow } from '../src/modules/metrics/events.js';
import { SdkMetrics } from '../src/modules/metrics/recorder.js';
import { givenSdkWorld, type SdkWorld } from './helpers/sdk.js';
import { startServer, type TestServer } from './helpers/server.js';

// The flush of tracked events and evaluation counts: a row the database refuses is dropped
// alone (the door lets none through; these rows are put in the buffer directly, as a bug or a
// future door might), the rest lands, and nothing of a row reaches the log.

let server: TestServer;
let world: SdkWorld;

beforeAll(async () => {
  server = await startServer({ AUTH_RATE_LIMIT: '10000', MANAGEMENT_RATE_LIMIT: '10000' });
  world = await givenSdkWorld(server);
});

const now = () => new Date().toISOString();
const event = (contextKey: string, more: Partial<TrackedEventRow> = {}): TrackedEventRow => ({
  environment_id: world.dev.id,
  kind: 'custom',
  flag_key: null,
  variation: null,
  event_key: 'flush-test',
  value: null,
  data: null,
  context_key: contextKey,
  occurred_at: now(),
  received_at: now(),
  ...more,
});
const served = (flagKey: string, variation = 0): EvaluationResult => ({
  key: flagKey,
  value: true,
  variation,
  reason: 'STATIC',
  version: 1,
});

const eventsLike = async (pattern: string) =>
  Number(
    (
      await server.sql<{ n: string }>('select count(*)::text as n from tracked_events where context_key like ?', [
        pattern,
      ])
    )[0]?.n,
  );
const countOf = async (flagKey: string) =>
  Number(
    (
      await server.sql<{ n: string }>(
        'select coalesce(sum(count), 0)::text as n from evaluation_counts where flag_key = ? and environment_id = ?',
        [flagKey, world.dev.id],
      )
    )[0]?.n,
  );

describe('flushing tracked events', () => {
  it('drops the one row the database refuses, counts it, and stores every other row of its batch', async () => {
    const metrics = server.app.sdkMetrics;
    const good = (i: number) => event(`flush-a-${i}`);
    expect(metrics.events.add([...Array.from({ length: 25 }, (_, i) => good(i)), event('flush-a-secret\u0000')])).toBe(
      true,
    );
    expect(metrics.events.add(Array.from({ length: 25 }, (_, i) => good(25 + i)))).toBe(true);
    await expect(metrics.flush()).rejects.toThrow(
      /^tracked events: 1 refused by the database and dropped \(SQLSTATE 22P05\)$/,
    );
    expect(await eventsLike('flush-a-%')).toBe(50);
    expect(metrics.events.size).toBe(0);
    expect(metrics.events.dropped).toBe(1);
    // Nothing is left to block the next flush.
    metrics.events.add([event('flush-a-next')]);
    await metrics.flush();
    expect(await eventsLike('flush-a-next')).toBe(1);
  });

  it('finds several refused rows across batches of 1000, whatever the reason', async () => {
    const metrics = server.app.sdkMetrics;
    const dropped = metrics.events.dropped;
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 100_000; i++) deep = { d: deep };
    const rows = Array.from({ length: 2500 }, (_, i) => event(`flush-b-${i}`));
    rows.splice(10, 0, event('flush-b-bad', { data: deep })); // JSON.stringify cannot encode it
    rows.splice(1500, 0, event('flush-b-bad', { occurred_at: 'not a date' })); // 22007
    rows.splice(2400, 0, event('flush-b-bad', { data: { note: '\ud800' } })); // 22P02 in jsonb
    expect(metrics.events.add(rows)).toBe(true);
    await expect(metrics.flush()).rejects.toThrow(/tracked events: 3 refused by the database and dropped/);
    expect(await eventsLike('flush-b-%')).toBe(2500);
    expect(metrics.events.dropped - dropped).toBe(3);
  });
});

describe('flushing evaluation counts', () => {
  it('drops a count row the database refuses and adds every other', async () => {
    const metrics = server.app.sdkMetrics;
    metrics.evaluations.record(world.dev.id, [served('count-a'), served('count-b', 1), served('k'.repeat(101))]);
    metrics.evaluations.recordOne(world.dev.id, served('count-a'));
    metrics.evaluations.recordOne('not-a-uuid', served('count-a'));
    await expect(metrics.flush()).rejects.toThrow(/^evaluation counts: 2 refused by the database and dropped/);
    expect(await countOf('count-a')).toBe(2);
    expect(await countOf('count-b')).toBe(1);
    expect(metrics.evaluations.dropped).toBe(2);
    metrics.evaluations.recordOne(world.dev.id, served('count-a'));
    await metrics.flush();
    expect(await countOf('count-a')).toBe(3);
  });
});

describe('counting bulk answers', () => {
  it('counts a results array served again and again once per serving, across many distinct arrays', async () => {
    const metrics = server.app.sdkMetrics;
    const before = metrics.evaluations.served;
    // One memoized bulk answer (ten flags), served five times, with single evaluations between.
    const bulk = Array.from({ length: 10 }, (_, i) => served(`bulk-${i}`, i % 2));
    for (let i = 0; i < 5; i++) {
      metrics.evaluations.record(world.dev.id, bulk);
      metrics.evaluations.recordOne(world.dev.id, served('bulk-0'));
    }
    // More distinct arrays than are held by identity (each a fresh answer of eight flags).
    for (let i = 0; i < 1100; i++) {
      metrics.evaluations.record(
        world.dev.id,
        Array.from({ length: 8 }, (_, j) => served(`fresh-${j}`)),
      );
    }
    metrics.evaluations.record(world.dev.id, bulk);
    expect(metrics.evaluations.served - before).toBe(6 * 10 + 5 + 1100 * 8);
    await metrics.flush();
    expect(await countOf('bulk-0')).toBe(6 + 5);
    expect(await countOf('bulk-9')).toBe(6);
    expect(await countOf('fresh-7')).toBe(1100);
  });
});

describe('when the database is unreachable', () => {
  it('keeps every row and count for the next flush, and says so in codes only', async () => {
    const closed: Orm = await createOrm(server.databaseUrl, entities);
    await closed.close();
    let orm = closed;
    const metrics = new SdkMetrics(() => orm.em.fork(), systemClock);
    metrics.events.add([event('flush-c-secret'), event('flush-c-secret')]);
    metrics.evaluations.recordOne(world.dev.id, served('count-c'));
    const failure = await metrics.flush().then(
      () => null,
      (error: Error) => error,
    );
    expect(failure?.message).toMatch(/evaluation counts: 1 kept for the next flush \(.+\)/);
    expect(failure?.message).toMatch(/tracked events: 2 kept for the next flush \(.+\)/);
    expect(failure?.message).not.toMatch(/flush-c|insert|select/);
    expect(metrics.events.size).toBe(2);
    orm = server.orm;
    await metrics.flush();
    expect(await eventsLike('flush-c-%')).toBe(2);
    expect(await countOf('count-c')).toBe(1);
  });
});

describe('the log of a failed flush', () => {
  it('names counts and codes, never a row: at shutdown the good rows land and the log has no context key', async () => {
    const lines: string[] = [];
    const logStream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const node = await startServer({ LOG_LEVEL: 'warn' }, { databaseUrl: server.databaseUrl, logStream });
    node.app.sdkMetrics.events.add([event('flush-d-ok'), event('flush-d-secret\u0000')]);
    await node.close(); // the onClose hook flushes
    expect(await eventsLike('flush-d-ok')).toBe(1);
    const log = lines.join('');
    expect(log).toMatch(
      /metrics flush failed: tracked events: 1 refused by the database and dropped \(SQLSTATE 22P05\)/,
    );
    expect(log).not.toMatch(/flush-d|insert into|jsonb_to_recordset/);
  });
});
