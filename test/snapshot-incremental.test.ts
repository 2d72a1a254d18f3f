import { describe, expect, it } from 'vitest';
import { compileEnvironment, evaluateAll } from '../src/evaluation/index.js';
import { loadEnvironmentData } from '../src/modules/flags/snapshot-source.js';
import { graphql } from './helpers/client.js';
import { compiledShape } from './helpers/compiled.js';
import { givenFlag, givenProject, givenSegment, storedState, UPDATE_STATE } from './helpers/flags.js';
import { givenOrg } from './helpers/givens.js';
import { startServer } from './helpers/server.js';
import { eventually } from './helpers/waiters.js';

/** mulberry32: a seeded sequence, so a failure can be replayed. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(l: readonly T[]) => l[Math.floor(next() * l.length)]!,
  };
}

describe('snapshots after changes', () => {
  it('apply each flag and segment change incrementally, and equal a full reload after a random sequence of them', async () => {
    const server = await startServer();
    const org = await givenOrg(server.url);
    const project = await givenProject(server, org);
    const dev = project.env['dev']!;
    const staging = project.env['staging']!;
    const segments = [await givenSegment(server, org, project), await givenSegment(server, org, project)];
    const flags = [];
    for (let i = 0; i < 6; i++) flags.push(await givenFlag(server, org, project, { key: `inc-${i}` }));
    const store = server.app.snapshots;
    const settled = async () => {
      const [row] = await server.sql<{ version: number }>('select version from environments where id = ?', [dev]);
      await eventually(() => expect(store.get(dev)?.version).toBe(Number(row!.version)));
    };
    await settled();
    const before = { ...store.stats };
    const r = random(20260301);
    const gql = (query: string, variables: Record<string, unknown>) => graphql(server.url, query, variables, org.auth);
    for (let step = 0; step < 40; step++) {
      const flag = r.pick(flags);
      switch (r.int(8)) {
        case 0:
        case 1:
        case 2: {
          // Targeting that uses segments and prerequisites (a cycle is refused: nothing changes).
          const other = r.pick(flags.filter((f) => f !== flag));
          const { version } = await storedState(server, flag.id, dev);
          await gql(UPDATE_STATE, {
            flagId: flag.id,
            env: dev,
            v: version,
            input: {
              on: r.int(3) > 0,
              rules: [
                {
                  clauses: [{ attribute: 'segment', op: 'segmentMatch', values: [r.pick(segments).key] }],
                  serve: { variation: r.int(2) },
                },
              ],
              prerequisites: r.int(2) ? [{ key: other.key, variation: r.int(2) }] : [],
            },
          });
          break;
        }
        case 3: {
          const segment = r.pick(segments);
          await gql(
            'mutation($id: ID!, $input: UpdateSegmentInput!) { updateSegment(id: $id, input: $input) { id } }',
            {
              id: segment.id,
              input: {
                included: [`user-${r.int(4)}`],
                rules: [{ clauses: [{ attribute: 'country', op: 'in', values: [r.pick(['NL', 'FR'])] }] }],
              },
            },
          );
          break;
        }
        case 4:
          await gql('mutation($id: ID!) { archiveFlag(id: $id) { id } }', { id: flag.id });
          break;
        case 5:
          await gql('mutation($id: ID!) { restoreFlag(id: $id) { id } }', { id: flag.id });
          break;
        case 6:
          await gql(
            'mutation($f: ID!, $from: ID!, $to: [ID!]!) { promoteFlag(flagId: $f, fromEnvironmentId: $from, toEnvironmentIds: $to) { version } }',
            {
              f: flag.id,
              from: staging,
              to: [dev],
            },
          );
          break;
        case 7:
          if (step > 30) {
            // Deleted for good (archived first), and replaced by a new flag of another key.
            await gql('mutation($id: ID!) { archiveFlag(id: $id) { id } }', { id: flag.id });
            // Each change lands before the next one commits (two at once are a version gap: a whole reload).
            await settled();
            const deleted = await gql('mutation($id: ID!) { deleteFlag(id: $id) { id } }', { id: flag.id });
            await settled();
            if (!deleted.errors)
              flags.splice(flags.indexOf(flag), 1, await givenFlag(server, org, project, { key: `inc-new-${step}` }));
          } else {
            await gql('mutation($f: ID!, $e: ID) { killFlag(flagId: $f, environmentId: $e) { version } }', {
              f: flag.id,
              e: dev,
            });
          }
          break;
      }
      await settled();
    }
    const held = store.get(dev)!;
    const data = (await loadEnvironmentData(server.orm.em.fork(), dev))!;
    expect(held.data).toEqual(data);
    const full = compileEnvironment(data);
    expect(compiledShape(held.compiled)).toEqual(compiledShape(full));
    for (const context of [{ key: 'user-1', country: 'NL' }, { key: 'user-3', country: 'FR' }, { key: 'x' }])
      expect(evaluateAll(held.compiled, context)).toEqual(evaluateAll(full, context));
    // Every one of these changes was applied incrementally; none reloaded the environment.
    expect(store.stats.incremental - before.incremental).toBeGreaterThan(30);
    expect(store.stats.whole - before.whole).toBe(0);
  });

  it('reload the environment whole when a notification skips a version', async () => {
    const server = await startServer();
    const org = await givenOrg(server.url);
    const project = await givenProject(server, org);
    const dev = project.env['dev']!;
    const flag = await givenFlag(server, org, project);
    const store = server.app.snapshots;
    await eventually(() => expect(store.get(dev)?.data.flags.some((f) => f.definition.key === flag.key)).toBe(true));
    // A change this node never heard of (as if its notification were lost), then one it hears.
    await server.sql(
      `update flag_states set "on" = true, version = version + 1 where flag_id = ? and environment_id = ?`,
      [flag.id, dev],
    );
    await server.sql('update environments set version = version + 1 where id = ?', [dev]);
    const whole = store.stats.whole;
    const other = await givenFlag(server, org, project);
    await eventually(() => expect(store.get(dev)?.data.flags.some((f) => f.definition.key === other.key)).toBe(true));
    expect(store.stats.whole).toBe(whole + 1);
    expect(store.get(dev)!.compiled.flags.get(flag.key)!.on).toBe(true);
  });
});
