import { beforeAll, describe, expect, it } from 'vitest';
import { request } from './helpers/client.js';
import { givenSdkWorld, type SdkWorld } from './helpers/sdk.js';
import { startServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let world: SdkWorld;

beforeAll(async () => {
  server = await startServer({
    AUTH_RATE_LIMIT: '10000',
    MANAGEMENT_RATE_LIMIT: '10000',
    EVALUATION_RATE_LIMIT: '100000',
  });
  world = await givenSdkWorld(server);
});

const track = (body: unknown, key = world.dev.server) =>
  request(server.url, 'POST', '/v1/track', { body, headers: { 'x-api-key': key } });

interface StoredEvent {
  kind: string;
  flag_key: string | null;
  variation: number | null;
  event_key: string | null;
  value: number | null;
  data: unknown;
  context_key: string;
  occurred_at: Date;
}
const stored = (contextKey: string) =>
  server.sql<StoredEvent>(
    'select kind, flag_key, variation, event_key, value, data, context_key, occurred_at from tracked_events where environment_id = ? and context_key = ? order by id',
    [world.dev.id, contextKey],
  );

describe('POST /v1/track', () => {
  it('accepts a batch with 202, stores nothing on the request path, and everything on flush', async () => {
    const res = await track({
      events: [
        {
          kind: 'impression',
          flag_key: 'new-checkout',
          variation: 1,
          context_key: 'track-1',
          timestamp: Date.UTC(2026, 0, 2, 3, 4, 5),
        },
        {
          kind: 'custom',
          key: 'checkout-completed',
          context_key: 'track-1',
          value: 42.5,
          data: { cart: ['a', 'b'] },
          timestamp: '2026-01-02T03:04:06.250Z',
        },
        { kind: 'custom', key: 'page-view', context_key: 'track-1' },
      ],
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: 3 });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await stored('track-1')).toEqual([]);

    await server.app.sdkMetrics.flush();
    const rows = await stored('track-1');
    expect(
      rows
        .map(({ occurred_at, ...rest }) => ({ ...rest, occurred_at: new Date(occurred_at).toISOString() }))
        .slice(0, 2),
    ).toEqual([
      {
        kind: 'impression',
        flag_key: 'new-checkout',
        variation: 1,
        event_key: null,
        value: null,
        data: null,
        context_key: 'track-1',
        occurred_at: '2026-01-02T03:04:05.000Z',
      },
      {
        kind: 'custom',
        flag_key: null,
        variation: null,
        event_key: 'checkout-completed',
        value: 42.5,
        data: { cart: ['a', 'b'] },
        context_key: 'track-1',
        occurred_at: '2026-01-02T03:04:06.250Z',
      },
    ]);
    expect(rows).toHaveLength(3);
    // Without a timestamp, the time of receipt.
    expect(Math.abs(new Date(rows[2]!.occurred_at).getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('accepts mobile keys and client-side IDs too', async () => {
    const event = (contextKey: string) => ({ events: [{ kind: 'custom', key: 'signup', context_key: contextKey }] });
    expect((await track(event('track-m'), world.dev.mobile)).status).toBe(202);
    expect((await track(event('track-c'), world.dev.clientSideId)).status).toBe(202);
    expect((await request(server.url, 'POST', '/v1/track', { body: event('track-x') })).status).toBe(401);
    await server.app.sdkMetrics.flush();
    expect(await stored('track-m')).toHaveLength(1);
    expect(await stored('track-c')).toHaveLength(1);
  });

  it('refuses a batch with one bad event whole: nothing of it is stored', async () => {
    const good = { kind: 'custom', key: 'ok', context_key: 'track-bad' };
    const cases: [unknown, number, RegExp][] = [
      [
        { events: [good, { kind: 'impression', variation: 0, context_key: 'track-bad' }] },
        400,
        /"events.1.flag_key" is required for impression events/,
      ],
      [
        { events: [good, { kind: 'custom', key: 'x', flag_key: 'f', context_key: 'track-bad' }] },
        400,
        /"events.1.flag_key" is not allowed on custom events/,
      ],
      [
        { events: [good, { kind: 'custom', key: 'x', context_key: 'track-bad', colour: 'red' }] },
        400,
        /unknown field "events.1.colour"/,
      ],
      [{ events: [good, { kind: 'click', key: 'x', context_key: 'track-bad' }] }, 400, /events.1.kind/],
      [
        { events: [good, { kind: 'custom', key: 'x', context_key: 'track-bad', timestamp: 'yesterday' }] },
        400,
        /events.1.timestamp/,
      ],
      [
        {
          events: [good, { kind: 'custom', key: 'x', context_key: 'track-bad', timestamp: Date.now() + 7 * 86400_000 }],
        },
        400,
        /events.1.timestamp/,
      ],
      [
        { events: [good, { kind: 'custom', key: 'x', context_key: 'track-bad', value: 'high' }] },
        400,
        /events.1.value/,
      ],
      [{ events: [] }, 400, /events/],
      [{ events: Array.from({ length: 1001 }, () => good) }, 400, /events/],
      [{ events: [good], extra: true }, 400, /unknown field "extra"/],
    ];
    for (const [body, status, message] of cases) {
      const res = await track(body);
      expect(res.status, JSON.stringify(body).slice(0, 200)).toBe(status);
      expect(res.body.error).toMatch(message);
    }
    const malformed = await request(server.url, 'POST', '/v1/track', {
      rawBody: '{"events": [',
      headers: { 'x-api-key': world.dev.server, 'content-type': 'application/json' },
    });
    expect(malformed.status).toBe(400);
    await server.app.sdkMetrics.flush();
    expect(await stored('track-bad')).toEqual([]);
  });

  it('refuses events the database could not store, so they never reach the buffer; later events land', async () => {
    // Each of these was accepted with 202 before, and from then on every flush failed. Raw JSON:
    // neither 1e999 nor 100,000 levels of nesting go through JSON.stringify.
    const custom = (more: string) => `{"kind":"custom","key":"x","context_key":"track-nul"${more}}`;
    const deep = `${'{"d":'.repeat(100_000)}{}${'}'.repeat(100_000)}`;
    const cases: [string, RegExp][] = [
      ['{"kind":"custom","key":"x","context_key":"track-nul\\u0000"}', /events.0.context_key contains a NUL character/],
      ['{"kind":"custom","key":"x\\u0000","context_key":"track-nul"}', /events.0.key contains a NUL character/],
      [custom(',"data":{"note":"\\ud83d"}'), /events.0.data.note contains a lone UTF-16 surrogate/],
      [custom(',"data":{"a\\u0000":1}'), /events.0.data has a member name that contains a NUL/],
      [custom(`,"data":${deep}`), /events.0.data(\.d){31} nests objects and arrays deeper than 32/],
      [custom(',"value":1e999'), /events.0.value/],
      // Finite, but two of them would overflow every sum of the project's event metrics.
      [custom(',"value":1e308'), /events.0.value/],
      [custom(',"value":-1.5e15'), /events.0.value/],
      ['{"kind":"impression","flag_key":"f","variation":2147483648,"context_key":"track-nul"}', /events.0.variation/],
    ];
    for (const [event, message] of cases) {
      const res = await request(server.url, 'POST', '/v1/track', {
        rawBody: `{"events":[${event}]}`,
        headers: { 'x-api-key': world.dev.clientSideId, 'content-type': 'application/json' },
      });
      expect(res.status, String(message)).toBe(400);
      expect(res.body.error).toMatch(message);
    }
    expect(server.app.sdkMetrics.events.size).toBe(0);
    expect((await track({ events: [{ kind: 'custom', key: 'ok', context_key: 'track-after' }] })).status).toBe(202);
    await server.app.sdkMetrics.flush();
    expect(await stored('track-after')).toHaveLength(1);
    expect(await stored('track-nul')).toEqual([]);
  });

  it('takes values up to a quadrillion either way', async () => {
    const events = [1e15, -1e15].map((value) => ({ kind: 'custom', key: 'revenue', context_key: 'track-big', value }));
    expect((await track({ events })).status).toBe(202);
    await server.app.sdkMetrics.flush();
    expect((await stored('track-big')).map((e) => e.value)).toEqual([1e15, -1e15]);
  });

  it('takes a full batch of 1000 events', async () => {
    const events = Array.from({ length: 1000 }, (_, i) => ({
      kind: 'impression',
      flag_key: 'f',
      variation: i % 2,
      context_key: 'track-many',
    }));
    const res = await track({ events });
    expect(res.body).toEqual({ accepted: 1000 });
    await server.app.sdkMetrics.flush();
    const [row] = await server.sql<{ n: string; ones: string }>(
      'select count(*)::text as n, count(*) filter (where variation = 1)::text as ones from tracked_events where context_key = ?',
      ['track-many'],
    );
    expect(row).toEqual({ n: '1000', ones: '500' });
  });
});
