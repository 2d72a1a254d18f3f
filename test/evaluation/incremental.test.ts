import { describe, expect, it } from 'vitest';
import {
  applyEnvironmentChange,
  compileEnvironment,
  compileEnvironmentSteps,
  type EnvironmentData,
  evaluateAll,
  type FlagConfig,
  type Segment,
} from '../../src/evaluation/index.js';
import { compiledShape as shape } from '../helpers/compiled.js';
import { givenFlag } from './builders.js';

/** A small deterministic PRNG (mulberry32), so every failure names a seed that reproduces it. */
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
    pick: <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!,
    chance: (p: number) => next() < p,
  };
}
type Random = ReturnType<typeof random>;

const FLAG_KEYS = Array.from({ length: 14 }, (_, i) => `f-${i}`);
const SEGMENT_KEYS = ['beta', 'staff', 'eu', 'gone'];
const COUNTRIES = ['NL', 'US', 'FR'];

function randomSegment(r: Random, key: string): Segment {
  return {
    key,
    included: r.chance(0.5) ? [`u${r.int(6)}`] : [],
    excluded: r.chance(0.3) ? [`u${r.int(6)}`] : [],
    rules: r.chance(0.6)
      ? [{ id: 's1', clauses: [{ attribute: 'country', op: 'in', values: [r.pick(COUNTRIES)] }] }]
      : [],
  };
}

/** A flag whose rules may match segments (known or not) and whose prerequisites may name any flag. */
function randomFlag(r: Random, key: string, version: number): FlagConfig {
  const others = FLAG_KEYS.filter((k) => k !== key);
  const prerequisites = r.chance(0.4)
    ? [...new Set([r.pick(others), r.pick(others)])]
        .slice(0, 1 + r.int(2))
        .map((k) => ({ key: k, variation: r.int(2) }))
    : [];
  return givenFlag(key, {
    state: {
      on: r.chance(0.8),
      version,
      targets: r.chance(0.3) ? [{ variation: r.int(2), values: [`u${r.int(6)}`] }] : [],
      rules: [
        {
          id: 'r1',
          clauses: [{ attribute: '', op: 'segmentMatch', values: [r.pick(SEGMENT_KEYS)] }],
          serve: { variation: 0 },
        },
        ...(r.chance(0.5)
          ? [
              {
                id: 'r2',
                clauses: [{ attribute: 'country', op: 'in' as const, values: [r.pick(COUNTRIES)] }],
                serve: { variation: 1 },
              },
            ]
          : []),
      ],
      fallthrough: r.chance(0.5)
        ? { variation: r.int(2) }
        : {
            rollout: {
              variations: [
                { variation: 0, weight: 40000 },
                { variation: 1, weight: 60000 },
              ],
            },
          },
      prerequisites,
    },
  });
}

const sortedByKey = <T>(list: T[], key: (t: T) => string) => list.sort((a, b) => (key(a) < key(b) ? -1 : 1));

const CONTEXTS = Array.from({ length: 8 }, (_, i) => ({ key: `u${i % 6}`, country: COUNTRIES[i % 3] }));

describe('incremental compilation', () => {
  it('after any sequence of flag, segment, prerequisite and removal changes, equals a full compile of the same data', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const r = random(seed);
      // The source of truth: every flag and segment that exists now.
      const flags = new Map<string, FlagConfig>();
      const segments = new Map<string, Segment>();
      for (const key of FLAG_KEYS.slice(0, 8)) flags.set(key, randomFlag(r, key, 1));
      for (const key of SEGMENT_KEYS.slice(0, 3)) segments.set(key, randomSegment(r, key));
      const dataOf = (version: number): EnvironmentData => ({
        version,
        flags: sortedByKey([...flags.values()], (f) => f.definition.key),
        segments: sortedByKey([...segments.values()], (s) => s.key),
      });
      let data = dataOf(1);
      let compiled = compileEnvironment(data);
      for (let step = 2; step <= 25; step++) {
        const changedFlags = new Map<string, FlagConfig | null>();
        const changedSegments = new Map<string, Segment | null>();
        const moves = 1 + r.int(3);
        for (let m = 0; m < moves; m++) {
          const what = r.int(10);
          if (what < 6) {
            // Create, change (targeting, prerequisites, segment use) or remove (archive/delete) a flag.
            const key = r.pick(FLAG_KEYS);
            if (flags.has(key) && r.chance(0.25)) {
              flags.delete(key);
              changedFlags.set(key, null);
            } else {
              const config = randomFlag(r, key, step);
              flags.set(key, config);
              changedFlags.set(key, config);
            }
          } else {
            const key = r.pick(SEGMENT_KEYS);
            if (segments.has(key) && r.chance(0.3)) {
              segments.delete(key);
              changedSegments.set(key, null);
            } else {
              const segment = randomSegment(r, key);
              segments.set(key, segment);
              changedSegments.set(key, segment);
            }
          }
        }
        const before = compiled;
        const applied = applyEnvironmentChange(data, compiled, {
          version: step,
          flags: changedFlags,
          segments: changedSegments,
        });
        const expected = dataOf(step);
        const full = compileEnvironment(expected);
        expect(applied.data, `seed ${seed}, step ${step}`).toEqual(expected);
        expect(shape(applied.compiled), `seed ${seed}, step ${step}`).toEqual(shape(full));
        for (const context of CONTEXTS)
          expect(evaluateAll(applied.compiled, context), `seed ${seed}, step ${step}`).toEqual(
            evaluateAll(full, context),
          );
        for (const [key, config] of changedFlags)
          expect(applied.compiled.flags.has(key), `seed ${seed}, step ${step}: ${key}`).toBe(config !== null);
        // What it did not touch it shares; what may evaluate differently it reports.
        for (const flag of applied.compiled.flagList) {
          if (!applied.affected.has(flag.key)) expect(flag).toBe(before.flags.get(flag.key));
        }
        for (const key of changedFlags.keys())
          expect(applied.affected.has(key)).toBe(before.flags.has(key) || flags.has(key));
        for (const context of CONTEXTS) {
          const was = new Map(evaluateAll(before, context).map((e) => [e.key, e]));
          for (const now of evaluateAll(applied.compiled, context))
            if (!applied.affected.has(now.key)) expect(now).toEqual(was.get(now.key));
        }
        // The previous environment still evaluates as it did (nothing of it was mutated).
        expect(shape(before).flags.length).toBe(before.flagList.length);
        data = applied.data;
        compiled = applied.compiled;
      }
    }
  });

  it('a change to one flag of 2,000 recompiles that flag and its dependents only', () => {
    const flags = Array.from({ length: 2000 }, (_, i) => givenFlag(`flag-${String(i).padStart(4, '0')}`));
    flags[10] = givenFlag('flag-0010', { state: { prerequisites: [{ key: 'flag-0500', variation: 0 }] } });
    const data: EnvironmentData = { version: 1, flags, segments: [] };
    const compiled = compileEnvironment(data);
    const changed = givenFlag('flag-0500', { state: { on: false, version: 2 } });
    const applied = applyEnvironmentChange(data, compiled, {
      version: 2,
      flags: new Map([['flag-0500', changed]]),
      segments: new Map(),
    });
    expect([...applied.affected].sort()).toEqual(['flag-0010', 'flag-0500']);
    const same = applied.compiled.flagList.filter((f, i) => f === compiled.flagList[i]).length;
    expect(same).toBe(1998);
    expect(applied.compiled.flags.get('flag-0010')!.prerequisites[0]!.flag).toBe(
      applied.compiled.flags.get('flag-0500'),
    );
    // The previous environment keeps its links.
    expect(compiled.flags.get('flag-0010')!.prerequisites[0]!.flag).toBe(compiled.flags.get('flag-0500'));
  });

  it('compiles in steps that yield, to the same environment', () => {
    const flags = Array.from({ length: 1000 }, (_, i) => givenFlag(`f${String(i).padStart(4, '0')}`));
    const data: EnvironmentData = { version: 3, flags, segments: [] };
    const steps = compileEnvironmentSteps(data, 100);
    let yields = 0;
    let step = steps.next();
    while (!step.done) {
      yields++;
      step = steps.next();
    }
    expect(yields).toBe(9);
    expect(shape(step.value)).toEqual(shape(compileEnvironment(data)));
  });
});
