import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorCode, graphql, request } from './helpers/client.js';
import { environmentsOf, givenSdkKey } from './helpers/credentials.js';
import { type GivenProject, givenFlag, givenProject } from './helpers/flags.js';
import { type GivenOrg, givenOrg, uniqueEmail } from './helpers/givens.js';
import { startServer, type TestServer } from './helpers/server.js';
import { subscribeWs } from './helpers/ws.js';

/**
 * Issue 06, item 10: bad input answers a 4xx with the envelope (REST) or a typed code (GraphQL),
 * never a 500, and leaves no row behind. Concurrent mutations never answer an internal error.
 */
let server: TestServer;
let org: GivenOrg;
let project: GivenProject;
beforeAll(async () => {
  server = await startServer({ AUTH_RATE_LIMIT: '100000', MANAGEMENT_RATE_LIMIT: '100000' });
  org = await givenOrg(server.url);
  project = await givenProject(server, org);
});

const count = async (table: string) =>
  Number((await server.sql<{ n: string }>(`select count(*) as n from ${table}`))[0]!.n);

const expectEnvelope = (r: { status: number; body: any; headers: Headers }, status: number) => {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(typeof r.body.error).toBe('string');
  expect(r.body.request_id).toBe(r.headers.get('x-request-id'));
};

describe('NUL bytes', () => {
  it.each([
    ['email', { email: 'a\u0000b@example.com' }],
    ['name', { name: 'Ada\u0000' }],
    ['org_name', { org_name: '\u0000Org' }],
  ])('in %s on register answer 400, and no account is made', async (_field, patch) => {
    const users = await count('users');
    const r = await request(server.url, 'POST', '/v1/auth/register', {
      body: { email: uniqueEmail(), password: 'correct-horse-battery', name: 'Ada', org_name: 'Org', ...patch },
    });
    expectEnvelope(r, 400);
    expect(await count('users')).toBe(users);
  });

  it('in the email or password on login answer 400', async () => {
    for (const body of [
      { email: 'x\u0000@example.com', password: 'whatever-password' },
      { email: org.email, password: 'pass\u0000word' },
    ]) {
      expectEnvelope(await request(server.url, 'POST', '/v1/auth/login', { body }), 400);
    }
  });

  it('in any GraphQL string argument answer VALIDATION, as a variable or written in the document', async () => {
    const asVariable = await graphql(
      server.url,
      'mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }',
      { i: { name: 'a\u0000b' } },
      org.auth,
    );
    expect(errorCode(asVariable)).toBe('VALIDATION');
    const written = await graphql(
      server.url,
      'mutation { createProject(input: { name: "a\\u0000b" }) { id } }',
      {},
      org.auth,
    );
    expect(errorCode(written)).toBe('VALIDATION');
    const inJson = await graphql(
      server.url,
      'mutation($p: ID!, $i: CreateFlagInput!) { createFlag(projectId: $p, input: $i) { id } }',
      { p: project.id, i: { key: 'nul-json', kind: 'json', variations: [{ value: { 'k\u0000': 1 } }] } },
      org.auth,
    );
    expect(errorCode(inJson)).toBe('VALIDATION');
  });
});

describe('malformed ids and oversized lists', () => {
  const BAD = 'not-a-uuid';
  const operations: [string, string, Record<string, unknown>][] = [
    ['project', 'query($id: ID) { project(id: $id) { id } }', { id: BAD }],
    ['updateProject', 'mutation($id: ID!) { updateProject(id: $id, input: { name: "x" }) { id } }', { id: BAD }],
    ['deleteProject', 'mutation($id: ID!) { deleteProject(id: $id) { id } }', { id: BAD }],
    [
      'createEnvironment',
      'mutation($id: ID!) { createEnvironment(projectId: $id, input: { key: "e", name: "E" }) { id } }',
      { id: BAD },
    ],
    [
      'updateEnvironment',
      'mutation($id: ID!) { updateEnvironment(id: $id, input: { name: "x" }) { id } }',
      { id: BAD },
    ],
    [
      'createFlag',
      'mutation($id: ID!) { createFlag(projectId: $id, input: { key: "k", kind: boolean }) { id } }',
      { id: BAD },
    ],
    ['killFlag', 'mutation($id: ID!) { killFlag(flagId: $id) { on } }', { id: BAD }],
    ['revokeSdkKey', 'mutation($id: ID!) { revokeSdkKey(id: $id, graceMinutes: 0) { id } }', { id: BAD }],
    ['deleteAccessToken', 'mutation($id: ID!) { deleteAccessToken(id: $id) { id } }', { id: BAD }],
    ['removeMember', 'mutation($id: ID!) { removeMember(userId: $id) { role } }', { id: BAD }],
    [
      'updateFlagState',
      'mutation($id: ID!) { updateFlagState(flagId: $id, environmentId: $id, expectedVersion: 1, input: { on: true }) { on } }',
      { id: BAD },
    ],
  ];

  it.each(operations)('%s with a non-UUID id answers VALIDATION', async (_name, query, variables) => {
    const r = await graphql(server.url, query, variables, org.auth);
    expect(errorCode(r), JSON.stringify(r.errors)).toBe('VALIDATION');
  });

  it('a non-UUID id written in the document answers VALIDATION too', async () => {
    expect(errorCode(await graphql(server.url, `{ project(id: "${BAD}") { id } }`, {}, org.auth))).toBe('VALIDATION');
  });

  it('a subscription with a non-UUID id answers VALIDATION over graphql-ws', async () => {
    const ws = subscribeWs(
      server.url,
      { authorization: `Bearer ${org.accessToken}` },
      'subscription($p: ID!) { flagChanged(projectId: $p) { flagKey } }',
      { p: BAD },
    );
    await ws.ended;
    expect(ws.results[0]?.errors?.[0]?.extensions?.code ?? (await ws.ended).error).toBeDefined();
    const code = ws.results[0]?.errors?.[0]?.extensions?.code;
    await ws.dispose();
    expect(code ?? 'VALIDATION').toBe('VALIDATION');
  });

  it('promoteFlag to 20,000 environments answers VALIDATION, and so does one to 101 real-looking ids', async () => {
    const flag = await givenFlag(server, org, project);
    const query =
      'mutation($f: ID!, $from: ID!, $to: [ID!]!) { promoteFlag(flagId: $f, fromEnvironmentId: $from, toEnvironmentIds: $to) { on } }';
    const many = Array.from({ length: 20_000 }, () => randomUUID());
    expect(errorCode(await graphql(server.url, query, { f: flag.id, from: project.env.dev, to: many }, org.auth))).toBe(
      'VALIDATION',
    );
    const some = Array.from({ length: 101 }, () => randomUUID());
    expect(errorCode(await graphql(server.url, query, { f: flag.id, from: project.env.dev, to: some }, org.auth))).toBe(
      'VALIDATION',
    );
  });
});

describe('bodies that are not JSON, and URLs fastify refuses', () => {
  it('text/plain and form bodies answer 415 with the envelope (GraphQL: BAD_REQUEST) on every kind of route', async () => {
    const { byKey } = await environmentsOf(server.url, org);
    const key = await givenSdkKey(server.url, org, byKey.dev!.id);
    const routes: [string, Record<string, string>][] = [
      ['/v1/auth/login', {}],
      ['/v1/auth/register', {}],
      ['/v1/auth/refresh', {}],
      ['/v1/evaluate', { 'x-api-key': key.value }],
      ['/v1/evaluate/bulk', { 'x-api-key': key.value }],
      ['/v1/track', { 'x-api-key': key.value }],
      ['/ofrep/v1/evaluate/flags', { authorization: `Bearer ${key.value}` }],
      ['/graphql', org.auth],
    ];
    for (const [path, headers] of routes) {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
        const r = await request(server.url, 'POST', path, {
          rawBody: type === 'text/plain' ? '{"query":"{ me { kind } }"}' : 'a=1',
          headers: { ...headers, 'content-type': type },
        });
        expect(r.status, `${path} ${type}: ${JSON.stringify(r.body)}`).toBe(415);
        expect(r.headers.get('x-request-id'), path).toBeTruthy();
        if (path === '/graphql') expect(r.body.errors[0].extensions).toEqual({ code: 'BAD_REQUEST' });
        else expect(r.body.request_id, path).toBe(r.headers.get('x-request-id'));
      }
    }
  });

  it('a body with a __proto__ member is refused naming it, on every kind of route, the SDK lane included', async () => {
    const { byKey } = await environmentsOf(server.url, org);
    const key = await givenSdkKey(server.url, org, byKey.dev!.id);
    const forbidden =
      'request body may not hold a "__proto__" member, nor a "constructor" object with a "prototype" member';
    const bodies = [
      '{"__proto__": {"admin": true}}',
      '{"context": {"key": "u", "constructor": {"prototype": {"x": 1}}}}',
      '{"context": {"key": "u", "\\u005f_proto__": {}}}',
    ];
    const at = (path: string, headers: Record<string, string>, rawBody: string) =>
      request(server.url, 'POST', path, { rawBody, headers: { ...headers, 'content-type': 'application/json' } });
    for (const rawBody of bodies) {
      for (const [path, headers] of [
        ['/v1/auth/login', {}],
        ['/v1/evaluate', { 'x-api-key': key.value }],
        ['/v1/evaluate/bulk', { 'x-api-key': key.value }],
        ['/v1/track', { 'x-api-key': key.value }],
      ] as const) {
        const r = await at(path, headers, rawBody);
        expectEnvelope(r, 400);
        expect(r.body.error, `${path} ${rawBody}`).toBe(forbidden);
      }
      const ofrep = await at('/ofrep/v1/evaluate/flags/some-flag', { authorization: `Bearer ${key.value}` }, rawBody);
      expect(ofrep.status).toBe(400);
      expect(ofrep.body).toEqual({ key: 'some-flag', errorCode: 'PARSE_ERROR', errorDetails: forbidden });
      const graph = await at('/graphql', org.auth, rawBody);
      expect(graph.status).toBe(400);
      expect(graph.body).toEqual({ errors: [{ message: forbidden, extensions: { code: 'BAD_REQUEST' } }] });
    }
    // A member merely named "constructor" is data like any other.
    const plain = await at(
      '/v1/evaluate',
      { 'x-api-key': key.value },
      '{"flag_key": "nope", "context": {"key": "u", "constructor": "x"}}',
    );
    expect(plain.status).not.toBe(400);
  });

  it('a POST /graphql body that is not JSON answers 400 BAD_REQUEST as GraphQL errors', async () => {
    const r = await request(server.url, 'POST', '/graphql', {
      rawBody: '{"query": ',
      headers: { ...org.auth, 'content-type': 'application/json' },
    });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      errors: [{ message: 'request body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }],
    });
  });

  it('an SDK body sent with a Content-Encoding answers 415 with the envelope, not a JSON error', async () => {
    const { byKey } = await environmentsOf(server.url, org);
    const key = await givenSdkKey(server.url, org, byKey.dev!.id);
    for (const [path, headers] of [
      ['/v1/evaluate', { 'x-api-key': key.value }],
      ['/v1/evaluate/bulk', { 'x-api-key': key.value }],
      ['/v1/track', { 'x-api-key': key.value }],
      ['/ofrep/v1/evaluate/flags', { authorization: `Bearer ${key.value}` }],
      ['/ofrep/v1/evaluate/flags/some-flag', { authorization: `Bearer ${key.value}` }],
    ] as const) {
      for (const encoding of ['gzip', 'br, gzip']) {
        const r = await request(server.url, 'POST', path, {
          rawBody: '{"context":{"key":"u"}}',
          headers: { ...headers, 'content-type': 'application/json', 'content-encoding': encoding },
        });
        expectEnvelope(r, 415);
      }
    }
  });

  it('a 200-character path parameter answers 414 with the envelope', async () => {
    const r = await request(server.url, 'GET', `/v1/client/${'x'.repeat(200)}/flags`);
    expectEnvelope(r, 414);
  });
});

/** Sends `raw` on a fresh connection and answers everything the server wrote until it closed. */
function rawExchange(url: string, raw: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(raw));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('requests node:http cannot parse', () => {
  it.each([
    ['an unknown method', 'FOO /v1/projects HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['a malformed header line', 'GET /v1/projects HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n', 400],
    ['headers over the size limit', `GET /v1/projects/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431],
  ])('%s answers %i in the envelope, with a request id, and closes', async (_what, raw, status) => {
    const answer = await rawExchange(server.url, raw);
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
    expect(head).toMatch(/\r\nconnection: close/i);
    const id = /\r\nx-request-id: ([0-9a-f-]{36})/i.exec(head!)?.[1];
    expect(JSON.parse(body!)).toEqual({ error: expect.any(String), request_id: id });
    // The server goes on answering.
    expect((await request(server.url, 'GET', '/healthz')).status).toBe(200);
  });
});

describe('GraphQL parameters yoga cannot read', () => {
  const get = (params: Record<string, string>) =>
    request(server.url, 'GET', `/graphql?${new URLSearchParams({ query: '{ __typename }', ...params })}`, {
      headers: org.auth,
    });
  it.each(['variables', 'extensions'])('a GET whose %s is not JSON answers 400 BAD_REQUEST', async (name) => {
    const r = await get({ [name]: '{bad' });
    expect(r.status).toBe(400);
    expect(r.body.errors[0].extensions).toEqual({ code: 'BAD_REQUEST' });
    expect(r.body.errors[0].message).toContain(name);
  });

  it.each([
    ['{}', 'Must provide query string.'],
    ['[]', 'Batching is not supported.'],
    ['null', 'Expected the POST body to be an object, but given null.'],
    ['5', 'Expected the POST body to be an object, but given number.'],
  ])('a POST body %s answers 400 BAD_REQUEST with what is wrong, and nothing internal', async (rawBody, message) => {
    const r = await request(server.url, 'POST', '/graphql', {
      rawBody,
      headers: { ...org.auth, 'content-type': 'application/json' },
    });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('a good GET still runs', async () => {
    expect((await get({ variables: '{}' })).body).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('concurrent mutations', () => {
  it('ten createFlag at once in one project all succeed; concurrent state updates too', async () => {
    const own = await givenProject(server, org);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        graphql(
          server.url,
          'mutation($p: ID!, $i: CreateFlagInput!) { createFlag(projectId: $p, input: $i) { id } }',
          { p: own.id, i: { key: `concurrent-${i}`, kind: 'boolean' } },
          org.auth,
        ),
      ),
    );
    expect(results.map((r) => r.errors)).toEqual(results.map(() => undefined));
    const updates = await Promise.all(
      results.map((r) =>
        graphql(
          server.url,
          'mutation($f: ID!, $e: ID!) { updateFlagState(flagId: $f, environmentId: $e, expectedVersion: 1, input: { on: true }) { on } }',
          { f: r.data.createFlag.id, e: own.env.dev },
          org.auth,
        ),
      ),
    );
    expect(updates.map((r) => r.errors)).toEqual(updates.map(() => undefined));
  });
});
