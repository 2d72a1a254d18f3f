import { beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './helpers/client.js';
import { environmentsOf } from './helpers/credentials.js';
import { givenFlag } from './helpers/flags.js';
import { type GivenOrg, givenOrg } from './helpers/givens.js';
import { startServer, type TestServer } from './helpers/server.js';
import { eventually } from './helpers/waiters.js';
import { givenReceiver } from './helpers/webhook-receiver.js';
import { CREATE_WEBHOOK, deliveriesOf, givenWebhook } from './helpers/webhooks.js';

// Safe targets: a webhook makes the server send requests wherever its URL says, so loopback,
// private, link-local and metadata addresses are refused when the URL is saved and again at
// every attempt; redirects are not followed; every attempt is bounded in time and in what it
// reads of the answer. No request in this file leaves the machine: refused targets are refused
// before any connection, and the receivers listen on 127.0.0.1.

let strict: TestServer;
let owner: GivenOrg;

beforeAll(async () => {
  strict = await startServer({
    AUTH_RATE_LIMIT: '10000',
    MANAGEMENT_RATE_LIMIT: '100000',
    SENSITIVE_RATE_LIMIT: '10000',
  });
  owner = await givenOrg(strict.url);
});

const create = (url: string, auth = owner.auth, server = strict) =>
  graphql(server.url, CREATE_WEBHOOK, { input: { url, eventTypes: ['flag.*'] } }, auth);

describe('where a webhook may point', () => {
  it.each([
    'http://127.0.0.1:9/hooks',
    'http://localhost/hooks',
    'http://[::1]/hooks',
    'http://[::ffff:127.0.0.1]/hooks',
    'http://10.1.2.3/hooks',
    'http://172.16.0.1/hooks',
    'http://192.168.1.1/hooks',
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/latest/meta-data/',
    'http://100.100.100.200/latest/meta-data/',
    'http://0.0.0.0/hooks',
    'http://2130706433/hooks',
  ])('refuses %s, and stores nothing', async (url) => {
    const r = await create(url);
    expect(r.errors?.[0]?.extensions?.code, JSON.stringify(r.errors)).toBe('VALIDATION');
    expect(r.errors?.[0]?.message).toMatch(/^url refused: .* only public addresses are webhook targets$/);
    const rows = await strict.sql('select id from webhooks where organization_id = ?', [owner.organizationId]);
    expect(rows).toEqual([]);
  });

  it.each([
    ['ftp://example.com/x', 'url must be http:// or https://'],
    ['https://user:pass@example.com/x', 'url must not carry credentials: receivers verify the signature instead'],
    ['https://example.com/x#frag', 'url must not have a fragment'],
    ['not a url', 'url is not a valid URL'],
    [`https://example.com/${'a'.repeat(2100)}`, 'url must be at most 2048 characters'],
  ])('refuses the malformed %s', async (url, message) => {
    const r = await create(url);
    expect(r.errors?.[0]).toMatchObject({ message, extensions: { code: 'VALIDATION' } });
  });

  it('bounds the URL as stored and sent: one short as given but longer once encoded is refused', async () => {
    const r = await create(`https://example.com/${'é'.repeat(500)}`);
    expect(r.errors?.[0]).toMatchObject({
      message: 'url must be at most 2048 characters',
      extensions: { code: 'VALIDATION' },
    });
  });

  it('checks again at every attempt: a target that became private is refused, and nothing is sent to it', async () => {
    // A node that allows private targets saves the URL; a strict node, sharing the database, delivers.
    const receiver = await givenReceiver();
    const lenient = await startServer(
      { AUTH_RATE_LIMIT: '10000', MANAGEMENT_RATE_LIMIT: '100000', WEBHOOK_ALLOW_PRIVATE: 'true' },
      {
        databaseUrl: strict.databaseUrl,
      },
    );
    const hook = await givenWebhook(lenient.url, owner.auth, receiver);
    await lenient.close();
    const envs = await environmentsOf(strict.url, owner);
    await givenFlag(strict, owner, { id: envs.projectId, env: {} });
    const refused = await eventually(async () => {
      const w = await deliveriesOf(strict.url, owner.auth, hook.id);
      return w.deliveries.data[0]?.attemptLog.length ? w.deliveries.data[0] : null;
    }, 10_000);
    expect(refused).toMatchObject({ status: 'PENDING', lastStatusCode: null });
    expect(refused.attemptLog[0].error).toMatch(
      /^127\.0\.0\.1 resolves to 127\.0\.0\.1 \(loopback\): only public addresses/,
    );
    expect(receiver.received).toEqual([]);
  });
});

describe('what an attempt does with the answer', () => {
  let lenient: TestServer;
  let org: GivenOrg;
  let projectId: string;

  beforeAll(async () => {
    lenient = await startServer({
      AUTH_RATE_LIMIT: '10000',
      MANAGEMENT_RATE_LIMIT: '100000',
      SENSITIVE_RATE_LIMIT: '10000',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_TIMEOUT_MS: '300',
      WEBHOOK_RETRY_BASE_MS: '60000',
    });
    org = await givenOrg(lenient.url);
    projectId = (await environmentsOf(lenient.url, org)).projectId;
  });

  const firstAttempt = async (hookId: string) =>
    eventually(async () => {
      const w = await deliveriesOf(lenient.url, org.auth, hookId);
      return w.deliveries.data[0]?.attemptLog[0];
    }, 10_000);

  it('does not follow a redirect: the redirect is a failed attempt, and its target gets nothing', async () => {
    const elsewhere = await givenReceiver();
    const receiver = await givenReceiver();
    receiver.answer = () => ({ status: 302, headers: { location: elsewhere.url } });
    const hook = await givenWebhook(lenient.url, org.auth, receiver);
    await givenFlag(lenient, org, { id: projectId, env: {} });
    const attempt = await firstAttempt(hook.id);
    expect(attempt).toMatchObject({
      statusCode: 302,
      error: `answered 302: redirects are not followed (to ${elsewhere.url})`,
    });
    expect(elsewhere.received).toEqual([]);
  });

  it('gives up on a receiver that does not answer in time', async () => {
    const receiver = await givenReceiver();
    receiver.answer = () => 'hang';
    const hook = await givenWebhook(lenient.url, org.auth, receiver);
    await givenFlag(lenient, org, { id: projectId, env: {} });
    const attempt = await firstAttempt(hook.id);
    expect(attempt).toMatchObject({ statusCode: null, error: 'no complete answer within 300 ms', responseBody: null });
    expect(receiver.received).toHaveLength(1);
  });

  it('keeps only the first KB of an answer', async () => {
    const receiver = await givenReceiver();
    receiver.answer = () => ({ status: 200, body: `${'é'.repeat(600)}${'x'.repeat(100_000)}` });
    const hook = await givenWebhook(lenient.url, org.auth, receiver);
    await givenFlag(lenient, org, { id: projectId, env: {} });
    const attempt = await firstAttempt(hook.id);
    expect(attempt.statusCode).toBe(200);
    expect(Buffer.byteLength(attempt.responseBody)).toBeLessThanOrEqual(1024 + 3);
    expect(attempt.responseBody.startsWith('é'.repeat(500))).toBe(true);
  });

  it('sends a test ping now, around the queue, and answers with the attempt', async () => {
    const receiver = await givenReceiver();
    receiver.answer = () => ({ status: 200, body: 'pong' });
    const hook = await givenWebhook(lenient.url, org.auth, receiver, { active: false });
    const r = await graphql(
      lenient.url,
      'mutation($id: ID!) { sendWebhookTest(id: $id) { eventType status attempts attemptLog { statusCode responseBody } } }',
      { id: hook.id },
      org.auth,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data.sendWebhookTest).toEqual({
      eventType: 'webhook.ping',
      status: 'DELIVERED',
      attempts: 1,
      attemptLog: [{ statusCode: 200, responseBody: 'pong' }],
    });
    expect(receiver.verified.map((x) => x.payload.type)).toEqual(['webhook.ping']);
  });
});
