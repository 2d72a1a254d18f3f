import { expect } from 'vitest';
import { graphql } from './client.js';
import { environmentsOf, givenSdkKey } from './credentials.js';
import { environmentVersions, type GivenProject, givenFlag, givenState } from './flags.js';
import { type GivenOrg, givenOrg } from './givens.js';
import type { TestServer } from './server.js';

/**
 * An organization's default project seen from the SDK side: environment ids, client-side IDs,
 * server and mobile keys of `dev`, and builders that wait until this node's snapshot has caught
 * up with the database (the snapshot is rebuilt asynchronously from the LISTEN notification).
 */
export interface SdkWorld {
  org: GivenOrg;
  project: GivenProject;
  envs: Awaited<ReturnType<typeof environmentsOf>>['byKey'];
  dev: { id: string; clientSideId: string; server: string; mobile: string };
}

export async function givenSdkWorld(server: TestServer): Promise<SdkWorld> {
  const org = await givenOrg(server.url);
  const { projectId, byKey } = await environmentsOf(server.url, org);
  const env: Record<string, string> = {};
  for (const [key, e] of Object.entries(byKey)) env[key] = e.id;
  const dev = byKey.dev!;
  const server_ = await givenSdkKey(server.url, org, dev.id, 'SERVER');
  const mobile = await givenSdkKey(server.url, org, dev.id, 'MOBILE');
  return {
    org,
    project: { id: projectId, env },
    envs: byKey,
    dev: { id: dev.id, clientSideId: dev.clientSideId, server: server_.value, mobile: mobile.value },
  };
}

/** Waits (bounded) until this node's snapshot of each environment has the database's version. */
export async function snapshotsCaughtUp(server: TestServer, environmentIds: string[], timeoutMs = 5000): Promise<void> {
  const wanted = await environmentVersions(server, environmentIds);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const behind = environmentIds.filter((id) => (server.app.snapshots.get(id)?.version ?? -1) < (wanted[id] ?? 0));
    if (behind.length === 0) return;
    if (Date.now() > deadline) throw new Error(`snapshots of ${behind.join(', ')} did not catch up in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A flag with the given state in `dev` (created off everywhere, then changed in dev). */
export async function givenDevFlag(
  server: TestServer,
  world: SdkWorld,
  input: Record<string, unknown>,
  state: Record<string, unknown> = { on: true },
): Promise<{ id: string; key: string }> {
  const flag = await givenFlag(server, world.org, world.project, input);
  await givenState(server, world.org, flag.id, world.dev.id, state);
  return flag;
}

export const KILL = 'mutation($f: ID!, $env: ID) { killFlag(flagId: $f, environmentId: $env) { on version } }';

export async function killFlag(server: TestServer, world: SdkWorld, flagId: string, environmentId: string) {
  const r = await graphql(server.url, KILL, { f: flagId, env: environmentId }, world.org.auth);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
}

export const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
