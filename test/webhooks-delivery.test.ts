import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_JWT_SECRET } from '../src/config.js';
import { recordAudit } from '../src/modules/audit/service.js';
import { announceFlagChange, getFlag } from '../src/modules/flags/service.js';
import { updateFlagState } from '../src/modules/flags/state.js';
import { resolvePrincipal } from '../src/modules/identity/resolve.js';
import { graphql } from './helpers/client.js';
import { environmentsOf } from './helpers/credentials.js';
import { type GivenProject, givenFlag, givenState, storedState } from './helpers/flags.js';
import { type GivenOrg, givenOrg } from './helpers/givens.js';
import { startServer, type TestServer } from './helpers/server.js';
import { eventually } from './helpers/waiters.js';
import { givenReceiver } from './helpers/webhook-receiver.js';
import {
  defaultProjectOf,
  deliveredLog,
  deliveriesOf,
  givenWebhook,
  WEBHOOK_TEST_SETTINGS,
} from './helpers/webhooks.js';

// Webhooks are written to an outbox in the transaction of the change they announce and sent by
// the job queue: once per change, in environment-version order per endpoint, signed per the
// Standard Webhooks specification (a real receiver verifies with the standardwebhooks library).

let server: TestServer;
let org: GivenOrg;
let project: GivenProject;

beforeAll(async () => {
  server = await startServer({
    ...WEBHOOK_TEST_SETTINGS,
    WEBHOOK_RETRY_BASE_MS: '50',
    WEBHOOK_RETRY_MAX_MS: '400',
  });
  org = await givenOrg(server.url);
  project = await defaultProjectOf(server.url, org);
});

/** The principal `o`'s owner resolves to, for calling services directly. */
const actorOf = async (o: GivenOrg) =>
  (await resolvePrincipal(server.orm.em.fork(), { authorization: `Bearer ${o.accessToken}` }, DEFAULT_JWT_SECRET))!;

describe('delivering changes', () => {
  it('delivers each change once, signed, in environment-version order, carrying before/after, actor, version and time', async () => {
    const receiver = await givenReceiver();
    const hook = await givenWebhook(server.url, org.auth, receiver, {
      eventTypes: ['flag.created', 'flag.state.updated'],
      environmentIds: [project.env.dev],
    });
    const flag = await givenFlag(server, org, project);
    for (const on of [true, false, true, false]) await givenState(server, org, flag.id, project.env.dev!, { on });
    // A change in another environment is outside the webhook's environments.
    await givenState(server, org, flag.id, project.env.production!, { on: true });
    const got = await receiver.waitForVerified(5);

    expect(got.map((r) => r.payload.type)).toEqual(['flag.created', ...Array(4).fill('flag.state.updated')]);
    const devVersions = got.map(
      (r) => r.payload.data.environments.find((e: { key: string }) => e.key === 'dev').version,
    );
    expect(devVersions).toEqual([...devVersions].sort((a, b) => a - b));
    expect(new Set(devVersions).size).toBe(5);
    const last = got[4]!.payload;
    expect(last.data).toMatchObject({
      action: 'flag.state.updated',
      environmentId: project.env.dev,
      resource: { type: 'flag', id: flag.id, key: flag.key },
      actor: { kind: 'member', userId: org.userId, email: org.email },
      change: { before: { on: true }, after: { on: false } },
    });
    expect(last.data.environments).toEqual([{ id: project.env.dev, key: 'dev', version: devVersions[4] }]);
    expect(Date.parse(last.timestamp)).toBeGreaterThan(Date.now() - 60_000);
    expect(new Set(got.map((r) => r.id)).size).toBe(5);

    // Once each: a sentinel change arrives last, after which the receiver holds exactly six.
    await givenState(server, org, flag.id, project.env.dev!, { on: true });
    await receiver.waitForVerified(6);
    expect(receiver.received).toHaveLength(6);
    const log = await deliveredLog(server.url, org.auth, hook.id, 6);
    expect(log.deliveries.total).toBe(6);
    expect(
      log.deliveries.data.every(
        (d: { status: string; attempts: number }) => d.status === 'DELIVERED' && d.attempts === 1,
      ),
    ).toBe(true);
  });

  it("one organization's endpoints that never answer take at most half of a node's delivery slots: another's deliveries go on", async () => {
    const node = await startServer({ ...WEBHOOK_TEST_SETTINGS, WEBHOOK_CONCURRENCY: '2', WEBHOOK_TIMEOUT_MS: '8000' });
    const tarpit = await givenReceiver();
    tarpit.answer = () => 'hang';
    const hostile = await givenOrg(node.url);
    const hostileProject = await defaultProjectOf(node.url, hostile);
    for (let i = 0; i < 4; i++) await givenWebhook(node.url, hostile.auth, tarpit);
    await givenFlag(node, hostile, hostileProject);
    await eventually(() => tarpit.received.length >= 1, 5_000);

    const victim = await givenOrg(node.url);
    const receiver = await givenReceiver();
    await givenWebhook(node.url, victim.auth, receiver);
    const started = Date.now();
    await givenFlag(node, victim, await defaultProjectOf(node.url, victim));
    await receiver.waitForVerified(1, 6_000);
    // Well before the first hostile attempt times out.
    expect(Date.now() - started).toBeLessThan(4_000);
    // The hostile endpoints are tried one at a time (half of two slots).
    expect(tarpit.received).toHaveLength(1);
    await tarpit.stop();
  });

  it('retries a receiver that fails three times and delivers on the fourth attempt, holding later changes back', async () => {
    const receiver = await givenReceiver();
    receiver.answer = (_r, n) => (n <= 3 ? { status: 500, body: 'not yet' } : { status: 204 });
    const hook = await givenWebhook(server.url, org.auth, receiver, { eventTypes: ['flag.*'] });
    const flag = await givenFlag(server, org, project);
    await givenState(server, org, flag.id, project.env.staging!, { on: true });
    const got = await receiver.waitForVerified(2);

    expect(receiver.received.map((r) => r.answeredStatus)).toEqual([500, 500, 500, 204, 204]);
    // The first four requests are the same delivery (same webhook-id); the state change waited behind it.
    expect(new Set(receiver.received.slice(0, 4).map((r) => r.id)).size).toBe(1);
    expect(got.map((r) => r.payload.type)).toEqual(['flag.created', 'flag.state.updated']);
    const log = await deliveriesOf(server.url, org.auth, hook.id);
    const created = log.deliveries.data.find((d: { eventType: string }) => d.eventType === 'flag.created');
    expect(created).toMatchObject({ status: 'DELIVERED', attempts: 4 });
    expect(created.attemptLog.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 500, 500, 204]);
    expect(created.attemptLog[0]).toMatchObject({ error: 'answered 500', responseBody: 'not yet' });
  });

  it('keeps the last 100 attempts of a delivery that is tried again and again (turned back on, redelivered), whose log is never pruned', async () => {
    const receiver = await givenReceiver();
    receiver.answer = () => ({ status: 500, body: 'still no' });
    const hook = await givenWebhook(server.url, org.auth, receiver, { eventTypes: ['flag.*'] });
    await givenFlag(server, org, project);
    const first = (await eventually(async () => {
      const [row] = await server.sql<{ id: string }>(
        'select d.id from webhook_deliveries d join webhook_attempts a on a.delivery_id = d.id where d.webhook_id = ? limit 1',
        [hook.id],
      );
      return row ?? null;
    }, 10_000))!;
    // As if it had been tried 150 times already.
    await server.sql('update webhooks set active = false where id = ?', [hook.id]);
    // An attempt already under way records itself first.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await server.sql('delete from webhook_attempts where delivery_id = ?', [first.id]);
    await server.sql(
      `insert into webhook_attempts (id, delivery_id, attempt, started_at, status_code, latency_ms, error, response_body)
       select gen_random_uuid(), ?, n, now(), 500, 1, 'answered 500', 'still no' from generate_series(1, 150) n`,
      [first.id],
    );
    await server.sql('update webhook_deliveries set attempts = 150 where id = ?', [first.id]);
    const on = await graphql(
      server.url,
      'mutation($id: ID!) { updateWebhook(id: $id, input: { active: true }) { active } }',
      { id: hook.id },
      org.auth,
    );
    expect(on.errors).toBeUndefined();
    const log = await eventually(async () => {
      const w = await deliveriesOf(server.url, org.auth, hook.id);
      const d = w.deliveries.data.find((x: { id: string }) => x.id === first.id);
      return d.attempts > 150 ? d : null;
    }, 10_000);
    expect(log.attemptLog).toHaveLength(100);
    expect(log.attemptLog.map((a: { attempt: number }) => a.attempt)).toEqual(
      Array.from({ length: 100 }, (_, i) => log.attempts - 99 + i),
    );
    const stored = await server.sql<{ count: number }>(
      'select count(*)::int as count from webhook_attempts where delivery_id = ?',
      [first.id],
    );
    expect(stored).toEqual([{ count: 100 }]);
  });

  it('sends nothing for a change that rolled back, nor for one made in a savepoint that rolled back', async () => {
    const receiver = await givenReceiver();
    await givenWebhook(server.url, org.auth, receiver, { eventTypes: ['flag.*'] });
    const flag = await givenFlag(server, org, project);
    await receiver.waitForVerified(1);
    const actor = await actorOf(org);
    const { version } = await storedState(server, flag.id, project.env.dev!);

    // The whole transaction rolls back after the change was made (and audited) in it.
    await expect(
      server.orm.em.fork().transactional(async (tx) => {
        await updateFlagState(tx, actor, { flagId: flag.id }, project.env.dev!, version, { on: true });
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    // A savepoint rolls back; the transaction around it commits another change.
    await server.orm.em.fork().transactional(async (tx) => {
      await tx
        .transactional(async (inner) => {
          await updateFlagState(inner, actor, { flagId: flag.id }, project.env.dev!, version, { on: true });
          throw new Error('not this one');
        })
        .catch(() => undefined);
      const loaded = await getFlag(tx, actor, flag.id);
      recordAudit(tx, actor, {
        action: 'flag.updated',
        resourceType: 'flag',
        resourceId: flag.id,
        projectId: project.id,
        details: { key: flag.key, description: 'the one that commits' },
      });
      await announceFlagChange(tx, actor, loaded.project, 'flag.updated', flag.key);
    });
    const got = await receiver.waitForVerified(2);
    expect(got.map((r) => r.payload.data.action)).toEqual(['flag.created', 'flag.updated']);
    expect(got[1]!.payload.data.change.description).toBe('the one that commits');
    expect((await storedState(server, flag.id, project.env.dev!)).version).toBe(version);
    // Nothing else is on its way: a sentinel arrives third.
    await givenState(server, org, flag.id, project.env.dev!, { on: true });
    await receiver.waitForVerified(3);
    expect(receiver.received.map((r) => r.payload.data.action)).toEqual([
      'flag.created',
      'flag.updated',
      'flag.state.updated',
    ]);
  });

  it('signs with both secrets while a rotation overlaps, and with the new one alone after it', async () => {
    const receiver = await givenReceiver();
    const hook = await givenWebhook(server.url, org.auth, receiver);
    const [oldSecret] = receiver.secrets;
    const rotated = await graphql(
      server.url,
      'mutation($id: ID!) { rotateWebhookSecret(id: $id, overlapMinutes: 60) { secret webhook { previousSecretExpiresAt } } }',
      { id: hook.id },
      org.auth,
    );
    expect(rotated.errors).toBeUndefined();
    const newSecret: string = rotated.data.rotateWebhookSecret.secret;
    expect(newSecret).toMatch(/^whsec_/);
    expect(rotated.data.rotateWebhookSecret.webhook.previousSecretExpiresAt).not.toBeNull();
    receiver.secrets.push(newSecret);
    await givenFlag(server, org, project);
    const [overlap] = await receiver.waitForVerified(1);
    expect(overlap!.verifiedBy).toEqual([oldSecret, newSecret]);

    const again = await graphql(
      server.url,
      'mutation($id: ID!) { rotateWebhookSecret(id: $id, overlapMinutes: 0) { secret } }',
      { id: hook.id },
      org.auth,
    );
    const newest: string = again.data.rotateWebhookSecret.secret;
    receiver.secrets.push(newest);
    await givenFlag(server, org, project);
    const got = await receiver.waitForVerified(2);
    expect(got[1]!.verifiedBy).toEqual([newest]);
  });

  it('disables an endpoint failing for longer than the setting, says why, and sends its backlog in order once turned back on', async () => {
    const strict = await startServer({
      AUTH_RATE_LIMIT: '10000',
      MANAGEMENT_RATE_LIMIT: '100000',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_RETRY_BASE_MS: '300',
      WEBHOOK_RETRY_MAX_MS: '300',
      WEBHOOK_DISABLE_AFTER_SECONDS: '1',
    });
    const owner = await givenOrg(strict.url);
    const envs = await environmentsOf(strict.url, owner);
    const p = { id: envs.projectId, env: { dev: envs.byKey.dev!.id } };
    const receiver = await givenReceiver();
    receiver.answer = () => ({ status: 503 });
    const hook = await givenWebhook(strict.url, owner.auth, receiver);
    const first = await givenFlag(strict, owner, p);
    const disabled = await eventually(async () => {
      const w = await deliveriesOf(strict.url, owner.auth, hook.id);
      return w.active ? null : w;
    }, 15_000);
    expect(disabled.disabledAt).not.toBeNull();
    expect(disabled.disabledReason).toMatch(/^failing since .*; last error: answered 503$/);
    // Off: a change now is not recorded for it.
    await givenFlag(strict, owner, p);
    receiver.answer = () => ({ status: 200 });
    const on = await graphql(
      strict.url,
      'mutation($id: ID!) { updateWebhook(id: $id, input: { active: true }) { active disabledAt failingSince } }',
      { id: hook.id },
      owner.auth,
    );
    expect(on.data.updateWebhook).toEqual({ active: true, disabledAt: null, failingSince: null });
    const got = await receiver.waitForVerified(1);
    expect(got[0]!.payload.data.resource.id).toBe(first.id);
    const log = await deliveredLog(strict.url, owner.auth, hook.id, 1);
    expect(log.deliveries.total).toBe(1);
    await strict.close();
  });
});
