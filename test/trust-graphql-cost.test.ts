import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createComplexityRule } from '@pothos/plugin-complexity';
import { getIntrospectionQuery, isEnumType, Kind, parse, type TypeNode, validate } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { COST_PER_POINT, QUERY_LIMITS } from '../src/graphql/limits.js';
import { schema } from '../src/schema.js';
import { graphql, request } from './helpers/client.js';
import { type GivenOrg, givenOrg } from './helpers/givens.js';
import { startServer, type TestServer } from './helpers/server.js';

/**
 * Issue 06, item 4 (and the low item): what one GraphQL operation may cost. Heavy, deep, wide or
 * long operations are refused before anything runs with QUERY_TOO_COMPLEX naming the limit; none
 * answers a 5xx; a heavier operation spends more of the caller's budget; anonymous callers get
 * no introspection and no field suggestions.
 */
let server: TestServer;
let org: GivenOrg;
beforeAll(async () => {
  server = await startServer({ AUTH_RATE_LIMIT: '100000', MANAGEMENT_RATE_LIMIT: '100000' });
  org = await givenOrg(server.url);
});

const limitOf = (r: { errors?: { extensions?: Record<string, unknown> }[] }) => ({
  code: r.errors?.[0]?.extensions?.code,
  limit: r.errors?.[0]?.extensions?.limit,
});

describe('operations over a limit are refused before they run', () => {
  it('the issue`s 100 aliases of projects → flags → environments: refused by cost, quickly', async () => {
    const one = 'projects(limit: 100) { data { flags(limit: 100) { data { environments { on version } } } } }';
    const query = `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: ${one}`).join(' ')} }`;
    const r = await graphql(server.url, query, {}, org.auth);
    expect(r.data ?? null).toBeNull();
    expect(limitOf(r)).toEqual({ code: 'QUERY_TOO_COMPLEX', limit: 'cost' });
    expect(r.errors![0]!.message).toMatch(/over the limit of 50000/);
  });

  it('more aliases than allowed: refused by the alias limit, also for anonymous callers', async () => {
    const query = `{ ${Array.from({ length: QUERY_LIMITS.maxAliases + 1 }, (_, i) => `a${i}: me { kind }`).join(' ')} }`;
    for (const headers of [org.auth, {}]) {
      const r = await graphql(server.url, query, {}, headers);
      expect(limitOf(r)).toEqual({ code: 'QUERY_TOO_COMPLEX', limit: 'aliases' });
    }
  });

  it('aliases of __typename count as well', async () => {
    const query = `{ ${Array.from({ length: QUERY_LIMITS.maxAliases + 1 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    const r = await graphql(server.url, query, {}, org.auth);
    expect(r.status).toBe(400);
    expect(limitOf(r)).toEqual({ code: 'QUERY_TOO_COMPLEX', limit: 'aliases' });
  });

  it('every limit answers HTTP 400, whichever it is and whatever the client accepts', async () => {
    const aliases = `{ ${Array.from({ length: QUERY_LIMITS.maxAliases + 1 }, (_, i) => `a${i}: me { kind }`).join(' ')} }`;
    const tokens = `{ ${Array.from({ length: QUERY_LIMITS.maxTokens }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    const directives = `{ me { ${'kind @include(if: true) '.repeat(QUERY_LIMITS.maxDirectives + 1)}} }`;
    const typeRef = (levels: number): string => (levels === 0 ? 'name' : `name ofType { ${typeRef(levels - 1)} }`);
    const depth = `{ __schema { types { fields { type { ${typeRef(QUERY_LIMITS.maxDepth)} } } } } }`;
    const one = 'projects(limit: 100) { data { flags(limit: 100) { data { environments { on version } } } } }';
    const cost = `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: ${one}`).join(' ')} }`;
    const cases = { aliases, tokens, directives, depth, cost };
    for (const accept of ['application/json', 'application/graphql-response+json']) {
      for (const [limit, query] of Object.entries(cases)) {
        const r = await request(server.url, 'POST', '/graphql', { body: { query }, headers: { ...org.auth, accept } });
        expect({ limit, accept, status: r.status }).toEqual({ limit, accept, status: 400 });
        expect(limitOf(r.body)).toEqual({ code: 'QUERY_TOO_COMPLEX', limit });
      }
    }
  });

  it('50,000 aliases parse no further than the token limit', async () => {
    const query = `{ ${Array.from({ length: 50_000 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    const r = await graphql(server.url, query);
    expect(r.status).toBeLessThan(500);
    expect(limitOf(r)).toEqual({ code: 'QUERY_TOO_COMPLEX', limit: 'tokens' });
  });

  it('a 3,000-deep __type nesting answers a 4xx with QUERY_TOO_COMPLEX, not a 500', async () => {
    const query = `{ __schema { types { ${'fields { type { '.repeat(1500)}name${' } }'.repeat(1500)} } } }`;
    const r = await graphql(server.url, query, {}, org.auth);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(limitOf(r).code).toBe('QUERY_TOO_COMPLEX');
  });

  it('a 5,000-deep list literal answers a 4xx, not a 500', async () => {
    const query = `mutation { setAuthorizedOrigins(environmentId: "00000000-0000-4000-8000-000000000000", origins: ${'['.repeat(5000)}"x"${']'.repeat(5000)}) { id } }`;
    const r = await graphql(server.url, query, {}, org.auth);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(limitOf(r).code).toBe('QUERY_TOO_COMPLEX');
  });

  it('selections deeper than the depth limit are refused', async () => {
    const typeRef = (levels: number): string => (levels === 0 ? 'name' : `name ofType { ${typeRef(levels - 1)} }`);
    const at = (levels: number) => `{ __schema { types { fields { type { ${typeRef(levels)} } } } } }`;
    // GraphiQL's own introspection nests ofType seven deep: well within the limit.
    expect((await graphql(server.url, at(7), {}, org.auth)).errors).toBeUndefined();
    expect(limitOf(await graphql(server.url, at(QUERY_LIMITS.maxDepth), {}, org.auth))).toEqual({
      code: 'QUERY_TOO_COMPLEX',
      limit: 'depth',
    });
  });

  it('the same limits hold over GET', async () => {
    const query = `{ ${Array.from({ length: QUERY_LIMITS.maxAliases + 1 }, (_, i) => `a${i}: me { kind }`).join(' ')} }`;
    const r = await request(server.url, 'GET', `/graphql?query=${encodeURIComponent(query)}`, {
      headers: { ...org.auth, accept: 'application/json' },
    });
    expect(r.body.errors[0].extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'aliases' });
  });
});

describe('limits a dashboard never hits', () => {
  /** Every operation the console sends (web/src), with every page at its largest. */
  function consoleOperations(dir = 'web/src'): { file: string; text: string }[] {
    const found: { file: string; text: string }[] = [];
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) found.push(...consoleOperations(path));
      else if (/\.tsx?$/.test(entry.name)) {
        for (const m of readFileSync(path, 'utf8').matchAll(/graphql\(\s*`([\s\S]*?)`/g)) {
          found.push({ file: path, text: m[1]!.replace(/\$\{[^}]*\}/g, '') });
        }
      }
    }
    return found;
  }

  /** A valid value of a variable's type, lists of one, pages at their largest. */
  function sampleOf(type: TypeNode): unknown {
    if (type.kind === Kind.NON_NULL_TYPE) return sampleOf(type.type);
    if (type.kind === Kind.LIST_TYPE) return [sampleOf(type.type)];
    const name = type.name.value;
    const named = schema.getType(name);
    if (name === 'Int') return 100;
    if (name === 'DateTime') return new Date().toISOString();
    if (name === 'ID') return crypto.randomUUID();
    if (name === 'Boolean') return true;
    if (named && isEnumType(named)) return named.getValues()[0]!.name;
    return 'x';
  }

  it('each console query costs under a quarter of the limit, with pages of 100', () => {
    const operations = consoleOperations();
    // Fragments are written once (gql.tada) and spread into the operations that use them.
    const fragments = operations
      .flatMap(({ text }) => parse(text).definitions)
      .filter((d) => d.kind === Kind.FRAGMENT_DEFINITION);
    let measured = 0;
    for (const { file, text } of operations) {
      const own = parse(text);
      const document = {
        ...own,
        definitions: [
          ...own.definitions,
          ...fragments.filter(
            (f) => text.includes(`...${f.name.value}`) && !text.includes(`fragment ${f.name.value} `),
          ),
        ],
      };
      const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
      if (operation?.kind !== Kind.OPERATION_DEFINITION || operation.operation !== 'query') continue;
      const variables: Record<string, unknown> = {};
      for (const v of operation.variableDefinitions ?? []) variables[v.variable.name.value] = sampleOf(v.type);
      let cost = Number.POSITIVE_INFINITY;
      const errors = validate(schema, document, [
        createComplexityRule({ context: {}, variableValues: variables, onResult: (r) => (cost = r.complexity) }),
      ]);
      expect(errors, `${file} ${operation.name?.value}`).toEqual([]);
      expect(cost, `${file} ${operation.name?.value}`).toBeLessThan(QUERY_LIMITS.maxCost / 4);
      measured++;
    }
    expect(measured).toBeGreaterThan(10);
  });

  it("GraphiQL's full introspection passes for a member", async () => {
    const r = await graphql(
      server.url,
      getIntrospectionQuery({ descriptions: true, specifiedByUrl: true }),
      {},
      org.auth,
    );
    expect(r.errors).toBeUndefined();
  });
});

describe('what is not a cost problem is not answered as one', () => {
  it('a variable that does not coerce gets the execution`s own code, not QUERY_TOO_COMPLEX', async () => {
    const r = await graphql(
      server.url,
      'mutation($e: ID!, $k: SdkKeyKind!) { createSdkKey(environmentId: $e, kind: $k) { value } }',
      { e: crypto.randomUUID(), k: 'NOT_A_KIND' },
      org.auth,
    );
    expect(r.errors?.[0]?.extensions?.code).toBeDefined();
    expect(r.errors?.[0]?.extensions?.code).not.toBe('QUERY_TOO_COMPLEX');
  });
});

describe('a heavier operation spends more of the budget', () => {
  it('one point per root field, and a point more per COST_PER_POINT of cost', async () => {
    const remaining = async (query: string) => {
      const r = await request(server.url, 'POST', '/graphql', { body: { query }, headers: org.auth });
      expect(r.body.errors).toBeUndefined();
      return Number(r.headers.get('x-ratelimit-remaining'));
    };
    const light = '{ me { kind } }';
    const before = await remaining(light);
    expect(await remaining(light)).toBe(before - 1);
    // Three root fields: three points.
    expect(await remaining('{ a: me { kind } b: me { kind } c: me { kind } }')).toBe(before - 4);
    // projects(limit: 100) of flags(limit: 100) of two fields: cost about 100 × (2 + 100 × 3).
    const heavy = '{ projects(limit: 100) { data { flags(limit: 100) { data { key name } } } } }';
    const after = await remaining(heavy);
    expect(before - 4 - after).toBe(1 + Math.floor(30_301 / COST_PER_POINT));
  });
});

describe('anonymous callers learn nothing of the schema', () => {
  it('introspection is refused to anonymous callers and answered to members', async () => {
    const anonymous = await graphql(server.url, '{ __schema { queryType { name } } }');
    expect(anonymous.errors?.[0]?.message).toMatch(/introspection/i);
    const member = await graphql(server.url, '{ __schema { queryType { name } } }', {}, org.auth);
    expect(member.errors).toBeUndefined();
    expect(member.data.__schema.queryType.name).toBe('Query');
  });

  it('"Did you mean" suggestions are hidden from anonymous callers only', async () => {
    const anonymous = await graphql(server.url, '{ projekts { total } }');
    expect(anonymous.errors?.[0]?.message).toMatch(/Cannot query field "projekts"/);
    expect(anonymous.errors?.[0]?.message).not.toMatch(/Did you mean/);
    const member = await graphql(server.url, '{ projekts { total } }', {}, org.auth);
    expect(member.errors?.[0]?.message).toMatch(/Did you mean "projects"/);
  });
});
