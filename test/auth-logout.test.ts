import { beforeAll, describe, expect, it } from 'vitest';
import { request } from './helpers/client.js';
import { givenOrg } from './helpers/givens.js';
import { startServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ AUTH_RATE_LIMIT: '1000' });
});

const post = (path: string, body: unknown) => request(server.url, 'POST', path, { body });

describe('POST /v1/auth/logout', () => {
  it('ends the refresh-token family: neither the presented token nor one rotated from it refreshes again', async () => {
    const org = await givenOrg(server.url);
    const rotated = await post('/v1/auth/refresh', { refresh_token: org.refreshToken });
    expect(rotated.status).toBe(200);

    const out = await post('/v1/auth/logout', { refresh_token: rotated.body.refresh_token });
    expect(out.status).toBe(204);
    expect(out.body).toBeUndefined();

    const after = await post('/v1/auth/refresh', { refresh_token: rotated.body.refresh_token });
    expect(after.status).toBe(401);
    const rows = await server.sql<{ revoked_at: Date | null }>(
      'select revoked_at from refresh_tokens where user_id = ?',
      [org.userId],
    );
    expect(rows.length).toBe(2);
    expect(rows.every((r) => r.revoked_at !== null)).toBe(true);
  });

  it('leaves other sessions of the same person alone', async () => {
    const org = await givenOrg(server.url);
    const second = await post('/v1/auth/login', { email: org.email, password: org.password });
    expect(second.status).toBe(200);
    expect((await post('/v1/auth/logout', { refresh_token: org.refreshToken })).status).toBe(204);
    const still = await post('/v1/auth/refresh', { refresh_token: second.body.tokens.refresh_token });
    expect(still.status).toBe(200);
  });

  it('refuses an access token or garbage with 401 and revokes nothing', async () => {
    const org = await givenOrg(server.url);
    for (const token of [org.accessToken, 'eyJ.nope.x']) {
      const res = await post('/v1/auth/logout', { refresh_token: token });
      expect(res.status).toBe(401);
      expect(Object.keys(res.body).sort()).toEqual(['error', 'request_id']);
    }
    expect((await post('/v1/auth/logout', {})).status).toBe(400);
    const revoked = await server.sql('select 1 from refresh_tokens where user_id = ? and revoked_at is not null', [
      org.userId,
    ]);
    expect(revoked.length).toBe(0);
  });
});
