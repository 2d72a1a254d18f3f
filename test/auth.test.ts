import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { request } from './helpers/client.js';
import { givenOrg, uniqueEmail } from './helpers/givens.js';
import { startServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ AUTH_RATE_LIMIT: '1000' });
});

const post = (path: string, body: unknown, headers?: Record<string, string>) =>
  request(server.url, 'POST', path, { body, headers });

const count = async (table: string, where = 'true', params: unknown[] = []) =>
  Number((await server.sql<{ n: string }>(`select count(*) as n from ${table} where ${where}`, params))[0]!.n);

function expectEnvelope(res: { status: number; headers: Headers; body: any }, status: number, message?: RegExp) {
  expect(res.status).toBe(status);
  expect(Object.keys(res.body).sort()).toEqual(['error', 'request_id']);
  expect(res.body.request_id).toBe(res.headers.get('x-request-id'));
  if (message) expect(res.body.error).toMatch(message);
}

describe('POST /v1/auth/register', () => {
  it('creates the user as owner, the organization, the Default project and dev/staging/production in one go', async () => {
    const email = uniqueEmail();
    const res = await post('/v1/auth/register', {
      email: `  ${email.toUpperCase()} `,
      password: 'securepassword',
      name: 'Admin User',
      org_name: 'My Company',
    });
    expect(res.status).toBe(201);
    expect(res.body.user).toMatchObject({ email, name: 'Admin User' });
    expect(res.body.user.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(res.body.organization).toMatchObject({ name: 'My Company' });
    expect(res.body.organization.slug).toMatch(/^my-company(-\d+)?$/);
    expect(res.body.tokens.access_token).toMatch(/^eyJ/);
    expect(res.body.tokens.refresh_token).toMatch(/^eyJ/);
    expect(res.body.tokens.expires_at).toBeGreaterThan(Date.now() / 1000 + 55 * 60);
    expect(res.headers.get('cache-control')).toBe('private, no-cache');

    const orgId = res.body.organization.id;
    const [membership] = await server.sql<{ role: string }>('select role from memberships where organization_id = ?', [
      orgId,
    ]);
    expect(membership?.role).toBe('owner');
    const envs = await server.sql<{ key: string; slug: string; name: string }>(
      'select e.key, p.slug, p.name from environments e join projects p on p.id = e.project_id where p.organization_id = ? order by e.sort_order',
      [orgId],
    );
    expect(envs.map((e) => e.key)).toEqual(['dev', 'staging', 'production']);
    expect(envs.every((e) => e.slug === 'default' && e.name === 'Default')).toBe(true);
    const [user] = await server.sql<{ password_hash: string }>('select password_hash from users where email = ?', [
      email,
    ]);
    expect(user?.password_hash).toMatch(/^scrypt\$/);
  });

  it('derives a unique slug when the organization name is taken', async () => {
    const a = await givenOrg(server.url, 'Same Name Ltd');
    const b = await givenOrg(server.url, 'Same Name Ltd');
    expect(a.slug).not.toBe(b.slug);
    expect(b.slug).toMatch(/^same-name-ltd-\d+$/);
  });

  it('answers 409 for an email that is already registered, and writes nothing', async () => {
    const org = await givenOrg(server.url);
    const before = await count('organizations');
    const res = await post('/v1/auth/register', {
      email: org.email.toUpperCase(),
      password: 'another-password',
      name: 'X',
      org_name: 'Dup Org',
    });
    expectEnvelope(res, 409, /already registered/);
    expect(await count('organizations')).toBe(before);
  });

  const bad: [string, unknown, number, RegExp][] = [
    ['a short password', { email: uniqueEmail(), password: 'short', name: 'N', org_name: 'O' }, 400, /at least 8/],
    ['a bad email', { email: 'not-an-email', password: 'longenough', name: 'N', org_name: 'O' }, 400, /email/],
    [
      'an unknown field',
      { email: uniqueEmail(), password: 'longenough', name: 'N', org_name: 'O', plan: 'pro' },
      400,
      /unknown field "plan"/,
    ],
    ['a missing field', { email: uniqueEmail(), password: 'longenough', name: 'N' }, 400, /org_name/],
    [
      'a field of the wrong type',
      { email: uniqueEmail(), password: 12345678, name: 'N', org_name: 'O' },
      400,
      /password/,
    ],
    ['an empty name', { email: uniqueEmail(), password: 'longenough', name: '  ', org_name: 'O' }, 400, /name/],
  ];
  for (const [what, body, status, message] of bad) {
    it(`refuses ${what} with ${status} and leaves no row behind`, async () => {
      const before = [await count('users'), await count('organizations'), await count('projects')];
      const res = await post('/v1/auth/register', body);
      expectEnvelope(res, status, message);
      expect([await count('users'), await count('organizations'), await count('projects')]).toEqual(before);
    });
  }

  it('refuses a body that is not application/json with 415', async () => {
    const before = await count('users');
    const res = await request(server.url, 'POST', '/v1/auth/register', {
      rawBody: 'email=a@b.co&password=longenough',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expectEnvelope(res, 415, /application\/json/);
    expect(await count('users')).toBe(before);
  });

  it('refuses malformed JSON with 400', async () => {
    const before = await count('users');
    const res = await request(server.url, 'POST', '/v1/auth/register', {
      rawBody: '{"email": "a@b.co", "password": ',
      headers: { 'content-type': 'application/json' },
    });
    expectEnvelope(res, 400, /not valid JSON/);
    expect(await count('users')).toBe(before);
  });
});

describe('POST /v1/auth/login', () => {
  it('returns the user and a token pair', async () => {
    const org = await givenOrg(server.url);
    const res = await post('/v1/auth/login', { email: org.email, password: org.password });
    expect(res.status).toBe(200);
    expect(res.body.user).toEqual({ id: org.userId, email: org.email, name: 'Test Owner' });
    expect(Object.keys(res.body.tokens).sort()).toEqual(['access_token', 'expires_at', 'refresh_token']);
  });

  it('answers the same 401 for a wrong password and an unknown email', async () => {
    const org = await givenOrg(server.url);
    const wrongPassword = await post('/v1/auth/login', { email: org.email, password: 'not-the-password' });
    const unknownEmail = await post('/v1/auth/login', { email: uniqueEmail(), password: org.password });
    expectEnvelope(wrongPassword, 401);
    expectEnvelope(unknownEmail, 401);
    expect(wrongPassword.body.error).toBe('invalid credentials');
    expect(unknownEmail.body.error).toBe('invalid credentials');
  });
});

describe('POST /v1/auth/refresh', () => {
  it('rotates: each refresh token works once, and reusing one revokes its whole family', async () => {
    const org = await givenOrg(server.url);
    const first = await post('/v1/auth/refresh', { refresh_token: org.refreshToken });
    expect(first.status).toBe(200);
    expect(Object.keys(first.body).sort()).toEqual(['access_token', 'expires_at', 'refresh_token']);
    expect(first.body.refresh_token).not.toBe(org.refreshToken);

    // The original token was already used: this is what a thief replaying it looks like.
    const replay = await post('/v1/auth/refresh', { refresh_token: org.refreshToken });
    expectEnvelope(replay, 401);

    // The family is revoked: even the newest, never-used token no longer works.
    const next = await post('/v1/auth/refresh', { refresh_token: first.body.refresh_token });
    expectEnvelope(next, 401);
    const rows = await server.sql<{ revoked_at: Date | null }>(
      'select revoked_at from refresh_tokens where user_id = ?',
      [org.userId],
    );
    expect(rows.length).toBe(2);
    expect(rows.every((r) => r.revoked_at !== null)).toBe(true);
  });

  it('refuses an access token or garbage presented as a refresh token', async () => {
    const org = await givenOrg(server.url);
    expectEnvelope(await post('/v1/auth/refresh', { refresh_token: org.accessToken }), 401);
    expectEnvelope(await post('/v1/auth/refresh', { refresh_token: 'eyJ.nope.x' }), 401);
  });
});

describe('HTTP conventions', () => {
  it('honours an incoming X-Request-Id in the header and the envelope', async () => {
    const res = await post(
      '/v1/auth/login',
      { email: 'x@example.com', password: 'whatever1' },
      { 'x-request-id': 'trace-abc-123' },
    );
    expect(res.headers.get('x-request-id')).toBe('trace-abc-123');
    expect(res.body.request_id).toBe('trace-abc-123');
  });

  it('answers unknown routes with a 404 envelope', async () => {
    expectEnvelope(await request(server.url, 'GET', '/v1/nope'), 404);
  });

  it('gzips when asked', async () => {
    const res = await fetch(`${server.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip' },
      body: JSON.stringify({ email: 'x@example.com', password: 'whatever1' }),
      // fetch would decompress transparently; read the raw bytes through a Node request instead.
    });
    expect(res.headers.get('content-encoding')).toBe('gzip');
    const raw = await new Promise<Buffer>((resolve, reject) => {
      import('node:http').then(({ request: httpRequest }) => {
        const req = httpRequest(`${server.url}/healthz`, { headers: { 'accept-encoding': 'gzip' } }, (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => resolve(Buffer.concat(chunks)));
        });
        req.on('error', reject);
        req.end();
      });
    });
    expect(JSON.parse(gunzipSync(raw).toString())).toEqual({ status: 'ok' });
  });

  it('reports health and readiness', async () => {
    expect((await request(server.url, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await request(server.url, 'GET', '/readyz')).body).toEqual({ status: 'ready' });
  });
});

describe('rate limits on login and register', () => {
  it('answers 429 with the X-RateLimit headers once the per-IP budget is spent', async () => {
    const limited = await startServer({ AUTH_RATE_LIMIT: '3' }, { databaseUrl: server.databaseUrl });
    const attempt = () =>
      request(limited.url, 'POST', '/v1/auth/login', { body: { email: 'a@example.com', password: 'whatever1' } });
    const first = await attempt();
    expect(first.headers.get('x-ratelimit-limit')).toBe('3');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('2');
    const reset = Number(first.headers.get('x-ratelimit-reset'));
    expect(reset).toBeGreaterThan(Date.now() / 1000);
    expect(reset).toBeLessThanOrEqual(Date.now() / 1000 + 61);
    await attempt();
    await attempt();
    const blocked = await attempt();
    expectEnvelope(blocked, 429, /rate limit/);
    expect(blocked.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(blocked.headers.get('x-ratelimit-reset'))).toBe(reset);
    const register = await request(limited.url, 'POST', '/v1/auth/register', {
      body: { email: uniqueEmail(), password: 'longenough', name: 'N', org_name: 'O' },
    });
    expect(register.status).toBe(429);
  });
});
