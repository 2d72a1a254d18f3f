import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';
import { OpenFeature, ProviderEvents } from '@openfeature/web-sdk';
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { graphql, request } from './helpers/client.js';
import { givenState, storedState } from './helpers/flags.js';
import { givenDevFlag, givenSdkWorld, type SdkWorld, snapshotsCaughtUp } from './helpers/sdk.js';
import { startServer, type TestServer } from './helpers/server.js';
import { eventually } from './helpers/waiters.js';

/**
 * OFREP event streams (open-feature/protocol ADR-0008), driven by the real OpenFeature web SDK
 * with @openfeature/ofrep-web-provider running in Node (EventSource from the `eventsource`
 * package, as Node 24 ships it only behind a flag). Polling is off, so a change can only reach
 * the provider through the stream.
 */
let server: TestServer;
let world: SdkWorld;
let banner: { id: string; key: string };

beforeAll(async () => {
  (globalThis as { EventSource?: unknown }).EventSource = EventSource;
  server = await startServer({ MANAGEMENT_RATE_LIMIT: '10000', EVALUATION_RATE_LIMIT: '100000' });
  world = await givenSdkWorld(server);
  banner = await givenDevFlag(server, world, { key: 'discount-banner', clientSideAvailable: true }, { on: false });
  await snapshotsCaughtUp(server, [world.dev.id]);
});

afterAll(async () => {
  await OpenFeature.close();
});

const bulk = (
  key: string,
  body: unknown = { context: { targetingKey: 'user-1' } },
  extra: Record<string, string> = {},
) =>
  request(server.url, 'POST', '/ofrep/v1/evaluate/flags', {
    body,
    headers: { authorization: `Bearer ${key}`, ...extra },
  });

/** The real OFREP web provider for the dev environment's client-side ID, polling off: only the stream tells it of changes. */
const webProvider = () =>
  new OFREPWebProvider({
    baseUrl: server.url,
    headers: [['Authorization', `Bearer ${world.dev.clientSideId}`]],
    pollInterval: 0,
    changeDetection: 'sse',
    cacheMode: 'disabled',
    disableVisibilityRefresh: true,
  });

/** Reads an SSE response's frames until `until` matches what arrived (bounded by the waiter). */
async function readEvents(res: Response, until: (text: string) => boolean): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!until(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  await reader.cancel();
  return text;
}

describe('OFREP event streams', () => {
  it('reach the real OFREP web provider with polling off: a change arrives through the stream', async () => {
    const provider = webProvider();
    await OpenFeature.setContext({ targetingKey: 'user-1' });
    await OpenFeature.setProviderAndWait(provider);
    const client = OpenFeature.getClient();
    expect(client.getBooleanValue('discount-banner', true)).toBe(false);
    // The provider is connected to the stream before the change is made.
    await eventually(() => expect(server.app.eventStreams.size).toBeGreaterThanOrEqual(1));

    const changed = new Promise<number>((resolve) =>
      client.addHandler(ProviderEvents.ConfigurationChanged, () => resolve(performance.now())),
    );
    const start = performance.now();
    await givenState(server, world.org, banner.id, world.dev.id, { on: true });
    const at = await changed;
    console.log(`a change reached the OFREP web provider through the stream in ${Math.round(at - start)} ms`);
    expect(client.getBooleanValue('discount-banner', false)).toBe(true);
    await OpenFeature.clearProviders();
  });

  it('reach the provider when the change lands between its bulk evaluation and its stream connecting', async () => {
    // The provider's EventSource connects only once the change is made and this node has it.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    class GatedEventSource extends EventSource {
      constructor(url: string | URL, init?: ConstructorParameters<typeof EventSource>[1]) {
        super(url, { ...init, fetch: async (input, options) => gate.then(() => fetch(input, options)) });
      }
    }
    (globalThis as { EventSource?: unknown }).EventSource = GatedEventSource;
    try {
      const provider = webProvider();
      await OpenFeature.setContext({ targetingKey: 'user-2' });
      await OpenFeature.setProviderAndWait(provider);
      const client = OpenFeature.getClient();
      const was = client.getBooleanValue('discount-banner', true);
      await givenState(server, world.org, banner.id, world.dev.id, { on: !was });
      await snapshotsCaughtUp(server, [world.dev.id]);
      open();
      await eventually(() => expect(client.getBooleanValue('discount-banner', was)).toBe(!was));
      await OpenFeature.clearProviders();
    } finally {
      open();
      (globalThis as { EventSource?: unknown }).EventSource = EventSource;
    }
  });

  it('answers bulk evaluations with an event stream whose URL carries no key, and refuses forged or stale tokens', async () => {
    for (const key of [world.dev.server, world.dev.mobile, world.dev.clientSideId]) {
      const res = await bulk(key);
      expect(res.status).toBe(200);
      const [stream] = res.body.eventStreams;
      expect(stream).toEqual({
        type: 'sse',
        endpoint: { requestUri: expect.stringMatching(/^\/ofrep\/v1\/stream\?token=[\w-]+\.[\w-]+$/) },
        inactivityDelaySec: 120,
      });
      expect(stream.endpoint.requestUri).not.toContain(key);
      expect(stream.endpoint.requestUri).not.toContain(key.slice(7, 20));
    }
    const { endpoint } = (await bulk(world.dev.server)).body.eventStreams[0];
    const token = new URL(endpoint.requestUri, server.url).searchParams.get('token')!;
    const [payload, signature] = token.split('.');
    // Another key's id under the same signature, a bad signature, garbage: all 401 with the envelope.
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, x: claims.x + 1 })).toString('base64url');
    for (const bad of [`${forged}.${signature}`, `${payload}.${signature!.slice(1)}x`, 'garbage', '']) {
      const res = await request(server.url, 'GET', `/ofrep/v1/stream?token=${encodeURIComponent(bad)}`);
      expect(res.status, bad).toBe(401);
      expect(res.body).toMatchObject({ error: expect.any(String), request_id: expect.any(String) });
    }
  });

  it('gives each key its own stream token for the same context, as the answers alternate between keys', async () => {
    const keyIdOf = (body: { eventStreams: { endpoint: { requestUri: string } }[] }) => {
      const token = new URL(body.eventStreams[0]!.endpoint.requestUri, server.url).searchParams.get('token')!;
      return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).k as string;
    };
    const seen = new Map<string, Set<string>>();
    for (let round = 0; round < 3; round++) {
      for (const key of [world.dev.server, world.dev.mobile]) {
        const res = await bulk(key, { context: { targetingKey: 'same-context' } });
        expect(res.status).toBe(200);
        seen.set(key, (seen.get(key) ?? new Set()).add(keyIdOf(res.body)));
      }
    }
    const [byServerKey, byMobileKey] = [seen.get(world.dev.server)!, seen.get(world.dev.mobile)!];
    expect(byServerKey.size).toBe(1);
    expect(byMobileKey.size).toBe(1);
    expect([...byServerKey][0]).not.toBe([...byMobileKey][0]);
  });

  it('sends refetchEvaluation with etag and lastModified and the version as id, and replays after Last-Event-ID', async () => {
    const answer = await bulk(world.dev.server);
    const url = `${server.url}${answer.body.eventStreams[0].endpoint.requestUri}`;
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const { version } = await storedState(server, banner.id, world.dev.id);
    const before = server.app.snapshots.get(world.dev.id)!.version;
    // A first connection is told to re-fetch at once (what it holds may predate this connection);
    // then every change is one more event.
    const text = readEvents(res, (t) => t.split('refetchEvaluation').length > 2);
    await eventually(() => expect(server.app.eventStreams.size).toBeGreaterThanOrEqual(1));
    const mutation = await graphql(
      server.url,
      'mutation($f: ID!, $e: ID!, $v: Int!) { updateFlagState(flagId: $f, environmentId: $e, expectedVersion: $v, input: { on: false }) { version } }',
      { f: banner.id, e: world.dev.id, v: version },
      world.org.auth,
    );
    expect(mutation.errors).toBeUndefined();
    const events = await text;
    const snapshot = server.app.snapshots.get(world.dev.id)!;
    const [first, match] = [...events.matchAll(/id: (\d+)\nevent: message\ndata: (.*)\n\n/g)];
    expect(Number(first![1])).toBe(before);
    expect(JSON.parse(first![2]!)).toMatchObject({ type: 'refetchEvaluation' });
    expect(match).toBeDefined();
    expect(Number(match![1])).toBe(snapshot.version);
    const data = JSON.parse(match![2]!);
    expect(data).toEqual({ type: 'refetchEvaluation', etag: snapshot.etag, lastModified: expect.any(Number) });
    expect(Math.abs(data.lastModified - Date.now() / 1000)).toBeLessThan(60);

    // The re-fetch the event asks for answers the new version (its ETag differs from the old one).
    const refetched = await bulk(world.dev.server, undefined, {});
    expect(refetched.headers.get('etag')).not.toBe(answer.headers.get('etag'));
    const viaQuery = await request(
      server.url,
      'POST',
      `/ofrep/v1/evaluate/flags?flagConfigEtag=${encodeURIComponent(data.etag)}&flagConfigLastModified=${data.lastModified}`,
      { body: { context: { targetingKey: 'user-1' } }, headers: { authorization: `Bearer ${world.dev.server}` } },
    );
    expect(viaQuery.status).toBe(200);
    expect(viaQuery.body.flags.find((f: { key: string }) => f.key === 'discount-banner').value).toBe(false);

    // Reconnecting from an older id: one refetch at once. From the current one: nothing but heartbeats.
    const again = await fetch(url, { headers: { 'last-event-id': String(snapshot.version - 1) } });
    const replay = await readEvents(again, (t) => t.includes('refetchEvaluation'));
    expect(replay).toContain(`id: ${snapshot.version}\n`);
    const current = await fetch(url, { headers: { 'last-event-id': String(snapshot.version) } });
    expect(current.status).toBe(200);
    await current.body!.cancel();
  });

  it('tells a provider whose stream opens after a change it did not see to re-fetch, whatever id it sends', async () => {
    const answer = await bulk(world.dev.server);
    const url = `${server.url}${answer.body.eventStreams[0].endpoint.requestUri}`;
    // The change lands between the bulk answer and the connection.
    await givenState(server, world.org, banner.id, world.dev.id, { on: true });
    await snapshotsCaughtUp(server, [world.dev.id]);
    const snapshot = server.app.snapshots.get(world.dev.id)!;
    const version = snapshot.version;
    // No id, or one these streams never write (hex, exponent, junk): one refetch at once.
    for (const id of [undefined, `0x${version.toString(16)}`, `${version}e0`, 'x'.repeat(2000)]) {
      const res = await fetch(url, { headers: id === undefined ? {} : { 'last-event-id': id } });
      const events = await readEvents(res, (t) => t.includes('refetchEvaluation'));
      expect(events, String(id)).toContain(`id: ${version}\nevent: message\n`);
      expect(events).toContain(JSON.stringify({ type: 'refetchEvaluation', etag: snapshot.etag }));
    }
    // The re-fetch names the version the provider already holds through If-None-Match: 304.
    const refetch = await request(
      server.url,
      'POST',
      `/ofrep/v1/evaluate/flags?flagConfigEtag=${encodeURIComponent(snapshot.etag)}`,
      {
        body: { context: { targetingKey: 'user-1' } },
        headers: {
          authorization: `Bearer ${world.dev.server}`,
          'if-none-match': (await bulk(world.dev.server)).headers.get('etag')!,
        },
      },
    );
    expect(refetch.status).toBe(304);
    await givenState(server, world.org, banner.id, world.dev.id, { on: false });
  });

  it('ends the stream when its key is revoked, and refuses a new one for it', async () => {
    const r = await graphql(
      server.url,
      'mutation($e: ID!) { createSdkKey(environmentId: $e, kind: SERVER, name: "to revoke") { value key { id } } }',
      { e: world.dev.id },
      world.org.auth,
    );
    const { value, key } = r.data.createSdkKey;
    await eventually(async () => expect((await bulk(value)).status).toBe(200));
    const uri = (await bulk(value)).body.eventStreams[0].endpoint.requestUri;
    const res = await fetch(`${server.url}${uri}`);
    expect(res.status).toBe(200);
    const ended = readEvents(res, () => false);
    const revoked = await graphql(
      server.url,
      'mutation($id: ID!) { revokeSdkKey(id: $id, graceMinutes: 0) { id } }',
      { id: key.id },
      world.org.auth,
    );
    expect(revoked.errors).toBeUndefined();
    expect(await ended).toContain('no longer valid');
    await eventually(async () => expect((await request(server.url, 'GET', uri)).status).toBe(401));
  });

  it('mints tokens that expire, and never answers 304 about a body whose token has', async () => {
    const clock = new ManualClock();
    const node = await startServer(
      { MANAGEMENT_RATE_LIMIT: '10000', EVALUATION_RATE_LIMIT: '100000' },
      { databaseUrl: server.databaseUrl, clock },
    );
    const ask = (extra: Record<string, string> = {}) =>
      request(node.url, 'POST', '/ofrep/v1/evaluate/flags', {
        body: { context: { targetingKey: 'user-1' } },
        headers: { authorization: `Bearer ${world.dev.server}`, ...extra },
      });
    await eventually(async () => expect((await ask()).status).toBe(200));
    const first = await ask();
    const etag = first.headers.get('etag')!;
    const uri = first.body.eventStreams[0].endpoint.requestUri;
    expect((await ask({ 'if-none-match': etag })).status).toBe(304);
    // Half an hour on: the same environment and context, but a new token, so a new ETag.
    clock.advance(31 * 60_000);
    const later = await ask({ 'if-none-match': etag });
    expect(later.status).toBe(200);
    expect(later.body.eventStreams[0].endpoint.requestUri).not.toBe(uri);
    // Over an hour on, the first token no longer opens a stream; the new one does.
    clock.advance(60 * 60_000);
    expect((await request(node.url, 'GET', uri)).status).toBe(401);
    const fresh = (await ask()).body.eventStreams[0].endpoint.requestUri;
    const res = await fetch(`${node.url}${fresh}`);
    expect(res.status).toBe(200);
    await res.body!.cancel();
  });
});
