import fc from 'fast-check';
import { type GraphQLField, getNamedType, isInputObjectType, isNonNullType } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../src/schema.js';
import { bearer } from './helpers/client.js';
import { environmentsOf, givenSdkKey } from './helpers/credentials.js';
import { type GivenOrg, givenOrg } from './helpers/givens.js';
import { startServer, type TestServer } from './helpers/server.js';

/**
 * Issue 06, "Proof": generated hostile requests against every route and /graphql. Whatever the
 * body, query string, headers or document: a 4xx with the envelope (or a typed GraphQL code),
 * never a 5xx, no row left behind by a refused request, and the server still answering /healthz.
 * Bounded in count (fast-check runs) so it fits CI.
 */
let server: TestServer;
let org: GivenOrg;
let serverKey: string;
let routes: { method: string; path: string }[];

/** Every route fastify serves, from its own route tree. */
function routesOf(printed: string): { method: string; path: string }[] {
  const found: { method: string; path: string }[] = [];
  const parents: string[] = [];
  for (const line of printed.split('\n')) {
    const m = /^([│ ]*)[└├]── (\S+) \(([A-Z, ]+)\)$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const segment = m[2]!;
    const parent = parents[depth - 1] ?? '';
    const path = depth === 0 ? segment : `${parent}${segment.startsWith('/') ? '' : '/'}${segment}`;
    parents[depth] = path === '/' ? '' : path;
    for (const method of m[3]!.split(', ')) found.push({ method, path: path || '/' });
  }
  return found;
}

beforeAll(async () => {
  server = await startServer({
    AUTH_RATE_LIMIT: '1000000',
    MANAGEMENT_RATE_LIMIT: '1000000',
    EVALUATION_RATE_LIMIT: '1000000',
    SENSITIVE_RATE_LIMIT: '1000000',
  });
  org = await givenOrg(server.url);
  const { byKey } = await environmentsOf(server.url, org);
  serverKey = (await givenSdkKey(server.url, org, byKey.dev!.id)).value;
  routes = routesOf(server.app.printRoutes({ commonPrefix: false })).filter((r) => r.method !== 'HEAD');
});

/** Rows of every table, one query (a refused request must leave them as they were). */
async function rowCounts(): Promise<Record<string, number>> {
  const tables = await server.sql<{ tablename: string }>(
    "select tablename from pg_tables where schemaname = 'public' and tablename not in ('mikro_orm_migrations', 'evaluation_counts', 'tracked_events')",
  );
  const union = tables
    .map((t) => `select '${t.tablename}' as t, count(*) as n from "${t.tablename}"`)
    .join(' union all ');
  const rows = await server.sql<{ t: string; n: string }>(union);
  return Object.fromEntries(rows.map((r) => [r.t, Number(r.n)]));
}

const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('\u0000', 'a\u0000b', '\uD800', '../../etc/passwd', "' or 1=1 --", '__proto__', 'constructor', '%00'),
  fc.string({ minLength: 150, maxLength: 400 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);
const hostileJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    hostileString,
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileString, tie('value'), { maxKeys: 4 }),
  ),
})).value;
const deepJson = fc.integer({ min: 50, max: 20_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`);

const body = fc.oneof(
  hostileJson.map((v) => ({ raw: JSON.stringify(v) ?? 'null', type: 'application/json' })),
  deepJson.map((raw) => ({ raw, type: 'application/json' })),
  fc.string({ maxLength: 200 }).map((raw) => ({ raw, type: 'application/json' })),
  fc.string({ maxLength: 200 }).map((raw) => ({ raw, type: 'text/plain' })),
  fc.string({ maxLength: 100 }).map((raw) => ({ raw, type: 'application/x-www-form-urlencoded' })),
  fc.constant({ raw: '{"__proto__": {"polluted": true}}', type: 'application/json' }),
  fc.constant({ raw: '', type: 'application/json' }),
);
const credentials = fc.oneof(
  fc.constant<Record<string, string>>({}),
  hostileString.map((v) => ({ authorization: `Bearer ${v.replace(/[^\x21-\x7e]/g, '')}` })),
  hostileString.map((v) => ({ 'x-api-key': v.replace(/[^\x21-\x7e]/g, '') || 'x' })),
  hostileString.map((v) => ({ 'api-key': v.replace(/[^\x21-\x7e]/g, '') || 'x' })),
  fc.constant({ 'x-api-key': 'vx_srv_000000000000000000000000000000AAAAAA' }),
);

async function send(method: string, path: string, options: { headers?: Record<string, string>; raw?: string }) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: options.headers,
    body: method === 'GET' || method === 'HEAD' ? undefined : options.raw,
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, type: res.headers.get('content-type') ?? '', json, id: res.headers.get('x-request-id') };
}

describe('generated hostile requests', () => {
  it('on every REST route: a 4xx with the envelope, never a 5xx, and no row left behind', async () => {
    expect(routes.length).toBeGreaterThan(10);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.array(hostileString, { maxLength: 3 }),
        fc.dictionary(fc.stringMatching(/^[a-z_]{1,10}$/), hostileString, { maxKeys: 3 }),
        body,
        credentials,
        async (pick, params, query, payload, auth) => {
          const route = routes[pick % routes.length]!;
          if (route.path === '/v1/stream/:envKey' || route.path.startsWith('/graphql')) return;
          let i = 0;
          const path = route.path.replace(/:[a-zA-Z]+/g, () => encodeURIComponent((params[i++] ?? 'x').toWellFormed()));
          const search = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, v.toWellFormed()])).toString();
          const before = await rowCounts();
          const r = await send(route.method, `${path}${search ? `?${search}` : ''}`, {
            headers: { ...auth, 'content-type': payload.type },
            raw: payload.raw,
          });
          expect(r.status, `${route.method} ${path}: ${JSON.stringify(r.json)}`).toBeLessThan(500);
          if (r.status >= 400 && r.type.includes('json')) {
            if (route.path.startsWith('/ofrep/') && r.json?.errorCode) {
              expect(typeof r.json.errorCode).toBe('string');
            } else {
              expect(r.json, `${route.method} ${path}`).toMatchObject({ error: expect.any(String), request_id: r.id });
            }
          }
          if (r.status >= 400) expect(await rowCounts()).toEqual(before);
        },
      ),
      { numRuns: 250 },
    );
  }, 180_000);

  it('on /graphql (POST and GET, any credential): a typed code on every error, never a 5xx', async () => {
    const fields = [
      ...Object.values(schema.getQueryType()!.getFields()),
      ...Object.values(schema.getMutationType()!.getFields()),
    ] as GraphQLField<unknown, unknown>[];
    const operation = fc
      .record({ field: fc.integer({ min: 0, max: fields.length - 1 }), values: fc.array(hostileJson) })
      .map(({ field, values }) => {
        const f = fields[field]!;
        const kind = schema.getMutationType()!.getFields()[f.name] === f ? 'mutation' : 'query';
        const declared = f.args.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
        const passed = f.args.map((a) => `${a.name}: $${a.name}`).join(', ');
        const variables = Object.fromEntries(f.args.map((a, i) => [a.name, values[i] ?? null]));
        const leaf = getNamedType(f.type);
        const selection = 'getFields' in leaf && !isInputObjectType(leaf) ? '{ __typename }' : '';
        return {
          query: `${kind}${declared ? `(${declared})` : ''} { ${f.name}${passed ? `(${passed})` : ''} ${selection} }`,
          variables,
          nonNull: f.args.some((a) => isNonNullType(a.type)),
        };
      });
    const document = fc.oneof(
      operation,
      fc.string({ maxLength: 300 }).map((query) => ({ query, variables: {}, nonNull: false })),
      fc.integer({ min: 30, max: 3000 }).map((n) => ({
        query: `{ ${'me { user { '.repeat(n)}id${' } }'.repeat(n)} }`,
        variables: {},
        nonNull: false,
      })),
    );
    const who = fc.oneof(credentials, fc.constant(bearer(org.accessToken)), fc.constant({ 'api-key': serverKey }));
    await fc.assert(
      fc.asyncProperty(document, who, fc.boolean(), async (doc, auth, viaGet) => {
        const before = await rowCounts();
        const r = viaGet
          ? await send(
              'GET',
              `/graphql?query=${encodeURIComponent(doc.query)}&variables=${encodeURIComponent(JSON.stringify(doc.variables))}`,
              { headers: { ...auth, accept: 'application/json' } },
            )
          : await send('POST', '/graphql', {
              headers: { ...auth, 'content-type': 'application/json' },
              raw: JSON.stringify({ query: doc.query, variables: doc.variables }),
            });
        expect(r.status, `${doc.query}: ${JSON.stringify(r.json)}`).toBeLessThan(500);
        for (const error of r.json?.errors ?? []) {
          expect(typeof error.extensions?.code, `${doc.query}: ${JSON.stringify(error)}`).toBe('string');
        }
        if (r.json?.errors && !r.json?.data) expect(await rowCounts()).toEqual(before);
      }),
      { numRuns: 250 },
    );
  }, 180_000);

  it('leaves the server answering /healthz at once', async () => {
    const started = Date.now();
    const r = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(2_000) });
    expect(r.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
