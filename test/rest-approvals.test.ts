import { beforeAll, describe, expect, it } from 'vitest';
import { uniqueEmail } from './helpers/givens.js';
import { type Call, expectEnvelope, givenRestWorld, type Team } from './helpers/rest.js';
import type { TestServer } from './helpers/server.js';

/**
 * Change governance over REST: /v1/approvals (request, list, read, review, cancel, reschedule),
 * an environment's approval setting, a change that waits answering 202 with its approval,
 * invitations, and the audit log's filters, cursor and chain.
 */
let server: TestServer;
let team: Team;
let call: Call;
let flagKey: string;
let flagId: string;
beforeAll(async () => {
  ({ server, team, call } = await givenRestWorld());
  const made = await call('POST', `/v1/projects/${team.projectId}/flags`, team.as.owner.auth, { key: 'governed' });
  expect(made.status).toBe(201);
  flagKey = made.body.key;
  flagId = made.body.id;
  const set = await call('PUT', `/v1/environments/${team.env.production}/approval`, team.as.admin.auth, {
    requires_approval: true,
    min_approvals: 1,
  });
  expect(set.status, JSON.stringify(set.body)).toBe(200);
});

const stateOf = async () =>
  (
    await call(
      'GET',
      `/v1/projects/${team.projectId}/flags/${flagKey}/environments/${team.env.production}`,
      team.as.owner.auth,
    )
  ).body as { enabled: boolean; version: number };

describe('/v1/approvals', () => {
  it('an admin sets an environment to require approval; a developer cannot', async () => {
    expectEnvelope(
      await call('PUT', `/v1/environments/${team.env.staging}/approval`, team.as.developer.auth, {
        requires_approval: true,
      }),
      403,
    );
  });

  it('PUT of a flag state there answers 202 with the approval, and writes nothing', async () => {
    const { version } = await stateOf();
    const r = await call(
      'PUT',
      `/v1/projects/${team.projectId}/flags/${flagKey}/environments/${team.env.production}`,
      team.as.developer.auth,
      { version, enabled: true },
    );
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body).toMatchObject({
      kind: 'flag.state',
      state: 'pending',
      flag_key: flagKey,
      environment_id: team.env.production,
      requested_by: team.as.developer.userId,
      base_version: version,
      changes: ['turned on'],
      required_approvals: 1,
    });
    expect((await stateOf()).enabled).toBe(false);
  });

  it('POST creates a request with a comment; review applies it; the same review again is refused', async () => {
    const { version } = await stateOf();
    const created = await call('POST', '/v1/approvals', team.as.developer.auth, {
      flag_id: flagId,
      env_id: team.env.production,
      version,
      change: {
        enabled: true,
        rules: [{ clauses: [{ attribute: 'country', operator: 'in', values: ['DE'] }], serve: { variation: 0 } }],
      },
      comment: 'Germany first',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ state: 'pending', comment: 'Germany first' });
    const id = created.body.id;
    expect((await call('GET', `/v1/approvals/${id}`, team.as.viewer.auth)).body).toMatchObject({
      id,
      state: 'pending',
    });
    const listed = await call(
      'GET',
      `/v1/approvals?state=pending&flag_id=${flagId}&requested_by=${team.as.developer.userId}`,
      team.as.viewer.auth,
    );
    expect(listed.body.data.map((a: { id: string }) => a.id)).toContain(id);
    expect(listed.body).toMatchObject({ limit: 50, offset: 0 });

    expectEnvelope(
      await call('POST', `/v1/approvals/${id}/review`, team.as.developer.auth, { decision: 'approve' }),
      403,
    );
    const reviewed = await call('POST', `/v1/approvals/${id}/review`, team.as.admin.auth, {
      decision: 'approve',
      comment: 'ok',
    });
    expect(reviewed.status, JSON.stringify(reviewed.body)).toBe(200);
    expect(reviewed.body).toMatchObject({
      state: 'applied',
      approvals: 1,
      reviews: [{ reviewer_id: team.as.admin.userId, decision: 'approve', comment: 'ok', round: 1 }],
    });
    expect((await stateOf()).enabled).toBe(true);
    expectEnvelope(await call('POST', `/v1/approvals/${id}/review`, team.as.owner.auth, { decision: 'approve' }), 409);
  });

  it('a request approved after the flag was edited is stale and writes nothing', async () => {
    const { version } = await stateOf();
    const first = await call('POST', '/v1/approvals', team.as.developer.auth, {
      flag_id: flagId,
      env_id: team.env.production,
      version,
      change: { off_variation: 0 },
    });
    const second = await call('POST', '/v1/approvals', team.as.developer.auth, {
      flag_id: flagId,
      env_id: team.env.production,
      version,
      change: { enabled: false },
    });
    expect(
      (await call('POST', `/v1/approvals/${second.body.id}/review`, team.as.admin.auth, { decision: 'approve' })).body
        .state,
    ).toBe('applied');
    const edited = await stateOf();
    const stale = await call('POST', `/v1/approvals/${first.body.id}/review`, team.as.admin.auth, {
      decision: 'approve',
    });
    expect(stale.body).toMatchObject({ state: 'stale', outcome: expect.stringContaining('re-propose') });
    expect(await stateOf()).toEqual(edited);
  });

  it('its author cancels it; a scheduled one is rescheduled; DELETE of a flag live there answers 202', async () => {
    const { version } = await stateOf();
    const scheduled = await call('POST', '/v1/approvals', team.as.developer.auth, {
      flag_id: flagId,
      env_id: team.env.production,
      version,
      change: { enabled: true },
      apply_at: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(scheduled.body).toMatchObject({ state: 'pending', apply_at: expect.any(String) });
    const later = new Date(Date.now() + 7_200_000).toISOString();
    const moved = await call('POST', `/v1/approvals/${scheduled.body.id}/reschedule`, team.as.developer.auth, {
      apply_at: later,
    });
    expect(moved.body.apply_at).toBe(later);
    const listed = await call('GET', `/v1/approvals?scheduled=true&state=pending`, team.as.viewer.auth);
    expect(listed.body.data.map((a: { id: string }) => a.id)).toContain(scheduled.body.id);
    expectEnvelope(await call('POST', `/v1/approvals/${scheduled.body.id}/cancel`, team.as.viewer.auth), 403);
    const cancelled = await call('POST', `/v1/approvals/${scheduled.body.id}/cancel`, team.as.developer.auth);
    expect(cancelled.body.state).toBe('cancelled');

    const del = await call('DELETE', `/v1/projects/${team.projectId}/flags/${flagKey}`, team.as.developer.auth);
    expect(del.status, JSON.stringify(del.body)).toBe(202);
    expect(del.body).toMatchObject({ kind: 'flag.delete', state: 'pending' });
    expect((await call('GET', `/v1/projects/${team.projectId}/flags/${flagKey}`, team.as.viewer.auth)).status).toBe(
      200,
    );
    expectEnvelope(await call('GET', `/v1/approvals/${del.body.id}`, team.stranger.auth), 404);
  });
});

describe('/v1/members/invite and /v1/invitations', () => {
  it('invites (201, once per token), lists, refuses a member (409), revokes (204)', async () => {
    const email = uniqueEmail('rest');
    const invited = await call('POST', '/v1/members/invite', team.as.admin.auth, { email, role: 'developer' });
    expect(invited.status, JSON.stringify(invited.body)).toBe(201);
    expect(invited.body).toMatchObject({ invitation: { email, role: 'developer' }, mailed: false });
    expect(invited.body.accept_url).toMatch(/\/invite#vx_inv_/);
    expectEnvelope(
      await call('POST', '/v1/members/invite', team.as.admin.auth, { email: team.as.viewer.email, role: 'viewer' }),
      409,
    );
    expectEnvelope(
      await call('POST', '/v1/members/invite', team.as.admin.auth, { email: uniqueEmail(), role: 'owner' }),
      403,
    );
    const listed = await call('GET', '/v1/invitations', team.as.viewer.auth);
    expect(listed.body.data.map((i: { email: string }) => i.email)).toContain(email);
    expect((await call('DELETE', `/v1/invitations/${invited.body.invitation.id}`, team.as.admin.auth)).status).toBe(
      204,
    );
    const accepted = await call(
      'POST',
      '/v1/auth/invitations/accept',
      {},
      { token: invited.body.token, name: 'Late', password: 'a-long-password' },
    );
    expectEnvelope(accepted, 401, 'this invitation was revoked');
  });
});

describe('/v1/audit', () => {
  it('filters by actor type and time, pages by cursor, reads as a diff, and verifies its chain', async () => {
    const mine = await call(
      'GET',
      `/v1/audit?actor_id=${team.as.admin.userId}&action=approval.reviewed&limit=1`,
      team.as.viewer.auth,
    );
    expect(mine.status, JSON.stringify(mine.body)).toBe(200);
    expect(mine.body.data[0]).toMatchObject({
      actor_type: 'member',
      request_id: expect.any(String),
      client_ip: '127.0.0.1',
    });
    const all: string[] = [];
    let after: string | null = null;
    do {
      const page = await call('GET', `/v1/audit?limit=5${after ? `&after=${after}` : ''}`, team.as.viewer.auth);
      expect(page.status).toBe(200);
      all.push(...page.body.data.map((e: { id: string }) => e.id));
      after = page.body.next_cursor;
    } while (after);
    expect(new Set(all).size).toBe(all.length);
    const everything = await call('GET', '/v1/audit?limit=100', team.as.viewer.auth);
    expect(all.length).toBe(everything.body.total);
    const applied = (
      await call('GET', `/v1/audit?action=flag.state.updated&resource_id=${flagId}`, team.as.viewer.auth)
    ).body.data;
    expect(applied.some((e: { changes: string[] }) => e.changes.includes('turned on'))).toBe(true);
    expect((await call('GET', '/v1/audit/verify', team.as.viewer.auth)).body).toMatchObject({
      valid: true,
      first_broken: null,
    });
    await server.sql("update audit_entries set action = 'flag.nothing' where organization_id = ? and seq = 2", [
      team.org.organizationId,
    ]);
    expect((await call('GET', '/v1/audit/verify', team.as.viewer.auth)).body).toMatchObject({
      valid: false,
      first_broken: { seq: 2 },
    });
  });
});
