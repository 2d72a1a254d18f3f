import { beforeAll, describe, expect, it } from 'vitest';
import { bucketOf } from '../src/evaluation/index.js';
import { graphql, request } from './helpers/client.js';
import { environmentVersions, givenState } from './helpers/flags.js';
import { givenDevFlag, givenSdkWorld, killFlag, type SdkWorld, snapshotsCaughtUp } from './helpers/sdk.js';
import { startServer, type TestServer } from './helpers/server.js';
import { eventuallyPasses } from './helpers/waiters.js';

let server: TestServer;
let world: SdkWorld;
let checkout: { id: string; key: string };

const SPLIT = {
  rollout: {
    variations: [
      { variation: 0, weight: 50000 },
      { variation: 1, weight: 50000 },
    ],
  },
};

beforeAll(async () => {
  server = await startServer({
    AUTH_RATE_LIMIT: '10000',
    MANAGEMENT_RATE_LIMIT: '10000',
    EVALUATION_RATE_LIMIT: '100000',
  });
  world = await givenSdkWorld(server);
  checkout = await givenDevFlag(
    server,
    world,
    { key: 'new-checkout' },
    {
      on: true,
      targets: [{ variation: 0, values: ['user-vip'] }],
      rules: [
        { id: 'us-only', clauses: [{ attribute: 'country', op: 'in', values: ['US'] }], serve: { variation: 0 } },
      ],
      fallthrough: { variation: 1 },
    },
  );
  await givenDevFlag(
    server,
    world,
    {
      key: 'banner-color',
      kind: 'string',
      clientSideAvailable: true,
      variations: [
        { value: 'blue', name: 'Blue' },
        { value: 'green', name: 'Green' },
      ],
    },
    { on: true, fallthrough: SPLIT },
  );
  await givenDevFlag(
    server,
    world,
    { key: 'max-items', kind: 'number', variations: [{ value: 10 }, { value: 25 }] },
    { on: true, fallthrough: { variation: 1 } },
  );
  await snapshotsCaughtUp(server, [world.dev.id]);
});

const evaluate = (body: unknown, key = world.dev.server, headers: Record<string, string> = {}) =>
  request(server.url, 'POST', '/v1/evaluate', { body, headers: { 'x-api-key': key, ...headers } });
const bulk = (body: unknown, key = world.dev.server) =>
  request(server.url, 'POST', '/v1/evaluate/bulk', { body, headers: { 'x-api-key': key } });

describe('POST /v1/evaluate', () => {
  it('serves a rule match with its rule id, in the snake_case shape, uncached and uncompressed', async () => {
    const res = await evaluate(
      { flag_key: 'new-checkout', context: { key: 'user-1', country: 'US' } },
      world.dev.server,
      { 'accept-encoding': 'gzip' },
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      flag_key: 'new-checkout',
      value: true,
      variation: 0,
      reason: 'TARGETING_MATCH',
      rule_id: 'us-only',
      version: 2,
    });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(res.headers.get('x-ratelimit-limit')).toBe('100000');
  });

  it('serves individual targets (no rule id) and the fallthrough (DEFAULT: the flag has rules)', async () => {
    const vip = await evaluate({ flag_key: 'new-checkout', context: { key: 'user-vip', country: 'FR' } });
    expect(vip.body).toEqual({
      flag_key: 'new-checkout',
      value: true,
      variation: 0,
      reason: 'TARGETING_MATCH',
      version: 2,
    });
    const other = await evaluate({ flag_key: 'new-checkout', context: { key: 'user-2', country: 'FR' } });
    expect(other.body).toEqual({ flag_key: 'new-checkout', value: false, variation: 1, reason: 'DEFAULT', version: 2 });
    const anonymous = await evaluate({ flag_key: 'max-items' });
    expect(anonymous.body).toMatchObject({ value: 25, variation: 1, reason: 'STATIC' });
  });

  it('splits a rollout by the published bucketing (murmur3 of key.salt.value mod 100000), stably', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const key = `subject-${i}`;
      const res = await evaluate({ flag_key: 'banner-color', context: { key } });
      const expected = bucketOf('banner-color', 'banner-color', key) < 50000 ? 0 : 1;
      expect(res.body).toEqual({
        flag_key: 'banner-color',
        value: expected === 0 ? 'blue' : 'green',
        variation: expected,
        variation_name: expected === 0 ? 'Blue' : 'Green',
        reason: 'SPLIT',
        version: 2,
      });
      seen.add(res.body.value);
    }
    expect(seen).toEqual(new Set(['blue', 'green']));
    const noKey = await evaluate({ flag_key: 'banner-color', context: { country: 'US' } });
    expect(noKey.body).toMatchObject({
      reason: 'ERROR',
      error_code: 'TARGETING_KEY_MISSING',
      value: 'blue',
      variation: 0,
    });
  });

  it('answers an unknown flag with 200 and FLAG_NOT_FOUND, value null', async () => {
    const res = await evaluate({ flag_key: 'no-such-flag', context: { key: 'user-1' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      flag_key: 'no-such-flag',
      value: null,
      variation: null,
      reason: 'ERROR',
      error_code: 'FLAG_NOT_FOUND',
      error_message: 'flag "no-such-flag" not found',
      version: 0,
    });
  });

  it('accepts server and mobile keys; refuses client-side IDs (403), unknown and revoked keys (401)', async () => {
    const body = { flag_key: 'new-checkout', context: { key: 'user-vip' } };
    expect((await evaluate(body, world.dev.mobile)).body.value).toBe(true);
    const client = await evaluate(body, world.dev.clientSideId);
    expect(client.status).toBe(403);
    expect(client.body.error).toMatch(/client-side ID/);
    expect((await request(server.url, 'POST', '/v1/evaluate', { body })).status).toBe(401);

    const { givenSdkKey } = await import('./helpers/credentials.js');
    const doomed = await givenSdkKey(server.url, world.org, world.dev.id);
    expect((await evaluate(body, doomed.value)).status).toBe(200);
    const revoke = await graphql(
      server.url,
      'mutation($id: ID!) { revokeSdkKey(id: $id, graceMinutes: 0) { id } }',
      { id: doomed.key.id },
      world.org.auth,
    );
    expect(revoke.errors).toBeUndefined();
    const after = await eventuallyPasses(async () => {
      const res = await evaluate(body, doomed.value);
      expect(res.status).toBe(401);
      return res;
    });
    expect(after.body).toEqual({ error: 'API key is invalid', request_id: after.headers.get('x-request-id') });
  });

  it('refuses bad bodies with the error envelope: unknown field, bad context, malformed JSON, wrong content type', async () => {
    const cases: [unknown, RegExp][] = [
      [{ flag_key: 'new-checkout', contxt: {} }, /unknown field "contxt"/],
      [{ context: { key: 'u' } }, /field "flag_key" is required/],
      [{ flag_key: 'new-checkout', context: ['not', 'an', 'object'] }, /context must be a JSON object/],
      [{ flag_key: 'new-checkout', context: { key: 42 } }, /context.key must be a string/],
      [{ flag_key: 'new-checkout', context: { kind: false } }, /context.kind must be a string/],
      [{ flag_key: 7 }, /flag_key/],
    ];
    for (const [body, message] of cases) {
      const res = await evaluate(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toMatch(message);
      expect(res.body.request_id).toBe(res.headers.get('x-request-id'));
    }
    const malformed = await request(server.url, 'POST', '/v1/evaluate', {
      rawBody: '{"flag_key": "new-checkout",',
      headers: { 'x-api-key': world.dev.server, 'content-type': 'application/json' },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toBe('request body is not valid JSON');
    const text = await request(server.url, 'POST', '/v1/evaluate', {
      rawBody: 'flag_key=new-checkout',
      headers: { 'x-api-key': world.dev.server, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(text.status).toBe(415);
    expect(text.body.error).toBe('Content-Type must be application/json');
  });

  it('sees a targeting change and a kill switch as soon as the snapshot is rebuilt', async () => {
    const body = { flag_key: 'new-checkout', context: { key: 'user-3', country: 'DE' } };
    expect((await evaluate(body)).body).toMatchObject({ value: false, reason: 'DEFAULT' });
    await givenState(server, world.org, checkout.id, world.dev.id, {
      rules: [
        { id: 'europe', clauses: [{ attribute: 'country', op: 'in', values: ['DE', 'FR'] }], serve: { variation: 0 } },
      ],
    });
    await eventuallyPasses(async () =>
      expect((await evaluate(body)).body).toMatchObject({
        value: true,
        reason: 'TARGETING_MATCH',
        rule_id: 'europe',
        version: 3,
      }),
    );

    await killFlag(server, world, checkout.id, world.dev.id);
    await eventuallyPasses(async () =>
      expect((await evaluate(body)).body).toEqual({
        flag_key: 'new-checkout',
        value: false,
        variation: 1,
        reason: 'DISABLED',
        version: 4,
      }),
    );
  });
});

describe('POST /v1/evaluate/bulk', () => {
  it('evaluates every flag of the environment with the environment version', async () => {
    await snapshotsCaughtUp(server, [world.dev.id]);
    const res = await bulk({ context: { key: 'subject-1', country: 'US' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const versions = await environmentVersions(server, [world.dev.id]);
    expect(res.body.version).toBe(versions[world.dev.id]);
    expect(Object.keys(res.body.flags).sort()).toEqual(['banner-color', 'max-items', 'new-checkout']);
    expect(res.body.flags['max-items']).toEqual({ value: 25, variation: 1, reason: 'STATIC', version: 2 });
    expect(res.body.flags['banner-color']).toMatchObject({ reason: 'SPLIT' });
    expect(res.body.flags['banner-color'].flag_key).toBeUndefined();
  });

  it('evaluates only the listed keys, unknown ones as FLAG_NOT_FOUND', async () => {
    const res = await bulk({ flag_keys: ['max-items', 'ghost'], context: { key: 'u' } }, world.dev.mobile);
    expect(res.status).toBe(200);
    expect(res.body.flags).toEqual({
      'max-items': { value: 25, variation: 1, reason: 'STATIC', version: 2 },
      ghost: {
        value: null,
        variation: null,
        reason: 'ERROR',
        error_code: 'FLAG_NOT_FOUND',
        error_message: 'flag "ghost" not found',
        version: 0,
      },
    });
  });

  it('refuses unknown fields, a non-array flag_keys and client-side IDs', async () => {
    const unknown = await bulk({ flag_keys: [], context: {}, extra: 1 });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('unknown field "extra"');
    const notArray = await bulk({ flag_keys: 'max-items' });
    expect(notArray.status).toBe(400);
    expect(notArray.body.error).toMatch(/flag_keys/);
    expect((await bulk({}, world.dev.clientSideId)).status).toBe(403);
  });
});

describe('evaluation counts', () => {
  it('counts every evaluation served in memory and adds them to evaluation_counts on flush', async () => {
    await server.app.sdkMetrics.flush();
    const before = await server.sql<{ variation: number; count: string }>(
      'select variation, sum(count)::text as count from evaluation_counts where environment_id = ? and flag_key = ? group by variation order by variation',
      [world.dev.id, 'max-items'],
    );
    const base = Number(before.find((r) => r.variation === 1)?.count ?? 0);
    for (let i = 0; i < 5; i++) await evaluate({ flag_key: 'max-items', context: { key: `c-${i}` } });
    await bulk({ flag_keys: ['max-items'] });
    await request(server.url, 'GET', `/v1/client/${world.dev.clientSideId}/flags?key=u`, {
      headers: { 'x-api-key': world.dev.server },
    });
    await evaluate({ flag_key: 'ghost-flag' });
    // Nothing is written on the request path.
    const unflushed = await server.sql<{ count: string | null }>(
      'select sum(count)::text as count from evaluation_counts where environment_id = ? and flag_key = ?',
      [world.dev.id, 'max-items'],
    );
    expect(Number(unflushed[0]!.count ?? 0)).toBe(base);
    await server.app.sdkMetrics.flush();
    const after = await server.sql<{ variation: number; count: string; minute: Date }>(
      'select variation, sum(count)::text as count, max(minute) as minute from evaluation_counts where environment_id = ? and flag_key = ? group by variation',
      [world.dev.id, 'max-items'],
    );
    expect(after.map((r) => [r.variation, Number(r.count)])).toEqual([[1, base + 7]]);
    expect(new Date(after[0]!.minute).getUTCSeconds()).toBe(0);
    const ghosts = await server.sql('select 1 from evaluation_counts where flag_key = ?', ['ghost-flag']);
    expect(ghosts).toHaveLength(0);
    // A second flush adds nothing twice.
    await server.app.sdkMetrics.flush();
    const again = await server.sql<{ count: string }>(
      'select sum(count)::text as count from evaluation_counts where environment_id = ? and flag_key = ?',
      [world.dev.id, 'max-items'],
    );
    expect(Number(again[0]!.count)).toBe(base + 7);
  });
});
