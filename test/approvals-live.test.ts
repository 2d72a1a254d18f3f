import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { givenApprovalRequired, REVIEW } from './helpers/approvals.js';
import { graphql } from './helpers/client.js';
import { givenFlag, givenProject, storedState, UPDATE_STATE } from './helpers/flags.js';
import { type GivenOrg, givenMember, givenOrg } from './helpers/givens.js';
import { givenDatabase, startServer, type TestServer } from './helpers/server.js';
import { eventually } from './helpers/waiters.js';
import { subscribeWs } from './helpers/ws.js';

/**
 * A reviewer's inbox updates itself: approvalChanged over graphql-ws, fed by the change bus, so
 * a request made through one node reaches a reviewer connected to another.
 */
const ENV = { AUTH_RATE_LIMIT: '10000', MANAGEMENT_RATE_LIMIT: '10000' };
let a: TestServer;
let b: TestServer;
let org: GivenOrg;
beforeAll(async () => {
  const databaseUrl = await givenDatabase();
  [a, b] = await Promise.all([startServer(ENV, { databaseUrl }), startServer(ENV, { databaseUrl })]);
  org = await givenOrg(a.url);
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

const SUBSCRIPTION = `subscription($p: ID!) { approvalChanged(projectId: $p) {
  pendingChangeId state changedBy { userId } pendingChange { id state flagKey author { id } } } }`;

describe('approvalChanged', () => {
  it("a reviewer's subscription on another node sees a request appear and get applied", async () => {
    const reviewer = await givenMember(a.url, org, 'admin');
    const developer = await givenMember(a.url, org, 'developer');
    const project = await givenProject(a, org);
    await givenApprovalRequired(a, org.auth, project.env.production!);
    const flag = await givenFlag(a, org, project);
    const ws = subscribeWs(b.url, reviewer.auth, SUBSCRIPTION, { p: project.id });
    await ws.connected;
    const propose = async () => {
      const r = await graphql(
        a.url,
        UPDATE_STATE.replace('prerequisites { key variation }', 'prerequisites { key variation } pendingChange { id }'),
        {
          flagId: flag.id,
          env: project.env.production,
          v: (await storedState(a, flag.id, project.env.production!)).version,
          input: { on: true },
        },
        developer.auth,
      );
      expect(r.errors).toBeUndefined();
      return r.data.updateFlagState.pendingChange.id as string;
    };
    // graphql-ws has no per-operation ack: propose until the subscription is seen to be live.
    const proposed: string[] = [];
    await eventually(async () => ws.results.length > 0 || void proposed.push(await propose()), 10_000, 300);
    const request = proposed[proposed.length - 1]!;
    const appeared = await eventually(() =>
      ws.results.find((r) => r.data?.approvalChanged?.pendingChangeId === request),
    );
    expect(appeared!.data.approvalChanged).toMatchObject({
      state: 'pending',
      changedBy: { userId: developer.userId },
      pendingChange: { id: request, flagKey: flag.key, author: { id: developer.userId } },
    });

    const approved = await graphql(a.url, REVIEW, { id: request, d: 'APPROVE' }, reviewer.auth);
    expect(approved.data.reviewPendingChange.state).toBe('APPLIED');
    const applied = await eventually(() =>
      ws.results.find(
        (r) => r.data?.approvalChanged?.pendingChangeId === request && r.data.approvalChanged.state === 'applied',
      ),
    );
    expect(applied!.data.approvalChanged).toMatchObject({
      changedBy: { userId: reviewer.userId },
      pendingChange: { id: request, state: 'APPLIED' },
    });
    await ws.dispose();
  });

  it('refuses an anonymous subscriber and a project of another organization', async () => {
    const project = await givenProject(a, org);
    const refusal = async (sub: ReturnType<typeof subscribeWs>) => {
      const ended = await sub.ended;
      await sub.dispose();
      if (ended.how === 'error') return (ended.error as { extensions?: { code?: string } }[])[0]?.extensions?.code;
      return sub.results[0]?.errors?.[0]?.extensions?.code;
    };
    expect(await refusal(subscribeWs(a.url, {}, SUBSCRIPTION, { p: project.id }))).toBe('UNAUTHENTICATED');
    const stranger = await givenOrg(a.url);
    expect(await refusal(subscribeWs(a.url, stranger.auth, SUBSCRIPTION, { p: project.id }))).toBe('NOT_FOUND');
  });
});
