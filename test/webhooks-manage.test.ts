import { beforeAll, describe, expect, it } from 'vitest';
import { errorCode, graphql, request } from './helpers/client.js';
import { environmentsOf, givenAccessToken } from './helpers/credentials.js';
import { type GivenProject, givenFlag, givenSegment, givenState } from './helpers/flags.js';
import { type GivenOrg, givenMember, givenOrg } from './helpers/givens.js';
import { startServer, type TestServer } from './helpers/server.js';
import { eventually } from './helpers/waiters.js';
import { givenReceiver } from './helpers/webhook-receiver.js';
import {
  CREATE_WEBHOOK,
  defaultProjectOf,
  deliveredLog,
  deliveriesOf,
  givenWebhook,
  WEBHOOK_TEST_SETTINGS,
} from './helpers/webhooks.js';

// Managing webhooks: who may, what a webhook may be narrowed to, the secret shown once, the
// delivery log and redelivery.

let server: TestServer;
let owner: GivenOrg;
let project: GivenProject;

beforeAll(async () => {
  server = await startServer({
    ...WEBHOOK_TEST_SETTINGS,
  });
  owner = await givenOrg(server.url);
  project = await defaultProjectOf(server.url, owner);
});

const LIST = '{ webhooks { total data { id url eventTypes active } } }';

describe('who manages webhooks', () => {
  it('admins and owners (webhook:manage); developers and viewers are refused, and read none', async () => {
    const receiver = await givenReceiver();
    await givenWebhook(server.url, owner.auth, receiver);
    const admin = await givenMember(server.url, owner, 'admin');
    expect((await graphql(server.url, LIST, {}, admin.auth)).data.webhooks.total).toBe(1);
    for (const role of ['developer', 'viewer'] as const) {
      const member = await givenMember(server.url, owner, role);
      expect(errorCode(await graphql(server.url, LIST, {}, member.auth))).toBe('FORBIDDEN');
      const created = await graphql(
        server.url,
        CREATE_WEBHOOK,
        { input: { url: receiver.url, eventTypes: ['flag.*'] } },
        member.auth,
      );
      expect(errorCode(created)).toBe('FORBIDDEN');
    }
    // Another organization sees none of them.
    const other = await givenOrg(server.url);
    expect((await graphql(server.url, LIST, {}, other.auth)).data.webhooks.total).toBe(0);
  });

  it('subscribing to a family needs reading it; an environment-narrowed token only makes webhooks within its environments', async () => {
    const receiver = await givenReceiver();
    const noMembers = await givenAccessToken(server.url, owner.auth, {
      kind: 'SERVICE',
      permissions: ['webhook:manage', 'flag:read'],
    });
    const key = { 'api-key': noMembers.data.createAccessToken.value };
    const members = await graphql(
      server.url,
      CREATE_WEBHOOK,
      { input: { url: receiver.url, eventTypes: ['member.*'] } },
      key,
    );
    expect(members.errors?.[0]).toMatchObject({
      message: 'subscribing to member.* events needs member:read, which you do not have',
      extensions: { code: 'FORBIDDEN' },
    });
    expect(
      (await graphql(server.url, CREATE_WEBHOOK, { input: { url: receiver.url, eventTypes: ['flag.*'] } }, key)).errors,
    ).toBeUndefined();

    const narrowed = await givenAccessToken(server.url, owner.auth, {
      kind: 'SERVICE',
      permissions: ['webhook:manage', 'flag:read'],
      environmentIds: [project.env.dev!],
    });
    const inDev = { 'api-key': narrowed.data.createAccessToken.value };
    const everywhere = await graphql(
      server.url,
      CREATE_WEBHOOK,
      { input: { url: receiver.url, eventTypes: ['flag.*'] } },
      inDev,
    );
    expect(errorCode(everywhere)).toBe('FORBIDDEN');
    const devOnly = await graphql(
      server.url,
      CREATE_WEBHOOK,
      { input: { url: receiver.url, eventTypes: ['flag.*'], environmentIds: [project.env.dev] } },
      inDev,
    );
    expect(devOnly.errors).toBeUndefined();
    // The environment's project is implied.
    expect(devOnly.data.createWebhook.webhook).toMatchObject({
      projectIds: [project.id],
      environmentIds: [project.env.dev],
    });
  });

  it('an environment-narrowed token acts on no webhook beyond its environments: no rotation (which answers the secret), no ping, no redelivery', async () => {
    const receiver = await givenReceiver();
    const everywhere = await givenWebhook(server.url, owner.auth, receiver);
    const inProduction = await givenWebhook(server.url, owner.auth, receiver, {
      environmentIds: [project.env.production],
    });
    const ping = await graphql(
      server.url,
      'mutation($id: ID!) { sendWebhookTest(id: $id) { id status } }',
      { id: everywhere.id },
      owner.auth,
    );
    expect(ping.errors).toBeUndefined();
    const narrowed = await givenAccessToken(server.url, owner.auth, {
      kind: 'SERVICE',
      permissions: ['webhook:manage', 'flag:read'],
      environmentIds: [project.env.dev!],
    });
    const inDev = { 'api-key': narrowed.data.createAccessToken.value };
    const state = async () =>
      server.sql(
        `select w.id, w.secret_sealed, count(d.id)::int as deliveries from webhooks w
         left join webhook_deliveries d on d.webhook_id = w.id where w.id in (?, ?) group by w.id order by w.id`,
        [everywhere.id, inProduction.id],
      );
    const before = await state();
    for (const id of [everywhere.id, inProduction.id]) {
      const rotated = await graphql(
        server.url,
        'mutation($id: ID!) { rotateWebhookSecret(id: $id, overlapMinutes: 0) { secret } }',
        { id },
        inDev,
      );
      expect(errorCode(rotated)).toBe('FORBIDDEN');
      expect(rotated.data?.rotateWebhookSecret ?? null).toBeNull();
      const tested = await graphql(server.url, 'mutation($id: ID!) { sendWebhookTest(id: $id) { id } }', { id }, inDev);
      expect(errorCode(tested)).toBe('FORBIDDEN');
    }
    const again = await graphql(
      server.url,
      'mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id } }',
      { id: ping.data.sendWebhookTest.id },
      inDev,
    );
    expect(errorCode(again)).toBe('FORBIDDEN');
    // REST runs the same operations.
    const rest = await request(server.url, 'POST', `/v1/webhooks/${everywhere.id}/rotate-secret`, {
      headers: inDev,
      body: {},
    });
    expect(rest.status).toBe(403);
    expect(await state()).toEqual(before);
  });

  it("acting on a webhook needs reading what it hears: no re-pointing, rotating, redelivering or reading the log of another's member.* webhook without member:read", async () => {
    const receiver = await givenReceiver();
    const members = await givenWebhook(server.url, owner.auth, receiver, { eventTypes: ['member.*'] });
    await givenMember(server.url, owner, 'viewer');
    const log = await eventually(async () => {
      const w = await deliveriesOf(server.url, owner.auth, members.id);
      return w.deliveries.total > 0 ? w.deliveries.data[0] : null;
    }, 10_000);
    const limited = await givenAccessToken(server.url, owner.auth, {
      kind: 'SERVICE',
      permissions: ['webhook:manage', 'flag:read'],
    });
    const key = { 'api-key': limited.data.createAccessToken.value };
    const before = await server.sql('select url, secret_sealed from webhooks where id = ?', [members.id]);
    const attacker = await givenReceiver();
    const repointed = await graphql(
      server.url,
      'mutation($id: ID!, $url: String!) { updateWebhook(id: $id, input: { url: $url }) { url } }',
      { id: members.id, url: attacker.url },
      key,
    );
    expect(errorCode(repointed)).toBe('FORBIDDEN');
    const rotated = await graphql(
      server.url,
      'mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }',
      { id: members.id },
      key,
    );
    expect(errorCode(rotated)).toBe('FORBIDDEN');
    const again = await graphql(
      server.url,
      'mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id } }',
      { id: log.id },
      key,
    );
    expect(errorCode(again)).toBe('FORBIDDEN');
    const read = await graphql(
      server.url,
      'query($id: ID!) { webhook(id: $id) { deliveries { data { payload } } } }',
      { id: members.id },
      key,
    );
    expect(errorCode(read)).toBe('FORBIDDEN');
    expect(JSON.stringify(read.data ?? {})).not.toContain('member.');
    expect(await server.sql('select url, secret_sealed from webhooks where id = ?', [members.id])).toEqual(before);
    expect(attacker.received).toEqual([]);
  });

  it('at most 50 per organization, also when the last ones are created at once', async () => {
    const org = await givenOrg(server.url);
    const receiver = await givenReceiver();
    await server.sql(
      `insert into webhooks (id, organization_id, url, description, event_types, active, secret_sealed, created_at, updated_at)
       select gen_random_uuid(), ?, ?, '', '{flag.*}', false, 'sealed', now(), now() from generate_series(1, 45)`,
      [org.organizationId, receiver.url],
    );
    const created = await Promise.all(
      Array.from({ length: 10 }, () =>
        graphql(server.url, CREATE_WEBHOOK, { input: { url: receiver.url, eventTypes: ['flag.*'] } }, org.auth),
      ),
    );
    expect(created.filter((r) => !r.errors).length).toBe(5);
    expect(created.filter((r) => errorCode(r) === 'CONFLICT').length).toBe(5);
    const [row] = await server.sql<{ count: number }>(
      'select count(*)::int as count from webhooks where organization_id = ?',
      [org.organizationId],
    );
    expect(row).toEqual({ count: 50 });
  });

  it('refuses event types that do not exist and scopes outside the organization, storing nothing', async () => {
    const receiver = await givenReceiver();
    const count = async () =>
      (await server.sql('select id from webhooks where organization_id = ?', [owner.organizationId])).length;
    const before = await count();
    const typo = await graphql(
      server.url,
      CREATE_WEBHOOK,
      { input: { url: receiver.url, eventTypes: ['flag.craeted'] } },
      owner.auth,
    );
    expect(typo.errors?.[0]).toMatchObject({
      message: 'eventTypes: "flag.craeted" is not an event type',
      extensions: { code: 'VALIDATION' },
    });
    const other = await givenOrg(server.url);
    const foreign = (await environmentsOf(server.url, other)).projectId;
    const elsewhere = await graphql(
      server.url,
      CREATE_WEBHOOK,
      { input: { url: receiver.url, eventTypes: ['flag.*'], projectIds: [foreign] } },
      owner.auth,
    );
    expect(errorCode(elsewhere)).toBe('NOT_FOUND');
    expect(await count()).toBe(before);
    const types = await graphql(server.url, '{ webhookEventTypes }', {}, owner.auth);
    expect(types.data.webhookEventTypes).toEqual(
      expect.arrayContaining(['flag.state.updated', 'segment.*', 'approval.*', 'member.*']),
    );
  });

  it('shows the secret once: no query returns it, and the audit trail keeps only the URL’s origin', async () => {
    const receiver = await givenReceiver();
    const hook = await givenWebhook(server.url, owner.auth, receiver, { description: 'audited' });
    const read = await graphql(
      server.url,
      'query($id: ID!) { webhook(id: $id) { id url } }',
      { id: hook.id },
      owner.auth,
    );
    expect(JSON.stringify(read)).not.toContain(hook.secret);
    const [row] = await server.sql<{ secret_sealed: string }>('select secret_sealed from webhooks where id = ?', [
      hook.id,
    ]);
    expect(row!.secret_sealed).not.toContain(hook.secret.slice(6, 20));
    const [audit] = await server.sql<{ details: { origin: string } }>(
      "select details from audit_entries where action = 'webhook.created' and resource_id = ?",
      [hook.id],
    );
    expect(audit!.details.origin).toBe(new URL(receiver.url).origin);
    expect(JSON.stringify(audit!.details)).not.toContain('/hooks');
  });
});

describe('what a webhook receives', () => {
  it('only its event types and projects; segments, SDK keys and members as their own events', async () => {
    const receiver = await givenReceiver();
    await givenWebhook(server.url, owner.auth, receiver, {
      eventTypes: ['segment.*', 'sdkkey.created', 'member.*'],
      projectIds: [project.id],
    });
    const elsewhere = await graphql(
      server.url,
      'mutation { createProject(input: { name: "Elsewhere" }) { id } }',
      {},
      owner.auth,
    );
    await givenSegment(server, owner, { id: elsewhere.data.createProject.id, env: {} });
    await givenFlag(server, owner, project);
    const segment = await givenSegment(server, owner, project);
    await graphql(
      server.url,
      'mutation($e: ID!) { createSdkKey(environmentId: $e, kind: SERVER, name: "hooked") { value } }',
      { e: project.env.staging },
      owner.auth,
    );
    const person = await givenOrg(server.url);
    await graphql(
      server.url,
      'mutation($e: String!) { addMember(email: $e, role: viewer) { role } }',
      { e: person.email },
      owner.auth,
    );
    const got = await receiver.waitForVerified(3);
    expect(got.map((r) => r.payload.type)).toEqual(['segment.created', 'sdkkey.created', 'member.added']);
    expect(got[0]!.payload.data.resource).toEqual({ type: 'segment', id: segment.id, key: segment.key });
    expect(got[0]!.payload.data.environments.map((e: { key: string }) => e.key)).toEqual([
      'dev',
      'staging',
      'production',
    ]);
    expect(got[1]!.payload.data.change.masked).toMatch(/^vx_srv_/);
    expect(JSON.stringify(got[1]!.payload)).not.toMatch(/vx_srv_[0-9A-Za-z]{36}/);
    expect(got[2]!.payload.data.change).toEqual({ email: person.email, role: 'viewer' });
  });

  it('sends a kill as a state update, and redelivers a delivered event with the same webhook-id', async () => {
    const receiver = await givenReceiver();
    const hook = await givenWebhook(server.url, owner.auth, receiver, { eventTypes: ['flag.state.updated'] });
    const flag = await givenFlag(server, owner, project);
    await givenState(server, owner, flag.id, project.env.dev!, { on: true });
    await graphql(server.url, 'mutation($f: ID!) { killFlag(flagId: $f) { on } }', { f: flag.id }, owner.auth);
    const got = await receiver.waitForVerified(2);
    expect(got.map((r) => r.payload.data.action)).toEqual(['flag.state.updated', 'flag.killed']);
    expect(got[1]!.payload.type).toBe('flag.state.updated');
    const log = await deliveredLog(server.url, owner.auth, hook.id, 2);
    const killed = log.deliveries.data.find((d: { payload: any }) => d.payload.data.action === 'flag.killed');
    const again = await graphql(
      server.url,
      'mutation($d: ID!) { redeliverWebhook(deliveryId: $d) { id status eventId } }',
      { d: killed.id },
      owner.auth,
    );
    expect(again.errors).toBeUndefined();
    expect(again.data.redeliverWebhook).toMatchObject({ status: 'PENDING', eventId: killed.eventId });
    expect(again.data.redeliverWebhook.id).not.toBe(killed.id);
    const after = await receiver.waitForVerified(3);
    expect(after[2]!.id).toBe(after[1]!.id);
    expect(after[2]!.body).toBe(after[1]!.body);
  });

  it('announces a change that waits for approval as approval.requested, not as a state update', async () => {
    const receiver = await givenReceiver();
    const flag = await givenFlag(server, owner, project);
    await givenWebhook(server.url, owner.auth, receiver, {
      eventTypes: ['approval.*', 'flag.state.updated'],
      environmentIds: [project.env.staging],
    });
    const gated = await graphql(
      server.url,
      'mutation($e: ID!) { setEnvironmentApproval(environmentId: $e, requiresApproval: true, minApprovals: 1) { id } }',
      { e: project.env.staging },
      owner.auth,
    );
    expect(gated.errors, JSON.stringify(gated.errors)).toBeUndefined();
    const propose = (on: boolean) =>
      graphql(
        server.url,
        'mutation($f: ID!, $e: ID!, $on: Boolean) { updateFlagState(flagId: $f, environmentId: $e, expectedVersion: 1, input: { on: $on }) { version pendingChange { id } } }',
        { f: flag.id, e: project.env.staging, on },
        owner.auth,
      );
    const first = await propose(true);
    expect(first.errors, JSON.stringify(first.errors)).toBeUndefined();
    expect(first.data.updateFlagState.pendingChange.id).toEqual(expect.any(String));
    // The state did not change: a second proposal from the same version is another request.
    const second = await propose(false);
    expect(second.data.updateFlagState.pendingChange.id).not.toBe(first.data.updateFlagState.pendingChange.id);
    const got = await receiver.waitForVerified(2);
    expect(got.map((r) => r.payload.type)).toEqual(['approval.requested', 'approval.requested']);
    expect(got[0]!.payload.data).toMatchObject({
      resource: { type: 'approval', id: first.data.updateFlagState.pendingChange.id },
      environmentId: project.env.staging,
    });
    expect(receiver.received).toHaveLength(2);
  });
});
