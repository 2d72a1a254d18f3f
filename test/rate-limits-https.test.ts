import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { graphql, request } from './helpers/client.js';
import { environmentsOf, givenAccessToken, givenSdkKey } from './helpers/credentials.js';
import { givenOrg } from './helpers/givens.js';
import { givenDatabase, startServer } from './helpers/server.js';

const prefix = () => `vexil-test-${randomBytes(4).toString('hex')}`;

describe('management rate limit per token', () => {
  it('answers 429 with the X-RateLimit headers after the per-token budget, other tokens unaffected', async () => {
    const server = await startServer({ AUTH_RATE_LIMIT: '1000', MANAGEMENT_RATE_LIMIT: '5', RATE_LIMIT_PREFIX: prefix() });
    const org = await givenOrg(server.url);
    const a = (await givenAccessToken(server.url, org.auth, { kind: 'SERVICE', permissions: ['project:read'] })).data.createAccessToken.value;
    const b = (await givenAccessToken(server.url, org.auth, { kind: 'SERVICE', permissions: ['project:read'] })).data.createAccessToken.value;
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof request<any>>> | undefined;
    for (let i = 0; i < 6; i++) {
      last = await request(server.url, 'POST', '/graphql', { body: { query: '{ projects { total } }' }, headers: { 'api-key': a } });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(last!.headers.get('x-ratelimit-limit')).toBe('5');
    expect(last!.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(last!.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
    expect(last!.body.error).toMatch(/rate limit/);
    const other = await graphql(server.url, '{ projects { total } }', {}, { 'api-key': b });
    expect(other.status).toBe(200);
  });
});

describe('evaluation rate limit per client', () => {
  it('limits by the first 12 characters of X-API-Key', async () => {
    const server = await startServer({ AUTH_RATE_LIMIT: '1000', MANAGEMENT_RATE_LIMIT: '1000', EVALUATION_RATE_LIMIT: '3', RATE_LIMIT_PREFIX: prefix() });
    const org = await givenOrg(server.url);
    const envs = await environmentsOf(server.url, org);
    const key = await givenSdkKey(server.url, org, envs.byKey.dev!.id);
    const call = () => request(server.url, 'GET', `/v1/client/${envs.byKey.dev!.clientSideId}/flags`, { headers: { 'x-api-key': key.value } });
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
    const login = (base: string) => request(base, 'POST', '/v1/auth/login', { body: { email: 'nobody@example.com', password: 'whatever1' } });
    const statuses = [];
    for (const base of [nodeA.url, nodeB.url, nodeA.url, nodeB.url, nodeA.url, nodeB.url]) statuses.push((await login(base)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 429, 429]);
  });
});

describe('REQUIRE_HTTPS', () => {
  it('rejects plain HTTP with 403, trusting X-Forwarded-Proto only from TRUST_PROXY', async () => {
    const trusted = await startServer({ REQUIRE_HTTPS: 'true', TRUST_PROXY: '127.0.0.1', RATE_LIMIT_PREFIX: prefix() });
    const plain = await request(trusted.url, 'POST', '/v1/auth/login', { body: { email: 'a@example.com', password: 'whatever1' } });
    expect(plain.status).toBe(403);
    expect(plain.body).toMatchObject({ error: 'HTTPS is required' });
    expect(plain.body.request_id).toBeTruthy();
    const viaProxy = await request(trusted.url, 'POST', '/v1/auth/login', {
      body: { email: 'a@example.com', password: 'whatever1' },
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(viaProxy.status).toBe(401);
    expect((await request(trusted.url, 'GET', '/healthz')).status).toBe(200);

    const untrusted = await startServer({ REQUIRE_HTTPS: 'true', TRUST_PROXY: '10.9.8.7', RATE_LIMIT_PREFIX: prefix() });
    const forged = await request(untrusted.url, 'POST', '/v1/auth/login', {
      body: { email: 'a@example.com', password: 'whatever1' },
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(forged.status).toBe(403);
  });
});
