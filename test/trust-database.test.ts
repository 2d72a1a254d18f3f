import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCode, graphql, request } from './helpers/client.js';
import { environmentsOf, givenSdkKey } from './helpers/credentials.js';
import { type GivenOrg, givenOrg } from './helpers/givens.js';
import { givenDatabase, startServer, type TestServer } from './helpers/server.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

/**
 * Issue 06, item 11: while PostgreSQL is away, management doors answer 503 (REST envelope,
 * GraphQL SERVICE_UNAVAILABLE) with Retry-After instead of 500s or hangs, /readyz answers within
 * its bound, and evaluations keep being served from memory. A real TCP proxy in front of the real
 * PostgreSQL makes it go away: connections reset and refused, or black-holed.
 */
let proxy: TcpProxy;
let server: TestServer;
let org: GivenOrg;
let serverKey: string;

beforeAll(async () => {
  const direct = new URL(await givenDatabase());
  proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  direct.port = String(proxy.port);
  server = await startServer(
    { AUTH_RATE_LIMIT: '10000', MANAGEMENT_RATE_LIMIT: '10000' },
    { databaseUrl: direct.toString() },
  );
  org = await givenOrg(server.url);
  const { byKey } = await environmentsOf(server.url, org);
  serverKey = (await givenSdkKey(server.url, org, byKey.dev!.id)).value;
});
afterAll(async () => {
  await proxy.mode('forward');
  await server.close();
  await proxy.close();
});

const evaluate = () =>
  request(server.url, 'POST', '/v1/evaluate', {
    body: { flag_key: 'any', context: { key: 'u1' } },
    headers: { 'x-api-key': serverKey },
  });
const bounded = () => ({ signal: AbortSignal.timeout(15_000) });

describe('PostgreSQL refusing connections', () => {
  it('answers 503 with Retry-After on GraphQL and the auth routes, and keeps evaluating from memory', async () => {
    await proxy.mode('refuse');
    try {
      const gql = await graphql(server.url, '{ projects { total } }', {}, org.auth);
      expect(gql.status).toBe(503);
      expect(errorCode(gql)).toBe('SERVICE_UNAVAILABLE');

      const login = await request(server.url, 'POST', '/v1/auth/login', {
        body: { email: org.email, password: org.password },
      });
      expect(login.status).toBe(503);
      expect(login.body).toMatchObject({ error: expect.stringMatching(/database/), request_id: expect.any(String) });
      expect(Number(login.headers.get('retry-after'))).toBeGreaterThan(0);

      const ready = await request(server.url, 'GET', '/readyz');
      expect(ready.status).toBe(503);

      const evaluation = await evaluate();
      expect(evaluation.status).toBe(200);
      expect(evaluation.body.error_code).toBe('FLAG_NOT_FOUND');
    } finally {
      await proxy.mode('forward');
    }
    // Back to normal once it returns.
    await expect.poll(async () => (await request(server.url, 'GET', '/readyz')).status, { timeout: 15_000 }).toBe(200);
    expect((await graphql(server.url, '{ projects { total } }', {}, org.auth)).errors).toBeUndefined();
  });
});

describe('PostgreSQL black-holed', () => {
  it('/readyz still answers, 503, and GraphQL answers SERVICE_UNAVAILABLE rather than hanging', async () => {
    await proxy.mode('blackhole');
    try {
      const ready = await fetch(`${server.url}/readyz`, bounded());
      expect(ready.status).toBe(503);
      const evaluation = await evaluate();
      expect(evaluation.status).toBe(200);
      const res = await fetch(`${server.url}/graphql`, {
        ...bounded(),
        method: 'POST',
        headers: { ...org.auth, 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ projects { total } }' }),
      });
      const body = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
      expect(res.status).toBe(503);
      expect(body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    } finally {
      await proxy.mode('refuse');
      await proxy.mode('forward');
    }
    await expect.poll(async () => (await request(server.url, 'GET', '/readyz')).status, { timeout: 20_000 }).toBe(200);
  }, 60_000);
});
