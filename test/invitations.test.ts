import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLE_PERMISSIONS } from '../src/auth/permissions.js';
import { ManualClock } from '../src/clock.js';
import { INVITATION_TTL_MS, INVITATIONS_PER_DAY } from '../src/modules/invitations/service.js';
import { bearer, errorCode, graphql, request } from './helpers/client.js';
import { type GivenOrg, givenMember, givenOrg, uniqueEmail } from './helpers/givens.js';
import { startServer, type TestServer } from './helpers/server.js';
import { eventually } from './helpers/waiters.js';

/**
 * Invitations: a single-use link, valid for 7 days, stored as a hash; a new person registers
 * through it without an organization of their own, a signed-in person joins with their account;
 * with SMTP_URL set it is mailed too (to a real SMTP server here, in-process).
 */
const mails: { to: string[]; body: string }[] = [];
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  onData(stream, session, callback) {
    let body = '';
    stream.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    stream.on('end', () => {
      mails.push({ to: session.envelope.rcptTo.map((r) => r.address), body });
      callback();
    });
  },
});

const clock = new ManualClock();
let server: TestServer;
let org: GivenOrg;
beforeAll(async () => {
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const { port } = smtp.server.address() as AddressInfo;
  server = await startServer(
    {
      AUTH_RATE_LIMIT: '10000',
      MANAGEMENT_RATE_LIMIT: '10000',
      SENSITIVE_RATE_LIMIT: '10000',
      SMTP_URL: `smtp://127.0.0.1:${port}`,
      PUBLIC_URL: 'https://flags.example.com/',
    },
    { clock },
  );
  org = await givenOrg(server.url);
});
afterAll(() => new Promise<void>((resolve) => smtp.close(() => resolve())));

const INVITE = `mutation($email: String!, $role: Role!) { inviteMember(email: $email, role: $role) {
  token acceptUrl mailed invitation { id email role expiresAt } } }`;
const LIST = '{ invitations { total data { id email role } } }';

async function invite(email: string, role = 'developer', auth = org.auth) {
  const r = await graphql(server.url, INVITE, { email, role }, auth);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data.inviteMember as { token: string; acceptUrl: string; mailed: boolean; invitation: { id: string } };
}

const accept = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  request(server.url, 'POST', '/v1/auth/invitations/accept', { body, headers });

const organizationCount = async () =>
  Number((await server.sql<{ n: string }>('select count(*) as n from organizations'))[0]!.n);

describe('inviting', () => {
  it('answers a single-use accept link (…/invite#token), keeps only its hash, mails it, and lists it until accepted', async () => {
    const email = uniqueEmail('invitee');
    const created = await invite(email);
    expect(created.token).toMatch(/^vx_inv_[0-9A-Za-z]{36}$/);
    expect(created.acceptUrl).toBe(`https://flags.example.com/invite#${created.token}`);
    const [row] = await server.sql<{ token_hash: string; expires_at: Date }>(
      'select token_hash, expires_at from invitations where id = ?',
      [created.invitation.id],
    );
    expect(row!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(await server.sql('select * from invitations'))).not.toContain(created.token);
    expect(new Date(row!.expires_at).getTime() - clock.now()).toBe(7 * 24 * 60 * 60 * 1000);
    expect(created.mailed).toBe(true);
    const mail = await eventually(() => mails.find((m) => m.to.includes(email)));
    expect(mail!.body.replace(/=\r?\n/g, '')).toContain(created.acceptUrl);
    expect((await graphql(server.url, LIST, {}, org.auth)).data.invitations.data).toContainEqual({
      id: created.invitation.id,
      email,
      role: 'developer',
    });
    // The token itself is in no audit entry.
    expect(JSON.stringify(await server.sql('select details from audit_entries'))).not.toContain(created.token);
  });

  it('refuses a current member (409), an owner invited by an admin (403), an admin replacing an owner’s invitation (403), and an account another organization’s SSO manages', async () => {
    const member = await givenMember(server.url, org, 'viewer');
    expect(errorCode(await graphql(server.url, INVITE, { email: member.email, role: 'viewer' }, org.auth))).toBe(
      'CONFLICT',
    );
    const admin = await givenMember(server.url, org, 'admin');
    expect(errorCode(await graphql(server.url, INVITE, { email: uniqueEmail(), role: 'owner' }, admin.auth))).toBe(
      'FORBIDDEN',
    );
    const developer = await givenMember(server.url, org, 'developer');
    expect(errorCode(await graphql(server.url, INVITE, { email: uniqueEmail(), role: 'viewer' }, developer.auth))).toBe(
      'FORBIDDEN',
    );
    const other = await givenOrg(server.url);
    const managed = uniqueEmail('sso');
    await server.sql(
      `insert into users (id, email, name, password_hash, managed_by_organization_id, created_at, updated_at)
       values (gen_random_uuid(), ?, 'Managed', null, ?, now(), now())`,
      [managed, other.organizationId],
    );
    expect(errorCode(await graphql(server.url, INVITE, { email: managed, role: 'viewer' }, org.auth))).toBe(
      'FORBIDDEN',
    );
    // An admin may invite an admin.
    await invite(uniqueEmail(), 'admin', admin.auth);
    // Nor does an admin replace (so revoke) an owner's invitation by inviting the address again.
    const future = uniqueEmail('future-owner');
    const asOwner = await invite(future, 'owner');
    expect(errorCode(await graphql(server.url, INVITE, { email: future, role: 'viewer' }, admin.auth))).toBe(
      'FORBIDDEN',
    );
    const [kept] = await server.sql<{ role: string; revoked_at: Date | null }>(
      'select role, revoked_at from invitations where id = ?',
      [asOwner.invitation.id],
    );
    expect(kept).toEqual({ role: 'owner', revoked_at: null });
    expect(await server.sql('select id from invitations where email = ? and role = ?', [future, 'viewer'])).toEqual([]);
  });
});

describe('how many', () => {
  it(`an organization sends at most ${INVITATIONS_PER_DAY} in 24 hours, whoever sends them`, async () => {
    const busy = await givenOrg(server.url);
    await server.sql(
      `insert into invitations (id, organization_id, email, role, token_hash, expires_at, created_at)
       select gen_random_uuid(), ?, 'bulk-' || n || '@example.com', 'viewer', md5(random()::text) || md5(random()::text), ?, ?
       from generate_series(1, ?) n`,
      [
        busy.organizationId,
        new Date(clock.now() + INVITATION_TTL_MS),
        new Date(clock.now() - 60_000),
        INVITATIONS_PER_DAY,
      ],
    );
    const refused = await graphql(server.url, INVITE, { email: uniqueEmail(), role: 'viewer' }, busy.auth);
    expect(refused.errors?.[0]).toMatchObject({
      message: `an organization may send at most ${INVITATIONS_PER_DAY} invitations a day: try later`,
      extensions: { code: 'CONFLICT' },
    });
    const rows = await server.sql('select id from invitations where organization_id = ?', [busy.organizationId]);
    expect(rows).toHaveLength(INVITATIONS_PER_DAY);
    // A day later it may again.
    clock.advance(24 * 60 * 60 * 1000);
    await invite(uniqueEmail(), 'viewer', busy.auth);
  });
});

describe('accepting', () => {
  it('a new person registers through it: a session in the inviting organization, no organization of their own', async () => {
    const email = uniqueEmail('new');
    const { token } = await invite(email);
    const organizations = await organizationCount();
    const r = await accept({ token, name: 'New Person', password: 'a-long-password' });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ user: { email }, organization: { id: org.organizationId } });
    expect(await organizationCount()).toBe(organizations);
    const me = await graphql(
      server.url,
      '{ me { user { email } role } organization { id } }',
      {},
      bearer(r.body.tokens.access_token),
    );
    expect(me.data).toEqual({ me: { user: { email }, role: 'developer' }, organization: { id: org.organizationId } });
    const [membership] = await server.sql<{ role: string }>(
      'select m.role from memberships m join users u on u.id = m.user_id where u.email = ?',
      [email],
    );
    expect(membership!.role).toBe('developer');
    // They sign in with the password they chose.
    expect(
      (await request(server.url, 'POST', '/v1/auth/login', { body: { email, password: 'a-long-password' } })).status,
    ).toBe(200);
  });

  it('works once: reused, expired or revoked it is refused and nothing is written', async () => {
    const { token } = await invite(uniqueEmail('once'));
    expect((await accept({ token, name: 'Once', password: 'a-long-password' })).status).toBe(201);
    const reused = await accept({ token, name: 'Twice', password: 'a-long-password' });
    expect(reused.status).toBe(401);
    expect(reused.body.error).toBe('this invitation has already been used');

    const expiring = uniqueEmail('late');
    const late = await invite(expiring);
    clock.advance(7 * 24 * 60 * 60 * 1000 + 1);
    const expired = await accept({ token: late.token, name: 'Late', password: 'a-long-password' });
    expect(expired.status).toBe(401);
    expect(expired.body.error).toBe('this invitation has expired');
    expect(await server.sql('select id from users where email = ?', [expiring])).toEqual([]);
    expect(
      (await graphql(server.url, LIST, {}, org.auth)).data.invitations.data.map((i: { email: string }) => i.email),
    ).not.toContain(expiring);

    const revokedEmail = uniqueEmail('revoked');
    const revoked = await invite(revokedEmail);
    const revoke = await graphql(
      server.url,
      'mutation($id: ID!) { revokeInvitation(id: $id) { revokedAt } }',
      { id: revoked.invitation.id },
      org.auth,
    );
    expect(revoke.data.revokeInvitation.revokedAt).not.toBeNull();
    expect((await accept({ token: revoked.token, name: 'R', password: 'a-long-password' })).body.error).toBe(
      'this invitation was revoked',
    );
    // Inviting the address again replaces the pending invitation: the first link stops working.
    const again = uniqueEmail('again');
    const first = await invite(again);
    const second = await invite(again);
    expect((await accept({ token: first.token, name: 'A', password: 'a-long-password' })).status).toBe(401);
    expect((await accept({ token: second.token, name: 'A', password: 'a-long-password' })).status).toBe(201);
    expect((await accept({ token: 'vx_inv_nonsense', name: 'A', password: 'a-long-password' })).body.error).toBe(
      'this invitation is not valid',
    );
    // A token that is no invitation is refused before anything else is looked at (no password is hashed for it).
    const guessed = await accept({ token: `vx_inv_${'x'.repeat(36)}`, name: '', password: 'short' });
    expect(guessed.status).toBe(401);
    expect(guessed.body.error).toBe('this invitation is not valid');
  });

  it("grants no more than its sender still holds: a demoted or departed admin's invitations, or a deactivated token's, no longer work, and nothing is written", async () => {
    const admin = await givenMember(server.url, org, 'admin');
    const asAdmin = uniqueEmail('demoted');
    const asDeveloper = uniqueEmail('departed');
    const toAdmin = await invite(asAdmin, 'admin', admin.auth);
    const toDeveloper = await invite(asDeveloper, 'developer', admin.auth);
    const tokenInvitee = uniqueEmail('token');
    const token = await graphql(
      server.url,
      'mutation($input: CreateAccessTokenInput!) { createAccessToken(input: $input) { value token { id } } }',
      { input: { name: 'inviter', kind: 'SERVICE', permissions: [...ROLE_PERMISSIONS.viewer, 'member:manage'] } },
      org.auth,
    );
    const byToken = await invite(tokenInvitee, 'viewer', { 'api-key': token.data.createAccessToken.value });
    const demote = await graphql(
      server.url,
      'mutation($u: ID!) { updateMemberRole(userId: $u, role: developer) { role } }',
      { u: admin.userId },
      org.auth,
    );
    expect(demote.errors).toBeUndefined();
    const refused = await accept({ token: toAdmin.token, name: 'Back door', password: 'a-long-password' });
    expect(refused.status).toBe(403);
    expect(Object.keys(refused.body).sort()).toEqual(['error', 'request_id']);
    // What the sender still holds it still grants, until they leave.
    const removed = await graphql(
      server.url,
      'mutation($u: ID!) { removeMember(userId: $u) { role } }',
      { u: admin.userId },
      org.auth,
    );
    expect(removed.errors, JSON.stringify(removed.errors)).toBeUndefined();
    const gql = await graphql(
      server.url,
      'mutation($t: String!) { acceptInvitation(token: $t, name: "Gone", password: "a-long-password") { user { id } } }',
      { t: toDeveloper.token },
    );
    expect(errorCode(gql)).toBe('FORBIDDEN');
    const deactivated = await graphql(
      server.url,
      'mutation($id: ID!) { updateAccessToken(id: $id, input: { active: false }) { active } }',
      { id: token.data.createAccessToken.token.id },
      org.auth,
    );
    expect(deactivated.errors, JSON.stringify(deactivated.errors)).toBeUndefined();
    expect((await accept({ token: byToken.token, name: 'T', password: 'a-long-password' })).status).toBe(403);
    expect(
      await server.sql('select id from users where email in (?, ?, ?)', [asAdmin, asDeveloper, tokenInvitee]),
    ).toEqual([]);
    expect(
      await server.sql('select id from invitations where accepted_at is not null and id in (?, ?, ?)', [
        toAdmin.invitation.id,
        toDeveloper.invitation.id,
        byToken.invitation.id,
      ]),
    ).toEqual([]);
  });

  it('a signed-in person joins with their account; someone else, or an email that has an account, cannot', async () => {
    const person = await givenOrg(server.url);
    const { token } = await invite(person.email, 'viewer');
    const stranger = await givenOrg(server.url);
    const wrong = await accept({ token }, stranger.auth);
    expect(wrong.status).toBe(403);
    // The address has an account: registering anew through the link is refused.
    expect((await accept({ token, name: 'Dup', password: 'a-long-password' })).status).toBe(409);
    const joined = await accept({ token }, person.auth);
    expect(joined.status, JSON.stringify(joined.body)).toBe(200);
    expect(joined.body.organization.id).toBe(org.organizationId);
    const orgs = await graphql(server.url, '{ myOrganizations { id } }', {}, person.auth);
    expect(orgs.data.myOrganizations.map((o: { id: string }) => o.id).sort()).toEqual(
      [person.organizationId, org.organizationId].sort(),
    );
    const [entry] = await server.sql<{ actor_user_id: string; details: Record<string, unknown> }>(
      "select actor_user_id, details from audit_entries where organization_id = ? and action = 'invitation.accepted' and resource_id = ?",
      [org.organizationId, person.userId],
    );
    expect(entry).toMatchObject({ actor_user_id: person.userId, details: { account: 'existing', role: 'viewer' } });
  });

  it('GraphQL acceptInvitation does the same', async () => {
    const email = uniqueEmail('gql');
    const { token } = await invite(email, 'admin');
    const r = await graphql(
      server.url,
      'mutation($t: String!) { acceptInvitation(token: $t, name: "Graph", password: "a-long-password") { user { email } organization { id } } }',
      { t: token },
    );
    expect(r.data.acceptInvitation).toEqual({ user: { email }, organization: { id: org.organizationId } });
    const again = await graphql(
      server.url,
      'mutation($t: String!) { acceptInvitation(token: $t, name: "Graph", password: "a-long-password") { user { email } } }',
      { t: token },
    );
    expect(errorCode(again)).toBe('UNAUTHENTICATED');
  });
});
