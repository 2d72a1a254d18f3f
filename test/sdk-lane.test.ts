import { connect } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { givenDevFlag, givenSdkWorld, type SdkWorld, snapshotsCaughtUp } from './helpers/sdk.js';
import { startServer, type TestServer } from './helpers/server.js';

/**
 * The SDK fast lane (src/modules/sdk/lane.ts) answers /v1/evaluate and /v1/evaluate/bulk ahead
 * of fastify. Every request here goes twice: over real HTTP (where the lane may take it) and
 * through `app.inject` (fastify's own routing, never the lane), with the same X-Request-Id; the
 * two answers must be the same, and the lane's counter shows which requests it really took.
 */
let server: TestServer;
let world: SdkWorld;

beforeAll(async () => {
  server = await startServer({ EVALUATION_RATE_LIMIT: '100000', MANAGEMENT_RATE_LIMIT: '10000' });
  world = await givenSdkWorld(server);
  await givenDevFlag(
    server,
    world,
    { key: 'new-checkout' },
    {
      on: true,
      rules: [
        { id: 'us-only', clauses: [{ attribute: 'country', op: 'in', values: ['US'] }], serve: { variation: 0 } },
      ],
      fallthrough: { variation: 1 },
    },
  );
  await givenDevFlag(
    server,
    world,
    { key: 'max-items', kind: 'number', variations: [{ value: 10 }, { value: 25 }] },
    { on: true, fallthrough: { variation: 1 } },
  );
  await snapshotsCaughtUp(server, [world.dev.id]);
});

interface Answer {
  status: number;
  body: unknown;
  headers: Record<string, string | undefined>;
}

const COMPARED = [
  'content-type',
  'cache-control',
  'x-request-id',
  'x-ratelimit-limit',
  'retry-after',
  'content-encoding',
  'access-control-allow-origin',
];

function pick(get: (name: string) => string | undefined): Answer['headers'] {
  return Object.fromEntries(COMPARED.map((name) => [name, get(name)]));
}

async function overHttp(url: string, body: string, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${server.url}${url}`, { method: 'POST', headers, body });
  const text = await res.text();
  return {
    status: res.status,
    body: JSON.parse(text),
    headers: {
      ...pick((n) => res.headers.get(n) ?? undefined),
      remaining: res.headers.get('x-ratelimit-remaining') ?? undefined,
    },
  };
}

async function throughFastify(url: string, body: string, headers: Record<string, string>): Promise<Answer> {
  const res = await server.app.inject({ method: 'POST', url, payload: body, headers });
  const get = (n: string) => {
    const v = res.headers[n];
    return v === undefined ? undefined : String(v);
  };
  // fetch decodes gzip by itself; inject hands over the bytes as sent.
  const text = get('content-encoding') === 'gzip' ? gunzipSync(res.rawPayload).toString() : res.body;
  return {
    status: res.statusCode,
    body: JSON.parse(text),
    headers: { ...pick(get), remaining: get('x-ratelimit-remaining') },
  };
}

let counter = 0;

/** Sends the request both ways; returns the HTTP answer after checking it equals fastify's. */
async function both(url: string, body: unknown, extra: Record<string, string> = {}, raw?: string) {
  const headers = {
    'content-type': 'application/json',
    'x-api-key': world.dev.server,
    'x-request-id': `lane-${++counter}`,
    ...extra,
  };
  const payload = raw ?? JSON.stringify(body);
  const before = server.app.sdkLane.handled;
  const viaHttp = await overHttp(url, payload, headers);
  const took = server.app.sdkLane.handled - before;
  const viaFastify = await throughFastify(url, payload, headers);
  const { remaining: a, ...httpRest } = viaHttp.headers;
  const { remaining: b, ...fastifyRest } = viaFastify.headers;
  expect({ ...viaHttp, headers: httpRest }).toEqual({ ...viaFastify, headers: fastifyRest });
  // Both paths count against the same limit: fastify's answer came one request later.
  if (a !== undefined || b !== undefined) expect(Number(a) - Number(b)).toBe(1);
  return { answer: viaHttp, took };
}

describe('the SDK fast lane', () => {
  it('takes ordinary evaluations and answers them exactly as the fastify route does', async () => {
    // The first request of a key it has never seen goes through fastify (which resolves the key).
    await both('/v1/evaluate', { flag_key: 'max-items' });
    const single = await both('/v1/evaluate', { flag_key: 'new-checkout', context: { key: 'user-1', country: 'US' } });
    expect(single.took).toBe(1);
    expect(single.answer.status).toBe(200);
    expect(single.answer.body).toEqual({
      flag_key: 'new-checkout',
      value: true,
      variation: 0,
      reason: 'TARGETING_MATCH',
      rule_id: 'us-only',
      version: expect.any(Number),
    });
    expect(single.answer.headers['cache-control']).toBe('no-store');
    expect(single.answer.headers['x-ratelimit-limit']).toBe('100000');
    // Served from a string kept per compiled result: its fields in the order the schema documents.
    const again = await fetch(`${server.url}/v1/evaluate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': world.dev.server },
      body: JSON.stringify({ flag_key: 'new-checkout', context: { key: 'user-9', country: 'US' } }),
    });
    expect(Object.keys(JSON.parse(await again.text()))).toEqual([
      'flag_key',
      'value',
      'variation',
      'reason',
      'rule_id',
      'version',
    ]);

    const missing = await both('/v1/evaluate', { flag_key: 'no-such-flag', context: { key: 'u' } });
    expect(missing.took).toBe(1);
    expect(missing.answer.body).toMatchObject({
      flag_key: 'no-such-flag',
      reason: 'ERROR',
      error_code: 'FLAG_NOT_FOUND',
    });

    const bulk = await both('/v1/evaluate/bulk', { context: { key: 'user-2' } });
    expect(bulk.took).toBe(1);
    expect(Object.keys((bulk.answer.body as { flags: object }).flags).sort()).toEqual(['max-items', 'new-checkout']);
    const named = await both('/v1/evaluate/bulk', {
      flag_keys: ['max-items', 'max-items'],
      context: { key: 'user-2' },
    });
    expect(named.took).toBe(1);

    const mobile = await both('/v1/evaluate', { flag_key: 'max-items' }, { 'x-api-key': world.dev.mobile });
    expect(mobile.answer.status).toBe(200);
    const charset = await both(
      '/v1/evaluate',
      { flag_key: 'max-items' },
      { 'content-type': 'application/json; charset=utf-8' },
    );
    expect(charset.took).toBe(1);
  });

  it('gives each answer of its own a distinct random UUID as request id, and keeps a good incoming one', async () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const before = server.app.sdkLane.handled;
    const ids = new Set<string>();
    // More than one batch of ids (envelope.ts makes 256 at a time).
    for (let i = 0; i < 300; i++) {
      const res = await fetch(`${server.url}/v1/evaluate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': world.dev.server },
        body: JSON.stringify({ flag_key: i % 2 ? 'max-items' : 'missing-flag' }),
      });
      const id = res.headers.get('x-request-id')!;
      expect(id).toMatch(uuid);
      expect(((await res.json()) as { request_id?: string }).request_id ?? id).toBe(id);
      ids.add(id);
    }
    expect(ids.size).toBe(300);
    expect(server.app.sdkLane.handled - before).toBe(300);
    const kept = await fetch(`${server.url}/v1/evaluate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': world.dev.server, 'x-request-id': 'trace:abc-1' },
      body: JSON.stringify({ flag_key: 'max-items' }),
    });
    expect(kept.headers.get('x-request-id')).toBe('trace:abc-1');
  });

  it('refuses bad bodies with the same envelope, status and message', async () => {
    const cases: [string, unknown, string?][] = [
      ['/v1/evaluate', null, '{"flag_key": '],
      ['/v1/evaluate', null, '{"flag_key":"x","__proto__":{"admin":true}}'],
      // The names the lane's quick check must not miss: escaped, nested, `constructor`.
      ['/v1/evaluate', null, '{"flag_key":"x","\\u005f_proto__":{"admin":true}}'],
      ['/v1/evaluate', null, '{"flag_key":"x","context":{"a":{"__proto__":{"admin":true}}}}'],
      ['/v1/evaluate', null, '{"flag_key":"x","constructor":{"prototype":{"admin":true}}}'],
      ['/v1/evaluate', null, '{"flag_key":"x","\\u0063onstructor":{"prototype":{}}}'],
      ['/v1/evaluate', { flag_key: 'max-items', extra: 1 }],
      ['/v1/evaluate', { context: { key: 'u' } }],
      ['/v1/evaluate', { flag_key: 42 }],
      ['/v1/evaluate', { flag_key: '' }],
      ['/v1/evaluate', { flag_key: 'max-items', context: { key: 7 } }],
      ['/v1/evaluate', { flag_key: 'max-items', context: [1, 2] }],
      ['/v1/evaluate', null, '[1,2]'],
      ['/v1/evaluate/bulk', { flag_keys: 'max-items' }],
      ['/v1/evaluate/bulk', { flag_keys: [''] }],
    ];
    for (const [url, body, raw] of cases) {
      const { answer, took } = await both(url, body, {}, raw);
      expect(took, `${url} ${raw ?? JSON.stringify(body)}`).toBe(1);
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ error: expect.any(String), request_id: answer.headers['x-request-id'] });
    }
  });

  it('leaves to fastify what it does not handle, with the same answers', async () => {
    const other = { 'x-api-key': world.dev.server };
    const cases: { headers: Record<string, string>; url?: string }[] = [
      { headers: { 'x-api-key': 'vx_srv_notarealkeyatallnotarealkey000000' } },
      { headers: { 'x-api-key': world.dev.clientSideId } },
      { headers: { origin: 'https://app.example.com', ...other } },
      { headers: { 'content-type': 'text/plain' } },
      { headers: {}, url: '/v1/evaluate?x=1' },
    ];
    for (const { headers, url } of cases) {
      const res = await both(url ?? '/v1/evaluate', { flag_key: 'max-items' }, headers);
      expect(res.took, JSON.stringify(headers)).toBe(0);
    }
    const noKey = await fetch(`${server.url}/v1/evaluate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"flag_key":"x"}',
    });
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toMatchObject({ error: 'API key is invalid' });
  });
});

/** Sends a raw HTTP/1.1 request in pieces, with pauses between them; resolves with the raw answer. */
function rawRequest(pieces: string[], pauseMs = 30): Promise<string> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', async () => {
      for (const piece of pieces) {
        socket.write(piece);
        await new Promise((r) => setTimeout(r, pauseMs));
      }
    });
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
      if (/\r\n\r\n[\s\S]*\}$/.test(answer)) {
        socket.destroy();
        resolve(answer);
      }
    });
    socket.on('error', reject);
  });
}

describe('the SDK fast lane on the wire', () => {
  const body = JSON.stringify({ flag_key: 'max-items', context: { key: 'split-body' } });
  const head = (length: number) =>
    `POST /v1/evaluate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\nx-api-key: ${world.dev.server}\r\ncontent-length: ${length}\r\n\r\n`;

  it('reads a body that arrives in several pieces', async () => {
    const before = server.app.sdkLane.handled;
    const answer = await rawRequest([
      head(Buffer.byteLength(body)),
      body.slice(0, 10),
      body.slice(10, 25),
      body.slice(25),
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({
      flag_key: 'max-items',
      value: 25,
    });
    expect(server.app.sdkLane.handled - before).toBe(1);
  });

  it('shrugs off a client that hangs up mid-body, and keeps serving', async () => {
    const { port } = new URL(server.url);
    await new Promise<void>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(head(Buffer.byteLength(body)) + body.slice(0, 12));
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 50);
      });
    });
    const next = await both('/v1/evaluate', { flag_key: 'max-items' });
    expect(next.answer.status).toBe(200);
    expect(next.took).toBe(1);
  });
});

describe('the SDK fast lane under its limits', () => {
  it('answers 429 with the rate-limit headers once the key is over its budget', async () => {
    const limited = await startServer({ EVALUATION_RATE_LIMIT: '3', MANAGEMENT_RATE_LIMIT: '10000' });
    const w = await givenSdkWorld(limited);
    await givenDevFlag(limited, w, { key: 'f' }, { on: true });
    await snapshotsCaughtUp(limited, [w.dev.id]);
    const send = () =>
      fetch(`${limited.url}/v1/evaluate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': w.dev.server },
        body: '{"flag_key":"f"}',
      });
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 4; i++) {
      last = await send();
      statuses.push(last.status);
      if (i < 3) await last.arrayBuffer();
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(limited.app.sdkLane.handled).toBeGreaterThanOrEqual(3);
    expect(last!.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(last!.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(await last!.json()).toMatchObject({
      error: 'rate limit exceeded',
      request_id: last!.headers.get('x-request-id'),
    });
  });

  it('stands aside for plain HTTP when HTTPS is required, and takes what a trusted proxy forwards over https', async () => {
    // A second node on the first server's database, behind a proxy at 127.0.0.1.
    const strict = await startServer(
      {
        REQUIRE_HTTPS: 'true',
        TRUST_PROXY: '127.0.0.1',
        EVALUATION_RATE_LIMIT: '1000',
        MANAGEMENT_RATE_LIMIT: '10000',
      },
      { databaseUrl: server.databaseUrl },
    );
    const send = (headers: Record<string, string>) =>
      fetch(`${strict.url}/v1/evaluate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': world.dev.server, ...headers },
        body: '{"flag_key":"max-items"}',
      });
    const plain = await send({});
    expect(plain.status).toBe(403);
    expect(await plain.json()).toMatchObject({ error: 'HTTPS is required' });
    expect(strict.app.sdkLane.handled).toBe(0);

    // The first answer resolves the key through fastify; from then on the lane takes it.
    for (let i = 0; i < 2; i++) {
      const res = await send({ 'x-forwarded-proto': 'https' });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ flag_key: 'max-items', value: 25 });
    }
    expect(strict.app.sdkLane.handled).toBe(1);
    const forged = await send({ 'x-forwarded-proto': 'http, https' });
    expect(forged.status).toBe(200); // the last hop (the trusted proxy) says https
    const downgraded = await send({ 'x-forwarded-proto': 'https, http' });
    expect(downgraded.status).toBe(403);
    expect(strict.app.sdkLane.handled).toBe(2);
  });
});

describe('OFREP on the fast lane', () => {
  const ofrep = (key: string) => ({ 'x-api-key': '', authorization: `Bearer ${key}` });
  const withoutApiKey = (headers: Record<string, string>) => {
    const { 'x-api-key': _, ...rest } = headers;
    return rest;
  };
  /** `both` with OFREP's credential header (Authorization: Bearer) instead of X-API-Key. */
  async function bothOfrep(url: string, body: unknown, key: string, extra: Record<string, string> = {}, raw?: string) {
    const headers = {
      'content-type': 'application/json',
      'x-request-id': `lane-${++counter}`,
      ...withoutApiKey(ofrep(key)),
      ...extra,
    };
    const payload = raw ?? JSON.stringify(body);
    const before = server.app.sdkLane.handled;
    const res = await fetch(`${server.url}${url}`, { method: 'POST', headers, body: payload });
    const took = server.app.sdkLane.handled - before;
    const text = await res.text();
    const viaHttp = {
      status: res.status,
      body: text ? JSON.parse(text) : undefined,
      headers: { ...pick((n) => res.headers.get(n) ?? undefined), etag: res.headers.get('etag') ?? undefined },
    };
    const injected = await server.app.inject({ method: 'POST', url, payload, headers });
    const get = (n: string) => (injected.headers[n] === undefined ? undefined : String(injected.headers[n]));
    const viaFastify = {
      status: injected.statusCode,
      body: injected.body ? JSON.parse(injected.body) : undefined,
      headers: { ...pick(get), etag: get('etag') },
    };
    expect(viaHttp).toEqual(viaFastify);
    return { answer: viaHttp, took };
  }

  it('answers single and bulk OFREP evaluations, failures and 304s exactly as the fastify routes do', async () => {
    // The first request of each key resolves it through fastify; the lane takes the rest.
    await bothOfrep('/ofrep/v1/evaluate/flags/max-items', { context: { targetingKey: 'u' } }, world.dev.server);
    const single = await bothOfrep(
      '/ofrep/v1/evaluate/flags/new-checkout',
      { context: { targetingKey: 'user-1', country: 'US' } },
      world.dev.server,
    );
    expect(single.took).toBe(1);
    expect(single.answer.body).toMatchObject({ key: 'new-checkout', value: true, reason: 'TARGETING_MATCH' });
    const missing = await bothOfrep('/ofrep/v1/evaluate/flags/nope', { context: {} }, world.dev.server);
    expect(missing.took).toBe(1);
    expect(missing.answer.status).toBe(404);
    const badContext = await bothOfrep(
      '/ofrep/v1/evaluate/flags/max-items',
      { context: { targetingKey: 7 } },
      world.dev.server,
    );
    expect(badContext.answer.status).toBe(400);
    expect(badContext.took).toBe(1);
    for (const raw of ['{"context": ', '{"flagKey": "x"}', '{"context": [1]}']) {
      const refused = await bothOfrep('/ofrep/v1/evaluate/flags/max-items', null, world.dev.server, {}, raw);
      expect(refused.took, raw).toBe(1);
      expect(refused.answer.status, raw).toBe(400);
      expect(refused.answer.body, raw).toMatchObject({ key: 'max-items', errorCode: expect.any(String) });
    }

    const bulk = await bothOfrep('/ofrep/v1/evaluate/flags', { context: { targetingKey: 'user-2' } }, world.dev.server);
    expect(bulk.took).toBe(1);
    const body = bulk.answer.body as { flags: { key: string }[]; eventStreams: unknown[] };
    expect(body.flags.map((f) => f.key).sort()).toEqual(['max-items', 'new-checkout']);
    expect(body.eventStreams).toEqual([
      {
        type: 'sse',
        endpoint: { requestUri: expect.stringMatching(/^\/ofrep\/v1\/stream\?token=/) },
        inactivityDelaySec: 120,
      },
    ]);
    const etag = bulk.answer.headers.etag!;
    const notModified = await bothOfrep(
      '/ofrep/v1/evaluate/flags',
      { context: { targetingKey: 'user-2' } },
      world.dev.server,
      { 'if-none-match': etag },
    );
    expect(notModified.took).toBe(1);
    expect(notModified.answer.status).toBe(304);
    // The query an SSE-triggered re-fetch carries is taken too.
    const refetch = await bothOfrep(
      `/ofrep/v1/evaluate/flags?flagConfigEtag=${encodeURIComponent(server.app.snapshots.get(world.dev.id)!.etag)}&flagConfigLastModified=1771622898`,
      { context: { targetingKey: 'user-2' } },
      world.dev.server,
    );
    expect(refetch.took).toBe(1);
    expect(refetch.answer.status).toBe(200);

    // A client-side ID (no browser origin) and a mobile key are taken as well.
    await bothOfrep('/ofrep/v1/evaluate/flags', { context: { targetingKey: 'u' } }, world.dev.clientSideId);
    const client = await bothOfrep(
      '/ofrep/v1/evaluate/flags',
      { context: { targetingKey: 'u' } },
      world.dev.clientSideId,
    );
    expect(client.took).toBe(1);
    expect((client.answer.body as { flags: unknown[] }).flags).toEqual([]);
    const mobile = await bothOfrep('/ofrep/v1/evaluate/flags/max-items', { context: {} }, world.dev.mobile);
    expect(mobile.answer.status).toBe(200);
  });

  it('reads every spelling of the bearer credential and a percent-encoded key as fastify does', async () => {
    await bothOfrep('/ofrep/v1/evaluate/flags/max-items', { context: {} }, world.dev.server);
    for (const authorization of [
      `bearer ${world.dev.server}`,
      `BEARER ${world.dev.server}`,
      `Bearer   ${world.dev.server}`,
      `Bearer\t${world.dev.server}`,
    ]) {
      const res = await bothOfrep('/ofrep/v1/evaluate/flags/max-items', { context: {} }, world.dev.server, {
        authorization,
      });
      expect(res.took, authorization).toBe(1);
      expect(res.answer.status, authorization).toBe(200);
    }
    // Not a bearer credential: fastify's answer (401), not the lane's.
    for (const authorization of [`Bearer ${world.dev.server} x`, `Bearer`, `Basic ${world.dev.server}`]) {
      const res = await bothOfrep('/ofrep/v1/evaluate/flags/max-items', { context: {} }, world.dev.server, {
        authorization,
      });
      expect(res.took, authorization).toBe(0);
      expect(res.answer.status, authorization).toBe(401);
    }
    const escaped = await bothOfrep('/ofrep/v1/evaluate/flags/max%2Ditems', { context: {} }, world.dev.server);
    expect(escaped.took).toBe(1);
    expect(escaped.answer.body).toMatchObject({ key: 'max-items', value: 25 });
  });

  it('leaves to fastify what it does not take, with the same answers', async () => {
    const cases: [string, Record<string, string>][] = [
      ['/ofrep/v1/evaluate/flags/max-items', { origin: 'https://app.example.com' }],
      ['/ofrep/v1/evaluate/flags/max-items?x=1', {}],
      ['/ofrep/v1/evaluate/flags/a/b', {}],
      [`/ofrep/v1/evaluate/flags/${'x'.repeat(101)}`, {}],
    ];
    for (const [url, extra] of cases) {
      const res = await bothOfrep(url, { context: {} }, world.dev.server, extra);
      expect(res.took, url).toBe(0);
    }
    const unknownKey = await bothOfrep(
      '/ofrep/v1/evaluate/flags/max-items',
      { context: {} },
      'vx_srv_notarealkeyatallnotarealkey000000',
    );
    expect(unknownKey.took).toBe(0);
    expect(unknownKey.answer.status).toBe(401);
  });
});

describe('gzip on the SDK doors', () => {
  it('compresses large bulk answers on the lane and on fastify alike, and leaves small ones plain', async () => {
    const many = [];
    for (let i = 0; i < 30; i++) many.push(`gz-${String(i).padStart(2, '0')}`);
    for (const key of many) await givenDevFlag(server, world, { key }, { on: true });
    await snapshotsCaughtUp(server, [world.dev.id]);
    const gzip = { 'accept-encoding': 'gzip' };
    const large = await both('/v1/evaluate/bulk', { context: { key: 'u' } }, gzip);
    expect(large.took).toBe(1);
    expect(large.answer.headers['content-encoding']).toBe('gzip');
    expect(Object.keys((large.answer.body as { flags: object }).flags)).toHaveLength(32);
    const small = await both('/v1/evaluate/bulk', { flag_keys: ['max-items'], context: { key: 'u' } }, gzip);
    expect(small.answer.headers['content-encoding']).toBeUndefined();
    const plain = await both('/v1/evaluate/bulk', { context: { key: 'u' } }, { 'accept-encoding': 'identity' });
    expect(plain.answer.headers['content-encoding']).toBeUndefined();
    // What fetch did not decode, node:http shows: the bytes on the wire are gzip, and smaller.
    const wire = await fetch(`${server.url}/v1/evaluate/bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': world.dev.server, ...gzip },
      body: JSON.stringify({ context: { key: 'u' } }),
    });
    expect(wire.headers.get('vary')).toBe('accept-encoding');
    const ofrepBulk = await fetch(`${server.url}/ofrep/v1/evaluate/flags`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${world.dev.server}`, ...gzip },
      body: JSON.stringify({ context: { targetingKey: 'u' } }),
    });
    expect(ofrepBulk.headers.get('content-encoding')).toBe('gzip');
    expect(((await ofrepBulk.json()) as { flags: unknown[] }).flags).toHaveLength(32);
  });

  it('serves the datafile and client-side flags gzipped from one compression per snapshot version and context', async () => {
    const gzip = { 'accept-encoding': 'gzip', 'x-api-key': world.dev.server };
    const first = await server.app.inject({ method: 'GET', url: '/v1/datafile', headers: gzip });
    const second = await server.app.inject({ method: 'GET', url: '/v1/datafile', headers: gzip });
    expect(first.headers['content-encoding']).toBe('gzip');
    expect(first.rawPayload.equals(second.rawPayload)).toBe(true);
    const data = JSON.parse(gunzipSync(first.rawPayload).toString());
    expect(data.version).toBe(server.app.snapshots.get(world.dev.id)!.version);
    const plain = await server.app.inject({
      method: 'GET',
      url: '/v1/datafile',
      headers: { 'x-api-key': world.dev.server },
    });
    expect(JSON.parse(plain.body)).toEqual(data);

    const url = `/v1/client/${world.dev.clientSideId}/flags?key=u`;
    const a = await server.app.inject({ method: 'GET', url, headers: { 'accept-encoding': 'gzip' } });
    const b = await server.app.inject({ method: 'GET', url, headers: { 'accept-encoding': 'gzip' } });
    expect(a.statusCode).toBe(200);
    expect(a.body).toEqual(b.body);
  });
});
