import { beforeAll, describe, expect, it } from 'vitest';
import { generateKey, parseKey } from '../src/auth/keys.js';
import { ManualClock } from '../src/clock.js';
import { errorCode, graphql, request } from './helpers/client.js';
import { environmentsOf, givenSdkKey } from './helpers/credentials.js';
import { environmentVersions } from './helpers/flags.js';
import { type GivenOrg, givenMember, givenOrg } from './helpers/givens.js';
import { startServer, type TestServer } from './helpers/server.js';

let server: TestServer;
const clock = new ManualClock();
beforeAll(async () => {
  server = await startServer(
    { AUTH_RATE_LIMIT: '10000', MANAGEMENT_RATE_LIMIT: '10000', EVALUATION_RATE_LIMIT: '100000' },
    { clock },
  );
});

const clientFlags = (envKey: string, headers: Record<string, string> = {}) =>
  request(server.url, 'GET', `/v1/client/${envKey}/flags`, { headers });

const REVOKE =
  'mutation($id: ID!, $g: Int!) { revokeSdkKey(id: $id, graceMinutes: $g) { id active revokedAt expiresAt } }';

describe('key format', () => {
  it('has the kind prefix, 30 random base62 characters and a CRC32 checksum checkable offline', () => {
    for (const kind of ['server', 'mobile', 'client', 'personal', 'service'] as const) {
      const key = generateKey(kind);
      expect(key).toMatch(/^vx_(srv|mob|cs|pat|sat)_[0-9A-Za-z]{36}$/);
      expect(parseKey(key)).toBe(kind);
      // One changed character anywhere breaks the checksum: a scanner can tell noise from a key.
      const flipped = key.slice(0, 10) + (key[10] === 'a' ? 'b' : 'a') + key.slice(11);
      expect(parseKey(flipped)).toBeNull();
    }
    expect(generateKey('server')).not.toBe(generateKey('server'));
  });
});

describe('SDK keys', () => {
  let org: GivenOrg;
  let envs: Awaited<ReturnType<typeof environmentsOf>>;
  beforeAll(async () => {
    org = await givenOrg(server.url);
    envs = await environmentsOf(server.url, org);
  });

  it('shows the value once and stores only its SHA-256; later reads are masked', async () => {
    const created = await givenSdkKey(server.url, org, envs.byKey.dev!.id);
    expect(created.value).toMatch(/^vx_srv_/);
    expect(created.key.masked).toBe(`vx_srv_…${created.value.slice(-4)}`);
    const rows = await server.sql<{ key_hash: string }>('select key_hash from sdk_keys where id = ?', [created.key.id]);
    expect(rows[0]!.key_hash).toMatch(/^[0-9a-f]{64}$/);
    const dump = JSON.stringify(await server.sql('select * from sdk_keys where id = ?', [created.key.id]));
    expect(dump).not.toContain(created.value);
    const listed = await graphql(
      server.url,
      '{ project(slug: "default") { environments { sdkKeys { id masked kind createdAt createdBy { email } lastUsedAt revokedAt expiresAt } } } }',
      {},
      org.auth,
    );
    expect(JSON.stringify(listed.data)).not.toContain(created.value);
    const mine = listed.data.project.environments
      .flatMap((e: { sdkKeys: { id: string }[] }) => e.sdkKeys)
      .find((k: { id: string }) => k.id === created.key.id);
    expect(mine).toMatchObject({
      masked: created.key.masked,
      kind: 'SERVER',
      createdBy: { email: org.email },
      revokedAt: null,
    });
  });

  it('authenticates an SDK request from memory, and records last use off the request path', async () => {
    const { value, key } = await givenSdkKey(server.url, org, envs.byKey.staging!.id);
    const res = await clientFlags(envs.byKey.staging!.clientSideId, { 'x-api-key': value });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      flags: {},
      version: (await environmentVersions(server, [envs.byKey.staging!.id]))[envs.byKey.staging!.id],
    });
    expect(res.headers.get('cache-control')).toBe('no-store');
    const before = await server.sql<{ last_used_at: Date | null }>('select last_used_at from sdk_keys where id = ?', [
      key.id,
    ]);
    expect(before[0]!.last_used_at).toBeNull();
    // The request did not write; the periodic writer does (forced here instead of waiting 10 s).
    await server.app.keyCache.flushLastUsed();
    const after = await server.sql<{ last_used_at: Date | null }>('select last_used_at from sdk_keys where id = ?', [
      key.id,
    ]);
    expect(after[0]!.last_used_at).not.toBeNull();
  });

  it('answers 401 "API key is invalid" for a missing, malformed or unknown key', async () => {
    const cs = envs.byKey.dev!.clientSideId;
    for (const bad of ['nope', generateKey('server'), `vx_srv_${'A'.repeat(36)}`]) {
      const res = await clientFlags(cs, { 'x-api-key': bad });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('API key is invalid');
      expect(res.body.request_id).toBe(res.headers.get('x-request-id'));
    }
    expect((await clientFlags('vx_cs_unknown')).status).toBe(401);
  });

  it('keeps several server keys active at once (rotate by addition)', async () => {
    const a = await givenSdkKey(server.url, org, envs.byKey.production!.id);
    const b = await givenSdkKey(server.url, org, envs.byKey.production!.id, 'MOBILE');
    const cs = envs.byKey.production!.clientSideId;
    expect((await clientFlags(cs, { 'x-api-key': a.value })).status).toBe(200);
    expect((await clientFlags(cs, { 'x-api-key': b.value })).status).toBe(200);
    expect(b.value).toMatch(/^vx_mob_/);
  });

  it('revoke with grace: the key works until the grace ends, then answers 401', async () => {
    const { value, key } = await givenSdkKey(server.url, org, envs.byKey.dev!.id);
    const cs = envs.byKey.dev!.clientSideId;
    const revoked = await graphql(server.url, REVOKE, { id: key.id, g: 15 }, org.auth);
    expect(revoked.errors).toBeUndefined();
    expect(revoked.data.revokeSdkKey.active).toBe(true);
    expect(new Date(revoked.data.revokeSdkKey.expiresAt).getTime()).toBe(clock.now() + 15 * 60_000);
    expect((await clientFlags(cs, { 'x-api-key': value })).status).toBe(200);
    clock.advance(14 * 60_000);
    expect((await clientFlags(cs, { 'x-api-key': value })).status).toBe(200);
    clock.advance(60_001);
    const after = await clientFlags(cs, { 'x-api-key': value });
    expect(after.status).toBe(401);
    expect(after.body.error).toBe('API key is invalid');
  });

  it('revoke with 0 grace stops the key at once; other grace values are refused', async () => {
    const { value, key } = await givenSdkKey(server.url, org, envs.byKey.dev!.id);
    for (const g of [1, 10, 45, -15, 2000]) {
      const r = await graphql(server.url, REVOKE, { id: key.id, g }, org.auth);
      expect(errorCode(r)).toBe('VALIDATION');
    }
    const [row] = await server.sql<{ revoked_at: Date | null }>('select revoked_at from sdk_keys where id = ?', [
      key.id,
    ]);
    expect(row!.revoked_at).toBeNull();
    await graphql(server.url, REVOKE, { id: key.id, g: 0 }, org.auth);
    expect((await clientFlags(envs.byKey.dev!.clientSideId, { 'x-api-key': value })).status).toBe(401);
  });

  it('rotate all: one new key per active server key, the old ones revoked with the grace given', async () => {
    const o = await givenOrg(server.url);
    const e = await environmentsOf(server.url, o);
    const env = e.byKey.staging!;
    const old1 = await givenSdkKey(server.url, o, env.id);
    const old2 = await givenSdkKey(server.url, o, env.id);
    const rotated = await graphql(
      server.url,
      'mutation($e: ID!) { rotateServerKeys(environmentId: $e, graceMinutes: 60) { value key { id kind } } }',
      { e: env.id },
      o.auth,
    );
    expect(rotated.errors).toBeUndefined();
    expect(rotated.data.rotateServerKeys).toHaveLength(2);
    const fresh: string[] = rotated.data.rotateServerKeys.map((k: { value: string }) => k.value);
    expect(fresh.every((v) => v.startsWith('vx_srv_') && v !== old1.value && v !== old2.value)).toBe(true);
    for (const v of [...fresh, old1.value, old2.value])
      expect((await clientFlags(env.clientSideId, { 'x-api-key': v })).status).toBe(200);
    clock.advance(61 * 60_000);
    for (const v of fresh) expect((await clientFlags(env.clientSideId, { 'x-api-key': v })).status).toBe(200);
    for (const v of [old1.value, old2.value])
      expect((await clientFlags(env.clientSideId, { 'x-api-key': v })).status).toBe(401);
  });
});

describe('client-side ID', () => {
  let org: GivenOrg;
  let envs: Awaited<ReturnType<typeof environmentsOf>>;
  beforeAll(async () => {
    org = await givenOrg(server.url);
    envs = await environmentsOf(server.url, org);
  });

  it('every environment has exactly one, fixed: it cannot be created, revoked or rotated', async () => {
    for (const env of Object.values(envs.byKey)) expect(env.clientSideId).toMatch(/^vx_cs_/);
    const create = await graphql(
      server.url,
      'mutation($e: ID!) { createSdkKey(environmentId: $e, kind: CLIENT) { value } }',
      { e: envs.byKey.dev!.id },
      org.auth,
    );
    expect(errorCode(create)).toBe('VALIDATION');
    const [cs] = await server.sql<{ id: string }>(
      "select id from sdk_keys where environment_id = ? and kind = 'client'",
      [envs.byKey.dev!.id],
    );
    const revoke = await graphql(server.url, REVOKE, { id: cs!.id, g: 0 }, org.auth);
    expect(errorCode(revoke)).toBe('VALIDATION');
    expect(revoke.errors![0]!.message).toMatch(/cannot be created, revoked or rotated/);
    const count = await server.sql(
      "select 1 from sdk_keys where environment_id = ? and kind = 'client' and revoked_at is null",
      [envs.byKey.dev!.id],
    );
    expect(count).toHaveLength(1);
    expect((await clientFlags(envs.byKey.dev!.clientSideId)).status).toBe(200);
  });

  it('allows listed origins with CORS headers, rejects others with 403, and reports * as unsafe', async () => {
    const env = envs.byKey.dev!;
    const set = await graphql(
      server.url,
      'mutation($e: ID!, $o: [String!]!) { setAuthorizedOrigins(environmentId: $e, origins: $o) { authorizedOrigins unsafeOrigins } }',
      { e: env.id, o: ['https://app.example.com', 'https://staging.example.com/'] },
      org.auth,
    );
    expect(set.data.setAuthorizedOrigins).toEqual({
      authorizedOrigins: ['https://app.example.com', 'https://staging.example.com'],
      unsafeOrigins: false,
    });

    const allowed = await clientFlags(env.clientSideId, { origin: 'https://app.example.com' });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(allowed.headers.get('vary')).toContain('Origin');

    const rejected = await clientFlags(env.clientSideId, { origin: 'https://evil.example.net' });
    expect(rejected.status).toBe(403);
    expect(rejected.body.error).toMatch(/origin/);
    expect(rejected.headers.get('access-control-allow-origin')).toBeNull();

    const preflight = await request(server.url, 'OPTIONS', `/v1/client/${env.clientSideId}/flags`, {
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/X-API-Key/i);

    const star = await graphql(
      server.url,
      'mutation($e: ID!) { setAuthorizedOrigins(environmentId: $e, origins: ["*"]) { unsafeOrigins } }',
      { e: env.id },
      org.auth,
    );
    expect(star.data.setAuthorizedOrigins.unsafeOrigins).toBe(true);
    expect((await clientFlags(env.clientSideId, { origin: 'https://anything.example.org' })).status).toBe(200);

    const bad = await graphql(
      server.url,
      'mutation($e: ID!) { setAuthorizedOrigins(environmentId: $e, origins: ["https://x.com/path"]) { unsafeOrigins } }',
      { e: env.id },
      org.auth,
    );
    expect(errorCode(bad)).toBe('VALIDATION');
  });

  it('a server key of another environment is refused on a client-side route (403)', async () => {
    const key = await givenSdkKey(server.url, org, envs.byKey.production!.id);
    const res = await clientFlags(envs.byKey.dev!.clientSideId, { 'x-api-key': key.value });
    expect(res.status).toBe(403);
  });
});

describe('roles', () => {
  it("admins and owners manage keys; every role sees the masked list (the reference's Read group)", async () => {
    const org = await givenOrg(server.url);
    const envs = await environmentsOf(server.url, org);
    const admin = await givenMember(server.url, org, 'admin');
    const dev = await givenMember(server.url, org, 'developer');
    const viewer = await givenMember(server.url, org, 'viewer');
    const create = 'mutation($e: ID!) { createSdkKey(environmentId: $e, kind: SERVER) { value } }';
    expect((await graphql(server.url, create, { e: envs.byKey.dev!.id }, admin.auth)).errors).toBeUndefined();
    expect(errorCode(await graphql(server.url, create, { e: envs.byKey.dev!.id }, dev.auth))).toBe('FORBIDDEN');
    expect(errorCode(await graphql(server.url, create, { e: envs.byKey.dev!.id }, viewer.auth))).toBe('FORBIDDEN');
    const list = '{ project(slug: "default") { environments { key sdkKeys { masked } } } }';
    const seenByDev = await graphql(server.url, list, {}, dev.auth);
    expect(seenByDev.errors).toBeUndefined();
    expect(seenByDev.data.project.environments[0].sdkKeys.length).toBeGreaterThan(0);
    const seenByViewer = await graphql(server.url, list, {}, viewer.auth);
    expect(seenByViewer.errors).toBeUndefined();
    expect(seenByViewer.data).toEqual(seenByDev.data);
  });
});
