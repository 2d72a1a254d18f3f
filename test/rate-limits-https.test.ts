import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { graphql, request } from './helpers/client.js';
import { environmentsOf, givenAccessToken, givenSdkKey } from './helpers/credentials.js';
import { givenOrg } from './helpers/givens.js';
import { givenDatabase, startServer } from './helpers/server.js';
import { subscribeWs, upgradeWs } from './helpers/ws.js';

const prefix = () => `vexil-test-${randomBytes(4).toString('hex')}`;

describe('management rate limit per token', () => {
  it('answers 429 with the X-RateLimit headers after the per-token budget, other tokens unaffected', async () => {
    const server = await startServer({
      AUTH_RATE_LIMIT: '1000',
      MANAGEMENT_RATE_LIMIT: '5',
      RATE_LIMIT_PREFIX: prefix(),
    });
    const org = await givenOrg(server.url);
    const a = (await givenAccessToken(server.url, org.auth, { kind: 'SERVICE', permissions: ['project:read'] })).data
      .createAccessToken.value;
    const b = (await givenAccessToken(server.url, org.auth, { kind: 'SERVICE', permissions: ['project:read'] })).data
      .createAccessToken.value;
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof request<any>>> | undefined;
    for (let i = 0; i < 6; i++) {
      last = await request(server.url, 'POST', '/graphql', {
        body: { query: '{ projects { total } }' },
        headers: { 'api-key': a },
      });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(last!.headers.get('x-ratelimit-limit')).toBe('5');
    expect(last!.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(last!.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
    // A GraphQL operation is refused as GraphQL errors are: a typed code (since issue 06).
    expect(last!.body.errors[0].message).toMatch(/rate limit/);
    expect(last!.body.errors[0].extensions.code).toBe('RATE_LIMITED');
    const other = await graphql(server.url, '{ projects { total } }', {}, { 'api-key': b });
    expect(other.status).toBe(200);
  });
});

describe('evaluation rate limit per client', () => {
  it('limits by the first 12 characters of X-API-Key', async () => {
    const server = await startServer({
      AUTH_RATE_LIMIT: '1000',
      MANAGEMENT_RATE_LIMIT: '1000',
      EVALUATION_RATE_LIMIT: '3',
      RATE_LIMIT_PREFIX: prefix(),
    });
    const org = await givenOrg(server.url);
    const envs = await environmentsOf(server.url, org);
    const key = await givenSdkKey(server.url, org, envs.byKey.dev!.id);
    const call = () =>
      request(server.url, 'GET', `/v1/client/${envs.byKey.dev!.clientSideId}/flags`, {
        headers: { 'x-api-key': key.value },
      });
    const results = [await call(), await call(), await call(), await call()];
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(results[0]!.headers.get('x-ratelimit-remaining')).toBe('2');
  });
});

describe('shared counters through Redis', () => {
  // CI provides REDIS_URL (the machine's Redis service); the in-memory path is covered above.
  it.runIf(!!process.env.REDIS_URL)('two app instances share one budget', async () => {
    const env = { AUTH_RATE_LIMIT: '4', REDIS_URL: process.env.REDIS_URL!, RATE_LIMIT_PREFIX: prefix() };
    const databaseUrl = await givenDatabase();
    const nodeA = await startServer(env, { databaseUrl });
    const nodeB = await startServer(env, { databaseUrl });
    const login = (base: string) =>
      request(base, 'POST', '/v1/auth/login', { body: { email: 'nobody@example.com', password: 'whatever1' } });
    const statuses = [];
    for (const base of [nodeA.url, nodeB.url, nodeA.url, nodeB.url, nodeA.url, nodeB.url])
      statuses.push((await login(base)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 429, 429]);
  });
});

describe('REQUIRE_HTTPS', () => {
  it('rejects plain HTTP with 403, trusting X-Forwarded-Proto only from TRUST_PROXY', async () => {
    const trusted = await startServer({ REQUIRE_HTTPS: 'true', TRUST_PROXY: '127.0.0.1', RATE_LIMIT_PREFIX: prefix() });
    const plain = await request(trusted.url, 'POST', '/v1/auth/login', {
      body: { email: 'a@example.com', password: 'whatever1' },
    });
    expect(plain.status).toBe(403);
    expect(plain.body).toMatchObject({ error: 'HTTPS is required' });
    expect(plain.body.request_id).toBeTruthy();
    const viaProxy = await request(trusted.url, 'POST', '/v1/auth/login', {
      body: { email: 'a@example.com', password: 'whatever1' },
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(viaProxy.status).toBe(401);
    expect((await request(trusted.url, 'GET', '/healthz')).status).toBe(200);

    const untrusted = await startServer({
      REQUIRE_HTTPS: 'true',
      TRUST_PROXY: '10.9.8.7',
      RATE_LIMIT_PREFIX: prefix(),
    });
    const forged = await request(untrusted.url, 'POST', '/v1/auth/login', {
      body: { email: 'a@example.com', password: 'whatever1' },
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(forged.status).toBe(403);
  });
});

describe('WebSocket upgrades on /graphql', () => {
  it('refuses an upgrade over plain HTTP with 403 and the envelope when REQUIRE_HTTPS is on', async () => {
    const server = await startServer({ REQUIRE_HTTPS: 'true', TRUST_PROXY: '127.0.0.1', RATE_LIMIT_PREFIX: prefix() });
    const plain = await upgradeWs(server.url, { 'x-request-id': 'upgrade-over-http' });
    expect(plain.status).toBe(403);
    expect(plain.headers['content-type']).toMatch(/^application\/json/);
    expect(plain.body).toEqual({ error: 'HTTPS is required', request_id: 'upgrade-over-http' });
    expect(plain.headers['x-request-id']).toBe('upgrade-over-http');
    expect(server.app.hub.openStreams).toBe(0);
  });

  it('accepts an upgrade through a trusted proxy that says https, and not from anyone else', async () => {
    const trusted = await startServer({ REQUIRE_HTTPS: 'true', TRUST_PROXY: '127.0.0.1', RATE_LIMIT_PREFIX: prefix() });
    const viaProxy = await upgradeWs(trusted.url, { 'x-forwarded-proto': 'https' });
    expect(viaProxy.status).toBe(101);
    // The whole protocol works over it: connection_init, an operation, its result.
    const sub = subscribeWs(trusted.url, {}, '{ __typename }', {}, { headers: { 'x-forwarded-proto': 'https' } });
    expect(await sub.next()).toEqual({ data: { __typename: 'Query' } });
    await sub.dispose();

    const untrusted = await startServer({
      REQUIRE_HTTPS: 'true',
      TRUST_PROXY: '10.9.8.7',
      RATE_LIMIT_PREFIX: prefix(),
    });
    const forged = await upgradeWs(untrusted.url, { 'x-forwarded-proto': 'https' });
    expect(forged.status).toBe(403);
    expect(forged.body).toMatchObject({ error: 'HTTPS is required' });
    expect(forged.body.request_id).toBeTruthy();
  });

  it('limits upgrades per client IP: 429 with the X-RateLimit headers once the budget is spent', async () => {
    const server = await startServer({ AUTH_RATE_LIMIT: '3', RATE_LIMIT_PREFIX: prefix() });
    const results = [
      await upgradeWs(server.url),
      await upgradeWs(server.url),
      await upgradeWs(server.url),
      await upgradeWs(server.url),
    ];
    expect(results.map((r) => r.status)).toEqual([101, 101, 101, 429]);
    expect(results.map((r) => r.headers['x-ratelimit-remaining'])).toEqual(['2', '1', '0', '0']);
    const refused = results[3]!;
    expect(refused.headers['x-ratelimit-limit']).toBe('3');
    expect(Number(refused.headers['x-ratelimit-reset'])).toBeGreaterThan(Date.now() / 1000);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.body).toMatchObject({ error: 'rate limit exceeded' });
    expect(refused.body.request_id).toBe(refused.headers['x-request-id']);
    // Counted apart from logins, which share the AUTH_RATE_LIMIT budget but not its counter.
    const login = await request(server.url, 'POST', '/v1/auth/login', {
      body: { email: 'nobody@example.com', password: 'whatever1' },
    });
    expect(login.status).toBe(401);
  });

  it('counts the client behind a trusted proxy by X-Forwarded-For', async () => {
    const server = await startServer({ AUTH_RATE_LIMIT: '1', TRUST_PROXY: '127.0.0.1', RATE_LIMIT_PREFIX: prefix() });
    const from = (ip: string) => upgradeWs(server.url, { 'x-forwarded-for': ip });
    expect((await from('198.51.100.1')).status).toBe(101);
    expect((await from('198.51.100.1')).status).toBe(429);
    expect((await from('198.51.100.2')).status).toBe(101);
  });
});
