import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../src/modules/audit/service.js';
import { bearer, errorCode, graphql, request } from './helpers/client.js';
import { givenAccessToken } from './helpers/credentials.js';
import { givenFlag, givenProject, givenState, storedState } from './helpers/flags.js';
import { givenMember, givenOrg } from './helpers/givens.js';
import { startServer, type TestServer } from './helpers/server.js';

/**
 * The audit log: one entry per change with who, what, where, a readable diff, the request and the
 * caller's address; filters and a cursor for export; and each organization's entries in a hash
 * chain whose first broken link verifyAuditChain names.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startServer({ AUTH_RATE_LIMIT: '10000', MANAGEMENT_RATE_LIMIT: '10000' });
});

const gql = (query: string, variables: Record<string, unknown>, auth: Record<string, string>) =>
  graphql(server.url, query, variables, auth);

const VERIFY = '{ verifyAuditChain { valid checked length firstBroken { seq entryId reason } } }';
const LOG = `query($limit: Int, $after: String, $action: String, $resourceType: String, $resourceId: String,
  $actorUserId: ID, $actorTokenId: ID, $principalKind: String, $since: DateTime, $until: DateTime, $projectId: ID) {
  auditLog(limit: $limit, after: $after, action: $action, resourceType: $resourceType, resourceId: $resourceId,
    actorUserId: $actorUserId, actorTokenId: $actorTokenId, principalKind: $principalKind, since: $since, until: $until,
    projectId: $projectId) {
    total hasMore nextCursor
    data { id action resourceId seq hash prevHash requestId clientIp principalKind actorUserId actorTokenId changes createdAt }
  } }`;

async function givenBusyOrg() {
  const org = await givenOrg(server.url);
  const project = await givenProject(server, org);
  for (let i = 0; i < 4; i++) await givenFlag(server, org, project);
  return { org, project };
}

describe('each entry', () => {
  it("names the request it came from and the caller's address", async () => {
    const org = await givenOrg(server.url);
    const requestId = `audit-${randomUUID()}`;
    const r = await request(server.url, 'POST', '/graphql', {
      body: { query: 'mutation { createProject(input: { name: "Traced" }) { id } }' },
      headers: { ...org.auth, 'x-request-id': requestId },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-request-id')).toBe(requestId);
    const log = await gql(LOG, { action: 'project.created', resourceId: r.body.data.createProject.id }, org.auth);
    expect(log.data.auditLog.data).toEqual([
      expect.objectContaining({ requestId, clientIp: '127.0.0.1', principalKind: 'member', actorUserId: org.userId }),
    ]);
  });

  it('says what changed in words a person reads', async () => {
    const org = await givenOrg(server.url);
    const project = await givenProject(server, org);
    const flag = await givenFlag(server, org, project);
    const rules = (countries: string[]) => [
      { description: 'beta', clauses: [{ attribute: 'plan', op: 'in', values: ['beta'] }], serve: { variation: 0 } },
      { description: 'eu', clauses: [{ attribute: 'country', op: 'in', values: countries }], serve: { variation: 0 } },
    ];
    await givenState(server, org, flag.id, project.env.dev!, { rules: rules(['DE']) });
    const stored = (await storedState(server, flag.id, project.env.dev!)).rules as { id: string }[];
    await givenState(server, org, flag.id, project.env.dev!, {
      on: true,
      rules: rules(['DE', 'FR']).map((rule, i) => ({ ...rule, id: stored[i]!.id })),
      fallthrough: {
        rollout: {
          variations: [
            { variation: 0, weight: 50_000 },
            { variation: 1, weight: 50_000 },
          ],
        },
      },
    });
    const log = await gql(LOG, { action: 'flag.state.updated', resourceId: flag.id, limit: 1 }, org.auth);
    expect(log.data.auditLog.data[0].changes).toEqual([
      'turned on',
      'rule 2: clause country in [DE] → [DE, FR]',
      'default: variation 0 → rollout 0: 50%, 1: 50%',
    ]);
    const first = await gql(
      LOG,
      { action: 'flag.state.updated', resourceId: flag.id, limit: 1, after: log.data.auditLog.nextCursor },
      org.auth,
    );
    expect(first.data.auditLog.data[0].changes).toEqual([
      'rule 1 added: "beta" plan in [beta] → serve variation 0',
      'rule 2 added: "eu" country in [DE] → serve variation 0',
    ]);
  });
});

describe('filters and export', () => {
  it('narrows by actor, token, kind of actor, resource, action and time', async () => {
    const { org, project } = await givenBusyOrg();
    const developer = await givenMember(server.url, org, 'developer');
    const token = await givenAccessToken(server.url, org.auth, {
      kind: 'PERSONAL',
      permissions: ['flag:read', 'flag:write', 'audit:read'],
    });
    const byToken = await givenFlag(server, { ...org, auth: bearer(token.data.createAccessToken.value) }, project);
    const byDeveloper = await givenFlag(server, developer, project);
    const everything = (await gql(LOG, { limit: 100 }, org.auth)).data.auditLog;

    const tokenEntries = (await gql(LOG, { actorTokenId: token.data.createAccessToken.token.id }, org.auth)).data
      .auditLog;
    expect(tokenEntries.data.map((e: { resourceId: string }) => e.resourceId)).toEqual([byToken.id]);
    expect(tokenEntries.data[0]).toMatchObject({ principalKind: 'personal-token', actorUserId: org.userId });
    const developerEntries = (await gql(LOG, { actorUserId: developer.userId, resourceType: 'flag' }, org.auth)).data
      .auditLog;
    expect(developerEntries.data.map((e: { resourceId: string }) => e.resourceId)).toEqual([byDeveloper.id]);
    const members = (await gql(LOG, { principalKind: 'personal-token' }, org.auth)).data.auditLog;
    expect(members.total).toBe(1);
    const created = (await gql(LOG, { action: 'flag.created', projectId: project.id }, org.auth)).data.auditLog;
    expect(created.total).toBe(6);

    // A time range: the entries strictly inside the window between the first and the last.
    const times = everything.data.map((e: { createdAt: string }) => e.createdAt).sort();
    const inside = (await gql(LOG, { since: times[1], until: times[times.length - 1] }, org.auth)).data.auditLog;
    expect(inside.total).toBe(times.length - 2);
  });

  it('exports page by page with a cursor, each entry once, whatever is written meanwhile', async () => {
    const { org, project } = await givenBusyOrg();
    const all = (await gql(LOG, { limit: 100 }, org.auth)).data.auditLog.data.map((e: { id: string }) => e.id);
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 20; page++) {
      const r = await gql(LOG, { limit: 2, after }, org.auth);
      expect(r.errors).toBeUndefined();
      seen.push(...r.data.auditLog.data.map((e: { id: string }) => e.id));
      // Entries written during the export come before its first page: they do not shift it.
      if (page === 0) await givenFlag(server, org, project);
      after = r.data.auditLog.nextCursor;
      if (!after) break;
    }
    expect(seen).toEqual(all);
    expect(errorCode(await gql(LOG, { after: 'not-a-cursor' }, org.auth))).toBe('VALIDATION');
  });
});

describe('the hash chain', () => {
  it('links every entry of an organization in order, concurrent mutations included', async () => {
    const { org, project } = await givenBusyOrg();
    await Promise.all(Array.from({ length: 12 }, () => givenFlag(server, org, project)));
    const verified = await gql(VERIFY, {}, org.auth);
    expect(verified.data.verifyAuditChain).toMatchObject({ valid: true, firstBroken: null });
    const rows = await server.sql<{ seq: number; created_at: Date; prev_hash: string; hash: string }>(
      'select seq, created_at, prev_hash, hash from audit_entries where organization_id = ? order by seq',
      [org.organizationId],
    );
    expect(verified.data.verifyAuditChain.checked).toBe(rows.length);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_r, i) => i + 1));
    for (let i = 1; i < rows.length; i++) {
      expect(rows[i]!.prev_hash).toBe(rows[i - 1]!.hash);
      expect(new Date(rows[i]!.created_at).getTime()).toBeGreaterThan(new Date(rows[i - 1]!.created_at).getTime());
    }
    // Another organization's chain is its own.
    const other = await givenOrg(server.url);
    expect((await gql(VERIFY, {}, other.auth)).data.verifyAuditChain).toMatchObject({
      valid: true,
      checked: 1,
      length: 1,
    });
  });

  it('reports the first broken link when an entry is edited with SQL', async () => {
    const { org } = await givenBusyOrg();
    const [target] = await server.sql<{ id: string; seq: number }>(
      'select id, seq from audit_entries where organization_id = ? and seq = 3',
      [org.organizationId],
    );
    await server.sql(`update audit_entries set details = jsonb_set(details, '{key}', '"tampered"') where id = ?`, [
      target!.id,
    ]);
    const r = await gql(VERIFY, {}, org.auth);
    expect(r.data.verifyAuditChain).toMatchObject({
      valid: false,
      checked: 2,
      firstBroken: { seq: 3, entryId: target!.id, reason: expect.stringContaining('changed after it was written') },
    });
  });

  it('reports a removed entry, and entries removed from its end', async () => {
    const { org } = await givenBusyOrg();
    await server.sql('delete from audit_entries where organization_id = ? and seq = 2', [org.organizationId]);
    expect((await gql(VERIFY, {}, org.auth)).data.verifyAuditChain).toMatchObject({
      valid: false,
      firstBroken: { seq: 2, entryId: null, reason: 'entry 2 is missing' },
    });

    const tail = await givenBusyOrg();
    const [last] = await server.sql<{ seq: number }>(
      'select max(seq) as seq from audit_entries where organization_id = ?',
      [tail.org.organizationId],
    );
    await server.sql('delete from audit_entries where organization_id = ? and seq = ?', [
      tail.org.organizationId,
      last!.seq,
    ]);
    expect((await gql(VERIFY, {}, tail.org.auth)).data.verifyAuditChain).toMatchObject({
      valid: false,
      firstBroken: { seq: last!.seq, entryId: null },
    });
  });

  it('reads the chain a batch at a time, keeping none of it in memory, and at most SENSITIVE_RATE_LIMIT times a minute per caller', async () => {
    const { org } = await givenBusyOrg();
    const em = server.orm.em.fork();
    const verified = await verifyAuditChain(em, org.organizationId);
    expect(verified).toMatchObject({ valid: true, checked: verified.length });
    expect(verified.length).toBeGreaterThan(4);
    expect(em.getUnitOfWork().getIdentityMap().values()).toEqual([]);

    const strict = await startServer({ AUTH_RATE_LIMIT: '10000', SENSITIVE_RATE_LIMIT: '2' });
    const owner = await givenOrg(strict.url);
    const calls = [];
    for (let i = 0; i < 3; i++) calls.push(await graphql(strict.url, VERIFY, {}, owner.auth));
    expect(calls.map(errorCode)).toEqual([undefined, undefined, 'RATE_LIMITED']);
  });

  it('needs audit:read', async () => {
    const org = await givenOrg(server.url);
    expect(errorCode(await graphql(server.url, VERIFY, {}, {}))).toBe('UNAUTHENTICATED');
    const token = await givenAccessToken(server.url, org.auth, { kind: 'SERVICE', permissions: ['flag:read'] });
    expect(errorCode(await gql(VERIFY, {}, bearer(token.data.createAccessToken.value)))).toBe('FORBIDDEN');
  });
});
