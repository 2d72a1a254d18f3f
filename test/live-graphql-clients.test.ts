import { EventSource } from 'eventsource';
import { createClient } from 'graphql-sse';
import { beforeAll, describe, expect, it } from 'vitest';
import { givenSdkKey } from './helpers/credentials.js';
import { type GivenProject, givenFlag, givenProject, givenState } from './helpers/flags.js';
import { type GivenOrg, givenOrg } from './helpers/givens.js';
import { snapshotsCaughtUp } from './helpers/sdk.js';
import { startServer, type TestServer } from './helpers/server.js';
import { eventually } from './helpers/waiters.js';

/**
 * GraphQL over SSE driven by the clients integrators use: graphql-sse's own client (distinct
 * connections mode, POST) and a plain EventSource on GET /graphql (the `eventsource` package,
 * its fetch carrying the credential, as a browser's EventSource cannot send headers).
 */
let server: TestServer;
let org: GivenOrg;
let project: GivenProject;

beforeAll(async () => {
  server = await startServer({ MANAGEMENT_RATE_LIMIT: '10000', EVALUATION_RATE_LIMIT: '100000' });
  org = await givenOrg(server.url);
  project = await givenProject(server, org);
});

const FLAG_CHANGED = `subscription($p: ID!, $flags: [String!]) {
  flagChanged(projectId: $p, flagKeys: $flags) { flagKey kind environment { key } state { on } } }`;
const FLAG_VALUES = 'subscription($c: JSON!) { flagValues(context: $c) { key value reason } }';

const streamsAtLeast = (n: number) => eventually(async () => server.app.hub.openStreams >= n);
const streamsBackTo = (n: number) => eventually(async () => server.app.hub.openStreams === n);

/** The next value of `iterator`, failing after `ms` instead of hanging the suite. */
async function nextOf<T>(iterator: AsyncIterator<T>, ms = 5_000): Promise<IteratorResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no event within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([iterator.next(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('graphql-sse client (distinct connections)', () => {
  it('receives flagChanged for a change made through a mutation, and ends the stream when it returns', async () => {
    const flag = await givenFlag(server, org, project);
    await snapshotsCaughtUp(server, Object.values(project.env));
    const before = server.app.hub.openStreams;
    const client = createClient({ url: `${server.url}/graphql`, headers: org.auth, retryAttempts: 0 });
    const iterator = client
      .iterate<{
        flagChanged: { flagKey: string; kind: string; environment: { key: string }; state: { on: boolean } };
      }>({
        query: FLAG_CHANGED,
        variables: { p: project.id, flags: [flag.key] },
      })
      [Symbol.asyncIterator]();
    const first = nextOf(iterator);
    await streamsAtLeast(before + 1);
    await givenState(server, org, flag.id, project.env['staging']!, { on: true });
    const { value } = await first;
    expect(value?.errors).toBeUndefined();
    expect(value?.data?.flagChanged).toMatchObject({
      flagKey: flag.key,
      kind: 'STATE',
      environment: { key: 'staging' },
      state: { on: true },
    });
    await iterator.return?.();
    client.dispose();
    await streamsBackTo(before);
  });

  it('serves flagValues to an SDK key sent as a header, first the values, then each change', async () => {
    const { value: sdkKey } = await givenSdkKey(server.url, org, project.env['production']!);
    const flag = await givenFlag(server, org, project);
    await snapshotsCaughtUp(server, Object.values(project.env));
    const before = server.app.hub.openStreams;
    const client = createClient({ url: `${server.url}/graphql`, headers: { 'x-api-key': sdkKey }, retryAttempts: 0 });
    type Values = { flagValues: { key: string; value: unknown; reason: string }[] };
    const iterator = client
      .iterate<Values>({ query: FLAG_VALUES, variables: { c: { targetingKey: 'zoe' } } })
      [Symbol.asyncIterator]();
    const first = await nextOf(iterator);
    expect(first.value?.data?.flagValues.find((v: { key: string }) => v.key === flag.key)).toMatchObject({
      reason: 'DISABLED',
    });
    await givenState(server, org, flag.id, project.env['production']!, { on: true });
    const second = await nextOf(iterator);
    expect(second.value?.data?.flagValues.find((v: { key: string }) => v.key === flag.key)).toMatchObject({
      value: true,
    });
    await iterator.return?.();
    client.dispose();
    await streamsBackTo(before);
  });

  it('rejects with the GraphQL errors of a refused operation, and opens no stream', async () => {
    const before = server.app.hub.openStreams;
    const client = createClient({ url: `${server.url}/graphql`, retryAttempts: 0 });
    const iterator = client.iterate({ query: FLAG_CHANGED, variables: { p: project.id } })[Symbol.asyncIterator]();
    const outcome = await nextOf(iterator).then(
      (result) => result.value,
      (error: unknown) => error,
    );
    // Anonymous: the operation is refused with a typed code, whichever way the client reports it.
    expect(JSON.stringify(outcome)).toMatch(/UNAUTHENTICATED|FORBIDDEN/);
    client.dispose();
    expect(server.app.hub.openStreams).toBe(before);
  });
});

describe('EventSource on GET /graphql', () => {
  it('streams flagChanged as `next` events to a subscription sent in the query string', async () => {
    const flag = await givenFlag(server, org, project);
    await snapshotsCaughtUp(server, Object.values(project.env));
    const before = server.app.hub.openStreams;
    const url = new URL(`${server.url}/graphql`);
    url.searchParams.set('query', FLAG_CHANGED);
    url.searchParams.set('variables', JSON.stringify({ p: project.id, flags: [flag.key] }));
    const source = new EventSource(url, {
      fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, ...org.auth } }),
    });
    const events: { data: { flagChanged: { flagKey: string; state: { on: boolean } } } }[] = [];
    source.addEventListener('next', (e) => events.push(JSON.parse(e.data)));
    const errors: unknown[] = [];
    source.onerror = (e) => errors.push(e);
    await streamsAtLeast(before + 1);
    await givenState(server, org, flag.id, project.env['dev']!, { on: true });
    await eventually(async () => events.length >= 1);
    expect(events[0]!.data.flagChanged).toMatchObject({ flagKey: flag.key, state: { on: true } });
    expect(errors).toEqual([]);
    source.close();
    await streamsBackTo(before);
  });
});
