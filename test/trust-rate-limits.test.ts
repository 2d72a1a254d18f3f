import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { errorCode, graphql, request } from './helpers/client.js';
import { environmentsOf, givenSdkKey } from './helpers/credentials.js';
import { givenOrg, uniqueEmail } from './helpers/givens.js';
import { startServer } from './helpers/server.js';
import { openSse } from './helpers/sse.js';
import { subscribeWs } from './helpers/ws.js';

/**
 * Issue 06, item 5: rate limits that cannot be walked around. Every operation is counted the same
 * way whatever the transport, per executed root field; auth mutations share the REST auth
 * routes' budget; sensitive mutations have budgets of their own; a key that does not check out
 * spends its sender's budget, never a valid key's.
 */
const prefix = () => `vexil-test-${randomBytes(4).toString('hex')}`;
const LOGIN = 'mutation($i: LoginInput!) { login(input: $i) { tokens { accessToken } } }';
const wrongLogin = (email: string) => ({ i: { email, password: 'not-the-password' } });

describe('the auth budget', () => {
  it('counts login attempts over one graphql-ws connection, not only its upgrade', async () => {
    const server = await startServer({ AUTH_RATE_LIMIT: '4', RATE_LIMIT_PREFIX: prefix() });
    const email = uniqueEmail();
    const codes: unknown[] = [];
    for (let i = 0; i < 6; i++) {
      const ws = subscribeWs(server.url, {}, LOGIN, wrongLogin(email));
      await ws.ended;
      codes.push(ws.results[0]?.errors?.[0]?.extensions?.code);
      await ws.dispose();
      // The upgrades are counted apart (AUTH_RATE_LIMIT upgrades a minute as well); stay under it.
      if (i === 2) break;
    }
    // One socket, many attempts: the limit holds within a connection.
    const socket = subscribeWs(
      server.url,
      {},
      `mutation { ${Array.from({ length: 3 }, (_, i) => `a${i}: login(input: { email: "${email}", password: "wrong-password" }) { user { id } }`).join(' ')} }`,
    );
    await socket.ended;
    codes.push(socket.results[0]?.errors?.[0]?.extensions?.code);
    await socket.dispose();
    expect(codes).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'RATE_LIMITED']);
  });

  it('is one budget for the REST auth routes and the GraphQL auth mutations', async () => {
    const server = await startServer({ AUTH_RATE_LIMIT: '4', RATE_LIMIT_PREFIX: prefix() });
    const email = uniqueEmail();
    const rest = () => request(server.url, 'POST', '/v1/auth/login', { body: { email, password: 'wrong-password' } });
    expect((await rest()).status).toBe(401);
    expect((await rest()).status).toBe(401);
    expect(errorCode(await graphql(server.url, LOGIN, wrongLogin(email)))).toBe('UNAUTHENTICATED');
    expect(errorCode(await graphql(server.url, LOGIN, wrongLogin(email)))).toBe('UNAUTHENTICATED');
    expect((await rest()).status).toBe(429);
    expect(errorCode(await graphql(server.url, LOGIN, wrongLogin(email)))).toBe('RATE_LIMITED');
  });

  it('counts 10 register aliases in one request as 10, and creates no account when they are over it', async () => {
    const server = await startServer({ AUTH_RATE_LIMIT: '5', RATE_LIMIT_PREFIX: prefix() });
    const before = await server.sql<{ n: string }>('select count(*) as n from users');
    const aliases = Array.from(
      { length: 10 },
      (_, i) =>
        `r${i}: register(input: { email: "${uniqueEmail()}", password: "correct-horse-battery", name: "R", orgName: "Org ${i}" }) { user { id } }`,
    );
    const r = await graphql(server.url, `mutation { ${aliases.join(' ')} }`);
    expect(errorCode(r)).toBe('RATE_LIMITED');
    expect(r.status).toBe(429);
    expect(await server.sql<{ n: string }>('select count(*) as n from users')).toEqual(before);
  });
});

describe('the management budget, per executed root field, on every transport', () => {
  it('counts GET /graphql like POST', async () => {
    const server = await startServer({ MANAGEMENT_RATE_LIMIT: '3', RATE_LIMIT_PREFIX: prefix() });
    const org = await givenOrg(server.url);
    const get = () =>
      request(server.url, 'GET', `/graphql?query=${encodeURIComponent('{ me { kind } }')}`, {
        headers: { ...org.auth, accept: 'application/json' },
      });
    const statuses = [(await get()).status, (await get()).status, (await get()).status];
    const refused = await get();
    expect(statuses).toEqual([200, 200, 200]);
    expect(refused.status).toBe(429);
    expect(refused.body.errors[0].extensions.code).toBe('RATE_LIMITED');
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('counts mutations and queries over graphql-ws', async () => {
    const server = await startServer({ MANAGEMENT_RATE_LIMIT: '3', RATE_LIMIT_PREFIX: prefix() });
    const org = await givenOrg(server.url);
    const codes: unknown[] = [];
    for (let i = 0; i < 4; i++) {
      const ws = subscribeWs(
        server.url,
        { authorization: `Bearer ${org.accessToken}` },
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }',
        { i: { name: `WS ${i} ${randomBytes(2).toString('hex')}` } },
      );
      await ws.ended;
      codes.push(ws.results[0]?.errors?.[0]?.extensions?.code ?? 'ok');
      await ws.dispose();
    }
    expect(codes).toEqual(['ok', 'ok', 'ok', 'RATE_LIMITED']);
    const [row] = await server.sql<{ n: string }>(
      "select count(*) as n from projects where name like 'WS %' and organization_id = ?",
      [org.organizationId],
    );
    expect(Number(row!.n)).toBe(3);
  });

  it('counts a GraphQL-over-SSE subscription', async () => {
    const server = await startServer({ MANAGEMENT_RATE_LIMIT: '2', RATE_LIMIT_PREFIX: prefix() });
    const org = await givenOrg(server.url);
    const { projectId } = await environmentsOf(server.url, org);
    const open = () =>
      openSse(`${server.url}/graphql`, {
        method: 'POST',
        headers: { ...org.auth, 'content-type': 'application/json' },
        body: JSON.stringify({
          query: 'subscription($p: ID!) { flagChanged(projectId: $p) { flagKey } }',
          variables: { p: projectId },
        }),
      });
    // environmentsOf spent one point; one subscription fits, the next does not.
    const first = await open();
    expect(first.status).toBe(200);
    const second = await open();
    first.close();
    second.close();
    expect(second.status).toBe(429);
  });

  it('counts 50 aliased createProject in one request as 50, and creates nothing when they are over it', async () => {
    const server = await startServer({ MANAGEMENT_RATE_LIMIT: '20', RATE_LIMIT_PREFIX: prefix() });
    const org = await givenOrg(server.url);
    const aliases = Array.from({ length: 50 }, (_, i) => `p${i}: createProject(input: { name: "Alias ${i}" }) { id }`);
    const r = await graphql(server.url, `mutation { ${aliases.join(' ')} }`, {}, org.auth);
    expect(errorCode(r)).toBe('RATE_LIMITED');
    const [row] = await server.sql<{ n: string }>(
      "select count(*) as n from projects where name like 'Alias %' and organization_id = ?",
      [org.organizationId],
    );
    expect(Number(row!.n)).toBe(0);
  });

  it('gives sensitive mutations a budget of their own per caller', async () => {
    const server = await startServer({
      MANAGEMENT_RATE_LIMIT: '1000',
      SENSITIVE_RATE_LIMIT: '2',
      RATE_LIMIT_PREFIX: prefix(),
    });
    const org = await givenOrg(server.url);
    const { byKey } = await environmentsOf(server.url, org);
    await givenSdkKey(server.url, org, byKey.dev!.id);
    await givenSdkKey(server.url, org, byKey.staging!.id);
    const third = await graphql(
      server.url,
      'mutation($e: ID!) { createSdkKey(environmentId: $e, kind: SERVER) { value } }',
      { e: byKey.production!.id },
      org.auth,
    );
    expect(errorCode(third)).toBe('RATE_LIMITED');
    // Another caller is not affected.
    const other = await givenOrg(server.url);
    const { byKey: theirs } = await environmentsOf(server.url, other);
    await givenSdkKey(server.url, other, theirs.dev!.id);
  });
});

describe('invitations', () => {
  it('sending spends the sensitive budget on both doors; guessing a token spends the auth budget per IP, on both doors', async () => {
    const server = await startServer({
      MANAGEMENT_RATE_LIMIT: '1000',
      SENSITIVE_RATE_LIMIT: '2',
      AUTH_RATE_LIMIT: '4',
      RATE_LIMIT_PREFIX: prefix(),
    });
    const org = await givenOrg(server.url); // one auth point: the registration
    const invite = (email: string) =>
      graphql(
        server.url,
        'mutation($e: String!) { inviteMember(email: $e, role: viewer) { token } }',
        { e: email },
        org.auth,
      );
    expect((await invite(uniqueEmail())).errors).toBeUndefined();
    expect(
      (
        await request(server.url, 'POST', '/v1/members/invite', {
          body: { email: uniqueEmail(), role: 'viewer' },
          headers: org.auth,
        })
      ).status,
    ).toBe(201);
    expect(errorCode(await invite(uniqueEmail()))).toBe('RATE_LIMITED');
    const third = await request(server.url, 'POST', '/v1/members/invite', {
      body: { email: uniqueEmail(), role: 'viewer' },
      headers: org.auth,
    });
    expect(third.status).toBe(429);
    expect(await server.sql('select id from invitations where organization_id = ?', [org.organizationId])).toHaveLength(
      2,
    );

    const guess = () => `vx_inv_${randomBytes(18).toString('base64url').replace(/[-_]/g, 'a').slice(0, 36)}`;
    const rest = () =>
      request(server.url, 'POST', '/v1/auth/invitations/accept', {
        body: { token: guess(), name: 'G', password: 'a-long-password' },
      });
    const gql = () =>
      graphql(
        server.url,
        'mutation($t: String!) { acceptInvitation(token: $t, name: "G", password: "a-long-password") { user { id } } }',
        { t: guess() },
      );
    expect((await rest()).status).toBe(401);
    expect(errorCode(await gql())).toBe('UNAUTHENTICATED');
    expect((await rest()).status).toBe(401);
    expect(errorCode(await gql())).toBe('RATE_LIMITED');
    expect((await rest()).status).toBe(429);
  });
});

describe('the evaluation budget', () => {
  it('counts keys that do not check out under the caller`s IP, never under the valid key they imitate', async () => {
    const server = await startServer({ EVALUATION_RATE_LIMIT: '3', RATE_LIMIT_PREFIX: prefix() });
    const org = await givenOrg(server.url);
    const { byKey } = await environmentsOf(server.url, org);
    const clientSideId = byKey.dev!.clientSideId;
    // The first 12 characters of the public client-side ID, then garbage: not a valid key.
    const imitation = `${clientSideId.slice(0, 12)}${'x'.repeat(clientSideId.length - 12)}`;
    const forged = () =>
      request(server.url, 'GET', `/v1/client/${imitation}/flags?key=u1`, { headers: { origin: 'https://a.example' } });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await forged()).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    // The real client-side ID still has its whole budget.
    const real = await request(server.url, 'GET', `/v1/client/${clientSideId}/flags?key=u1`);
    expect(real.status).toBe(200);
    expect(real.headers.get('x-ratelimit-remaining')).toBe('2');
  });

  it('counts an invalid server key on the fast lane`s route the same way', async () => {
    const server = await startServer({ EVALUATION_RATE_LIMIT: '2', RATE_LIMIT_PREFIX: prefix() });
    const org = await givenOrg(server.url);
    const { byKey } = await environmentsOf(server.url, org);
    const key = await givenSdkKey(server.url, org, byKey.dev!.id);
    const bad = `${key.value.slice(0, 12)}${'A'.repeat(key.value.length - 12)}`;
    const evaluate = (value: string) =>
      request(server.url, 'POST', '/v1/evaluate', {
        body: { flag_key: 'missing', context: { key: 'u1' } },
        headers: { 'x-api-key': value },
      });
    expect([(await evaluate(bad)).status, (await evaluate(bad)).status, (await evaluate(bad)).status]).toEqual([
      401, 401, 429,
    ]);
    const good = await evaluate(key.value);
    expect(good.status).toBe(200);
    expect(good.headers.get('x-ratelimit-remaining')).toBe('1');
  });
});
