import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { DEFAULT_JWT_SECRET } from '../src/config.js';
import { createOrm } from '../src/db/orm.js';
import { entities } from '../src/entities.js';
import { createFlag } from '../src/modules/flags/service.js';
import { resolvePrincipal } from '../src/modules/identity/resolve.js';
import { bearer, graphql } from './helpers/client.js';
import { environmentsOf } from './helpers/credentials.js';
import { givenFlag } from './helpers/flags.js';
import { givenOrg } from './helpers/givens.js';
import { freePort, startServerProcess } from './helpers/process.js';
import { givenDatabase, startServer } from './helpers/server.js';
import { eventually } from './helpers/waiters.js';
import { givenReceiver, WebhookReceiver } from './helpers/webhook-receiver.js';
import { CREATE_WEBHOOK, deliveredLog, deliveriesOf, givenWebhook } from './helpers/webhooks.js';

// Never lost: a committed change is delivered even when every node dies right after it. The
// node here is a real process, killed with SIGKILL (no shutdown, nothing flushed); another node
// on the same database delivers.

const settings = {
  AUTH_RATE_LIMIT: '10000',
  MANAGEMENT_RATE_LIMIT: '100000',
  WEBHOOK_ALLOW_PRIVATE: 'true',
  WEBHOOK_RETRY_BASE_MS: '200',
  WEBHOOK_RETRY_MAX_MS: '200',
};

async function killed(node: Awaited<ReturnType<typeof startServerProcess>>) {
  const exited = once(node.child, 'exit');
  node.child.kill('SIGKILL');
  await exited;
}

describe('a node killed with a delivery pending', () => {
  it('leaves it to the next node, which delivers it once', async () => {
    const databaseUrl = await givenDatabase();
    const port = await freePort(); // nothing listens there yet: every attempt is refused
    const a = await startServerProcess({ DATABASE_URL: databaseUrl, ...settings });
    const org = await givenOrg(a.url);
    const created = await graphql(
      a.url,
      CREATE_WEBHOOK,
      { input: { url: `http://127.0.0.1:${port}/hooks`, eventTypes: ['flag.*'] } },
      org.auth,
    );
    expect(created.errors).toBeUndefined();
    const hook = created.data.createWebhook;
    const { projectId } = await environmentsOf(a.url, org);
    const flag = await givenFlag({ url: a.url, sql: async () => [] }, org, { id: projectId, env: {} });
    await eventually(
      async () => (await deliveriesOf(a.url, org.auth, hook.webhook.id)).deliveries.data[0]?.attempts >= 1,
    );
    await killed(a);

    const receiver = new WebhookReceiver();
    receiver.secrets.push(hook.secret);
    await receiver.start(port);
    const b = await startServer(settings, { databaseUrl });
    const [got] = await receiver.waitForVerified(1);
    expect(got!.payload.data).toMatchObject({ action: 'flag.created', resource: { id: flag.id } });
    const log = await deliveredLog(b.url, org.auth, hook.webhook.id, 1);
    expect(log.deliveries.data).toHaveLength(1);
    expect(log.deliveries.data[0].status).toBe('DELIVERED');
    expect(log.deliveries.data[0].attempts).toBeGreaterThanOrEqual(2);
    expect(log.deliveries.data[0].attemptLog[0].error).toMatch(/^ECONNREFUSED connecting to 127\.0\.0\.1$/);
    expect(receiver.received).toHaveLength(1);
  });

  it('delivers a change that no node woke a worker for (its node died right after the commit): the outbox is the truth', async () => {
    const receiver = await givenReceiver();
    const a = await startServer(settings);
    const org = await givenOrg(a.url);
    const hook = await givenWebhook(a.url, org.auth, receiver);
    const { projectId } = await environmentsOf(a.url, org);
    await a.close();
    // The change is committed by a unit of work of no node: nothing hears of it but the database.
    const orm = await createOrm(a.databaseUrl, entities);
    try {
      const actor = await resolvePrincipal(orm.em.fork(), bearer(org.accessToken), DEFAULT_JWT_SECRET);
      await createFlag(orm.em.fork(), actor!, projectId, { key: 'committed-then-orphaned', kind: 'boolean' });
    } finally {
      await orm.close();
    }
    const b = await startServer(settings, { databaseUrl: a.databaseUrl });
    const [got] = await receiver.waitForVerified(1);
    expect(got!.payload.data).toMatchObject({ action: 'flag.created', resource: { key: 'committed-then-orphaned' } });
    // The receiver answers before the node records its answer.
    const log = await deliveredLog(b.url, org.auth, hook.id, 1);
    expect(log.deliveries.data.map((d: { status: string; attempts: number }) => [d.status, d.attempts])).toEqual([
      ['DELIVERED', 1],
    ]);
  });
});
