import { beforeAll, describe, expect, it } from 'vitest';
import { ROLE_PERMISSIONS } from '../src/auth/permissions.js';
import {
  auditRows,
  CANCEL,
  givenApprovalRequired,
  PENDING,
  PENDING_FIELDS,
  REQUEST,
  REVIEW,
} from './helpers/approvals.js';
import { errorCode, graphql, request as httpRequest } from './helpers/client.js';
import { givenAccessToken } from './helpers/credentials.js';
import {
  type GivenProject,
  givenFlag,
  givenProject,
  givenSegment,
  givenState,
  storedState,
  UPDATE_STATE,
} from './helpers/flags.js';
import { type GivenOrg, givenMember, givenOrg } from './helpers/givens.js';
import { startServer, type TestServer } from './helpers/server.js';

/**
 * Approvals (change requests): in an environment that requires approval, changes to what it
 * evaluates wait as pending changes, reviewed by others, applied only over the state they were
 * made against.
 */
let server: TestServer;
let org: GivenOrg;
let admin: Awaited<ReturnType<typeof givenMember>>;
let admin2: Awaited<ReturnType<typeof givenMember>>;
let developer: Awaited<ReturnType<typeof givenMember>>;
let viewer: Awaited<ReturnType<typeof givenMember>>;
beforeAll(async () => {
  server = await startServer({ AUTH_RATE_LIMIT: '10000', MANAGEMENT_RATE_LIMIT: '10000' });
  org = await givenOrg(server.url);
  admin = await givenMember(server.url, org, 'admin');
  admin2 = await givenMember(server.url, org, 'admin');
  developer = await givenMember(server.url, org, 'developer');
  viewer = await givenMember(server.url, org, 'viewer');
});

const gql = (query: string, variables: Record<string, unknown>, auth: Record<string, string>) =>
  graphql(server.url, query, variables, auth);

const UPDATE_WITH_PENDING = `mutation($flagId: ID, $env: ID!, $v: Int!, $input: FlagStateInput!) {
  updateFlagState(flagId: $flagId, environmentId: $env, expectedVersion: $v, input: $input) {
    on version pendingChange { ${PENDING_FIELDS} } } }`;

/** A project whose production requires `min` approvals, with a flag; the developer proposes. */
async function givenGovernedFlag(min = 1) {
  const project = await givenProject(server, org);
  await givenApprovalRequired(server, org.auth, project.env.production!, min);
  const flag = await givenFlag(server, org, project);
  return { project, flag };
}

async function propose(project: GivenProject, flagId: string, input: Record<string, unknown>, auth = developer.auth) {
  const { version } = await storedState(server, flagId, project.env.production!);
  const r = await gql(UPDATE_WITH_PENDING, { flagId, env: project.env.production, v: version, input }, auth);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data.updateFlagState;
}

const review = async (id: string, decision: 'APPROVE' | 'REJECT', auth: Record<string, string>, c?: string) =>
  gql(REVIEW, { id, d: decision, c }, auth);

describe('environment settings', () => {
  it('production of a new project does not require approval until an admin turns it on; a developer cannot', async () => {
    const project = await givenProject(server, org);
    const read = await gql(
      'query($id: ID!) { project(id: $id) { environments { key requiresApproval minApprovals } } }',
      { id: project.id },
      org.auth,
    );
    expect(read.data.project.environments).toEqual([
      { key: 'dev', requiresApproval: false, minApprovals: 1 },
      { key: 'staging', requiresApproval: false, minApprovals: 1 },
      { key: 'production', requiresApproval: false, minApprovals: 1 },
    ]);
    const SET =
      'mutation($e: ID!) { setEnvironmentApproval(environmentId: $e, requiresApproval: true, minApprovals: 2) { requiresApproval minApprovals } }';
    expect(errorCode(await gql(SET, { e: project.env.production }, developer.auth))).toBe('FORBIDDEN');
    const [before] = await server.sql<{ requires_approval: boolean }>(
      'select requires_approval from environments where id = ?',
      [project.env.production],
    );
    expect(before!.requires_approval).toBe(false);
    const set = await gql(SET, { e: project.env.production }, admin.auth);
    expect(set.data.setEnvironmentApproval).toEqual({ requiresApproval: true, minApprovals: 2 });
    const bad = await gql(
      'mutation($e: ID!) { setEnvironmentApproval(environmentId: $e, requiresApproval: true, minApprovals: 0) { minApprovals } }',
      { e: project.env.production },
      admin.auth,
    );
    expect(errorCode(bad)).toBe('VALIDATION');
    const [entry] = await auditRows(server, org.organizationId, 'environment.approval.updated');
    expect(entry!.details).toMatchObject({
      before: { requiresApproval: false, minApprovals: 1 },
      after: { requiresApproval: true, minApprovals: 2 },
    });
  });
});

describe('a change in an environment that requires approval', () => {
  it('does not apply: it answers the unchanged state with the pending change (who, what, the proposed state, the diff, the base version)', async () => {
    const { project, flag } = await givenGovernedFlag();
    const before = await storedState(server, flag.id, project.env.production!);
    const answer = await propose(project, flag.id, { on: true });
    expect(answer.on).toBe(false);
    expect(answer.version).toBe(before.version);
    expect(answer.pendingChange).toMatchObject({
      kind: 'FLAG_STATE',
      state: 'PENDING',
      flagKey: flag.key,
      requiredApprovals: 1,
      approvals: 0,
      baseVersion: before.version,
      author: { id: developer.userId },
      environment: { key: 'production' },
      changes: ['turned on'],
      proposed: { on: true, offVariation: 1, rules: [], targets: [], prerequisites: [], fallthrough: { variation: 0 } },
    });
    expect(await storedState(server, flag.id, project.env.production!)).toMatchObject({ on: false, version: 1 });
    // The same change elsewhere applies at once.
    const dev = await givenState(server, org, flag.id, project.env.dev!, { on: true });
    expect(dev.on).toBe(true);
  });

  it('applies when approved, in one transaction, only over the state it was made against; the audit names requester and approver', async () => {
    const project = await givenProject(server, org);
    const flag = await givenFlag(server, org, project);
    const rules = [
      {
        description: 'germany',
        clauses: [{ attribute: 'country', op: 'in', values: ['DE'] }],
        serve: { variation: 0 },
      },
    ];
    await givenState(server, org, flag.id, project.env.production!, { rules });
    await givenApprovalRequired(server, org.auth, project.env.production!);
    const { rules: stored } = await storedState(server, flag.id, project.env.production!);
    const ruleId = (stored[0] as { id: string }).id;
    const { pendingChange } = await propose(project, flag.id, {
      on: true,
      rules: [
        {
          id: ruleId,
          description: 'germany',
          clauses: [{ attribute: 'country', op: 'in', values: ['DE', 'FR'] }],
          serve: { variation: 0 },
        },
      ],
    });
    expect(pendingChange.changes).toEqual(['turned on', 'rule 1: clause country in [DE] → [DE, FR]']);
    const approved = await review(pendingChange.id, 'APPROVE', admin.auth, 'looks right');
    expect(approved.errors).toBeUndefined();
    expect(approved.data.reviewPendingChange).toMatchObject({
      state: 'APPLIED',
      approvals: 1,
      reviews: [{ reviewer: { id: admin.userId }, decision: 'APPROVE', comment: 'looks right', round: 1 }],
    });
    const state = await storedState(server, flag.id, project.env.production!);
    expect(state.on).toBe(true);
    expect(state.version).toBe(pendingChange.baseVersion + 1);
    const [write] = (await auditRows(server, org.organizationId, 'flag.state.updated')).filter(
      (e) => e.details.approval?.pendingChangeId === pendingChange.id,
    );
    expect(write).toMatchObject({
      actor_user_id: admin.userId,
      details: {
        approval: { requestedBy: { userId: developer.userId }, approvedBy: [admin.userId], trigger: 'review' },
      },
    });
  });

  it('becomes stale, and nothing is written, when approved after the flag was edited', async () => {
    const { project, flag } = await givenGovernedFlag();
    const { pendingChange } = await propose(project, flag.id, { on: true });
    // Someone else's change to production is approved and applied meanwhile.
    const other = await propose(project, flag.id, { offVariation: 0 });
    expect((await review(other.pendingChange.id, 'APPROVE', admin.auth)).data.reviewPendingChange.state).toBe(
      'APPLIED',
    );
    const edited = await storedState(server, flag.id, project.env.production!);

    const r = await review(pendingChange.id, 'APPROVE', admin2.auth);
    expect(r.errors).toBeUndefined();
    expect(r.data.reviewPendingChange.state).toBe('STALE');
    expect(r.data.reviewPendingChange.outcome).toMatch(/changed in "production" since this was proposed/);
    expect(await storedState(server, flag.id, project.env.production!)).toEqual(edited);
    const writes = (await auditRows(server, org.organizationId, 'flag.state.updated')).filter(
      (e) => e.details.approval?.pendingChangeId === pendingChange.id,
    );
    expect(writes).toEqual([]);
  });

  it('refuses self-approval, and counts the same reviewer once', async () => {
    const { project, flag } = await givenGovernedFlag(2);
    const { pendingChange } = await propose(project, flag.id, { on: true });
    expect(errorCode(await review(pendingChange.id, 'APPROVE', developer.auth))).toBe('FORBIDDEN');
    // A developer has no approval:review at all; the author's own admin session is refused too.
    const byAdmin = await propose(project, flag.id, { offVariation: 0 }, admin.auth);
    const self = await review(byAdmin.pendingChange.id, 'APPROVE', admin.auth);
    expect(errorCode(self)).toBe('FORBIDDEN');
    expect(self.errors![0]!.message).toBe('nobody reviews their own request');

    expect((await review(pendingChange.id, 'APPROVE', admin.auth)).data.reviewPendingChange).toMatchObject({
      state: 'PENDING',
      approvals: 1,
    });
    const twice = await review(pendingChange.id, 'APPROVE', admin.auth);
    expect(errorCode(twice)).toBe('CONFLICT');
    const now = await gql(PENDING, { id: pendingChange.id }, org.auth);
    expect(now.data.pendingChange).toMatchObject({ state: 'PENDING', approvals: 1 });
    expect(await storedState(server, flag.id, project.env.production!)).toMatchObject({ on: false });
    // A second, different reviewer completes it.
    expect((await review(pendingChange.id, 'APPROVE', org.auth)).data.reviewPendingChange).toMatchObject({
      state: 'APPLIED',
      approvals: 2,
    });
    expect(await storedState(server, flag.id, project.env.production!)).toMatchObject({ on: true });
  });

  it('a change a service token proposed is not reviewed by the person who created the token, even once it is deleted', async () => {
    const { project, flag } = await givenGovernedFlag();
    const ci = await givenAccessToken(server.url, admin.auth, {
      kind: 'SERVICE',
      permissions: [...ROLE_PERMISSIONS.developer],
    });
    expect(ci.errors, JSON.stringify(ci.errors)).toBeUndefined();
    const token = { authorization: `Bearer ${ci.data.createAccessToken.value}` };
    const first = await propose(project, flag.id, { on: true }, token);
    const second = await propose(project, flag.id, { offVariation: 0 }, token);
    const self = await review(first.pendingChange.id, 'APPROVE', admin.auth);
    expect(errorCode(self)).toBe('FORBIDDEN');
    expect(self.errors![0]!.message).toBe('nobody reviews a request made with a service token they created');
    // Anyone else reviews it.
    expect((await review(first.pendingChange.id, 'APPROVE', admin2.auth)).data.reviewPendingChange.state).toBe(
      'APPLIED',
    );
    const deleted = await gql(
      'mutation($id: ID!) { deleteAccessToken(id: $id) { id } }',
      { id: ci.data.createAccessToken.token.id },
      admin.auth,
    );
    expect(deleted.errors, JSON.stringify(deleted.errors)).toBeUndefined();
    expect(errorCode(await review(second.pendingChange.id, 'APPROVE', admin.auth))).toBe('FORBIDDEN');
    expect(
      await server.sql('select id from pending_reviews where change_id in (?, ?) and reviewer_user_id = ?', [
        first.pendingChange.id,
        second.pendingChange.id,
        admin.userId,
      ]),
    ).toEqual([]);
  });

  it('does not apply, once approved, for an author who no longer holds the permission to make it', async () => {
    const { project, flag } = await givenGovernedFlag();
    const author = await givenMember(server.url, org, 'developer');
    const { pendingChange } = await propose(project, flag.id, { on: true }, author.auth);
    const demoted = await gql(
      'mutation($u: ID!) { updateMemberRole(userId: $u, role: viewer) { role } }',
      { u: author.userId },
      org.auth,
    );
    expect(demoted.errors).toBeUndefined();
    const approved = await review(pendingChange.id, 'APPROVE', admin.auth);
    expect(approved.data.reviewPendingChange).toMatchObject({
      state: 'STALE',
      outcome: 'its author no longer holds flag:write: it did not apply',
    });
    expect(await storedState(server, flag.id, project.env.production!)).toMatchObject({ on: false, version: 1 });
  });

  it('a viewer and a service token acting alone cannot review; a rejection ends the request', async () => {
    const { project, flag } = await givenGovernedFlag();
    const { pendingChange } = await propose(project, flag.id, { on: true });
    expect(errorCode(await review(pendingChange.id, 'APPROVE', viewer.auth))).toBe('FORBIDDEN');
    const token = await givenAccessToken(server.url, org.auth, {
      kind: 'SERVICE',
      permissions: ['flag:read', 'approval:review'],
    });
    const byToken = await review(pendingChange.id, 'APPROVE', {
      authorization: `Bearer ${token.data.createAccessToken.value}`,
    });
    expect(errorCode(byToken)).toBe('FORBIDDEN');
    const rejected = await review(pendingChange.id, 'REJECT', admin.auth, 'not before the release');
    expect(rejected.data.reviewPendingChange.state).toBe('REJECTED');
    expect(errorCode(await review(pendingChange.id, 'APPROVE', admin2.auth))).toBe('CONFLICT');
    expect(await storedState(server, flag.id, project.env.production!)).toMatchObject({ on: false });
  });

  it('its author cancels it (nobody else without approval:review); a cancelled change is not applied', async () => {
    const { project, flag } = await givenGovernedFlag();
    const { pendingChange } = await propose(project, flag.id, { on: true });
    const other = await givenMember(server.url, org, 'developer');
    expect(errorCode(await gql(CANCEL, { id: pendingChange.id }, other.auth))).toBe('FORBIDDEN');
    const cancelled = await gql(CANCEL, { id: pendingChange.id }, developer.auth);
    expect(cancelled.data.cancelPendingChange.state).toBe('CANCELLED');
    expect(errorCode(await review(pendingChange.id, 'APPROVE', admin.auth))).toBe('CONFLICT');
    expect(await storedState(server, flag.id, project.env.production!)).toMatchObject({ on: false });
  });

  it('editing it resets its approvals and re-bases it on the current state (a stale one becomes current again)', async () => {
    const { project, flag } = await givenGovernedFlag(2);
    const { pendingChange } = await propose(project, flag.id, { on: true });
    expect((await review(pendingChange.id, 'APPROVE', admin.auth)).data.reviewPendingChange.approvals).toBe(1);
    const EDIT = `mutation($id: ID!, $v: Int!, $input: FlagStateInput!, $c: String) {
      editPendingChange(id: $id, expectedVersion: $v, input: $input, comment: $c) { ${PENDING_FIELDS} } }`;
    const { version } = await storedState(server, flag.id, project.env.production!);
    expect(errorCode(await gql(EDIT, { id: pendingChange.id, v: version, input: { on: true } }, admin2.auth))).toBe(
      'FORBIDDEN',
    );
    const edited = await gql(
      EDIT,
      { id: pendingChange.id, v: version, input: { on: true, offVariation: 0 }, c: 'and serve true when off' },
      developer.auth,
    );
    expect(edited.errors).toBeUndefined();
    expect(edited.data.editPendingChange).toMatchObject({
      state: 'PENDING',
      round: 2,
      approvals: 0,
      comment: 'and serve true when off',
      changes: ['turned on', 'off variation: 1 → 0'],
    });
    // The first approval was for the old proposal: the same admin may approve the new one.
    expect((await review(pendingChange.id, 'APPROVE', admin.auth)).data.reviewPendingChange.approvals).toBe(1);
    expect((await review(pendingChange.id, 'APPROVE', admin2.auth)).data.reviewPendingChange.state).toBe('APPLIED');
    expect(await storedState(server, flag.id, project.env.production!)).toMatchObject({ on: true, off_variation: 0 });
  });

  it('the kill switch always applies at once and is audited as an emergency', async () => {
    const { flag } = await givenGovernedFlag();
    await server.sql('update flag_states set "on" = true where flag_id = ?', [flag.id]);
    const kill = await gql(
      'mutation($f: ID!) { killFlag(flagId: $f) { environment { key } on } }',
      { f: flag.id },
      developer.auth,
    );
    expect(kill.errors).toBeUndefined();
    expect(kill.data.killFlag.every((s: { on: boolean }) => !s.on)).toBe(true);
    const [entry] = (await auditRows(server, org.organizationId, 'flag.killed')).filter(
      (e) => e.resource_id === flag.id,
    );
    expect(entry!.details).toMatchObject({ emergency: true, approvalBypassed: ['production'] });
  });

  it('a promotion into it becomes a pending change there and applies elsewhere', async () => {
    const { project, flag } = await givenGovernedFlag();
    await givenState(server, org, flag.id, project.env.dev!, { on: true });
    const r = await gql(
      `mutation($f: ID!, $from: ID!, $to: [ID!]!) { promoteFlag(flagId: $f, fromEnvironmentId: $from, toEnvironmentIds: $to) {
        environment { key } on pendingChange { kind state changes } } }`,
      { f: flag.id, from: project.env.dev, to: [project.env.staging, project.env.production] },
      developer.auth,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data.promoteFlag).toEqual([
      { environment: { key: 'staging' }, on: true, pendingChange: null },
      {
        environment: { key: 'production' },
        on: false,
        pendingChange: { kind: 'FLAG_STATE', state: 'PENDING', changes: ['turned on'] },
      },
    ]);
    expect(await storedState(server, flag.id, project.env.production!)).toMatchObject({ on: false });
  });

  it('archiving or deleting a flag live there waits for approval; so does a segment change that reaches it', async () => {
    const { project, flag } = await givenGovernedFlag();
    const archive = await gql(
      `mutation($id: ID!) { archiveFlag(id: $id) { archived pendingChange { id kind state changes } } }`,
      { id: flag.id },
      developer.auth,
    );
    expect(archive.data.archiveFlag).toMatchObject({
      archived: false,
      pendingChange: { kind: 'FLAG_ARCHIVE', state: 'PENDING', changes: ['archived: false → true'] },
    });
    expect(
      (await review(archive.data.archiveFlag.pendingChange.id, 'APPROVE', admin.auth)).data.reviewPendingChange.state,
    ).toBe('APPLIED');
    const [row] = await server.sql<{ archived_at: Date | null }>('select archived_at from flags where id = ?', [
      flag.id,
    ]);
    expect(row!.archived_at).not.toBeNull();

    const live = await givenFlag(server, org, project);
    const del = await gql(
      'mutation($id: ID!) { deleteFlag(id: $id) { key pendingChange { id kind } } }',
      { id: live.id },
      org.auth,
    );
    expect(del.data.deleteFlag.pendingChange.kind).toBe('FLAG_DELETE');
    expect((await server.sql('select id from flags where id = ?', [live.id])).length).toBe(1);
    expect(
      (await review(del.data.deleteFlag.pendingChange.id, 'APPROVE', admin.auth)).data.reviewPendingChange.state,
    ).toBe('APPLIED');
    expect((await server.sql('select id from flags where id = ?', [live.id])).length).toBe(0);
    // The request outlives the flag it deleted, as its record.
    const record = await gql(PENDING, { id: del.data.deleteFlag.pendingChange.id }, org.auth);
    expect(record.data.pendingChange).toMatchObject({ state: 'APPLIED', flagKey: live.key });

    const segment = await givenSegment(server, org, project, { included: ['a'] });
    const UPDATE_SEGMENT =
      'mutation($id: ID!, $input: UpdateSegmentInput!) { updateSegment(id: $id, input: $input) { included version pendingChange { id kind changes environments { key } } } }';
    // Used nowhere governed yet: applies at once.
    const direct = await gql(UPDATE_SEGMENT, { id: segment.id, input: { included: ['a', 'b'] } }, developer.auth);
    expect(direct.data.updateSegment).toMatchObject({ included: ['a', 'b'], pendingChange: null });
    const user = await givenFlag(server, org, project);
    await givenState(server, org, user.id, project.env.production!, {
      rules: [{ clauses: [{ attribute: 'key', op: 'segmentMatch', values: [segment.key] }], serve: { variation: 0 } }],
    });
    // That change itself waited for approval: approve it, then the segment reaches production.
    const [waiting] = await server.sql<{ id: string }>(
      "select id from pending_changes where flag_id = ? and state = 'pending'",
      [user.id],
    );
    expect((await review(waiting!.id, 'APPROVE', admin.auth)).data.reviewPendingChange.state).toBe('APPLIED');
    const gated = await gql(UPDATE_SEGMENT, { id: segment.id, input: { included: ['a', 'b', 'c'] } }, developer.auth);
    expect(gated.data.updateSegment).toMatchObject({
      included: ['a', 'b'],
      pendingChange: {
        kind: 'SEGMENT_UPDATE',
        changes: ['included: [a, b] → [a, b, c]'],
        environments: [{ key: 'production' }],
      },
    });
    const [stored] = await server.sql<{ included: string[] }>('select included from segments where id = ?', [
      segment.id,
    ]);
    expect(stored!.included).toEqual(['a', 'b']);
    expect(
      (await review(gated.data.updateSegment.pendingChange.id, 'APPROVE', admin.auth)).data.reviewPendingChange.state,
    ).toBe('APPLIED');
    const [after] = await server.sql<{ included: string[] }>('select included from segments where id = ?', [
      segment.id,
    ]);
    expect(after!.included).toEqual(['a', 'b', 'c']);
  });

  it('a credential without approval:request is refused, and nothing is written', async () => {
    const { project, flag } = await givenGovernedFlag();
    const token = await givenAccessToken(server.url, org.auth, {
      kind: 'SERVICE',
      permissions: ['flag:read', 'flag:write'],
    });
    const auth = { authorization: `Bearer ${token.data.createAccessToken.value}` };
    const r = await gql(
      UPDATE_STATE,
      { flagId: flag.id, env: project.env.production, v: 1, input: { on: true } },
      auth,
    );
    expect(errorCode(r)).toBe('FORBIDDEN');
    expect(await server.sql('select id from pending_changes where flag_id = ?', [flag.id])).toEqual([]);
  });
});

describe('bounds', () => {
  it('applyAt in the past or more than 366 days ahead, a comment over 2,000 characters and minApprovals outside 1-10 are refused on every door, leaving no row', async () => {
    const project = await givenProject(server, org);
    const flag = await givenFlag(server, org, project);
    const { version } = await storedState(server, flag.id, project.env.dev!);
    const rows = async () => server.sql('select id, apply_at from pending_changes where flag_id = ?', [flag.id]);
    const ahead = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
    const request = (at: string, comment?: string) =>
      gql(REQUEST, { f: flag.id, e: project.env.dev, v: version, input: { on: true }, at, comment }, developer.auth);
    for (const at of [ahead(-1), ahead(367), '9999-12-31T00:00:00Z']) {
      const r = await request(at);
      expect(r.errors?.[0]?.extensions?.code, at).toBe('VALIDATION');
    }
    expect(errorCode(await request(ahead(1), 'x'.repeat(2_001)))).toBe('VALIDATION');
    const rest = (path: string, body: unknown, method = 'POST') =>
      httpRequest(server.url, method, path, { headers: developer.auth, body });
    const far = await rest('/v1/approvals', {
      flag_id: flag.id,
      env_id: project.env.dev,
      version,
      change: { on: true },
      apply_at: '9999-12-31T00:00:00Z',
    });
    expect(far.status).toBe(400);
    expect(Object.keys(far.body).sort()).toEqual(['error', 'request_id']);
    expect(await rows()).toEqual([]);

    // Rescheduling is bounded the same way, and leaves the time it had.
    const scheduled = await request(ahead(1));
    expect(scheduled.errors).toBeUndefined();
    const id = scheduled.data.requestFlagChange.id;
    const before = await rows();
    for (const at of [ahead(-1), ahead(367), '9999-12-31T00:00:00Z']) {
      const moved = await gql(
        'mutation($id: ID!, $at: DateTime!) { reschedulePendingChange(id: $id, applyAt: $at) { applyAt } }',
        { id, at },
        developer.auth,
      );
      expect(errorCode(moved), at).toBe('VALIDATION');
      expect((await rest(`/v1/approvals/${id}/reschedule`, { apply_at: at })).status).toBe(400);
    }
    expect(await rows()).toEqual(before);

    for (const min of [0, 11, -1]) {
      const set = await gql(
        'mutation($e: ID!, $m: Int) { setEnvironmentApproval(environmentId: $e, requiresApproval: true, minApprovals: $m) { minApprovals } }',
        { e: project.env.dev, m: min },
        org.auth,
      );
      expect(errorCode(set)).toBe('VALIDATION');
    }
    const [dev] = await server.sql<{ requires_approval: boolean }>(
      'select requires_approval from environments where id = ?',
      [project.env.dev],
    );
    expect(dev!.requires_approval).toBe(false);
  });
});

describe('least privilege', () => {
  it('a token narrowed to dev neither reviews, cancels nor edits a change to production', async () => {
    const { project, flag } = await givenGovernedFlag();
    const { pendingChange } = await propose(project, flag.id, { on: true });
    const narrowed = await givenAccessToken(server.url, org.auth, {
      kind: 'SERVICE',
      permissions: ['flag:read', 'flag:write', 'approval:request', 'approval:review'],
      environmentIds: [project.env.dev!],
    });
    const auth = { authorization: `Bearer ${narrowed.data.createAccessToken.value}` };
    expect(errorCode(await review(pendingChange.id, 'APPROVE', auth))).toBe('FORBIDDEN');
    expect(errorCode(await gql(CANCEL, { id: pendingChange.id }, auth))).toBe('FORBIDDEN');
    expect((await gql(PENDING, { id: pendingChange.id }, org.auth)).data.pendingChange.state).toBe('PENDING');
  });
});

describe('the request door and the inbox', () => {
  it('requestFlagChange carries a comment; pendingChanges filters by state, environment, flag and author', async () => {
    const { project, flag } = await givenGovernedFlag();
    const { version } = await storedState(server, flag.id, project.env.production!);
    const requested = await gql(
      REQUEST,
      { f: flag.id, e: project.env.production, v: version, input: { on: true }, comment: 'launch day' },
      developer.auth,
    );
    expect(requested.errors).toBeUndefined();
    expect(requested.data.requestFlagChange).toMatchObject({ state: 'PENDING', comment: 'launch day' });
    const stale = await gql(
      REQUEST,
      { f: flag.id, e: project.env.production, v: version + 5, input: { on: true } },
      developer.auth,
    );
    expect(errorCode(stale)).toBe('CONFLICT');
    // Nothing requires approval in dev, and no time was given: nothing to wait for.
    const devVersion = (await storedState(server, flag.id, project.env.dev!)).version;
    const pointless = await gql(
      REQUEST,
      { f: flag.id, e: project.env.dev, v: devVersion, input: { on: true } },
      developer.auth,
    );
    expect(errorCode(pointless)).toBe('VALIDATION');

    const LIST = `query($p: ID, $s: [PendingChangeState!], $e: ID, $f: ID, $a: ID) {
      pendingChanges(projectId: $p, states: $s, environmentId: $e, flagId: $f, authorId: $a) { total hasMore data { id state } } }`;
    const mine = await gql(
      LIST,
      { p: project.id, s: ['PENDING'], e: project.env.production, f: flag.id, a: developer.userId },
      viewer.auth,
    );
    expect(mine.data.pendingChanges.data).toEqual([{ id: requested.data.requestFlagChange.id, state: 'PENDING' }]);
    expect((await gql(LIST, { p: project.id, a: admin.userId }, viewer.auth)).data.pendingChanges.total).toBe(0);
    expect((await gql(LIST, { p: project.id, e: project.env.dev }, viewer.auth)).data.pendingChanges.total).toBe(0);
    expect((await gql(LIST, { p: project.id, s: ['APPLIED'] }, viewer.auth)).data.pendingChanges.total).toBe(0);
    const stranger = await givenOrg(server.url);
    expect(errorCode(await gql(PENDING, { id: requested.data.requestFlagChange.id }, stranger.auth))).toBe('NOT_FOUND');
    expect((await gql(LIST, {}, stranger.auth)).data.pendingChanges.total).toBe(0);
  });
});
