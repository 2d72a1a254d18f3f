import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restRoutes } from '../src/routes.js';
import { bearer, graphql, request } from './helpers/client.js';
import { givenAccessToken } from './helpers/credentials.js';
import { type GivenOrg, givenMember, givenOrg } from './helpers/givens.js';
import { type Call, expectEnvelope, restClient } from './helpers/rest.js';
import { startServer, type TestServer } from './helpers/server.js';

const run = promisify(execFile);

let server: TestServer;
let org: GivenOrg;
let call: Call;
let projectId: string;

beforeAll(async () => {
  server = await startServer({ AUTH_RATE_LIMIT: '1000', MANAGEMENT_RATE_LIMIT: '10000' });
  org = await givenOrg(server.url);
  call = restClient(server.url);
  projectId = (await call('GET', '/v1/projects/default', org.auth)).body.id;
});

describe('the reference', () => {
  it('runs its own example: curl http://localhost:8080/v1/projects -H "Authorization: Bearer eyJ..."', async () => {
    const example = 'curl http://localhost:8080/v1/projects -H "Authorization: Bearer eyJ..."';
    const command = example.replace('http://localhost:8080', server.url).replace('eyJ...', org.accessToken);
    expect(org.accessToken.startsWith('eyJ')).toBe(true);
    const { stdout } = await run('sh', ['-c', `${command} --silent --show-error`]);
    const answer = JSON.parse(stdout);
    expect(answer).toMatchObject({ total: 1, limit: 50, offset: 0, has_more: false });
    expect(answer.data[0]).toMatchObject({ slug: 'default', name: 'Default' });
  });
});

/** A request every route accepts as far as its schemas go, to see what the credentials decide. */
function sample(route: (typeof restRoutes)[number]) {
  const uuid = '00000000-0000-4000-8000-000000000000';
  const path = route.url
    .replace(':id', route.url.startsWith('/v1/projects') ? 'default' : uuid)
    .replace(':envId', uuid)
    .replace(':keyId', uuid)
    .replace(':key', 'some-flag');
  return { method: route.method, path };
}

describe('who is calling', () => {
  it('every route answers 401 without a credential, or with one that does not check out, whatever the body', async () => {
    const bad: Record<string, string>[] = [
      {},
      bearer('eyJhbGciOiJIUzI1NiJ9.e30.invalid'),
      bearer('vx_pat_000000000000000000000000000000000000'),
      { 'api-key': 'vx_sat_000000000000000000000000000000000000' },
      { authorization: 'Basic dXNlcjpwYXNz' },
    ];
    for (const route of restRoutes) {
      const { method, path } = sample(route);
      for (const headers of bad) {
        const res = await request(server.url, method, path, {
          headers,
          ...(method === 'GET' || method === 'DELETE' ? {} : { body: { not: 'checked' } }),
        });
        expectEnvelope(res, 401);
      }
    }
  });

  it('a valid credential that may not do something is a 403 "Insufficient permissions"; a deactivated token a 403', async () => {
    const viewer = await givenMember(server.url, org, 'viewer');
    expectEnvelope(await call('POST', '/v1/projects', viewer.auth, { name: 'Nope' }), 403, 'Insufficient permissions');
    const token = await givenAccessToken(server.url, org.auth, { kind: 'SERVICE', permissions: ['project:read'] });
    const value = token.data.createAccessToken.value as string;
    expect((await call('GET', '/v1/projects', { 'api-key': value })).status).toBe(200);
    expectEnvelope(
      await call('POST', '/v1/projects', { 'api-key': value }, { name: 'x' }),
      403,
      'Insufficient permissions',
    );
    await call('PUT', `/v1/access-tokens/${token.data.createAccessToken.token.id}`, org.auth, { active: false });
    expectEnvelope(await call('GET', '/v1/projects', { 'api-key': value }), 403, /deactivated/);
  });

  it('a token acting on behalf of a member (API-KEY + SSO JWT) has both, and is audited as both', async () => {
    const dev = await givenMember(server.url, org, 'developer');
    const secret = (await graphql(server.url, 'mutation { rotateSsoSecret }', {}, org.auth)).data.rotateSsoSecret;
    const token = await givenAccessToken(server.url, org.auth, {
      kind: 'SERVICE',
      permissions: ['project:read', 'flag:read', 'flag:write'],
    });
    const created = token.data.createAccessToken;
    const sso = () =>
      jwt.sign({ email: dev.email, jti: randomBytes(8).toString('hex') }, secret, {
        algorithm: 'HS256',
        expiresIn: 60,
      });
    const key = `on-behalf-${randomBytes(3).toString('hex')}`;
    const made = await call(
      'POST',
      `/v1/projects/${projectId}/flags`,
      { 'api-key': created.value, ...bearer(sso()) },
      { key },
    );
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const audit = await call('GET', `/v1/audit?resource_id=${made.body.id}`, org.auth);
    expect(audit.body.data[0]).toMatchObject({
      action: 'flag.created',
      actor_type: 'on-behalf',
      actor_id: dev.userId,
      actor_token_id: created.token.id,
    });
    // The member's role still bounds the token: a developer deletes no project.
    expectEnvelope(
      await call('DELETE', `/v1/projects/${projectId}`, { 'api-key': created.value, ...bearer(sso()) }),
      403,
    );
  });
});

describe('pages', () => {
  it('limit defaults to 50, may be 1 to 100, and offset 0 or more; anything else is a 400 naming it', async () => {
    expect((await call('GET', '/v1/projects', org.auth)).body.limit).toBe(50);
    expect((await call('GET', '/v1/projects?limit=100&offset=3', org.auth)).body).toMatchObject({
      limit: 100,
      offset: 3,
      data: [],
      total: 1,
      has_more: false,
    });
    // What Number() would take but the reference does not write: hex, exponents, padding, a plus sign.
    const spelt = ['offset=0x10', 'limit=1e1', 'offset=%2016', 'limit=%2B5', 'offset=0b1'];
    for (const query of [
      'limit=101',
      'limit=0',
      'limit=-1',
      'limit=ten',
      'limit=1.5',
      'offset=-1',
      'offset=x',
      ...spelt,
    ]) {
      expectEnvelope(await call('GET', `/v1/projects?${query}`, org.auth), 400, /query parameter "(limit|offset)"/);
    }
    expectEnvelope(await call('GET', '/v1/audit?limit=1000', org.auth), 400, 'query parameter "limit" must be <= 100');
  });
});

describe('bodies', () => {
  const path = () => `/v1/projects/${projectId}/flags`;
  const raw = (rawBody: string, contentType: string) =>
    request(server.url, 'POST', path(), { rawBody, headers: { ...org.auth, 'content-type': contentType } });
  const flagCount = async () =>
    Number(
      (await server.sql<{ n: string }>('select count(*) as n from flags where project_id = ?', [projectId]))[0]!.n,
    );

  it('an unknown field, malformed JSON, a non-JSON body: 4xx in the envelope, and nothing written', async () => {
    const before = await flagCount();
    expectEnvelope(
      await call('POST', path(), org.auth, { key: 'typo', flag_typ: 'boolean' }),
      400,
      'unknown field "flag_typ"',
    );
    expectEnvelope(
      await call('POST', path(), org.auth, { key: 'deep', variations: [{ value: true, colour: 'red' }] }),
      400,
      'unknown field "variations.0.colour"',
    );
    expectEnvelope(await call('GET', '/v1/projects?limt=10', org.auth), 400, 'unknown query parameter "limt"');
    expectEnvelope(await raw('{"key": "broken"', 'application/json'), 400, 'request body is not valid JSON');
    expectEnvelope(await raw('', 'application/json'), 400, 'request body is not valid JSON');
    expectEnvelope(await raw('{"key": "plain"}', 'text/plain'), 415, 'Content-Type must be application/json');
    expectEnvelope(await raw('key=form', 'application/x-www-form-urlencoded'), 415);
    expectEnvelope(
      await raw(
        '--b\r\nContent-Disposition: form-data; name="key"\r\n\r\nx\r\n--b--',
        'multipart/form-data; boundary=b',
      ),
      415,
    );
    expectEnvelope(await call('POST', path(), org.auth, { key: 'nul\u0000byte' }), 400, /NUL/);
    expectEnvelope(await call('POST', path(), org.auth, { key: 7 }), 400, 'field "key" must be string');
    expectEnvelope(await call('POST', path(), org.auth, { key: 'Not A Key' }), 400, /key must be/);
    expectEnvelope(await raw(JSON.stringify({ key: 'x'.repeat(2 * 1024 * 1024) }), 'application/json'), 413);
    expect(await flagCount()).toBe(before);
  });

  it('the auth and SDK routes refuse text/plain with 415 too', async () => {
    const plain = { 'content-type': 'text/plain' };
    expectEnvelope(await request(server.url, 'POST', '/v1/auth/login', { rawBody: '{}', headers: plain }), 415);
    expectEnvelope(
      await request(server.url, 'POST', '/v1/track', { rawBody: '{}', headers: { ...plain, 'x-api-key': 'vx_srv_x' } }),
      415,
    );
  });
});

describe('answers', () => {
  it('are private, no-cache JSON in snake_case with the request id, gzipped when asked', async () => {
    const res = await fetch(`${server.url}/v1/projects/default/environments`, {
      headers: { ...org.auth, 'accept-encoding': 'gzip', 'x-request-id': 'script-run-42' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(res.headers.get('cache-control')).toBe('private, no-cache');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('x-request-id')).toBe('script-run-42');
    const body = await res.json();
    const keys = (value: unknown): string[] =>
      value && typeof value === 'object'
        ? Object.entries(value).flatMap(([k, v]) => [...(Array.isArray(value) ? [] : [k]), ...keys(v)])
        : [];
    for (const key of keys(body)) expect(key).toMatch(/^[a-z0-9_]+$/);
    const missing = await call('GET', '/v1/projects/nope', { ...org.auth, 'x-request-id': 'trace-7' });
    expect(missing.body).toEqual({ error: 'project not found', request_id: 'trace-7' });
  });
});

describe('methods', () => {
  it('a method a path does not serve is a 405 naming those it does, in the envelope; an unknown path a 404', async () => {
    for (const [method, path, allow] of [
      ['PUT', '/graphql', 'GET, HEAD, POST, OPTIONS'],
      ['DELETE', '/v1/evaluate', 'POST'],
      ['PATCH', '/v1/projects', 'GET, HEAD, POST'],
      ['POST', '/v1/projects/default/flags/some-flag', 'GET, HEAD, PUT, DELETE'],
      ['GET', '/ofrep/v1/evaluate/flags/some-flag', 'POST, OPTIONS'],
      ['PROPFIND', '/healthz', 'GET, HEAD'],
    ] as const) {
      const res = await request(server.url, method, `${path}?x=1`, { headers: { ...org.auth, 'x-request-id': 'm-1' } });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(new Set(res.headers.get('allow')!.split(', ')), `${method} ${path}`).toEqual(new Set(allow.split(', ')));
      expect(res.body).toEqual({
        error: expect.stringContaining(`${method} is not allowed on ${path}`),
        request_id: 'm-1',
      });
    }
    const unknown = await request(server.url, 'PUT', '/v1/no-such-route', { headers: org.auth });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('allow')).toBeNull();
  });
});

describe('one rate-limit budget for both doors', () => {
  let limited: TestServer;
  let owner: GivenOrg;
  beforeAll(async () => {
    limited = await startServer({ AUTH_RATE_LIMIT: '1000', MANAGEMENT_RATE_LIMIT: '6' });
    owner = await givenOrg(limited.url);
  });

  it('REST and GraphQL spend the same per-caller budget, counted per root field, with X-RateLimit-* headers', async () => {
    const rest = restClient(limited.url);
    const first = await rest('GET', '/v1/projects', owner.auth);
    expect(first.headers.get('x-ratelimit-limit')).toBe('6');
    const afterRest = Number(first.headers.get('x-ratelimit-remaining'));
    // Two root fields through GraphQL: two points of the same budget.
    const both = await request(limited.url, 'POST', '/graphql', {
      headers: owner.auth,
      body: { query: '{ projects { total } members { total } }' },
    });
    expect(Number(both.headers.get('x-ratelimit-remaining'))).toBe(afterRest - 2);
    const second = await rest('GET', '/v1/members', owner.auth);
    expect(Number(second.headers.get('x-ratelimit-remaining'))).toBe(afterRest - 3);
    let refused = second;
    for (let i = 0; i < 10 && refused.status !== 429; i++) refused = await rest('GET', '/v1/audit', owner.auth);
    expectEnvelope(refused, 429, 'rate limit exceeded');
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(refused.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
    const viaGraphql = await graphql(limited.url, '{ projects { total } }', {}, owner.auth);
    expect(viaGraphql.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  });
});

describe('a database that does not answer in time', () => {
  let slow: TestServer;
  let holder: pg.Client;
  beforeAll(async () => {
    slow = await startServer(
      { AUTH_RATE_LIMIT: '1000', MANAGEMENT_RATE_LIMIT: '10000' },
      {
        orm: {
          driverOptions: {
            acquireConnectionTimeout: 5_000,
            connection: { connectionTimeoutMillis: 3_000, statement_timeout: 300, query_timeout: 5_000 },
          },
        },
      },
    );
    holder = new pg.Client({ connectionString: slow.databaseUrl });
    await holder.connect();
  });
  afterAll(async () => {
    await holder?.end();
  });

  it('is a 503 with Retry-After, in the envelope', async () => {
    const owner = await givenOrg(slow.url);
    await holder.query('begin');
    try {
      await holder.query('lock table projects in access exclusive mode');
      const res = await restClient(slow.url)('GET', '/v1/projects', owner.auth);
      expectEnvelope(res, 503, /retry/);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await holder.query('rollback');
    }
    expect((await restClient(slow.url)('GET', '/v1/projects', owner.auth)).status).toBe(200);
  });
});
