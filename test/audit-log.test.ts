import { beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './helpers/client.js';
import { givenFlag, givenProject } from './helpers/flags.js';
import { givenOrg } from './helpers/givens.js';
import { startServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});

const HISTORY = `query($id: String) { auditLog(resourceId: $id) { total data { action resourceId } } }`;

describe('auditLog(resourceId)', () => {
  it("answers one resource's history (a flag's, for its page in the console), newest first", async () => {
    const org = await givenOrg(server.url);
    const project = await givenProject(server, org);
    const flag = await givenFlag(server, org, project);
    const other = await givenFlag(server, org, project);
    const kill = await graphql(
      server.url,
      'mutation($id: ID!) { killFlag(flagId: $id) { on } }',
      { id: flag.id },
      org.auth,
    );
    expect(kill.errors).toBeUndefined();

    const r = await graphql(server.url, HISTORY, { id: flag.id }, org.auth);
    expect(r.errors).toBeUndefined();
    expect(r.data.auditLog.data.map((e: { action: string }) => e.action)).toEqual(['flag.killed', 'flag.created']);
    expect(r.data.auditLog.total).toBe(2);
    expect(r.data.auditLog.data.every((e: { resourceId: string }) => e.resourceId === flag.id)).toBe(true);

    const everything = await graphql(server.url, HISTORY, { id: null }, org.auth);
    const ids = everything.data.auditLog.data.map((e: { resourceId: string }) => e.resourceId);
    expect(ids).toContain(other.id);
  });

  it("never answers another organization's entries for a resource id", async () => {
    const org = await givenOrg(server.url);
    const stranger = await givenOrg(server.url);
    const flag = await givenFlag(server, org, await givenProject(server, org));
    const r = await graphql(server.url, HISTORY, { id: flag.id }, stranger.auth);
    expect(r.errors).toBeUndefined();
    expect(r.data.auditLog.total).toBe(0);
  });
});
