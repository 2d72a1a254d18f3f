import { beforeAll, describe, expect, it } from 'vitest';
import { request } from './helpers/client.js';
import { givenState } from './helpers/flags.js';
import { givenDevFlag, givenSdkWorld, type SdkWorld, snapshotsCaughtUp } from './helpers/sdk.js';
import { startServer, type TestServer } from './helpers/server.js';
import { eventuallyPasses } from './helpers/waiters.js';

/** The OpenFeature Remote Evaluation Protocol, as open-feature/protocol's service/openapi.yaml defines it. */
let server: TestServer;
let world: SdkWorld;
let theme: { id: string; key: string };

beforeAll(async () => {
  server = await startServer({
    AUTH_RATE_LIMIT: '10000',
    MANAGEMENT_RATE_LIMIT: '10000',
    EVALUATION_RATE_LIMIT: '100000',
  });
  world = await givenSdkWorld(server);
  theme = await givenDevFlag(
    server,
    world,
    {
      key: 'theme',
      kind: 'string',
      clientSideAvailable: true,
      variations: [{ value: 'dark', name: 'Dark' }, { value: 'light' }],
    },
    {
      on: true,
      rules: [{ id: 'admins', clauses: [{ attribute: 'role', op: 'in', values: ['admin'] }], serve: { variation: 0 } }],
      fallthrough: { variation: 1 },
    },
  );
  await givenDevFlag(
    server,
    world,
    { key: 'rollout', clientSideAvailable: false },
    {
      on: true,
      fallthrough: {
        rollout: {
          variations: [
            { variation: 0, weight: 30000 },
            { variation: 1, weight: 70000 },
          ],
        },
      },
    },
  );
  await snapshotsCaughtUp(server, [world.dev.id]);
});

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const single = (flag: string, body: unknown, headers: Record<string, string> = bearer(world.dev.server)) =>
  request(server.url, 'POST', `/ofrep/v1/evaluate/flags/${flag}`, { body, headers });
const bulk = (body: unknown, headers: Record<string, string> = bearer(world.dev.server)) =>
  request(server.url, 'POST', '/ofrep/v1/evaluate/flags', { body, headers });

describe('POST /ofrep/v1/evaluate/flags/{key}', () => {
  it('answers evaluationSuccess: key, value, reason, variant, metadata; targetingKey is the context key', async () => {
    const res = await single('theme', { context: { targetingKey: 'user-1', role: 'admin' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toEqual({
      key: 'theme',
      value: 'dark',
      reason: 'TARGETING_MATCH',
      variant: 'Dark',
      metadata: { version: 2, variationIndex: 0, ruleId: 'admins' },
    });
    const fallthrough = await single('theme', { context: { targetingKey: 'user-1' } });
    // A variation without a name is named by its index.
    expect(fallthrough.body).toEqual({
      key: 'theme',
      value: 'light',
      reason: 'DEFAULT',
      variant: '1',
      metadata: { version: 2, variationIndex: 1 },
    });
  });

  it('buckets a rollout by targetingKey; without one answers 400 TARGETING_KEY_MISSING (not the off value)', async () => {
    const a = await single('rollout', { context: { targetingKey: 'user-42' } });
    expect(a.status).toBe(200);
    expect(a.body.reason).toBe('SPLIT');
    const again = await single('rollout', { context: { targetingKey: 'user-42' } });
    expect(again.body.value).toBe(a.body.value);
    const missing = await single('rollout', { context: { plan: 'pro' } });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({
      key: 'rollout',
      errorCode: 'TARGETING_KEY_MISSING',
      errorDetails: expect.any(String),
    });
    expect(missing.body.value).toBeUndefined();
  });

  it('answers 404 FLAG_NOT_FOUND for an unknown flag', async () => {
    const res = await single('nope', { context: { targetingKey: 'u' } });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ key: 'nope', errorCode: 'FLAG_NOT_FOUND', errorDetails: 'flag "nope" not found' });
  });

  it('answers 400 INVALID_CONTEXT / PARSE_ERROR in the OFREP shape for bad requests', async () => {
    const notObject = await single('theme', { context: 'user-1' });
    expect(notObject.status).toBe(400);
    expect(notObject.body).toEqual({
      key: 'theme',
      errorCode: 'INVALID_CONTEXT',
      errorDetails: 'context must be a JSON object',
    });
    const badKey = await single('theme', { context: { targetingKey: 7 } });
    expect(badKey.body).toEqual({
      key: 'theme',
      errorCode: 'INVALID_CONTEXT',
      errorDetails: 'targetingKey must be a string',
    });
    const unknown = await single('theme', { context: {}, flagKey: 'theme' });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual({ key: 'theme', errorCode: 'PARSE_ERROR', errorDetails: 'unknown field "flagKey"' });
    const malformed = await request(server.url, 'POST', '/ofrep/v1/evaluate/flags/theme', {
      rawBody: '{"context": ',
      headers: { ...bearer(world.dev.server), 'content-type': 'application/json; charset=utf-8' },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toEqual({
      key: 'theme',
      errorCode: 'PARSE_ERROR',
      errorDetails: 'request body is not valid JSON',
    });
  });

  it('answers a flag path fastify cannot route in the OFREP shape too', async () => {
    const undecodable = await single('%ff', { context: { targetingKey: 'u' } });
    expect(undecodable.status).toBe(400);
    expect(undecodable.headers.get('x-request-id')).toBeTruthy();
    expect(undecodable.body).toEqual({
      key: '%ff',
      errorCode: 'PARSE_ERROR',
      errorDetails: 'the flag key in the path is not valid percent-encoding',
    });
    const long = 'k'.repeat(101);
    const overlong = await single(long, { context: { targetingKey: 'u' } });
    expect(overlong.status).toBe(404);
    expect(overlong.body).toEqual({
      key: long,
      errorCode: 'FLAG_NOT_FOUND',
      errorDetails: 'flag keys are at most 100 characters',
    });
    // Other paths keep the envelope.
    const elsewhere = await request(server.url, 'GET', '/v1/client/%ff/flags');
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body).toMatchObject({ error: 'the URL is not valid' });
  });

  it('accepts the key in Authorization: Bearer or X-API-Key; 401 without or with a bad one', async () => {
    expect((await single('theme', {}, { 'x-api-key': world.dev.mobile })).status).toBe(200);
    expect((await single('theme', {}, {})).status).toBe(401);
    expect((await single('theme', {}, bearer('vx_srv_bogus'))).status).toBe(401);
  });

  it('lets a client-side ID see only client-side-available flags', async () => {
    expect((await single('theme', {}, bearer(world.dev.clientSideId))).body.value).toBe('light');
    const hidden = await single('rollout', { context: { targetingKey: 'u' } }, bearer(world.dev.clientSideId));
    expect(hidden.status).toBe(404);
    expect(hidden.body.errorCode).toBe('FLAG_NOT_FOUND');
  });

  it('answers 429 with Retry-After when the key is over its rate limit', async () => {
    const limited = await startServer({
      EVALUATION_RATE_LIMIT: '2',
      AUTH_RATE_LIMIT: '10000',
      MANAGEMENT_RATE_LIMIT: '10000',
    });
    const w = await givenSdkWorld(limited);
    const call = () =>
      request(limited.url, 'POST', '/ofrep/v1/evaluate/flags/x', { body: {}, headers: bearer(w.dev.server) });
    expect((await call()).status).toBe(404);
    expect((await call()).status).toBe(404);
    const res = await call();
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('POST /ofrep/v1/evaluate/flags (bulk)', () => {
  it('answers {flags: [...]} with an ETag; If-None-Match with it answers 304', async () => {
    const body = { context: { targetingKey: 'user-7', role: 'admin' } };
    const res = await bulk(body);
    expect(res.status).toBe(200);
    const flags = [...res.body.flags].sort((a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key));
    expect(flags).toEqual([
      {
        key: 'rollout',
        value: expect.any(Boolean),
        reason: 'SPLIT',
        variant: expect.stringMatching(/^[01]$/),
        metadata: expect.objectContaining({ version: 2 }),
      },
      {
        key: 'theme',
        value: 'dark',
        reason: 'TARGETING_MATCH',
        variant: 'Dark',
        metadata: { version: 2, variationIndex: 0, ruleId: 'admins' },
      },
    ]);
    const etag = res.headers.get('etag')!;
    expect(etag).toMatch(/^".+"$/);

    const same = await bulk(body, { ...bearer(world.dev.server), 'if-none-match': etag });
    expect(same.status).toBe(304);
    expect(same.body).toBeUndefined();
    // Another context is another answer: the ETag covers the context.
    const other = await bulk(
      { context: { targetingKey: 'user-8' } },
      { ...bearer(world.dev.server), 'if-none-match': etag },
    );
    expect(other.status).toBe(200);
    expect(other.headers.get('etag')).not.toBe(etag);
    // A client-side ID sees fewer flags: never the same ETag.
    const client = await bulk(body, { ...bearer(world.dev.clientSideId), 'if-none-match': etag });
    expect(client.status).toBe(200);
    expect(client.body.flags.map((f: { key: string }) => f.key)).toEqual(['theme']);
  });

  it('changes the ETag when a flag changes', async () => {
    const body = { context: { targetingKey: 'user-9' } };
    const first = await bulk(body);
    const etag = first.headers.get('etag')!;
    await givenState(server, world.org, theme.id, world.dev.id, { fallthrough: { variation: 0 } });
    const changed = await eventuallyPasses(async () => {
      const res = await bulk(body, { ...bearer(world.dev.server), 'if-none-match': etag });
      expect(res.status).toBe(200);
      return res;
    });
    expect(changed.body.flags.find((f: { key: string }) => f.key === 'theme')).toMatchObject({
      value: 'dark',
      reason: 'DEFAULT',
    });
  });

  it('reports per-flag failures inside the list, and request failures as 400 {errorCode, errorDetails}', async () => {
    const res = await bulk({ context: { role: 'guest' } });
    expect(res.status).toBe(200);
    expect(res.body.flags.find((f: { key: string }) => f.key === 'rollout')).toEqual({
      key: 'rollout',
      errorCode: 'TARGETING_KEY_MISSING',
      errorDetails: expect.any(String),
    });
    const bad = await bulk({ context: [] });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ errorCode: 'INVALID_CONTEXT', errorDetails: 'context must be a JSON object' });
    const unknown = await bulk({ ctx: {} });
    expect(unknown.body).toEqual({ errorCode: 'PARSE_ERROR', errorDetails: 'unknown field "ctx"' });
  });
});
