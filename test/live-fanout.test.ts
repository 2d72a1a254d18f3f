import { parse } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { EvaluationResult } from '../src/evaluation/index.js';
import { flagValuesProjector, sharedValues } from '../src/modules/sdk/live.js';
import { MAX_OPERATIONS_PER_SOCKET } from '../src/realtime/ws.js';
import { graphql } from './helpers/client.js';
import { givenSdkKey } from './helpers/credentials.js';
import {
  givenFlag as createFlag,
  type GivenFlag,
  type GivenProject,
  givenProject,
  givenSegment,
  givenState,
} from './helpers/flags.js';
import { type GivenOrg, givenOrg } from './helpers/givens.js';
import { snapshotsCaughtUp } from './helpers/sdk.js';
import { startServer, type TestServer } from './helpers/server.js';
import { type LiveSubscription, subscribeWs } from './helpers/ws.js';

// flagValues over graphql-ws skips per-event execution when the selection is plain scalar fields
// (modules/sdk/live.ts). These tests hold that path to the general one: same wire shape, same values,
// same end when the key goes.

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

async function givenFlag(...args: Parameters<typeof createFlag>): Promise<GivenFlag> {
  const flag = await createFlag(...args);
  await snapshotsCaughtUp(server, Object.values(project.env));
  return flag;
}

/** Projected without execution. */
const FAST = 'subscription($c: JSON!) { flagValues(context: $c) { key value variation reason errorCode } }';
/** The same fields through a fragment: executed per event. */
const GENERAL =
  'subscription($c: JSON!) { flagValues(context: $c) { ...V } } fragment V on FlagValue { key value variation reason errorCode }';
/** Aliases, a repeated field and __typename, still projected. */
const ALIASED =
  'subscription Values($c: JSON!) { vals: flagValues(context: $c) { k: key v: value variation __typename reason key k: key } }';
/** A directive: executed per event. */
const DIRECTIVE =
  'subscription($c: JSON!, $yes: Boolean!) { vals: flagValues(context: $c) { k: key v: value variation __typename reason @include(if: $yes) key } }';

describe('which flagValues selections are projected', () => {
  const fast = (query: string) => flagValuesProjector(parse(query), undefined) !== null;
  it('projects plain scalar selections, with aliases', () => {
    expect(fast(FAST)).toBe(true);
    expect(fast(ALIASED)).toBe(true);
    expect(flagValuesProjector(parse(FAST), undefined)).toBe(flagValuesProjector(parse(FAST), undefined));
  });
  it('executes anything else', () => {
    expect(fast(GENERAL)).toBe(false);
    expect(fast(DIRECTIVE)).toBe(false);
    expect(fast('subscription($c: JSON!) { flagValues(context: $c) { ... on FlagValue { key } } }')).toBe(false);
    expect(fast('subscription($c: JSON!) @deprecated { flagValues(context: $c) { key } }')).toBe(false);
    expect(fast('subscription($c: JSON!) { flagValues(context: $c) @skip(if: false) { key } }')).toBe(false);
    expect(fast('subscription($p: ID!) { flagChanged(projectId: $p) { flagKey } }')).toBe(false);
    expect(fast('query { __typename }')).toBe(false);
  });
});

describe('shared value lists', () => {
  const result = (key: string, value: unknown) => ({ key, value, variation: 0, reason: 'STATIC' }) as EvaluationResult;
  const [a, b, c] = [result('a', 1), result('b', 2), result('c', 3)];
  it('gives lists of the same results one array, and keeps at most the bound', () => {
    const memo = new Map<string, unknown>();
    const first = sharedValues(memo, [a, b], 2);
    expect(sharedValues(memo, [a, b], 2)).toBe(first);
    expect(sharedValues(memo, [b, a], 2)).not.toBe(first);
    const third = [a, c];
    expect(sharedValues(memo, third, 2)).toBe(third);
    // Full: the third list was not kept, the first two still are.
    expect(sharedValues(memo, [a, c], 2)).not.toBe(third);
    expect(sharedValues(memo, [a, b], 2)).toBe(first);
    expect(memo.size).toBe(2);
  });
});

const byKey = (result: LiveSubscription['results'][number], field: string, key: string, keyField = 'key') =>
  (result.data[field] as Record<string, unknown>[]).find((v) => v[keyField] === key);

describe('flagValues over graphql-ws, projected and executed', () => {
  it('sends the same results either way, first and after a change', async () => {
    const flag = await givenFlag(server, org, project, {
      kind: 'string',
      variations: [{ value: 'blue' }, { value: 'green' }],
    });
    const { value: sdkKey } = await givenSdkKey(server.url, org, project.env['dev']!);
    await snapshotsCaughtUp(server, [project.env['dev']!]);
    const c = { key: 'alice', country: 'NL' };
    const subs = {
      fast: subscribeWs(server.url, { 'x-api-key': sdkKey }, FAST, { c }),
      general: subscribeWs(server.url, { 'x-api-key': sdkKey }, GENERAL, { c }),
      aliased: subscribeWs(server.url, { 'x-api-key': sdkKey }, ALIASED, { c }),
      directive: subscribeWs(server.url, { 'x-api-key': sdkKey }, DIRECTIVE, { c, yes: true }),
      // Shares alice's evaluation; must still get its own values.
      bob: subscribeWs(server.url, { 'x-api-key': sdkKey }, FAST, { c: { key: 'bob' } }),
      alice2: subscribeWs(server.url, { 'x-api-key': sdkKey }, FAST, { c }),
    };
    const check = (first: Record<keyof typeof subs, LiveSubscription['results'][number]>) => {
      for (const r of Object.values(first)) expect(r.errors).toBeUndefined();
      // Byte for byte what execution builds, field order included.
      expect(JSON.stringify(first.fast)).toBe(JSON.stringify(first.general));
      expect(JSON.stringify(first.alice2)).toBe(JSON.stringify(first.general));
      expect(JSON.stringify(first.aliased)).toBe(JSON.stringify(first.directive));
      expect(Object.keys(first.aliased.data)).toEqual(['vals']);
      expect(Object.keys(first.aliased.data.vals[0])).toEqual(['k', 'v', 'variation', '__typename', 'reason', 'key']);
      expect(first.aliased.data.vals).toEqual(
        (first.general.data.flagValues as Record<string, unknown>[]).map((v) => ({
          k: v['key'],
          v: v['value'],
          variation: v['variation'],
          __typename: 'FlagValue',
          reason: v['reason'],
          key: v['key'],
        })),
      );
    };
    const first = Object.fromEntries(
      await Promise.all(Object.entries(subs).map(async ([name, sub]) => [name, await sub.next()])),
    ) as Record<keyof typeof subs, LiveSubscription['results'][number]>;
    check(first);
    expect(byKey(first.fast, 'flagValues', flag.key)).toMatchObject({ reason: 'DISABLED', errorCode: null });

    await givenState(server, org, flag.id, project.env['dev']!, {
      on: true,
      targets: [{ variation: 0, values: ['bob'] }],
      fallthrough: { variation: 1 },
    });
    const second = Object.fromEntries(
      await Promise.all(Object.entries(subs).map(async ([name, sub]) => [name, await sub.next()])),
    ) as typeof first;
    check(second);
    expect(byKey(second.fast, 'flagValues', flag.key)).toMatchObject({
      value: 'green',
      variation: 1,
      reason: 'DEFAULT',
    });
    expect(byKey(second.aliased, 'vals', flag.key, 'k')).toMatchObject({ v: 'green', variation: 1, reason: 'DEFAULT' });
    expect(byKey(second.bob, 'flagValues', flag.key)).toMatchObject({
      value: 'blue',
      variation: 0,
      reason: 'TARGETING_MATCH',
    });

    // A change that leaves alice's values alone pushes nothing to her subscriptions.
    await givenState(server, org, flag.id, project.env['dev']!, { targets: [{ variation: 0, values: ['carol'] }] });
    const bobThird = await subs.bob.next();
    expect(byKey(bobThird, 'flagValues', flag.key)).toMatchObject({ value: 'green', reason: 'DEFAULT' });
    for (const name of ['fast', 'general', 'aliased', 'directive', 'alice2'] as const)
      expect(subs[name].results).toHaveLength(2);
    await Promise.all(Object.values(subs).map((s) => s.dispose()));
  });

  it('patches every flag a segment change moves, per outcome, as executed', async () => {
    const segment = await givenSegment(server, org, project, { included: ['alice'] });
    const env = project.env['dev']!;
    const flags: GivenFlag[] = [];
    for (let i = 0; i < 2; i++) {
      const flag = await givenFlag(server, org, project, {
        kind: 'string',
        variations: [{ value: 'in' }, { value: 'out' }],
      });
      await givenState(server, org, flag.id, env, {
        on: true,
        rules: [{ clauses: [{ op: 'segmentMatch', values: [segment.key] }], serve: { variation: 0 } }],
        fallthrough: { variation: 1 },
      });
      flags.push(flag);
    }
    const { value: sdkKey } = await givenSdkKey(server.url, org, env);
    await snapshotsCaughtUp(server, [env]);
    const sub = (query: string, key: string) => subscribeWs(server.url, { 'x-api-key': sdkKey }, query, { c: { key } });
    // bob and dave start from one shared list (the same values); the change splits them.
    const subs = {
      alice: sub(FAST, 'alice'),
      bob: sub(FAST, 'bob'),
      bobExecuted: sub(GENERAL, 'bob'),
      dave: sub(FAST, 'dave'),
    };
    const values = (r: LiveSubscription['results'][number]) =>
      flags.map((f) => (byKey(r, 'flagValues', f.key) as { value: string }).value);
    for (const [name, s] of Object.entries(subs))
      expect(values(await s.next()), name).toEqual(name === 'alice' ? ['in', 'in'] : ['out', 'out']);

    const UPDATE_SEGMENT =
      'mutation($id: ID!, $input: UpdateSegmentInput!) { updateSegment(id: $id, input: $input) { version } }';
    const include = async (keys: string[]) => {
      const r = await graphql(server.url, UPDATE_SEGMENT, { id: segment.id, input: { included: keys } }, org.auth);
      expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    };
    await include(['alice', 'bob']);
    const [bob, bobExecuted] = await Promise.all([subs.bob.next(), subs.bobExecuted.next()]);
    expect(values(bob)).toEqual(['in', 'in']);
    expect(JSON.stringify(bob)).toBe(JSON.stringify(bobExecuted));
    await include(['alice', 'bob', 'dave']);
    expect(values(await subs.dave.next())).toEqual(['in', 'in']);
    // Values that did not move push nothing: alice never, bob not on the second change.
    expect(subs.alice.results).toHaveLength(1);
    expect(subs.bob.results).toHaveLength(2);
    expect(subs.dave.results).toHaveLength(2);
    await Promise.all(Object.values(subs).map((s) => s.dispose()));
  });

  it('ends both the same way when the key is revoked', async () => {
    await givenFlag(server, org, project);
    const { value: sdkKey, key } = await givenSdkKey(server.url, org, project.env['staging']!);
    await snapshotsCaughtUp(server, [project.env['staging']!]);
    const fast = subscribeWs(server.url, { 'x-api-key': sdkKey }, FAST, { c: { key: 'alice' } });
    const general = subscribeWs(server.url, { 'x-api-key': sdkKey }, GENERAL, { c: { key: 'alice' } });
    expect((await fast.next()).errors).toBeUndefined();
    expect((await general.next()).errors).toBeUndefined();
    const revoked = await graphql(
      server.url,
      'mutation($id: ID!) { revokeSdkKey(id: $id, graceMinutes: 0) { id } }',
      { id: key.id },
      org.auth,
    );
    expect(revoked.errors).toBeUndefined();
    const [lastFast, lastGeneral] = await Promise.all([fast.next(), general.next()]);
    expect(lastFast.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(JSON.stringify(lastFast)).toBe(JSON.stringify(lastGeneral));
    expect((await fast.ended).how).toBe('complete');
    expect((await general.ended).how).toBe('complete');

    // And a new subscription with the revoked key is refused at connection_init.
    const again = subscribeWs(server.url, { 'x-api-key': sdkKey }, FAST, { c: { key: 'alice' } });
    expect(await again.closeCode).toBe(4401);
    await Promise.all([fast.dispose(), general.dispose(), again.dispose()]);
  });

  it('frames messages of every size class as ws does (7-, 16- and 64-bit lengths, one and two writes)', async () => {
    // A JSON flag whose variations are 1, 3 and 9 strings of 8,000 characters (with non-ASCII in
    // them): messages of about 8 KB (one write), 24 KB (two writes) and 72 KB (64-bit length).
    const chunk = (i: number) => `${'é'.repeat(10)}${String(i).padStart(7990, 'x')}`;
    const value = (n: number) => ({ parts: Array.from({ length: n }, (_, i) => chunk(i)) });
    const flag = await givenFlag(server, org, project, {
      kind: 'json',
      variations: [{ value: { small: true } }, { value: value(1) }, { value: value(3) }, { value: value(9) }],
    });
    const { value: sdkKey } = await givenSdkKey(server.url, org, project.env['staging']!);
    await snapshotsCaughtUp(server, [project.env['staging']!]);
    const c = { key: 'alice' };
    const fast = subscribeWs(server.url, { 'x-api-key': sdkKey }, FAST, { c });
    // A raw client with an operation id graphql-ws' client would never pick: multi-byte UTF-8.
    const raw = new WebSocket(`${server.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    const rawMessages: any[] = [];
    raw.on('message', (data, binary) => {
      expect(binary).toBe(false);
      rawMessages.push(JSON.parse(data.toString()));
    });
    await new Promise((r) => raw.once('open', r));
    raw.send(JSON.stringify({ type: 'connection_init', payload: { 'x-api-key': sdkKey } }));
    await expect.poll(() => rawMessages.some((m) => m.type === 'connection_ack')).toBe(true);
    raw.send(JSON.stringify({ id: 'ópé-✓', type: 'subscribe', payload: { query: FAST, variables: { c } } }));
    await fast.next();
    const rawNexts = () => rawMessages.filter((m) => m.type === 'next').length;
    await expect.poll(rawNexts).toBe(1);
    let sent = 1;
    for (const [variation, size] of [
      [1, 1],
      [2, 3],
      [3, 9],
      [0, 0],
    ] as const) {
      await givenState(server, org, flag.id, project.env['staging']!, { on: true, fallthrough: { variation } });
      const expected = size === 0 ? { small: true } : value(size);
      expect(byKey(await fast.next(), 'flagValues', flag.key)?.['value']).toEqual(expected);
      await expect.poll(rawNexts).toBe(++sent);
      const last = rawMessages[rawMessages.length - 1];
      expect(last.id).toBe('ópé-✓');
      expect(last.payload.data.flagValues.find((v: { key: string }) => v.key === flag.key).value).toEqual(expected);
    }
    raw.close();
    await fast.dispose();
  });

  it('refuses a bad context through the resolver, as executed', async () => {
    const { value: sdkKey } = await givenSdkKey(server.url, org, project.env['dev']!);
    const fast = subscribeWs(server.url, { 'x-api-key': sdkKey }, FAST, { c: { key: 7 } });
    const general = subscribeWs(server.url, { 'x-api-key': sdkKey }, GENERAL, { c: { key: 7 } });
    const [a, b] = await Promise.all([fast.next(), general.next()]);
    expect(a.errors?.[0]?.extensions?.code).toBe('VALIDATION');
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect((await fast.ended).how).toBe((await general.ended).how);
    await Promise.all([fast.dispose(), general.dispose()]);
  });
});

describe('flagValues served outside graphql-ws` per-operation loop', () => {
  const wsUrl = () => `${server.url.replace(/^http/, 'ws')}/graphql`;
  async function rawClient(sdkKey: string, options: WebSocket.ClientOptions = {}) {
    const socket = new WebSocket(wsUrl(), 'graphql-transport-ws', options);
    const messages: any[] = [];
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    socket.on('message', (data) => messages.push(JSON.parse(data.toString())));
    await new Promise((r) => socket.once('open', r));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { 'x-api-key': sdkKey } }));
    await expect.poll(() => messages.some((m) => m.type === 'connection_ack')).toBe(true);
    const subscribe = (id: string, c: unknown) =>
      socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: FAST, variables: { c } } }));
    const of = (id: string, type?: string) => messages.filter((m) => m.id === id && (!type || m.type === type));
    return { socket, messages, closed, subscribe, of };
  }

  it('keeps the protocol: `complete` ends it, the id can be used again, a duplicate id closes with 4409', async () => {
    const flag = await givenFlag(server, org, project);
    const { value: sdkKey } = await givenSdkKey(server.url, org, project.env['dev']!);
    await snapshotsCaughtUp(server, [project.env['dev']!]);
    const client = await rawClient(sdkKey);
    client.subscribe('a', { key: 'alice' });
    client.subscribe('b', { key: 'bob' });
    await expect.poll(() => client.of('a', 'next').length + client.of('b', 'next').length).toBe(2);

    // The client completes `a`: nothing more is sent for it, `b` goes on.
    client.socket.send(JSON.stringify({ id: 'a', type: 'complete' }));
    await givenState(server, org, flag.id, project.env['dev']!, { on: true });
    await expect.poll(() => client.of('b', 'next').length).toBe(2);
    expect(client.of('a')).toHaveLength(1);

    // Its id is free again: a new operation under it starts from the current values.
    client.subscribe('a', { key: 'alice' });
    await expect.poll(() => client.of('a', 'next').length).toBe(2);
    expect(byKey(client.of('a', 'next')[1].payload, 'flagValues', flag.key)).toMatchObject({ value: true });

    // `b` is still running: subscribing under its id again is graphql-ws' 4409.
    client.subscribe('b', { key: 'bob' });
    expect(await client.closed).toBe(4409);
  });

  it('runs at most 100 operations at once on one connection, whichever path serves them', async () => {
    const { value: sdkKey } = await givenSdkKey(server.url, org, project.env['dev']!);
    const client = await rawClient(sdkKey);
    for (let i = 0; i < MAX_OPERATIONS_PER_SOCKET; i++) client.subscribe(`op-${i}`, { key: `u${i}` });
    await expect.poll(() => client.messages.filter((m) => m.type === 'next').length).toBe(MAX_OPERATIONS_PER_SOCKET);
    // One more, projected or executed: refused with a typed error, the others go on.
    client.subscribe('fast-101', { key: 'x' });
    client.socket.send(
      JSON.stringify({
        id: 'general-101',
        type: 'subscribe',
        payload: { query: GENERAL, variables: { c: { key: 'y' } } },
      }),
    );
    await expect.poll(() => client.of('fast-101', 'error').length + client.of('general-101', 'error').length).toBe(2);
    for (const id of ['fast-101', 'general-101'])
      expect(client.of(id, 'error')[0].payload[0].extensions.code).toBe('RATE_LIMITED');
    // Once one ends, there is room again.
    client.socket.send(JSON.stringify({ id: 'op-0', type: 'complete' }));
    client.subscribe('fast-102', { key: 'x' });
    await expect.poll(() => client.of('fast-102', 'next').length).toBe(1);
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
    client.socket.close();
  });

  it('refuses a subscribe before connection_init is acknowledged with 4401, as graphql-ws does', async () => {
    const { value: sdkKey } = await givenSdkKey(server.url, org, project.env['dev']!);
    const socket = new WebSocket(wsUrl(), 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    await new Promise((r) => socket.once('open', r));
    socket.send(
      JSON.stringify({ id: '1', type: 'subscribe', payload: { query: FAST, variables: { c: { key: 'a' } } } }),
    );
    socket.send(JSON.stringify({ type: 'connection_init', payload: { 'x-api-key': sdkKey } }));
    expect(await closed).toBe(4401);
  });

  it('pings every socket and drops one that does not answer', async () => {
    const pinging = await startServer({ WS_PING_INTERVAL_MS: '150' });
    try {
      const org2 = await givenOrg(pinging.url);
      const project2 = await givenProject(pinging, org2);
      const { value: sdkKey } = await givenSdkKey(pinging.url, org2, project2.env['dev']!);
      const url = `${pinging.url.replace(/^http/, 'ws')}/graphql`;
      const open = (autoPong: boolean) => {
        const socket = new WebSocket(url, 'graphql-transport-ws', { autoPong });
        let pings = 0;
        socket.on('ping', () => pings++);
        const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
        socket.once('open', () =>
          socket.send(JSON.stringify({ type: 'connection_init', payload: { 'x-api-key': sdkKey } })),
        );
        return { socket, closed, pings: () => pings };
      };
      const answering = open(true);
      const silent = open(false);
      // Terminated by the server (no close frame): 1006 on the client's side.
      expect(await silent.closed).toBe(1006);
      await expect.poll(() => answering.pings(), { timeout: 5_000 }).toBeGreaterThanOrEqual(4);
      expect(answering.socket.readyState).toBe(WebSocket.OPEN);
      answering.socket.close();
    } finally {
      await pinging.close();
    }
  });
});
