import { beforeAll, describe, expect, it } from 'vitest';
import { request } from './helpers/client.js';
import { b64url, givenDevFlag, givenSdkWorld, type SdkWorld, snapshotsCaughtUp } from './helpers/sdk.js';
import { startServer, type TestServer } from './helpers/server.js';
import { openSse } from './helpers/sse.js';
import { subscribeWs } from './helpers/ws.js';

// The same JSON limits at every SDK door (docs/evaluation.md, "Limits on what SDKs send"): no
// NUL and no lone surrogate in any string or member name, nesting at most 32 deep, strings at
// most 8192 characters, at most 10,000 values and 65,536 characters in all.

let server: TestServer;
let world: SdkWorld;
let flagKey: string;

beforeAll(async () => {
  server = await startServer({
    AUTH_RATE_LIMIT: '10000',
    MANAGEMENT_RATE_LIMIT: '10000',
    EVALUATION_RATE_LIMIT: '100000',
  });
  world = await givenSdkWorld(server);
  const flag = await givenDevFlag(
    server,
    world,
    { clientSideAvailable: true },
    {
      on: true,
      rules: [{ id: 'deep', clauses: [{ attribute: 'plan', op: 'in', values: ['pro'] }], serve: { variation: 0 } }],
      fallthrough: { variation: 1 },
    },
  );
  flagKey = flag.key;
  await snapshotsCaughtUp(server, [world.dev.id]);
});

/** An object nested `levels` deep counting itself: nest(1) is `{}`. */
function nest(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) value = { n: value };
  return value;
}

// Small enough for a query string (base64url, 8192 characters at most).
const SMALL_CASES: [string, Record<string, unknown>, RegExp][] = [
  ['a NUL in a string', { key: 'u', note: 'a\u0000b' }, /context\.note contains a NUL character/],
  [
    'a NUL in a member name',
    { key: 'u', tags: { 'a\u0000': 1 } },
    /context\.tags has a member name that contains a NUL/,
  ],
  ['a NUL in the key', { key: 'u\u0000' }, /context\.key contains a NUL character/],
  ['a lone surrogate', { key: 'u', name: ['ok', '\ud800'] }, /context\.name\[1\] contains a lone UTF-16 surrogate/],
  ['nesting 33 deep', { key: 'u', deep: nest(32) }, /context\.deep(\.n){31} nests objects and arrays deeper than 32/],
];
const LARGE_CASES: [string, Record<string, unknown>, RegExp][] = [
  ['a string over 8192 characters', { key: 'u', bio: 'x'.repeat(8193) }, /context\.bio is longer than 8192 characters/],
  ['over 10,000 values', { key: 'u', list: Array(10_000).fill(1) }, /context has more than 10000 values/],
  [
    'over 65,536 characters in all',
    Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`s${i}`, 'x'.repeat(8000)])),
    /context has more than 65536 characters/,
  ],
];
const CASES = [...SMALL_CASES, ...LARGE_CASES];

/** What SDKs send in practice: a few KB, nested 10 deep. Every door takes it. */
const realistic = {
  key: 'user-42',
  kind: 'user',
  plan: 'pro',
  email: 'ana@example.com',
  tags: Array.from({ length: 40 }, (_, i) => `tag-${i}`),
  device: {
    os: 'iOS',
    version: '17.4',
    app: { build: 'é😀'.repeat(100), a: { b: { c: { d: { e: { f: 'deep' } } } } } },
  },
  history: Array.from({ length: 30 }, (_, i) => ({ at: `2026-01-${String(i + 1).padStart(2, '0')}`, score: i / 3 })),
};

const key = () => ({ 'x-api-key': world.dev.server });
const post = (path: string, body: unknown) => request(server.url, 'POST', path, { body, headers: key() });
const clientFlags = (query: string) => request(server.url, 'GET', `/v1/client/${world.dev.clientSideId}/flags${query}`);

describe('the JSON limits of the SDK doors', () => {
  it('every door takes a realistic context of a few KB nested 10 deep', async () => {
    expect(JSON.stringify(realistic).length).toBeGreaterThan(2000);
    const evaluated = await post('/v1/evaluate', { flag_key: flagKey, context: realistic });
    expect(evaluated.body).toMatchObject({ value: true, rule_id: 'deep' });
    expect((await post('/v1/evaluate/bulk', { context: realistic })).body.flags[flagKey].value).toBe(true);
    expect((await clientFlags(`?context=${b64url(realistic)}`)).body.flags[flagKey].value).toBe(true);
    const { key: targetingKey, ...attributes } = realistic;
    const ofrep = await post(`/ofrep/v1/evaluate/flags/${flagKey}`, { context: { targetingKey, ...attributes } });
    expect(ofrep.body).toMatchObject({ value: true, reason: 'TARGETING_MATCH' });
    const stream = await openSse(`${server.url}/v1/stream/${world.dev.clientSideId}?context=${b64url(realistic)}`);
    expect(stream.status).toBe(200);
    expect((await stream.next()).json.flags[flagKey]).toMatchObject({ value: true });
    stream.close();
    const track = await post('/v1/track', {
      events: [{ kind: 'custom', key: 'signup', context_key: 'user-42', data: realistic }],
    });
    expect(track.status).toBe(202);
  });

  it.each(CASES)('REST: /v1/evaluate and /v1/evaluate/bulk refuse %s with 400', async (_name, context, message) => {
    const laneBefore = server.app.sdkLane.handled;
    for (const res of [
      await post('/v1/evaluate', { flag_key: flagKey, context }),
      await post('/v1/evaluate/bulk', { flag_keys: [flagKey], context }),
    ]) {
      expect(res.status).toBe(400);
      expect(res.body.error).toMatch(message);
      expect(res.body.request_id).toBe(res.headers.get('x-request-id'));
    }
    // The fast lane answered them: the check is on the hot path too.
    expect(server.app.sdkLane.handled).toBe(laneBefore + 2);
  });

  it.each(CASES)('OFREP refuses %s with 400 INVALID_CONTEXT', async (_name, context, message) => {
    const single = await post(`/ofrep/v1/evaluate/flags/${flagKey}`, { context });
    expect(single.status).toBe(400);
    expect(single.body).toMatchObject({ key: flagKey, errorCode: 'INVALID_CONTEXT' });
    expect(single.body.errorDetails).toMatch(message);
    const bulk = await post('/ofrep/v1/evaluate/flags', { context });
    expect(bulk.status).toBe(400);
    expect(bulk.body.errorCode).toBe('INVALID_CONTEXT');
  });

  it.each(SMALL_CASES)(
    'query contexts: /v1/client and /v1/stream refuse %s with 400',
    async (_name, context, message) => {
      const client = await clientFlags(`?context=${b64url(context)}`);
      expect(client.status).toBe(400);
      expect(client.body.error).toMatch(message);
      const stream = await openSse(`${server.url}/v1/stream/${world.dev.clientSideId}?context=${b64url(context)}`);
      expect(stream.status).toBe(400);
      expect(stream.body.error).toMatch(message);
    },
  );

  it('query keys: ?key= with a NUL is refused on /v1/client and /v1/stream', async () => {
    const client = await clientFlags('?key=a%00b');
    expect(client.status).toBe(400);
    expect(client.body.error).toMatch(/query "key" contains a NUL character/);
    const stream = await openSse(`${server.url}/v1/stream/${world.dev.clientSideId}?key=a%00b`);
    expect(stream.status).toBe(400);
  });

  it.each(SMALL_CASES)('graphql-ws flagValues refuses %s with VALIDATION', async (_name, context, message) => {
    const sub = subscribeWs(
      server.url,
      { 'x-api-key': world.dev.server },
      'subscription($c: JSON!) { flagValues(context: $c) { key value } }',
      { c: context },
    );
    const ended = await sub.ended;
    const errors =
      ended.how === 'error'
        ? (ended.error as { message: string; extensions?: { code?: string } }[])
        : (sub.results[0]?.errors ?? []);
    expect(errors[0]?.extensions?.code).toBe('VALIDATION');
    expect(errors[0]?.message).toMatch(message);
    await sub.dispose();
  });
});
