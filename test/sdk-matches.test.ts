import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_MATCHES_INPUT } from '../src/evaluation/index.js';
import { errorCode, graphql, request } from './helpers/client.js';
import { storedState, UPDATE_STATE } from './helpers/flags.js';
import { b64url, givenDevFlag, givenSdkWorld, type SdkWorld, snapshotsCaughtUp } from './helpers/sdk.js';
import { startServer, type TestServer } from './helpers/server.js';

// `matches` through the SDK doors: the patterns the old guard let through, with the hostile
// inputs that made one evaluation cost seconds to minutes, answer (the test timeout is the guard:
// no timed assertion). bench/engine.ts measures the cost growth.

let server: TestServer;
let world: SdkWorld;

// Each flag serves true when its one `matches` rule on attribute `a` matches, else false.
const HOSTILE = ['(a|a)*$', '(a|aa)+$', '(\\w|\\d)*$', '(.|a)*$', '([a-z]|[a-z0-9])*!'];
const flagOf = (i: number) => `redos-${i}`;

const rule = (pattern: string) => ({
  id: 'pattern',
  clauses: [{ attribute: 'a', op: 'matches', values: [pattern] }],
  serve: { variation: 0 },
});

beforeAll(async () => {
  server = await startServer({
    AUTH_RATE_LIMIT: '10000',
    MANAGEMENT_RATE_LIMIT: '10000',
    EVALUATION_RATE_LIMIT: '100000',
  });
  world = await givenSdkWorld(server);
  for (const [i, pattern] of HOSTILE.entries()) {
    await givenDevFlag(
      server,
      world,
      { key: flagOf(i), clientSideAvailable: true },
      { on: true, rules: [rule(pattern)], fallthrough: { variation: 1 } },
    );
  }
  await snapshotsCaughtUp(server, [world.dev.id]);
});

const evaluate = (flagKey: string, a: string) =>
  request(server.url, 'POST', '/v1/evaluate', {
    body: { flag_key: flagKey, context: { key: 'user-1', a } },
    headers: { 'x-api-key': world.dev.server },
  });

describe('matches on hostile input through the SDK doors', () => {
  it('answers /v1/evaluate on a 5,000-character attribute against (a|aa)+$: over the bound, no match', async () => {
    const res = await evaluate(flagOf(1), `${'a'.repeat(5000)}!`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ flag_key: flagOf(1), value: false, reason: 'DEFAULT' });
    // All a's would match; over the bound nothing does, whatever the value.
    expect((await evaluate(flagOf(1), 'a'.repeat(5000))).body).toMatchObject({ value: false, reason: 'DEFAULT' });
  });

  it('reads values up to the bound with the linear engine: hostile input of exactly 1024 characters', async () => {
    const hostile = `${'a'.repeat(MAX_MATCHES_INPUT - 1)}!`;
    expect((await evaluate(flagOf(1), hostile)).body).toMatchObject({ value: false, reason: 'DEFAULT' });
    expect((await evaluate(flagOf(1), 'a'.repeat(MAX_MATCHES_INPUT))).body).toMatchObject({
      value: true,
      reason: 'TARGETING_MATCH',
      rule_id: 'pattern',
    });
  });

  it('answers the public client-side door for every accepted pattern, and /healthz meanwhile', async () => {
    // 28 characters took 3.5 s of CPU per pattern before; the bound itself now takes microseconds.
    for (const length of [28, MAX_MATCHES_INPUT - 1]) {
      const query = `?context=${b64url({ key: 'visitor', a: `${'a'.repeat(length)}!` })}`;
      const res = await request(server.url, 'GET', `/v1/client/${world.dev.clientSideId}/flags${query}`);
      expect(res.status).toBe(200);
      const values = HOSTILE.map((_, i) => res.body.flags[flagOf(i)].value);
      // RE2 finds the empty match before the end for the three `*$` patterns; `+$` and `*!` need
      // the text to end in a's or to contain a `!` after letters.
      expect(values).toEqual([true, false, true, true, true]);
    }
    expect((await request(server.url, 'GET', '/healthz')).status).toBe(200);
  });
});

describe('patterns RE2 cannot run', () => {
  const update = (flagId: string, version: number, pattern: string) =>
    graphql(
      server.url,
      UPDATE_STATE,
      {
        flagId,
        env: world.dev.id,
        v: version,
        input: { on: true, rules: [rule(pattern)], fallthrough: { variation: 1 } },
      },
      world.org.auth,
    );

  it('are refused at write time with VALIDATION, and nothing changes', async () => {
    const flag = await givenDevFlag(
      server,
      world,
      {},
      { on: true, rules: [rule('^admin$')], fallthrough: { variation: 1 } },
    );
    const before = await storedState(server, flag.id, world.dev.id);
    for (const pattern of ['^\\u0061dmin$', '(?=admin)admin', '(a)\\1', 'a{1001}']) {
      const r = await update(flag.id, before.version, pattern);
      expect(errorCode(r), pattern).toBe('VALIDATION');
      expect(JSON.stringify(r.errors)).toMatch(/RE2 syntax/);
    }
    expect(await storedState(server, flag.id, world.dev.id)).toEqual(before);
  });

  it('never match when stored before RE2 (no error, no 500), and are refused on the next write', async () => {
    const flag = await givenDevFlag(
      server,
      world,
      {},
      { on: true, rules: [rule('^admin$')], fallthrough: { variation: 1 } },
    );
    await snapshotsCaughtUp(server, [world.dev.id]);
    expect((await evaluate(flag.key, 'admin')).body).toMatchObject({ value: true, reason: 'TARGETING_MATCH' });
    // A pattern the ECMAScript engine took: the \u escape is not RE2 syntax.
    const legacy = '^\\u0061dmin$';
    await server.sql(
      `update flag_states set rules = jsonb_set(rules::jsonb, '{0,clauses,0,values}', ?::jsonb), version = version + 1
       where flag_id = ? and environment_id = ?`,
      [JSON.stringify([legacy]), flag.id, world.dev.id],
    );
    await server.sql('update environments set version = version + 1 where id = ?', [world.dev.id]);
    await server.app.snapshots.reload(world.dev.id);
    const stored = await storedState(server, flag.id, world.dev.id);
    expect(JSON.stringify(stored.rules)).toContain(JSON.stringify(legacy));

    const res = await evaluate(flag.key, 'admin');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ value: false, reason: 'DEFAULT' });

    const again = await update(flag.id, stored.version, legacy);
    expect(errorCode(again)).toBe('VALIDATION');
    expect(JSON.stringify(again.errors)).toMatch(/invalid escape sequence/);
    const fixed = await update(flag.id, stored.version, '^\\x{61}dmin$');
    expect(fixed.errors).toBeUndefined();
    await snapshotsCaughtUp(server, [world.dev.id]);
    expect((await evaluate(flag.key, 'admin')).body).toMatchObject({ value: true, reason: 'TARGETING_MATCH' });
  });
});
