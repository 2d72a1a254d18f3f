import { beforeAll, describe, expect, it } from 'vitest';
import { ROLE_PERMISSIONS } from '../src/auth/permissions.js';
import { auditRows, givenApprovalRequired, PENDING, REQUEST, REVIEW } from './helpers/approvals.js';
import { errorCode, graphql } from './helpers/client.js';
import { givenFlag, givenProject, storedState } from './helpers/flags.js';
import { type GivenOrg, givenMember, givenOrg } from './helpers/givens.js';
import { givenDatabase, startServer, type TestServer } from './helpers/server.js';
import { eventually } from './helpers/waiters.js';

/**
 * Scheduled changes: a pending change with a time applies at that time, exactly once across any
 * number of nodes on one database, even when the node that scheduled it is gone, by the same
 * stale-version rule; one that needs approval and has none by then does not run.
 */
const ENV = { AUTH_RATE_LIMIT: '10000', MANAGEMENT_RATE_LIMIT: '10000' };
let databaseUrl: string;
let a: TestServer;
let b: TestServer;
let org: GivenOrg;
beforeAll(async () => {
  databaseUrl = await givenDatabase();
  [a, b] = await Promise.all([startServer(ENV, { databaseUrl }), startServer(ENV, { databaseUrl })]);
  org = await givenOrg(a.url);
});

/** A time a few seconds ahead: long enough to act before it, short enough to wait for. */
const soon = (ms = 2_500) => new Date(Date.now() + ms).toISOString();

async function schedule(
  server: TestServer,
  flagId: string,
  environmentId: string,
  input: Record<string, unknown>,
  at: string,
  auth = org.auth,
) {
  const { version } = await storedState(server, flagId, environmentId);
  const r = await graphql(server.url, REQUEST, { f: flagId, e: environmentId, v: version, input, at }, auth);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data.requestFlagChange;
}

const stateOf = async (server: TestServer, id: string) =>
  (await graphql(server.url, PENDING, { id }, org.auth)).data.pendingChange;

const settled = (server: TestServer, id: string, timeoutMs = 20_000) =>
  eventually(async () => {
    const change = await stateOf(server, id);
    return ['PENDING', 'APPROVED'].includes(change.state) ? null : change;
  }, timeoutMs);

/** The writes a pending change made (its flag's audit entries that name it). */
const writesOf = async (server: TestServer, id: string) =>
  (await auditRows(server, org.organizationId)).filter(
    (e) => e.action.startsWith('flag.') && e.details.approval?.pendingChangeId === id,
  );

describe('a scheduled change', () => {
  it('applies once at its time on the node still running when the node that scheduled it has stopped; the audit names the scheduler and who scheduled it', async () => {
    const c = await startServer(ENV, { databaseUrl });
    const project = await givenProject(c, org);
    const flag = await givenFlag(c, org, project);
    const change = await schedule(c, flag.id, project.env.dev!, { on: true }, soon());
    expect(change).toMatchObject({ state: 'APPROVED', requiredApprovals: 0 });
    await c.close();

    const done = await settled(b, change.id);
    expect(done.state).toBe('APPLIED');
    expect(await storedState(b, flag.id, project.env.dev!)).toMatchObject({
      on: true,
      version: change.baseVersion + 1,
    });
    const writes = await writesOf(b, change.id);
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatchObject({
      action: 'flag.state.updated',
      principal_kind: 'scheduler',
      actor_user_id: org.userId,
      details: { approval: { trigger: 'schedule', requestedBy: { userId: org.userId } } },
    });
  });

  it('applies exactly once while two nodes run', async () => {
    const project = await givenProject(a, org);
    const at = soon(3_000);
    const changes = [];
    for (let i = 0; i < 4; i++) {
      const flag = await givenFlag(a, org, project);
      changes.push({ flag, change: await schedule(i % 2 ? a : b, flag.id, project.env.staging!, { on: true }, at) });
    }
    for (const { flag, change } of changes) {
      expect((await settled(a, change.id)).state).toBe('APPLIED');
      expect(await writesOf(a, change.id)).toHaveLength(1);
      expect(await storedState(a, flag.id, project.env.staging!)).toMatchObject({ version: change.baseVersion + 1 });
    }
  });

  it('survives every node restarting before its time', async () => {
    // A database of its own, so that no other node is running at all.
    const alone = await givenDatabase();
    const c = await startServer(ENV, { databaseUrl: alone });
    const owner = await givenOrg(c.url);
    const project = await givenProject(c, owner);
    const flag = await givenFlag(c, owner, project);
    const change = await schedule(c, flag.id, project.env.dev!, { on: true }, soon(2_000), owner.auth);
    await c.close();
    // A node started afresh, with nothing of the first one in memory, finds the job.
    const d = await startServer(ENV, { databaseUrl: alone });
    const done = await eventually(async () => {
      const r = await graphql(d.url, PENDING, { id: change.id }, owner.auth);
      return r.data.pendingChange.state === 'APPLIED' ? r.data.pendingChange : null;
    }, 20_000);
    expect(done.state).toBe('APPLIED');
    expect(await storedState(d, flag.id, project.env.dev!)).toMatchObject({ on: true });
    await d.close();
  });

  it('becomes stale, and writes nothing, when the flag changed before its time', async () => {
    const project = await givenProject(a, org);
    const flag = await givenFlag(a, org, project);
    const change = await schedule(a, flag.id, project.env.dev!, { on: true }, soon());
    const { version } = await storedState(a, flag.id, project.env.dev!);
    const edit = await graphql(
      a.url,
      'mutation($f: ID!, $e: ID!, $v: Int!) { updateFlagState(flagId: $f, environmentId: $e, expectedVersion: $v, input: { offVariation: 0 }) { version } }',
      { f: flag.id, e: project.env.dev, v: version },
      org.auth,
    );
    expect(edit.errors).toBeUndefined();
    const done = await settled(a, change.id);
    expect(done.state).toBe('STALE');
    expect(await storedState(a, flag.id, project.env.dev!)).toMatchObject({ on: false, version: version + 1 });
    expect(await writesOf(a, change.id)).toEqual([]);
  });

  it('in an environment that requires approval: runs at its time once approved, and does not run (expired) when not approved by then', async () => {
    const admin = await givenMember(a.url, org, 'admin');
    const project = await givenProject(a, org);
    await givenApprovalRequired(a, org.auth, project.env.production!);
    const approvedFlag = await givenFlag(a, org, project);
    const unapprovedFlag = await givenFlag(a, org, project);
    const at = soon(3_000);
    const approved = await schedule(a, approvedFlag.id, project.env.production!, { on: true }, at);
    const unapproved = await schedule(a, unapprovedFlag.id, project.env.production!, { on: true }, at);
    expect(approved.state).toBe('PENDING');
    const review = await graphql(a.url, REVIEW, { id: approved.id, d: 'APPROVE' }, admin.auth);
    // Approved before its time: it waits for it.
    expect(review.data.reviewPendingChange.state).toBe('APPROVED');
    expect(await storedState(a, approvedFlag.id, project.env.production!)).toMatchObject({ on: false });

    expect((await settled(b, approved.id)).state).toBe('APPLIED');
    expect(await storedState(a, approvedFlag.id, project.env.production!)).toMatchObject({ on: true });
    const [write] = await writesOf(a, approved.id);
    expect(write!.details.approval).toMatchObject({ trigger: 'schedule', approvedBy: [admin.userId] });

    const expired = await settled(b, unapproved.id);
    expect(expired).toMatchObject({
      state: 'EXPIRED',
      outcome: 'its time came before it was approved: it did not run',
    });
    expect(await storedState(a, unapprovedFlag.id, project.env.production!)).toMatchObject({ on: false, version: 1 });
    expect(errorCode(await graphql(a.url, REVIEW, { id: unapproved.id, d: 'APPROVE' }, admin.auth))).toBe('CONFLICT');
    const [entry] = (await auditRows(a, org.organizationId, 'approval.expired')).filter(
      (e) => e.resource_id === unapproved.id,
    );
    expect(entry).toMatchObject({ principal_kind: 'scheduler', actor_user_id: org.userId });
  });

  it('runs with the authority its author has at its time: not for a member demoted below flag:write, nor for a token deactivated since', async () => {
    const developer = await givenMember(a.url, org, 'developer');
    const project = await givenProject(a, org);
    const demotedFlag = await givenFlag(a, org, project);
    const tokenFlag = await givenFlag(a, org, project);
    const token = await graphql(
      a.url,
      'mutation($input: CreateAccessTokenInput!) { createAccessToken(input: $input) { value token { id } } }',
      { input: { name: 'scheduler', kind: 'SERVICE', permissions: [...ROLE_PERMISSIONS.developer] } },
      org.auth,
    );
    const ci = { authorization: `Bearer ${token.data.createAccessToken.value}` };
    const at = soon(3_000);
    const byDeveloper = await schedule(a, demotedFlag.id, project.env.dev!, { on: true }, at, developer.auth);
    const byToken = await schedule(a, tokenFlag.id, project.env.dev!, { on: true }, at, ci);
    const demoted = await graphql(
      a.url,
      'mutation($u: ID!) { updateMemberRole(userId: $u, role: viewer) { role } }',
      { u: developer.userId },
      org.auth,
    );
    expect(demoted.errors).toBeUndefined();
    const off = await graphql(
      a.url,
      'mutation($id: ID!) { updateAccessToken(id: $id, input: { active: false }) { active } }',
      { id: token.data.createAccessToken.token.id },
      org.auth,
    );
    expect(off.errors).toBeUndefined();
    expect(await settled(b, byDeveloper.id)).toMatchObject({
      state: 'EXPIRED',
      outcome: 'its author no longer holds flag:write: it did not run',
    });
    expect(await settled(b, byToken.id)).toMatchObject({
      state: 'EXPIRED',
      outcome: 'the token that scheduled it is deactivated or deleted: it did not run',
    });
    for (const flag of [demotedFlag, tokenFlag])
      expect(await storedState(a, flag.id, project.env.dev!)).toMatchObject({ on: false, version: 1 });
  });

  it('is listed on its flag until it runs; cancelled it never runs; rescheduled it runs at the new time only', async () => {
    const project = await givenProject(a, org);
    const flag = await givenFlag(a, org, project);
    const first = soon(2_000);
    const cancelled = await schedule(a, flag.id, project.env.dev!, { on: true }, first);
    const moved = await schedule(a, flag.id, project.env.staging!, { on: true }, first);
    const listed = await graphql(
      a.url,
      'query($p: ID!, $k: String!) { project(id: $p) { flag(key: $k) { scheduledChanges { id applyAt environment { key } } } } }',
      { p: project.id, k: flag.key },
      org.auth,
    );
    expect(listed.data.project.flag.scheduledChanges.map((c: { id: string }) => c.id).sort()).toEqual(
      [cancelled.id, moved.id].sort(),
    );
    const cancel = await graphql(
      a.url,
      'mutation($id: ID!) { cancelPendingChange(id: $id) { state } }',
      { id: cancelled.id },
      org.auth,
    );
    expect(cancel.data.cancelPendingChange.state).toBe('CANCELLED');
    const later = soon(5_000);
    const RESCHEDULE =
      'mutation($id: ID!, $at: DateTime!) { reschedulePendingChange(id: $id, applyAt: $at) { state applyAt } }';
    const past = await graphql(
      a.url,
      RESCHEDULE,
      { id: moved.id, at: new Date(Date.now() - 1_000).toISOString() },
      org.auth,
    );
    expect(errorCode(past)).toBe('VALIDATION');
    const rescheduled = await graphql(a.url, RESCHEDULE, { id: moved.id, at: later }, org.auth);
    expect(rescheduled.data.reschedulePendingChange).toEqual({ state: 'APPROVED', applyAt: later });

    // Both jobs for the first time run (and do nothing): the cancelled change and the moved one wait.
    const jobsAt = (id: string) =>
      a.sql<{ state: string }>(
        "select state from pgboss.job where name = 'approvals-scheduled-changes' and data->>'id' = ? order by created_on",
        [id],
      );
    await eventually(async () => (await jobsAt(cancelled.id))[0]?.state === 'completed', 20_000);
    await eventually(async () => (await jobsAt(moved.id))[0]?.state === 'completed', 20_000);
    expect((await stateOf(a, moved.id)).state).toBe('APPROVED');
    expect(await storedState(a, flag.id, project.env.staging!)).toMatchObject({ on: false });
    expect((await settled(a, moved.id)).state).toBe('APPLIED');
    expect(await storedState(a, flag.id, project.env.staging!)).toMatchObject({ on: true });
    expect((await stateOf(a, cancelled.id)).state).toBe('CANCELLED');
    expect(await storedState(a, flag.id, project.env.dev!)).toMatchObject({ on: false });
  });
});
