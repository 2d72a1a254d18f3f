import { beforeAll, describe, expect, it } from 'vitest';
import { request } from './helpers/client.js';
import { givenSdkKey } from './helpers/credentials.js';
import { givenFlag, givenState } from './helpers/flags.js';
import { type Call, expectEnvelope, givenTeam, restClient, type Team } from './helpers/rest.js';
import { snapshotsCaughtUp } from './helpers/sdk.js';
import { startServer, type TestServer } from './helpers/server.js';
import { eventually } from './helpers/waiters.js';
import { givenReceiver } from './helpers/webhook-receiver.js';
import { WEBHOOK_TEST_SETTINGS } from './helpers/webhooks.js';

// /v1/webhooks/* and /v1/metrics/* of the reference (Admin: owners and admins), each route a
// GraphQL operation of the same schema.

let server: TestServer;
let team: Team;
let call: Call;

beforeAll(async () => {
  server = await startServer({ ...WEBHOOK_TEST_SETTINGS, EVALUATION_RATE_LIMIT: '100000' });
  team = await givenTeam(server.url);
  call = restClient(server.url);
});

describe('/v1/webhooks', () => {
  it('creates (secret once), lists, reads, updates, pings, logs, redelivers and deletes', async () => {
    const receiver = await givenReceiver();
    const admin = team.as.admin.auth;
    const created = await call('POST', '/v1/webhooks', admin, {
      url: receiver.url,
      event_types: ['flag.created'],
      description: 'over REST',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      url: receiver.url,
      event_types: ['flag.created'],
      active: true,
      project_ids: null,
    });
    expect(created.body.secret).toMatch(/^whsec_/);
    receiver.secrets.push(created.body.secret);
    const id = created.body.id as string;

    const listed = await call('GET', '/v1/webhooks', admin);
    expect(listed.body).toMatchObject({ total: 1, has_more: false });
    expect(listed.body.data[0]).not.toHaveProperty('secret');
    expect((await call('GET', `/v1/webhooks/${id}`, admin)).body.description).toBe('over REST');

    const updated = await call('PUT', `/v1/webhooks/${id}`, admin, { event_types: ['flag.*'] });
    expect(updated.body.event_types).toEqual(['flag.*']);

    const ping = await call('POST', `/v1/webhooks/${id}/test`, admin);
    expect(ping.status).toBe(200);
    expect(ping.body).toMatchObject({ event_type: 'webhook.ping', status: 'delivered', attempts: 1 });
    expect(ping.body.attempt_log[0]).toMatchObject({ attempt: 1, status_code: 200, response_body: 'ok' });

    await givenFlag(server, team.org, { id: team.projectId, env: team.env });
    const log = await eventually(async () => {
      const r = await call('GET', `/v1/webhooks/${id}/deliveries?status=delivered`, admin);
      return r.body.total === 2 ? r.body : null;
    });
    const change = log.data.find((d: { event_type: string }) => d.event_type === 'flag.created');
    expect(change.payload.data.action).toBe('flag.created');

    const again = await call('POST', `/v1/webhooks/deliveries/${change.id}/redeliver`, admin);
    expect(again.body).toMatchObject({ status: 'pending', event_id: change.event_id });
    await receiver.waitForVerified(3);

    const rotated = await call('POST', `/v1/webhooks/${id}/rotate-secret`, admin, { overlap_minutes: 0 });
    expect(rotated.body.secret).not.toBe(created.body.secret);
    expect((await call('DELETE', `/v1/webhooks/${id}`, admin)).status).toBe(204);
    expectEnvelope(await call('GET', `/v1/webhooks/${id}`, admin), 404);
  });

  it('is Admin: developers and viewers get 403, and a private target 400', async () => {
    for (const role of ['developer', 'viewer'] as const) {
      expectEnvelope(await call('GET', '/v1/webhooks', team.as[role].auth), 403);
    }
    const strict = await startServer({ AUTH_RATE_LIMIT: '1000' });
    const owner = await givenTeam(strict.url);
    const refused = await restClient(strict.url)('POST', '/v1/webhooks', owner.org.auth, {
      url: 'http://169.254.169.254/latest/meta-data/',
      event_types: ['flag.*'],
    });
    expectEnvelope(refused, 400, /^url refused: 169\.254\.169\.254 resolves to 169\.254\.169\.254 \(linkLocal\)/);
    await strict.close();
  });
});

describe('/v1/metrics', () => {
  it('answers evaluation counts that add up to the evaluations made, and impressions by flag and variation', async () => {
    const flag = await givenFlag(server, team.org, { id: team.projectId, env: team.env });
    await givenState(server, team.org, flag.id, team.env.dev!, { on: true, fallthrough: { variation: 1 } });
    await snapshotsCaughtUp(server, [team.env.dev!]);
    const key = (await givenSdkKey(server.url, team.org, team.env.dev!)).value;
    for (let i = 0; i < 4; i++) {
      const r = await request(server.url, 'POST', '/v1/evaluate', {
        body: { flag_key: flag.key, context: { key: `r-${i}` } },
        headers: { 'x-api-key': key },
      });
      expect(r.status).toBe(200);
    }
    await request(server.url, 'POST', '/v1/track', {
      headers: { 'x-api-key': key },
      body: { events: [{ kind: 'impression', flag_key: flag.key, variation: 1, context_key: 'r-0' }] },
    });
    await server.app.sdkMetrics.flush();
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const range = `project_id=${team.projectId}&from=${from}&to=${to}&flag_keys=${flag.key}`;
    const counts = await call('GET', `/v1/metrics/evaluations?${range}&bucket=minute`, team.as.admin.auth);
    expect(counts.status, JSON.stringify(counts.body)).toBe(200);
    expect(counts.body.bucket).toBe('minute');
    expect(counts.body.series).toEqual([
      expect.objectContaining({ environment_key: 'dev', flag_key: flag.key, variation: 1, total: 4 }),
    ]);
    const impressions = await call('GET', `/v1/metrics/impressions?${range}&kind=impression`, team.as.admin.auth);
    expect(impressions.body.series).toEqual([
      expect.objectContaining({ kind: 'impression', flag_key: flag.key, variation: 1, event_key: null, total: 1 }),
    ]);
    expectEnvelope(await call('GET', `/v1/metrics/evaluations?${range}`, team.as.developer.auth), 403);

    // The flag is in use: deleting it over REST asks for force.
    const path = `/v1/projects/${team.projectId}/flags/${flag.key}`;
    expectEnvelope(await call('DELETE', path, team.as.admin.auth), 409, /evaluated within the last hour/);
    expect((await call('DELETE', `${path}?force=true`, team.as.admin.auth)).status).toBe(204);
  });
});
