/**
 * A mutation decides its whole authorization before it writes, and a mutation that answers an
 * error has changed nothing. The walk enumerates the schema's Mutation fields, so a new mutation
 * is covered as soon as it exists (it fails here until it has a row in ARGUMENTS).
 */
import { randomBytes } from 'node:crypto';
import {
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  getNamedType,
  isAbstractType,
  isLeafType,
  isNonNullType,
  isObjectType,
} from 'graphql';
import jwt from 'jsonwebtoken';
import { beforeAll, describe, expect, it } from 'vitest';
import { PERMISSIONS, ROLE_PERMISSIONS } from '../src/auth/permissions.js';
import { schema } from '../src/schema.js';
import { bearer, errorCode, graphql, request } from './helpers/client.js';
import { givenAccessToken } from './helpers/credentials.js';
import { type GivenProject, givenFlag, givenProject, givenSegment, storedState } from './helpers/flags.js';
import { type GivenOrg, givenMember, givenOrg, uniqueEmail } from './helpers/givens.js';
import { startServer, type TestServer } from './helpers/server.js';
import { givenReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';

let server: TestServer;
let owner: GivenOrg;
let project: GivenProject;
/** A person with an organization of their own who is also a viewer of the owner's. */
let viewer: Awaited<ReturnType<typeof givenMember>>;
let developer: Awaited<ReturnType<typeof givenMember>>;
let ssoSecret: string;
let receiver: WebhookReceiver;

beforeAll(async () => {
  server = await startServer({
    AUTH_RATE_LIMIT: '100000',
    MANAGEMENT_RATE_LIMIT: '100000',
    SENSITIVE_RATE_LIMIT: '100000',
    // The walk's webhooks point at a receiver on this machine.
    WEBHOOK_ALLOW_PRIVATE: 'true',
  });
  receiver = await givenReceiver();
  owner = await givenOrg(server.url);
  project = await givenProject(server, owner);
  viewer = await givenMember(server.url, owner, 'viewer');
  developer = await givenMember(server.url, owner, 'developer');
  ssoSecret = (await graphql(server.url, 'mutation { rotateSsoSecret }', {}, owner.auth)).data.rotateSsoSecret;
});

const hex = () => randomBytes(4).toString('hex');
const apiKey = (value: string) => ({ 'api-key': value });

async function ok<T = any>(query: string, variables: Record<string, unknown>, auth = owner.auth): Promise<T> {
  const r = await graphql(server.url, query, variables, auth);
  expect(r.errors, `${query}: ${JSON.stringify(r.errors)}`).toBeUndefined();
  return r.data as T;
}

async function serviceToken(permissions: readonly string[], environmentIds?: string[]) {
  const r = await givenAccessToken(server.url, owner.auth, {
    kind: 'SERVICE',
    permissions: [...permissions],
    environmentIds,
  });
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data.createAccessToken as { value: string; token: { id: string } };
}

/**
 * A hash and a row count per table, so two dumps compare in one query. Usage bookkeeping that a
 * credential writes when it is presented (a token's last use, a spent SSO JWT id) is left out:
 * it is written by authentication, before any mutation is considered.
 */
async function dumpEveryTable(): Promise<Record<string, string>> {
  const tables = await server.sql<{ name: string }>(
    "select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' and table_name not in ('mikro_orm_migrations', 'sso_token_uses') order by 1",
  );
  const row = (name: string) => `(to_jsonb("${name}") - 'last_used_at')::text`;
  // A sum of row hashes: the same for the same rows in any order, and no sort to pay for.
  const parts = tables.map(
    ({ name }) =>
      `select '${name}' as name, count(*)::text || ':' || coalesce(sum(hashtextextended(${row(name)}, 0)), 0)::text as digest from "${name}"`,
  );
  const rows = await server.sql<{ name: string; digest: string }>(parts.join(' union all '));
  return Object.fromEntries(rows.map((r) => [r.name, r.digest]));
}

// ---- The selection: every field of the returned type, to a depth, so every nested scope is asked for.

function selectionOf(type: GraphQLNamedType, depth: number): string | null {
  if (isLeafType(type)) return '';
  if (depth === 0) return null;
  const objects: GraphQLObjectType[] = isAbstractType(type)
    ? [...schema.getPossibleTypes(type)]
    : isObjectType(type)
      ? [type]
      : [];
  const parts: string[] = [];
  for (const object of objects) {
    const fields: string[] = [];
    for (const field of Object.values(object.getFields()) as GraphQLField<unknown, unknown>[]) {
      if (field.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined)) continue;
      const inner = selectionOf(getNamedType(field.type), depth - 1);
      if (inner === null) continue;
      // Pages of one item: every nested scope is still asked for, within the operation cost limit.
      const name = field.args.some((a) => a.name === 'limit') ? `${field.name}(limit: 1)` : field.name;
      fields.push(inner ? `${name} ${inner}` : name);
    }
    parts.push(isAbstractType(type) ? `... on ${object.name} { ${fields.join(' ')} }` : fields.join(' '));
  }
  return parts.length ? `{ __typename ${parts.join(' ')} }` : null;
}

function operationFor(name: string): string {
  const field = schema.getMutationType()!.getFields()[name]!;
  const declared = field.args.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
  const passed = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
  const selection = selectionOf(getNamedType(field.type), 4) ?? '';
  return `mutation${declared ? `(${declared})` : ''} { ${name}${passed ? `(${passed})` : ''} ${selection} }`;
}

// ---- Fresh, valid arguments for each mutation: with them, a caller allowed everything succeeds.

const flag = () => givenFlag(server, owner, project);
const segment = () => givenSegment(server, owner, project);
async function environment() {
  const data = await ok(
    'mutation($p: ID!, $i: CreateEnvironmentInput!) { createEnvironment(projectId: $p, input: $i) { id } }',
    {
      p: project.id,
      i: { key: `env-${hex()}`, name: 'Walk' },
    },
  );
  return data.createEnvironment.id as string;
}
async function sdkKey() {
  const data = await ok('mutation($e: ID!) { createSdkKey(environmentId: $e, kind: SERVER) { key { id } } }', {
    e: project.env.production,
  });
  return data.createSdkKey.key.id as string;
}
async function freshProject() {
  return (await givenProject(server, owner)).id;
}
async function member(role: string) {
  const person = await givenOrg(server.url);
  await ok('mutation($e: String!, $r: Role!) { addMember(email: $e, role: $r) { role } }', {
    e: person.email,
    r: role,
  });
  return person.userId;
}
async function inactiveAllPowerfulToken() {
  const { token } = await serviceToken(PERMISSIONS);
  await ok('mutation($id: ID!) { updateAccessToken(id: $id, input: { active: false }) { id } }', { id: token.id });
  return token.id;
}
/**
 * A webhook that is off: no change of the walk is recorded for it, so no delivery runs in the
 * background while tables are compared.
 */
async function webhook() {
  // The walk makes many; the organization's limit on webhooks is not what it is about.
  await server.sql('delete from webhooks where organization_id = ?', [owner.organizationId]);
  const data = await ok('mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { webhook { id } } }', {
    i: { url: receiver.url, eventTypes: ['flag.*'], active: false },
  });
  return data.createWebhook.webhook.id as string;
}
async function webhookDelivery() {
  const data = await ok('mutation($id: ID!) { sendWebhookTest(id: $id) { id } }', { id: await webhook() });
  return data.sendWebhookTest.id as string;
}
async function refreshToken() {
  const res = await request(server.url, 'POST', '/v1/auth/login', {
    body: { email: viewer.email, password: viewer.password },
  });
  expect(res.status).toBe(200);
  return res.body.tokens.refresh_token as string;
}

/** A change to a flag in production, which requires approval, proposed by `auth` (the developer by default). */
async function pendingChange(auth = developer.auth) {
  const { id } = await flag();
  await ok('mutation($e: ID!) { setEnvironmentApproval(environmentId: $e, requiresApproval: true) { id } }', {
    e: project.env.production,
  });
  const { version } = await storedState(server, id, project.env.production!);
  const data = await ok(
    'mutation($f: ID!, $e: ID!, $v: Int!) { updateFlagState(flagId: $f, environmentId: $e, expectedVersion: $v, input: { on: true }) { pendingChange { id } } }',
    { f: id, e: project.env.production, v: version },
    auth,
  );
  return data.updateFlagState.pendingChange.id as string;
}
// Far enough ahead that no scheduled change of the walk runs (and writes) while it goes on.
const tomorrow = (extraMs = 0) => new Date(Date.now() + 86_400_000 + extraMs).toISOString();
/** A change to a flag in dev scheduled by the owner, and the version it was made against. */
async function scheduledChange() {
  const { id } = await flag();
  const { version } = await storedState(server, id, project.env.dev!);
  const data = await ok(
    'mutation($f: ID!, $e: ID!, $v: Int!, $at: DateTime) { requestFlagChange(flagId: $f, environmentId: $e, expectedVersion: $v, input: { on: true }, applyAt: $at) { id } }',
    { f: id, e: project.env.dev, v: version, at: tomorrow() },
  );
  return { id: data.requestFlagChange.id as string, version };
}
async function invitation(email = uniqueEmail('walk'), by = owner) {
  const data = await ok(
    'mutation($e: String!) { inviteMember(email: $e, role: viewer) { token invitation { id } } }',
    { e: email },
    by.auth,
  );
  return data.inviteMember as { token: string; invitation: { id: string } };
}

type Arguments = () => Promise<Record<string, unknown>>;
const ARGUMENTS: Record<string, Arguments> = {
  // The owner accepts an invitation of another organization (one for a new person would be
  // refused to a signed-in owner); anonymous callers are refused: the address has an account.
  acceptInvitation: async () => ({
    token: (await invitation(owner.email, await givenOrg(server.url))).token,
    name: 'Walker',
    password: 'correct-horse-battery',
  }),
  addMember: async () => ({ email: (await givenOrg(server.url)).email, role: 'admin' }),
  archiveFlag: async () => ({ id: (await flag()).id }),
  cancelPendingChange: async () => ({ id: await pendingChange() }),
  createAccessToken: async () => ({
    input: { name: `walk ${hex()}`, kind: 'SERVICE', permissions: ['flag:read', 'project:read'] },
  }),
  createEnvironment: async () => ({ projectId: project.id, input: { key: `env-${hex()}`, name: 'Walk' } }),
  createFlag: async () => ({ projectId: project.id, input: { key: `flag-${hex()}`, kind: 'boolean' } }),
  createProject: async () => ({ input: { name: `Walk ${hex()}` } }),
  createSdkKey: async () => ({ environmentId: project.env.production, kind: 'SERVER' }),
  createSegment: async () => ({ projectId: project.id, input: { key: `seg-${hex()}` } }),
  createWebhook: async () => {
    await server.sql('delete from webhooks where organization_id = ?', [owner.organizationId]);
    return { input: { url: receiver.url, eventTypes: ['flag.*', 'member.*'], active: false } };
  },
  deleteAccessToken: async () => ({ id: (await serviceToken(PERMISSIONS)).token.id }),
  deleteEnvironment: async () => ({ id: await environment() }),
  deleteFlag: async () => ({ id: (await flag()).id }),
  deleteProject: async () => ({ id: await freshProject() }),
  deleteSegment: async () => ({ id: (await segment()).id }),
  editPendingChange: async () => {
    const { id, version } = await scheduledChange();
    return { id, expectedVersion: version, input: { on: true, offVariation: 0 }, comment: 'edited' };
  },
  inviteMember: async () => ({ email: uniqueEmail('walk'), role: 'developer' }),
  deleteWebhook: async () => ({ id: await webhook() }),
  killFlag: async () => ({ flagId: (await flag()).id, environmentId: project.env.production }),
  login: async () => ({ input: { email: viewer.email, password: viewer.password } }),
  promoteFlag: async () => ({
    flagId: (await flag()).id,
    fromEnvironmentId: project.env.dev,
    toEnvironmentIds: [project.env.production],
  }),
  redeliverWebhook: async () => ({ deliveryId: await webhookDelivery() }),
  refreshTokens: async () => ({ refreshToken: await refreshToken() }),
  register: async () => ({
    input: { email: uniqueEmail('walk'), password: 'correct-horse-battery', name: 'Walker', orgName: `Walk ${hex()}` },
  }),
  removeMember: async () => ({ userId: await member('developer') }),
  requestFlagChange: async () => {
    const { id } = await flag();
    const { version } = await storedState(server, id, project.env.dev!);
    return {
      flagId: id,
      environmentId: project.env.dev,
      expectedVersion: version,
      input: { on: true },
      comment: 'walk',
      applyAt: tomorrow(),
    };
  },
  reschedulePendingChange: async () => ({
    id: (await scheduledChange()).id,
    applyAt: tomorrow(60_000),
  }),
  restoreFlag: async () => {
    const { id } = await flag();
    await ok('mutation($id: ID!) { archiveFlag(id: $id) { id } }', { id });
    return { id };
  },
  reviewPendingChange: async () => ({ id: await pendingChange(), decision: 'APPROVE', comment: 'walk' }),
  revokeInvitation: async () => ({ id: (await invitation()).invitation.id }),
  revokeSdkKey: async () => ({ id: await sdkKey(), graceMinutes: 0 }),
  rotateServerKeys: async () => {
    const environmentId = await environment();
    await ok('mutation($e: ID!) { createSdkKey(environmentId: $e, kind: SERVER) { value } }', { e: environmentId });
    return { environmentId, graceMinutes: 0 };
  },
  rotateSsoSecret: async () => ({}),
  setEnvironmentApproval: async () => ({ environmentId: await environment(), requiresApproval: true, minApprovals: 2 }),
  rotateWebhookSecret: async () => ({ id: await webhook(), overlapMinutes: 60 }),
  sendWebhookTest: async () => ({ id: await webhook() }),
  setAuthorizedOrigins: async () => ({
    environmentId: project.env.production,
    origins: [`https://${hex()}.example.com`],
  }),
  switchOrganization: async () => ({ organizationId: owner.organizationId }),
  updateAccessToken: async () => ({ id: await inactiveAllPowerfulToken(), input: { active: true } }),
  updateEnvironment: async () => ({ id: project.env.production, input: { name: `Production ${hex()}` } }),
  updateFlag: async () => ({ id: (await flag()).id, input: { name: `Renamed ${hex()}` } }),
  updateFlagState: async () => {
    const { id } = await flag();
    const { version } = await storedState(server, id, project.env.production!);
    return { flagId: id, environmentId: project.env.production, expectedVersion: version, input: { on: true } };
  },
  updateMemberRole: async () => ({ userId: await member('developer'), role: 'owner' }),
  updateProject: async () => ({ id: await freshProject(), input: { name: `Renamed ${hex()}` } }),
  updateSegment: async () => ({ id: (await segment()).id, input: { name: `Renamed ${hex()}` } }),
  updateWebhook: async () => ({ id: await webhook(), input: { description: `walk ${hex()}` } }),
  updateSsoSettings: async () => ({ input: { audience: `aud-${hex()}`, issuer: `https://${hex()}.example.com` } }),
};

// ---- The callers: each lacks something. Headers are made per attempt (an SSO JWT works once).

type Caller = [label: string, headers: () => Record<string, string>];
let callers: Caller[];

beforeAll(async () => {
  const withoutOne = await Promise.all(
    PERMISSIONS.map(async (missing): Promise<Caller> => {
      const { value } = await serviceToken(PERMISSIONS.filter((p) => p !== missing));
      return [`service token without ${missing}`, () => apiKey(value)];
    }),
  );
  const personal = await givenAccessToken(server.url, developer.auth, {
    kind: 'PERSONAL',
    permissions: [...ROLE_PERMISSIONS.developer],
  });
  expect(personal.errors).toBeUndefined();
  const onBehalf = await serviceToken(PERMISSIONS);
  const ssoJwt = () =>
    jwt.sign({ email: viewer.email, jti: hex() + hex() }, ssoSecret, { algorithm: 'HS256', expiresIn: 120 });
  callers = [
    ['nobody', () => ({})],
    ['a viewer', () => viewer.auth],
    ['a developer', () => developer.auth],
    ['a developer’s personal token', () => apiKey(personal.data.createAccessToken.value)],
    ['an all-permission token on behalf of a viewer', () => ({ ...apiKey(onBehalf.value), ...bearer(ssoJwt()) })],
    ...withoutOne,
  ];
});

const mutationNames = Object.keys(schema.getMutationType()!.getFields()).sort();

describe('every mutation, called by someone who lacks what it needs', () => {
  it('has arguments to be walked with', () => {
    expect(mutationNames.filter((name) => !(name in ARGUMENTS))).toEqual([]);
  });

  for (const name of mutationNames) {
    it(`${name}: an error answer leaves every table as it was`, async () => {
      const make = ARGUMENTS[name];
      expect(make, `no ARGUMENTS for ${name}`).toBeDefined();
      const query = operationFor(name);
      // A project per mutation: what a change costs grows with the project's flags and environments.
      project = await givenProject(server, owner);
      const narrowed = await serviceToken(PERMISSIONS, [project.env.dev!]);
      const everyone: Caller[] = [...callers, ['a token narrowed to dev', () => apiKey(narrowed.value)]];
      let variables: Record<string, unknown> | undefined;
      let before: Record<string, string> | undefined;
      let refused = 0;
      for (const [label, headers] of everyone) {
        if (!variables) {
          variables = await make!();
          before = undefined;
        }
        before ??= await dumpEveryTable();
        const r = await graphql(server.url, query, variables, headers());
        const after = await dumpEveryTable();
        if (r.errors) {
          refused++;
          const changed = Object.keys(after).filter((t) => after[t] !== before![t]);
          expect(changed, `${name} by ${label} answered ${JSON.stringify(r.errors)} but changed`).toEqual([]);
        } else {
          variables = undefined; // it did its work: the next caller needs fresh arguments
        }
        before = after;
      }
      const guarded = (
        schema.getMutationType()!.getFields()[name]!.extensions as { pothosOptions?: { authScopes?: unknown } }
      ).pothosOptions?.authScopes;
      if (guarded) expect(refused, `${name} was refused to nobody`).toBeGreaterThan(0);
      // The arguments are good ones: the owner, allowed everything, is not refused.
      const asOwner = await graphql(server.url, query, await make!(), owner.auth);
      expect(asOwner.errors, `${name} as the owner`).toBeUndefined();
    });
  }
});

describe('a mutation whose answer needs more than the mutation itself', () => {
  it('deleteAccessToken by a token that cannot read tokens: FORBIDDEN, and the token is still there', async () => {
    const caller = await serviceToken(['flag:read', 'token:manage-service']);
    const victim = await serviceToken(['flag:read']);
    const r = await graphql(
      server.url,
      'mutation($id: ID!) { deleteAccessToken(id: $id) { id name } }',
      { id: victim.token.id },
      apiKey(caller.value),
    );
    expect(errorCode(r)).toBe('FORBIDDEN');
    expect(await server.sql('select 1 from access_tokens where id = ?', [victim.token.id])).toHaveLength(1);
  });

  it('createAccessToken and updateAccessToken likewise write nothing when the answer is refused', async () => {
    const caller = await serviceToken(['flag:read', 'token:manage-service']);
    const before = await server.sql<{ n: string }>('select count(*) as n from access_tokens');
    const created = await graphql(
      server.url,
      'mutation { createAccessToken(input: { name: "sneaky", kind: SERVICE, permissions: ["flag:read"] }) { value token { id } } }',
      {},
      apiKey(caller.value),
    );
    expect(errorCode(created)).toBe('FORBIDDEN');
    expect(await server.sql<{ n: string }>('select count(*) as n from access_tokens')).toEqual(before);

    const victim = await serviceToken(['flag:read']);
    const updated = await graphql(
      server.url,
      'mutation($id: ID!) { updateAccessToken(id: $id, input: { active: false }) { id active } }',
      { id: victim.token.id },
      apiKey(caller.value),
    );
    expect(errorCode(updated)).toBe('FORBIDDEN');
    const [row] = await server.sql<{ active: boolean }>('select active from access_tokens where id = ?', [
      victim.token.id,
    ]);
    expect(row!.active).toBe(true);
  });

  it('what the caller may read is all it must be allowed to ask for: __typename alone needs no read scope', async () => {
    const caller = await serviceToken(['flag:read', 'token:manage-service']);
    const victim = await serviceToken(['flag:read']);
    const r = await graphql(
      server.url,
      'mutation($id: ID!) { deleteAccessToken(id: $id) { __typename } }',
      { id: victim.token.id },
      apiKey(caller.value),
    );
    expect(r.errors).toBeUndefined();
    expect(await server.sql('select 1 from access_tokens where id = ?', [victim.token.id])).toHaveLength(0);
  });
});
