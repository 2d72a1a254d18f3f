/**
 * Single sign-on (the FeatureOS model): an organization's integration signs a short-lived HS256
 * JWT with the organization's SSO secret, exchanged at POST /v1/auth/sso for a session, or sent
 * with an access token (API-KEY) to act on behalf of a member. A credential minted with
 * organization X's secret is good in X only, and SSO never takes over an existing account.
 */
import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { beforeAll, describe, expect, it } from 'vitest';
import { bearer, errorCode, graphql, request } from './helpers/client.js';
import { givenAccessToken } from './helpers/credentials.js';
import { givenFlag, givenProject, givenState } from './helpers/flags.js';
import { type GivenOrg, givenMember, givenOrg, uniqueEmail } from './helpers/givens.js';
import { startServer, type TestServer } from './helpers/server.js';
import { openSse } from './helpers/sse.js';
import { eventually } from './helpers/waiters.js';
import { subscribeWs } from './helpers/ws.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ AUTH_RATE_LIMIT: '10000', MANAGEMENT_RATE_LIMIT: '10000' });
});

const gql = (query: string, variables: Record<string, unknown>, headers: Record<string, string>) =>
  graphql(server.url, query, variables, headers);
const now = () => Math.floor(Date.now() / 1000);

/** An SSO JWT as an integration mints it: a fresh jti, two minutes of life, unless told otherwise. */
function sso(secret: string, claims: Record<string, unknown>, options: jwt.SignOptions = {}) {
  return jwt.sign({ jti: randomBytes(8).toString('hex'), exp: now() + 120, ...claims }, secret, {
    algorithm: 'HS256',
    ...options,
  });
}
const exchange = (token: string, base = server.url) => request(base, 'POST', '/v1/auth/sso', { body: { token } });

async function withSso(org: GivenOrg): Promise<string> {
  const r = await gql('mutation { rotateSsoSecret }', {}, org.auth);
  expect(r.errors).toBeUndefined();
  return r.data.rotateSsoSecret;
}
const count = async (sql: string, params: unknown[]) =>
  Number((await server.sql<{ n: string }>(`select count(*) as n from ${sql}`, params))[0]!.n);

describe('cross-organization takeover', () => {
  it("an attacker's organization cannot exchange an SSO JWT naming a victim's email: 403, nothing written", async () => {
    const victim = await givenOrg(server.url);
    const attacker = await givenOrg(server.url);
    const secret = await withSso(attacker);
    const before = {
      memberships: await count('memberships where user_id = ?', [victim.userId]),
      sessions: await count('refresh_tokens where user_id = ?', [victim.userId]),
      audit: await count('audit_entries where organization_id = ?', [attacker.organizationId]),
    };
    const token = sso(secret, { email: victim.email, org: attacker.slug });
    const res = await exchange(token);
    expect(res.status).toBe(403);
    expect(res.body.error).toMatch(/already has an account/);
    expect({
      memberships: await count('memberships where user_id = ?', [victim.userId]),
      sessions: await count('refresh_tokens where user_id = ?', [victim.userId]),
      audit: await count('audit_entries where organization_id = ?', [attacker.organizationId]),
    }).toEqual(before);
    // Not even the JWT's id was spent: the refusal wrote nothing at all.
    expect(await count('sso_token_uses where organization_id = ?', [attacker.organizationId])).toBe(0);
    // The victim's own organization is untouched and still theirs alone.
    const mine = await gql('{ myOrganizations { id } }', {}, victim.auth);
    expect(mine.data.myOrganizations).toEqual([{ id: victim.organizationId }]);
  });

  it("on behalf: the attacker's token with an SSO JWT naming the victim is refused with 401", async () => {
    const victim = await givenOrg(server.url);
    const attacker = await givenOrg(server.url);
    const secret = await withSso(attacker);
    const token = await givenAccessToken(server.url, attacker.auth, { kind: 'SERVICE', permissions: ['org:read'] });
    const r = await gql(
      '{ me { user { id } } }',
      {},
      {
        'api-key': token.data.createAccessToken.value,
        ...bearer(sso(secret, { email: victim.email })),
      },
    );
    expect(r.status).toBe(401);
    expect(r.errors?.[0]?.message).toMatch(/names no member/);
  });
});

describe('sessions from single sign-on are bound to their organization', () => {
  it('a member of X who signs in through X cannot switch out of X, sees only X, and refresh keeps it so', async () => {
    const x = await givenOrg(server.url);
    const person = await givenMember(server.url, x, 'developer'); // also owns an organization of their own
    const secret = await withSso(x);
    const res = await exchange(sso(secret, { email: person.email, org: x.slug }));
    expect(res.status).toBe(200);
    expect(res.body.organization.id).toBe(x.organizationId);
    const session = bearer(res.body.tokens.access_token);

    const theirOwn = (await gql('{ myOrganizations { id } }', {}, person.auth)).data.myOrganizations.find(
      (o: { id: string }) => o.id !== x.organizationId,
    ).id as string;
    const SWITCH = 'mutation($id: ID!) { switchOrganization(organizationId: $id) { organization { id } } }';
    const switched = await gql(SWITCH, { id: theirOwn }, session);
    expect(errorCode(switched)).toBe('FORBIDDEN');
    expect(switched.errors?.[0]?.message).toMatch(/single sign-on/);
    expect((await gql('{ myOrganizations { id } }', {}, session)).data.myOrganizations).toEqual([
      { id: x.organizationId },
    ]);

    const refreshed = await request(server.url, 'POST', '/v1/auth/refresh', {
      body: { refresh_token: res.body.tokens.refresh_token },
    });
    expect(refreshed.status).toBe(200);
    const later = bearer(refreshed.body.access_token);
    expect((await gql('{ organization { id } }', {}, later)).data.organization.id).toBe(x.organizationId);
    expect(errorCode(await gql(SWITCH, { id: theirOwn }, later))).toBe('FORBIDDEN');
    // Their own password session still moves between their organizations.
    expect((await gql(SWITCH, { id: theirOwn }, person.auth)).errors).toBeUndefined();
  });
});

describe('accounts that single sign-on created', () => {
  it('are managed by that organization: no password login, no other organization, no other SSO', async () => {
    const x = await givenOrg(server.url);
    const y = await givenOrg(server.url);
    const secret = await withSso(x);
    const email = uniqueEmail('managed');
    const res = await exchange(sso(secret, { email, name: 'Managed Person', org: x.slug }));
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ email, name: 'Managed Person' });
    const [user] = await server.sql<{ managed_by_organization_id: string; password_hash: string | null }>(
      'select managed_by_organization_id, password_hash from users where email = ?',
      [email],
    );
    expect(user).toEqual({ managed_by_organization_id: x.organizationId, password_hash: null });

    const login = await request(server.url, 'POST', '/v1/auth/login', { body: { email, password: 'anything-at-all' } });
    expect(login.status).toBe(401);
    const register = await request(server.url, 'POST', '/v1/auth/register', {
      body: { email, password: 'correct-horse-battery', name: 'Squatter', org_name: 'Squat' },
    });
    expect(register.status).toBe(409);

    const added = await gql(
      'mutation($e: String!) { addMember(email: $e, role: viewer) { role } }',
      { e: email },
      y.auth,
    );
    expect(errorCode(added)).toBe('FORBIDDEN');
    expect(added.errors?.[0]?.message).toMatch(/managed by the single sign-on of another organization/);
    const ySecret = await withSso(y);
    const viaY = await exchange(sso(ySecret, { email, org: y.slug }));
    expect(viaY.status).toBe(403);
    expect(await count('memberships m join users u on u.id = m.user_id where u.email = ?', [email])).toBe(1);

    // Their own organization can take them back after removing them.
    const userId = res.body.user.id as string;
    expect(
      (await gql('mutation($u: ID!) { removeMember(userId: $u) { role } }', { u: userId }, x.auth)).errors,
    ).toBeUndefined();
    const back = await gql(
      'mutation($e: String!) { addMember(email: $e, role: viewer) { role } }',
      { e: email },
      x.auth,
    );
    expect(back.errors).toBeUndefined();
  });
});

describe('SSO JWT rules', () => {
  let org: GivenOrg;
  let secret: string;
  let member: Awaited<ReturnType<typeof givenMember>>;
  beforeAll(async () => {
    org = await givenOrg(server.url);
    member = await givenMember(server.url, org, 'viewer');
    secret = await withSso(org);
  });
  const claims = () => ({ email: member.email, org: org.slug });

  it('works once: the same jti again is refused, on this node and on another', async () => {
    const token = sso(secret, claims());
    expect((await exchange(token)).status).toBe(200);
    const again = await exchange(token);
    expect(again.status).toBe(401);
    expect(again.body.error).toMatch(/already used/);
    const other = await startServer({ AUTH_RATE_LIMIT: '10000' }, { databaseUrl: server.databaseUrl });
    expect((await exchange(token, other.url)).status).toBe(401);
    const fresh = sso(secret, claims());
    expect((await exchange(fresh, other.url)).status).toBe(200);
    expect((await exchange(fresh)).status).toBe(401);
  });

  const refused: [string, () => string, RegExp][] = [
    ['no jti', () => jwt.sign({ ...claims(), exp: now() + 60 }, secret, { algorithm: 'HS256' }), /jti/],
    ['no exp', () => jwt.sign({ ...claims(), jti: 'no-exp-at-all' }, secret, { algorithm: 'HS256' }), /exp/],
    ['an exp an hour ahead', () => sso(secret, { ...claims(), exp: now() + 3600 }), /5 minutes/],
    ['an exp a minute past', () => sso(secret, { ...claims(), exp: now() - 60 }), /invalid or expired/],
    ['an nbf a minute ahead', () => sso(secret, { ...claims(), nbf: now() + 60 }), /invalid or expired/],
    ['an iat ten minutes ahead', () => sso(secret, { ...claims(), iat: now() + 600 }), /iat/],
    ['another algorithm', () => sso(secret, claims(), { algorithm: 'HS512' }), /invalid or expired/],
    ['another secret', () => sso('not-the-secret-at-all', claims()), /invalid or expired/],
  ];
  for (const [what, make, message] of refused) {
    it(`refuses ${what} with 401 and writes nothing`, async () => {
      const users = await count('users', []);
      const res = await exchange(make());
      expect(res.status).toBe(401);
      expect(res.body.error).toMatch(message);
      expect(await count('users', [])).toBe(users);
    });
  }

  it('tolerates 30 seconds of clock skew on exp', async () => {
    expect((await exchange(sso(secret, { ...claims(), exp: now() - 10 }))).status).toBe(200);
    expect((await exchange(sso(secret, { ...claims(), exp: now() + 320 }))).status).toBe(200);
  });

  const bad: [string, Record<string, unknown>][] = [
    ['an email with a NUL byte', { email: `a\u0000b@example.com` }],
    ['an email of 5000 characters', { email: `${'a'.repeat(5000)}@example.com` }],
    ['a name with a NUL byte', { email: uniqueEmail('nul'), name: 'Bad\u0000Name' }],
    ['a name of 10000 characters', { email: uniqueEmail('long'), name: 'n'.repeat(10_000) }],
    ['a jti of 1000 characters', { email: uniqueEmail('jti'), jti: 'j'.repeat(1000) }],
    ['a sub that is not a user id', { sub: 'not-a-uuid\u0000' }],
    ['an email that is not a string', { email: { $ne: null } }],
  ];
  for (const [what, extra] of bad) {
    it(`answers ${what} with a 4xx envelope and leaves no row`, async () => {
      const users = await count('users', []);
      const res = await exchange(sso(secret, { org: org.slug, ...extra }));
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(Object.keys(res.body).sort()).toEqual(['error', 'request_id']);
      expect(await count('users', [])).toBe(users);
    });
  }

  it('answers an org claim with a NUL byte or no org claim with 4xx', async () => {
    for (const orgClaim of ['bad\u0000slug', undefined, 'x'.repeat(5000)]) {
      const res = await exchange(sso(secret, { email: member.email, org: orgClaim }));
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
  });
});

describe('what an unauthenticated caller learns', () => {
  it('an organization without single sign-on answers as one that does not exist: no slug is confirmed', async () => {
    const org = await givenOrg(server.url);
    const claims = { email: uniqueEmail('probe') };
    const without = await exchange(sso('any-secret-at-all', { ...claims, org: org.slug }));
    const missing = await exchange(sso('any-secret-at-all', { ...claims, org: `no-such-${org.slug}` }));
    expect(without.status).toBe(401);
    expect(missing.status).toBe(401);
    expect(without.body.error).toBe(missing.body.error);
  });
});

describe('audience and issuer', () => {
  const SETTINGS = 'mutation($i: SsoSettingsInput!) { updateSsoSettings(input: $i) { ssoAudience ssoIssuer } }';

  it('only owners set them, audited; once set, exchange and on-behalf both check them', async () => {
    const org = await givenOrg(server.url);
    const member = await givenMember(server.url, org, 'viewer');
    const admin = await givenMember(server.url, org, 'admin');
    const secret = await withSso(org);
    const input = { audience: 'vexil-acme', issuer: 'https://idp.acme.example' };
    expect(errorCode(await gql(SETTINGS, { i: input }, admin.auth))).toBe('FORBIDDEN');
    const set = await gql(SETTINGS, { i: input }, org.auth);
    expect(set.data.updateSsoSettings).toEqual({ ssoAudience: 'vexil-acme', ssoIssuer: 'https://idp.acme.example' });
    const [entry] = await server.sql<{ details: unknown }>(
      "select details from audit_entries where organization_id = ? and action = 'sso.settings_updated'",
      [org.organizationId],
    );
    expect(entry!.details).toEqual(input);

    const base = { email: member.email, org: org.slug };
    expect((await exchange(sso(secret, base))).status).toBe(401);
    expect((await exchange(sso(secret, { ...base, aud: 'someone-else', iss: input.issuer }))).status).toBe(401);
    expect((await exchange(sso(secret, { ...base, aud: input.audience, iss: 'https://evil.example' }))).status).toBe(
      401,
    );
    expect((await exchange(sso(secret, { ...base, aud: input.audience, iss: input.issuer }))).status).toBe(200);

    const token = await givenAccessToken(server.url, org.auth, { kind: 'SERVICE', permissions: ['org:read'] });
    const onBehalf = (claims: Record<string, unknown>) => ({
      'api-key': token.data.createAccessToken.value,
      ...bearer(sso(secret, { email: member.email, ...claims })),
    });
    expect((await gql('{ me { kind } }', {}, onBehalf({}))).status).toBe(401);
    expect(
      (await gql('{ me { kind } }', {}, onBehalf({ aud: input.audience, iss: input.issuer }))).errors,
    ).toBeUndefined();

    // Cleared, they are no longer asked for.
    await gql(SETTINGS, { i: { audience: null, issuer: null } }, org.auth);
    expect((await exchange(sso(secret, base))).status).toBe(200);
  });

  it('refuses an audience or issuer with control characters or over 500 characters', async () => {
    const org = await givenOrg(server.url);
    for (const input of [{ audience: 'a\u0000b' }, { issuer: 'i'.repeat(501) }]) {
      const r = await gql(SETTINGS, { i: input }, org.auth);
      expect(errorCode(r)).toBe('VALIDATION');
    }
    const [row] = await server.sql<{ sso_audience: string | null }>(
      'select sso_audience from organizations where id = ?',
      [org.organizationId],
    );
    expect(row!.sso_audience).toBeNull();
  });
});

describe('acting on behalf of a member', () => {
  let org: GivenOrg;
  let secret: string;
  let dev: Awaited<ReturnType<typeof givenMember>>;
  let tokenValue: string;
  beforeAll(async () => {
    org = await givenOrg(server.url);
    dev = await givenMember(server.url, org, 'developer');
    secret = await withSso(org);
    const token = await givenAccessToken(server.url, org.auth, {
      kind: 'SERVICE',
      permissions: ['project:read', 'flag:read', 'flag:write'],
    });
    tokenValue = token.data.createAccessToken.value;
  });
  const headers = (ssoJwt: string) => ({ 'api-key': tokenValue, ...bearer(ssoJwt) });

  it('an SSO JWT is good for one request: the second answers 401, on any node', async () => {
    const once = sso(secret, { email: dev.email });
    expect((await gql('{ me { kind } }', {}, headers(once))).data.me.kind).toBe('on-behalf');
    const again = await gql('{ me { kind } }', {}, headers(once));
    expect(again.status).toBe(401);
    expect(again.errors?.[0]?.message).toMatch(/already used/);
    const other = await startServer({ MANAGEMENT_RATE_LIMIT: '10000' }, { databaseUrl: server.databaseUrl });
    expect((await graphql(other.url, '{ me { kind } }', {}, headers(once))).status).toBe(401);
  });

  it('the same rules as the exchange: jti and a short exp required', async () => {
    const noJti = jwt.sign({ email: dev.email, exp: now() + 60 }, secret, { algorithm: 'HS256' });
    const tooLong = sso(secret, { email: dev.email, exp: now() + 3600 });
    for (const bad of [noJti, tooLong]) expect((await gql('{ me { kind } }', {}, headers(bad))).status).toBe(401);
  });

  it('a refused on-behalf request does not spend the JWT', async () => {
    const stranger = sso(secret, { email: uniqueEmail('stranger') });
    expect((await gql('{ me { kind } }', {}, headers(stranger))).status).toBe(401);
    const payload = jwt.decode(stranger) as { jti: string };
    expect(await count('sso_token_uses where jti = ?', [payload.jti])).toBe(0);
  });

  it('a graphql-ws subscription lives on one SSO JWT and is checked again on every event; a second connection with it is refused', async () => {
    const project = await givenProject(server, org);
    const flag = await givenFlag(server, org, project);
    const credentials = headers(sso(secret, { email: dev.email }));
    const sub = subscribeWs(
      server.url,
      credentials,
      'subscription($p: ID!) { flagChanged(projectId: $p) { flagKey } }',
      { p: project.id },
    );
    await sub.connected;
    await eventually(async () => server.app.hub.openStreams >= 1);
    await givenState(server, org, flag.id, project.env.dev!, { on: true });
    const first = await sub.next();
    expect(first.errors).toBeUndefined();
    expect(first.data.flagChanged.flagKey).toBe(flag.key);
    await givenState(server, org, flag.id, project.env.staging!, { on: true });
    expect((await sub.next()).data.flagChanged.flagKey).toBe(flag.key);

    const replay = subscribeWs(
      server.url,
      credentials,
      'subscription($p: ID!) { flagChanged(projectId: $p) { flagKey } }',
      {
        p: project.id,
      },
    );
    expect(await Promise.race([replay.closeCode, replay.connected.then(() => 'accepted')])).toBe(4401);
    await sub.dispose();
  });

  it('a GraphQL-over-SSE subscription likewise lives on the JWT its request spent', async () => {
    const project = await givenProject(server, org);
    const flag = await givenFlag(server, org, project);
    const before = server.app.hub.openStreams;
    const stream = await openSse(`${server.url}/graphql`, {
      method: 'POST',
      headers: { ...headers(sso(secret, { email: dev.email })), 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'subscription($p: ID!) { flagChanged(projectId: $p) { flagKey } }',
        variables: { p: project.id },
      }),
    });
    expect(stream.status).toBe(200);
    await eventually(async () => server.app.hub.openStreams > before);
    await givenState(server, org, flag.id, project.env.dev!, { on: true });
    const event = await stream.next();
    expect(event.json.errors).toBeUndefined();
    expect(event.json.data.flagChanged.flagKey).toBe(flag.key);
    stream.close();
  });
});
