import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { bearer, graphql } from './helpers/client.js';
import { givenAccessToken, givenSdkKey } from './helpers/credentials.js';
import {
  givenFlag as createFlag,
  environmentVersions,
  type GivenFlag,
  type GivenProject,
  givenProject,
  givenState,
  storedState,
} from './helpers/flags.js';
import { type GivenOrg, givenMember, givenOrg } from './helpers/givens.js';
import { snapshotsCaughtUp } from './helpers/sdk.js';
import { startServer, type TestServer } from './helpers/server.js';
import { openSse } from './helpers/sse.js';
import { eventually } from './helpers/waiters.js';
import { subscribeWs } from './helpers/ws.js';

let server: TestServer;
let org: GivenOrg;
let project: GivenProject;
beforeAll(async () => {
  server = await startServer({
    AUTH_RATE_LIMIT: '10000',
    MANAGEMENT_RATE_LIMIT: '10000',
    EVALUATION_RATE_LIMIT: '100000',
  });
  org = await givenOrg(server.url);
  project = await givenProject(server, org);
});

const FLAG_CHANGED = `subscription($p: ID!, $envs: [String!], $flags: [String!]) {
  flagChanged(projectId: $p, environmentKeys: $envs, flagKeys: $flags) {
    flagKey kind version changedAt
    changedBy { userId tokenId }
    flag { id key archived }
    environment { id key }
    state { on version environment { key } }
  } }`;

const FLAG_VALUES = 'subscription($c: JSON!) { flagValues(context: $c) { key value variation reason errorCode } }';

/** A flag this node's snapshots already know, so its creation is not the first event a test sees. */
async function givenFlag(...args: Parameters<typeof createFlag>): Promise<GivenFlag> {
  const flag = await createFlag(...args);
  await snapshotsCaughtUp(server, Object.values(project.env));
  return flag;
}

const turnOn = (flag: GivenFlag, env: string, on = true) => givenState(server, org, flag.id, project.env[env]!, { on });

describe('flagChanged over graphql-ws', () => {
  it('delivers a change made through a mutation with the flag, environment, state, version, kind, actor and time', async () => {
    const flag = await givenFlag(server, org, project);
    const sub = subscribeWs(server.url, org.auth, FLAG_CHANGED, {
      p: project.id,
      flags: [flag.key],
      envs: ['staging'],
    });
    // A change made before the server registered the subscription would not be seen by it.
    await eventually(async () => (await openStreams()) >= 1);
    const before = Date.now();
    await turnOn(flag, 'staging');
    const result = await sub.next();
    expect(result.errors).toBeUndefined();
    const event = result.data.flagChanged;
    const versions = await environmentVersions(server, [project.env['staging']!]);
    expect(event).toMatchObject({
      flagKey: flag.key,
      kind: 'STATE',
      version: versions[project.env['staging']!],
      changedBy: { userId: org.userId, tokenId: null },
      flag: { id: flag.id, key: flag.key, archived: false },
      environment: { id: project.env['staging'], key: 'staging' },
      state: {
        on: true,
        version: (await storedState(server, flag.id, project.env['staging']!)).version,
        environment: { key: 'staging' },
      },
    });
    expect(new Date(event.changedAt).getTime()).toBeGreaterThanOrEqual(before - 1000);
    await sub.dispose();
  });

  it('filters by environment and flag keys', async () => {
    const a = await givenFlag(server, org, project);
    const b = await givenFlag(server, org, project);
    const sub = subscribeWs(server.url, org.auth, FLAG_CHANGED, {
      p: project.id,
      envs: ['production'],
      flags: [a.key],
    });
    await eventually(async () => (await openStreams()) >= 1);
    await turnOn(a, 'dev'); // another environment
    await turnOn(b, 'production'); // another flag
    await turnOn(a, 'production');
    const result = await sub.next();
    expect(result.data.flagChanged).toMatchObject({ flagKey: a.key, environment: { key: 'production' } });
    // The two filtered-out changes came first and produced nothing.
    expect(sub.results).toHaveLength(1);
    await sub.dispose();
  });

  it('sends archive and delete as kinds, with no state once the flag stops evaluating', async () => {
    const flag = await givenFlag(server, org, project);
    const sub = subscribeWs(server.url, org.auth, FLAG_CHANGED, { p: project.id, flags: [flag.key], envs: ['dev'] });
    await eventually(async () => (await openStreams()) >= 1);
    const archived = await graphql(
      server.url,
      'mutation($id: ID!) { archiveFlag(id: $id) { id } }',
      { id: flag.id },
      org.auth,
    );
    expect(archived.errors).toBeUndefined();
    expect((await sub.next()).data.flagChanged).toMatchObject({
      kind: 'ARCHIVED',
      state: null,
      flag: { archived: true },
    });
    const deleted = await graphql(
      server.url,
      'mutation($id: ID!) { deleteFlag(id: $id) { id } }',
      { id: flag.id },
      org.auth,
    );
    expect(deleted.errors).toBeUndefined();
    // Deleting an archived flag changes no evaluation, but the change names the flag.
    expect((await sub.next()).data.flagChanged).toMatchObject({
      kind: 'DELETED',
      state: null,
      flag: null,
      flagKey: flag.key,
    });
    await sub.dispose();
  });

  it('refuses a bad credential at connection_init: 4401 for an unknown one, 4403 for a deactivated token', async () => {
    const garbage = subscribeWs(server.url, { authorization: 'Bearer not-a-jwt' }, FLAG_CHANGED, { p: project.id });
    expect(await garbage.closeCode).toBe(4401);
    const badKey = subscribeWs(server.url, { 'x-api-key': `vx_srv_${'A'.repeat(36)}` }, FLAG_VALUES, { c: {} });
    expect(await badKey.closeCode).toBe(4401);

    const created = await givenAccessToken(server.url, org.auth, {
      kind: 'PERSONAL',
      permissions: ['flag:read', 'project:read'],
    });
    expect(created.errors).toBeUndefined();
    const { value, token } = created.data.createAccessToken;
    const off = await graphql(
      server.url,
      'mutation($id: ID!) { updateAccessToken(id: $id, input: { active: false }) { active } }',
      { id: token.id },
      org.auth,
    );
    expect(off.data.updateAccessToken.active).toBe(false);
    const inactive = subscribeWs(server.url, bearer(value), FLAG_CHANGED, { p: project.id });
    expect(await inactive.closeCode).toBe(4403);
  });

  it("refuses an anonymous subscriber and another organization's project", async () => {
    const anonymous = subscribeWs(server.url, {}, FLAG_CHANGED, { p: project.id });
    expect(await refusal(anonymous)).toBe('UNAUTHENTICATED');
    await anonymous.dispose();

    const stranger = await givenOrg(server.url);
    const other = subscribeWs(server.url, stranger.auth, FLAG_CHANGED, { p: project.id });
    expect(await refusal(other)).toBe('NOT_FOUND');
    await other.dispose();
  });

  it('lets a viewer subscribe', async () => {
    const viewer = await givenMember(server.url, org, 'viewer');
    const flag = await givenFlag(server, org, project);
    const sub = subscribeWs(server.url, viewer.auth, FLAG_CHANGED, { p: project.id, flags: [flag.key], envs: ['dev'] });
    await eventually(async () => (await openStreams()) >= 1);
    await turnOn(flag, 'dev');
    expect((await sub.next()).data.flagChanged).toMatchObject({ flagKey: flag.key, state: { on: true } });
    await sub.dispose();
  });

  it('ends the stream on the next event once the member is removed', async () => {
    const developer = await givenMember(server.url, org, 'developer');
    const flag = await givenFlag(server, org, project);
    const sub = subscribeWs(server.url, developer.auth, FLAG_CHANGED, {
      p: project.id,
      flags: [flag.key],
      envs: ['dev'],
    });
    await eventually(async () => (await openStreams()) >= 1);
    await turnOn(flag, 'dev');
    expect((await sub.next()).data.flagChanged.state.on).toBe(true);

    const removed = await graphql(
      server.url,
      'mutation($u: ID!) { removeMember(userId: $u) { role } }',
      { u: developer.userId },
      org.auth,
    );
    expect(removed.errors).toBeUndefined();
    await turnOn(flag, 'dev', false);
    const last = await sub.next();
    expect(last.data).toBeNull();
    expect(last.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await sub.ended).how).toBe('complete');
    await sub.dispose();
  });

  it('ends the stream on the next event once the access token is deactivated', async () => {
    const created = await givenAccessToken(server.url, org.auth, {
      kind: 'SERVICE',
      permissions: ['flag:read', 'project:read'],
    });
    const { value, token } = created.data.createAccessToken;
    const flag = await givenFlag(server, org, project);
    const sub = subscribeWs(server.url, bearer(value), FLAG_CHANGED, {
      p: project.id,
      flags: [flag.key],
      envs: ['dev'],
    });
    await eventually(async () => (await openStreams()) >= 1);
    await turnOn(flag, 'dev');
    expect((await sub.next()).data.flagChanged.changedBy.userId).toBe(org.userId);
    await graphql(
      server.url,
      'mutation($id: ID!) { updateAccessToken(id: $id, input: { active: false }) { active } }',
      { id: token.id },
      org.auth,
    );
    await turnOn(flag, 'dev', false);
    const last = await sub.next();
    expect(last.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await sub.ended).how).toBe('complete');
    await sub.dispose();
  });

  it('releases the server-side stream when the client unsubscribes', async () => {
    await eventually(async () => (await openStreams()) === 0);
    const sub = subscribeWs(server.url, org.auth, FLAG_CHANGED, { p: project.id });
    await eventually(async () => (await openStreams()) === 1);
    await sub.dispose();
    await eventually(async () => (await openStreams()) === 0);
  });
});

describe('flagValues over graphql-ws (SDK keys)', () => {
  it("sends the context's values at once, then again only when one of them changes", async () => {
    const flag = await givenFlag(server, org, project, {
      kind: 'string',
      variations: [{ value: 'blue' }, { value: 'green' }],
    });
    const { value: sdkKey } = await givenSdkKey(server.url, org, project.env['dev']!);
    await snapshotsCaughtUp(server, [project.env['dev']!]);
    const sub = subscribeWs(server.url, { 'x-api-key': sdkKey }, FLAG_VALUES, { c: { key: 'alice' } });
    const first = await sub.next();
    expect(first.errors).toBeUndefined();
    const mine = (r: typeof first) => r.data.flagValues.find((v: { key: string }) => v.key === flag.key);
    // A new flag is off: its off variation (index 1 for a fresh flag is the default off variation).
    expect(mine(first)).toMatchObject({ key: flag.key, reason: 'DISABLED' });

    // Targets someone else: alice's values do not change, so nothing is pushed for it...
    await givenState(server, org, flag.id, project.env['dev']!, {
      on: true,
      targets: [{ variation: 0, values: ['bob'] }],
      fallthrough: { variation: 1 },
    });
    const second = await sub.next();
    expect(mine(second)).toMatchObject({ value: 'green', variation: 1, reason: 'DEFAULT' });
    await givenState(server, org, flag.id, project.env['dev']!, {
      targets: [{ variation: 0, values: ['bob', 'carol'] }],
    });
    await givenState(server, org, flag.id, project.env['dev']!, { targets: [{ variation: 0, values: ['alice'] }] });
    const third = await sub.next();
    expect(mine(third)).toMatchObject({ value: 'blue', variation: 0, reason: 'TARGETING_MATCH' });
    // ...the middle change (carol) produced no push: three results for four changes.
    expect(sub.results).toHaveLength(3);
    await sub.dispose();
  });

  it('every SDK live view lets go of the hub when it ends: flagValues, SSE configuration and evaluated', async () => {
    const { value: sdkKey } = await givenSdkKey(server.url, org, project.env['dev']!);
    await snapshotsCaughtUp(server, [project.env['dev']!]);
    const envId = project.env['dev']!;
    const envs = await graphql(
      server.url,
      'query($id: ID!) { project(id: $id) { environments { key clientSideId } } }',
      { id: project.id },
      org.auth,
    );
    const cs = envs.data.project.environments.find((e: { key: string }) => e.key === 'dev').clientSideId;
    await eventually(async () => (await openStreams()) === 0);
    const before = server.app.hub.followers(envId);
    const subs = [
      subscribeWs(server.url, { 'x-api-key': sdkKey }, FLAG_VALUES, { c: { key: 'alice' } }),
      subscribeWs(server.url, { 'x-api-key': sdkKey }, FLAG_VALUES, { c: { key: 'bob' } }),
    ];
    for (const sub of subs) await sub.next();
    const streams = [
      await openSse(`${server.url}/v1/stream/${cs}`, { headers: { 'x-api-key': sdkKey } }),
      await openSse(`${server.url}/v1/stream/${cs}?key=alice`, { headers: { 'x-api-key': sdkKey } }),
    ];
    for (const stream of streams) expect((await stream.next()).event).toBe('put');
    expect(server.app.hub.followers(envId)).toBe(before + 4);
    expect(await openStreams()).toBe(4);
    // One completes its operation, one closes its socket; the SSE clients go away.
    await subs[0]!.dispose();
    for (const stream of streams) stream.close();
    await subs[1]!.dispose();
    await eventually(async () => (await openStreams()) === 0);
    expect(server.app.hub.followers(envId)).toBe(before);
  });

  it('shows a client-side ID only client-side flags', async () => {
    const hidden = await givenFlag(server, org, project);
    const shown = await givenFlag(server, org, project, { clientSideAvailable: true });
    await snapshotsCaughtUp(server, [project.env['dev']!]);
    const envs = await graphql(
      server.url,
      'query($id: ID!) { project(id: $id) { environments { key clientSideId } } }',
      { id: project.id },
      org.auth,
    );
    const cs = envs.data.project.environments.find((e: { key: string }) => e.key === 'dev').clientSideId;
    const sub = subscribeWs(server.url, { 'x-api-key': cs }, FLAG_VALUES, { c: { key: 'alice' } });
    const keys = (await sub.next()).data.flagValues.map((v: { key: string }) => v.key);
    expect(keys).toContain(shown.key);
    expect(keys).not.toContain(hidden.key);
    await sub.dispose();
  });

  it('ends the stream when the key is revoked (grace 0)', async () => {
    const flag = await givenFlag(server, org, project);
    const { value: sdkKey, key } = await givenSdkKey(server.url, org, project.env['staging']!);
    await snapshotsCaughtUp(server, [project.env['staging']!]);
    const sub = subscribeWs(server.url, { 'x-api-key': sdkKey }, FLAG_VALUES, { c: { key: 'alice' } });
    expect((await sub.next()).data.flagValues.some((v: { key: string }) => v.key === flag.key)).toBe(true);
    const revoked = await graphql(
      server.url,
      'mutation($id: ID!) { revokeSdkKey(id: $id, graceMinutes: 0) { id } }',
      { id: key.id },
      org.auth,
    );
    expect(revoked.errors).toBeUndefined();
    const last = await sub.next();
    expect(last.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await sub.ended).how).toBe('complete');
    await sub.dispose();
  });

  it('refuses flagValues without an SDK key', async () => {
    const sub = subscribeWs(server.url, org.auth, FLAG_VALUES, { c: { key: 'alice' } });
    expect(await refusal(sub)).toBe('UNAUTHENTICATED');
    await sub.dispose();
  });
});

describe('GraphQL over SSE (yoga)', () => {
  it('streams flagChanged to POST /graphql with Accept: text/event-stream, uncompressed', async () => {
    const flag = await givenFlag(server, org, project);
    const stream = await openSse(`${server.url}/graphql`, {
      method: 'POST',
      headers: { ...org.auth, 'content-type': 'application/json', 'accept-encoding': 'gzip' },
      body: JSON.stringify({ query: FLAG_CHANGED, variables: { p: project.id, flags: [flag.key], envs: ['dev'] } }),
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    // yoga marks its event streams `Content-Encoding: none`; nothing may gzip (buffer) them.
    expect(stream.headers.get('content-encoding') ?? 'none').toBe('none');
    expect(stream.headers.get('cache-control')).toBe('no-store');
    await eventually(async () => (await openStreams()) >= 1);
    await turnOn(flag, 'dev');
    const event = await stream.next();
    expect(event.event).toBe('next');
    expect(event.json.data.flagChanged).toMatchObject({ flagKey: flag.key, kind: 'STATE', state: { on: true } });
    stream.close();
    await eventually(async () => (await openStreams()) === 0);
  });

  it('streams flagValues with the SDK key in X-API-Key', async () => {
    const { value: sdkKey } = await givenSdkKey(server.url, org, project.env['production']!);
    const flag = await givenFlag(server, org, project);
    await snapshotsCaughtUp(server, [project.env['production']!]);
    const stream = await openSse(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'x-api-key': sdkKey, 'content-type': 'application/json' },
      body: JSON.stringify({ query: FLAG_VALUES, variables: { c: { key: 'zoe' } } }),
    });
    const first = await stream.next();
    expect(first.json.data.flagValues.find((v: { key: string }) => v.key === flag.key)).toMatchObject({
      reason: 'DISABLED',
    });
    await turnOn(flag, 'production');
    const second = await stream.next();
    expect(second.json.data.flagValues.find((v: { key: string }) => v.key === flag.key)).toMatchObject({ value: true });
    stream.close();
  });
});

describe('changedAt', () => {
  it("is when the change was made, by the database's clock: the same on every node and subscriber", async () => {
    // Two nodes on one database, their own clocks far off: changedAt must come from neither.
    const limits = { AUTH_RATE_LIMIT: '10000', MANAGEMENT_RATE_LIMIT: '10000' };
    const a = await startServer(limits, {
      databaseUrl: server.databaseUrl,
      clock: new ManualClock(Date.parse('2001-01-01T00:00:00Z')),
    });
    const b = await startServer(limits, {
      databaseUrl: server.databaseUrl,
      clock: new ManualClock(Date.parse('2002-02-02T00:00:00Z')),
    });
    const flag = await createFlag(a, org, project);
    const dev = project.env['dev']!;
    await Promise.all([snapshotsCaughtUp(a, [dev]), snapshotsCaughtUp(b, [dev])]);
    const variables = { p: project.id, flags: [flag.key], envs: ['dev'] };
    const subs = [a, b, b].map((node) => subscribeWs(node.url, org.auth, FLAG_CHANGED, variables));
    await eventually(async () => a.app.hub.openStreams >= 1 && b.app.hub.openStreams >= 2);

    const before = Date.now();
    await givenState(a, org, flag.id, dev, { on: true });
    const after = Date.now();
    const times: string[] = [];
    for (const sub of subs) {
      const result = await sub.next();
      expect(result.errors).toBeUndefined();
      times.push(result.data.flagChanged.changedAt);
      await sub.dispose();
    }
    expect(new Set(times).size).toBe(1);
    expect(Date.parse(times[0]!)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(times[0]!)).toBeLessThanOrEqual(after);
  });
});

/** The error code a subscription was refused with (graphql-ws sends it as a result, then completes). */
async function refusal(sub: ReturnType<typeof subscribeWs>): Promise<string | undefined> {
  const ended = await sub.ended;
  if (ended.how === 'error') return (ended.error as { extensions?: { code?: string } }[])[0]?.extensions?.code;
  return sub.results[0]?.errors?.[0]?.extensions?.code;
}

/** Streams the server holds open (subscriptions and SSE), read in-process. */
async function openStreams(): Promise<number> {
  return server.app.hub.openStreams;
}
