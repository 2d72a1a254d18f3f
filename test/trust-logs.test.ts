import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import jwt from 'jsonwebtoken';
import { beforeAll, describe, expect, it } from 'vitest';
import { bearer, graphql, request } from './helpers/client.js';
import { environmentsOf, givenAccessToken, givenSdkKey } from './helpers/credentials.js';
import { givenOrg, uniqueEmail } from './helpers/givens.js';
import { b64url } from './helpers/sdk.js';
import { startServer, type TestServer } from './helpers/server.js';
import { givenReceiver } from './helpers/webhook-receiver.js';

/**
 * Issue 06, item 8: secrets and request bodies never reach a log line, and expected client
 * errors are not errors in the log. A server logging at `debug` (the most it says) serves a run
 * that touches every credential and several kinds of refusal; then its whole log is searched for
 * every secret, body and variable the run used.
 */
let server: TestServer;
const lines: string[] = [];
const secrets: string[] = [];
const metricsToken = `metrics-${randomBytes(12).toString('hex')}`;

beforeAll(async () => {
  const stream = new PassThrough();
  stream.on('data', (chunk) => lines.push(...String(chunk).split('\n').filter(Boolean)));
  server = await startServer(
    {
      LOG_LEVEL: 'debug',
      AUTH_RATE_LIMIT: '10000',
      MANAGEMENT_RATE_LIMIT: '10000',
      METRICS_TOKEN: metricsToken,
      WEBHOOK_ALLOW_PRIVATE: 'true',
    },
    { logStream: stream },
  );
  const keep = (...values: string[]) => {
    secrets.push(...values);
    return values[0]!;
  };

  // Sign-up, sign-in (right and wrong), refresh: passwords and tokens.
  const password = keep(`pw-${randomBytes(8).toString('hex')}`);
  const email = uniqueEmail();
  const registered = await request(server.url, 'POST', '/v1/auth/register', {
    body: { email, password, name: 'Log Test', org_name: 'Log Org' },
  });
  keep(registered.body.tokens.access_token, registered.body.tokens.refresh_token);
  await request(server.url, 'POST', '/v1/auth/login', { body: { email, password: keep('wrong-pw-Xy7q2') } });
  const login = await request(server.url, 'POST', '/v1/auth/login', { body: { email, password } });
  keep(login.body.tokens.refresh_token);
  await request(server.url, 'POST', '/v1/auth/refresh', { body: { refresh_token: login.body.tokens.refresh_token } });
  // The same refresh token again: reuse, refused.
  await request(server.url, 'POST', '/v1/auth/refresh', { body: { refresh_token: login.body.tokens.refresh_token } });
  // A registration racing an existing email: a database constraint behind a 409.
  await request(server.url, 'POST', '/v1/auth/register', {
    body: { email, password: keep('another-secret-pw'), name: 'Dup', org_name: 'Dup Org' },
  });

  const org = await givenOrg(server.url);
  keep(org.accessToken, org.refreshToken, org.password);
  // GraphQL: a failed login mutation (password in variables), over GET with variables in the URL.
  await graphql(server.url, 'mutation($i: LoginInput!) { login(input: $i) { user { id } } }', {
    i: { email: org.email, password: keep('gql-wrong-password-Q1') },
  });
  await request(
    server.url,
    'GET',
    `/graphql?query=${encodeURIComponent('query($x: String) { me { kind } }')}&variables=${encodeURIComponent(JSON.stringify({ x: keep('variable-secret-Z9') }))}`,
    { headers: { accept: 'application/json' } },
  );
  // Credentials minted and used.
  const token = (await givenAccessToken(server.url, org.auth, { kind: 'SERVICE', permissions: ['flag:read'] })).data
    .createAccessToken.value;
  keep(token);
  await graphql(server.url, '{ projects { total } }', {}, { 'api-key': token });
  await graphql(server.url, 'mutation { rotateSsoSecret }', {}, bearer(token)); // refused: FORBIDDEN
  const ssoSecret = (await graphql(server.url, 'mutation { rotateSsoSecret }', {}, org.auth)).data.rotateSsoSecret;
  keep(ssoSecret);
  const ssoJwt = jwt.sign(
    {
      jti: randomBytes(8).toString('hex'),
      exp: Math.floor(Date.now() / 1000) + 60,
      email: uniqueEmail(),
      org: org.slug,
    },
    ssoSecret,
    { algorithm: 'HS256' },
  );
  keep(ssoJwt);
  await request(server.url, 'POST', '/v1/auth/sso', { body: { token: ssoJwt } });
  const { byKey } = await environmentsOf(server.url, org);
  const sdkKey = (await givenSdkKey(server.url, org, byKey.dev!.id)).value;
  keep(sdkKey);
  // SDK traffic with personal data in contexts and events.
  const person = keep(`person-${randomBytes(6).toString('hex')}@example.com`);
  await request(server.url, 'POST', '/v1/evaluate', {
    body: { flag_key: 'nope', context: { key: person } },
    headers: { 'x-api-key': sdkKey },
  });
  await request(server.url, 'GET', `/v1/client/${byKey.dev!.clientSideId}/flags?context=${b64url({ key: person })}`);
  await request(server.url, 'POST', '/v1/track', {
    body: { events: [{ kind: 'custom', key: 'checkout', context_key: person }] },
    headers: { 'x-api-key': sdkKey },
  });
  // Later features' secrets: webhook signing secrets (and a token in a webhook's URL), invitation
  // tokens, OFREP stream tokens, METRICS_TOKEN, each used right and wrong.
  const receiver = await givenReceiver();
  const hook = await graphql(
    server.url,
    'mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { secret webhook { id } } }',
    {
      i: { url: `${receiver.url}?token=${keep(`hooktoken${randomBytes(8).toString('hex')}`)}`, eventTypes: ['flag.*'] },
    },
    org.auth,
  );
  keep(hook.data.createWebhook.secret);
  const hookId: string = hook.data.createWebhook.webhook.id;
  const rotated = await graphql(
    server.url,
    'mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }',
    { id: hookId },
    org.auth,
  );
  keep(rotated.data.rotateWebhookSecret.secret);
  receiver.answer = () => ({ status: 500, body: 'no' });
  await graphql(server.url, 'mutation($id: ID!) { sendWebhookTest(id: $id) { id } }', { id: hookId }, org.auth);
  const invited = await graphql(
    server.url,
    'mutation($e: String!) { inviteMember(email: $e, role: viewer) { token acceptUrl } }',
    { e: uniqueEmail('logged') },
    org.auth,
  );
  keep(invited.data.inviteMember.token);
  await request(server.url, 'POST', '/v1/auth/invitations/accept', {
    body: { token: keep(`vx_inv_${randomBytes(15).toString('hex')}`), name: 'Guess', password: keep('guessed-pw-Lm4') },
  });
  await request(server.url, 'POST', '/v1/auth/invitations/accept', {
    body: { token: invited.data.inviteMember.token, name: 'Invited', password: keep('invited-pw-Hq8') },
  });
  const ofrep = await request(server.url, 'POST', '/ofrep/v1/evaluate/flags', {
    body: { context: { targetingKey: person } },
    headers: { authorization: `Bearer ${sdkKey}` },
  });
  const streamUri: string = ofrep.body.eventStreams[0].endpoint.requestUri;
  keep(streamUri.slice(streamUri.indexOf('token=') + 'token='.length));
  const leaving = new AbortController();
  const opened = await fetch(`${server.url}${streamUri}`, { signal: leaving.signal });
  expect(opened.status).toBe(200);
  leaving.abort();
  await request(server.url, 'GET', `/ofrep/v1/stream?token=${keep(`forged${randomBytes(8).toString('hex')}.x`)}`);
  await request(server.url, 'GET', '/metrics', { headers: bearer(metricsToken) });
  await request(server.url, 'GET', '/metrics', {
    headers: bearer(keep(`wrong-metrics-${randomBytes(6).toString('hex')}`)),
  });
  secrets.push(metricsToken);

  // Bad input of several kinds.
  await request(server.url, 'POST', '/v1/auth/login', { body: { email: 'x\u0000@example.com', password } });
  await graphql(server.url, '{ project(id: "not-a-uuid") { id } }', {}, org.auth);
  await server.app.sdkMetrics.flush();
});

describe('the log of a full run', () => {
  it('holds no secret, password, token, key, variable or personal data the run sent', () => {
    expect(lines.length).toBeGreaterThan(20);
    const log = lines.join('\n');
    for (const secret of secrets) expect(log.includes(secret), `a log line holds ${secret.slice(0, 12)}…`).toBe(false);
  });

  it('nor does the audit trail', async () => {
    const audit = JSON.stringify(await server.sql('select details from audit_entries'));
    for (const secret of secrets)
      expect(audit.includes(secret), `an audit entry holds ${secret.slice(0, 12)}…`).toBe(false);
  });

  it('holds no query string, operation text or SQL', () => {
    const log = lines.join('\n');
    expect(log).not.toMatch(/variables=|context=eyJ/);
    expect(log).not.toMatch(/mutation\(\$i: LoginInput!\)|GraphQL request:/);
    expect(log).not.toMatch(/\binsert into\b|\bselect .* from\b/i);
  });

  it('logs no error for what callers did wrong', () => {
    const errors = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level >= 50);
    expect(errors).toEqual([]);
  });
});
