import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { FlagConfig, Variation } from '../../src/evaluation/index.js';
import { bucketInput, bucketOf, evaluate, murmur3String } from '../../src/evaluation/index.js';
import { givenEnv, givenFlag } from './builders.js';

interface Vector {
  flagKey: string;
  flagSalt?: string;
  rolloutSalt?: string;
  value: string | number;
  weights: number[];
  input: string;
  inputUtf8Hex: string;
  hash: number;
  bucket: number;
  expectedVariation: number;
}

const { vectors } = JSON.parse(
  readFileSync(new URL('../fixtures/bucketing-vectors.json', import.meta.url), 'utf8'),
) as { vectors: Vector[] };

function rolloutFlag(v: Vector): FlagConfig {
  const variations: Variation[] = v.weights.map((_, i) => ({ value: `v${i}` }));
  return givenFlag(v.flagKey, {
    definition: { kind: 'string', variations, ...(v.flagSalt === undefined ? {} : { salt: v.flagSalt }) },
    state: {
      offVariation: 0,
      fallthrough: {
        rollout: {
          variations: v.weights.map((weight, variation) => ({ variation, weight })),
          bucketBy: 'id',
          ...(v.rolloutSalt === undefined ? {} : { salt: v.rolloutSalt }),
        },
      },
    },
  });
}

describe('bucketing vectors (test/fixtures/bucketing-vectors.json)', () => {
  it('holds about 50 vectors, some with non-ASCII values', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(50);
    expect(vectors.filter((v) => /\P{ASCII}/u.test(String(v.value))).length).toBeGreaterThanOrEqual(8);
  });

  it.each(vectors.map((v) => [`${v.flagKey} / ${JSON.stringify(v.value)}`, v] as const))('%s', (_name, v) => {
    const salt = v.rolloutSalt ?? v.flagSalt ?? v.flagKey;
    expect(bucketInput(v.flagKey, salt, String(v.value))).toBe(v.input);
    expect(Buffer.from(v.input, 'utf8').toString('hex')).toBe(v.inputUtf8Hex);
    expect(murmur3String(v.input)).toBe(v.hash);
    expect(v.hash % 100000).toBe(v.bucket);
    expect(bucketOf(v.flagKey, salt, String(v.value))).toBe(v.bucket);
    const result = evaluate(givenEnv([rolloutFlag(v)]), v.flagKey, { key: 'ignored', id: v.value });
    expect(result).toMatchObject({ reason: 'SPLIT', variation: v.expectedVariation, value: `v${v.expectedVariation}` });
  });
});

function percentFlag(onWeight: number): FlagConfig {
  return givenFlag('sticky', {
    state: {
      fallthrough: {
        rollout: {
          variations: [
            { variation: 0, weight: onWeight },
            { variation: 1, weight: 100000 - onWeight },
          ],
        },
      },
    },
  });
}

const keys = Array.from({ length: 10000 }, (_, i) => `user-${i}`);

describe('rollouts', () => {
  it('raising a percentage from 10% to 30% keeps everyone already in', () => {
    const at10 = givenEnv([percentFlag(10000)]);
    const at30 = givenEnv([percentFlag(30000)]);
    const in10 = keys.filter((key) => evaluate(at10, 'sticky', { key }).value === true);
    const in30 = new Set(keys.filter((key) => evaluate(at30, 'sticky', { key }).value === true));
    expect(in10.length).toBeGreaterThan(900);
    expect(in10.length).toBeLessThan(1100);
    expect(in30.size).toBeGreaterThan(2900);
    expect(in30.size).toBeLessThan(3100);
    expect(in10.filter((key) => !in30.has(key))).toEqual([]);
  });

  it('splits 10,000 keys 20/30/50 within ±1%', () => {
    const env = givenEnv([
      givenFlag('split', {
        definition: { kind: 'string', variations: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] },
        state: {
          offVariation: 0,
          fallthrough: {
            rollout: {
              variations: [
                { variation: 0, weight: 20000 },
                { variation: 1, weight: 30000 },
                { variation: 2, weight: 50000 },
              ],
            },
          },
        },
      }),
    ]);
    const counts = [0, 0, 0];
    for (const key of keys) {
      const { variation } = evaluate(env, 'split', { key });
      counts[variation as number]! += 1;
    }
    expect(Math.abs((counts[0] as number) - 2000)).toBeLessThanOrEqual(100);
    expect(Math.abs((counts[1] as number) - 3000)).toBeLessThanOrEqual(100);
    expect(Math.abs((counts[2] as number) - 5000)).toBeLessThanOrEqual(100);
  });

  it('is deterministic and depends on the salt', () => {
    const env = givenEnv([percentFlag(50000)]);
    const salted = givenEnv([givenFlag('sticky', { ...percentFlag(50000), definition: { salt: 'other' } })]);
    const first = keys.slice(0, 200).map((key) => evaluate(env, 'sticky', { key }).variation);
    expect(keys.slice(0, 200).map((key) => evaluate(env, 'sticky', { key }).variation)).toEqual(first);
    expect(keys.slice(0, 200).map((key) => evaluate(salted, 'sticky', { key }).variation)).not.toEqual(first);
  });

  it('buckets a number by its String() form, exactly like the equal string', () => {
    const byId = givenEnv([
      givenFlag('sticky', {
        state: {
          fallthrough: {
            rollout: {
              bucketBy: 'id',
              variations: [
                { variation: 0, weight: 50000 },
                { variation: 1, weight: 50000 },
              ],
            },
          },
        },
      }),
    ]);
    const variations = new Set<number | null>();
    for (const n of [0, 7, 123456, -3, 2.5, 1e21]) {
      const asNumber = evaluate(byId, 'sticky', { id: n });
      expect(asNumber.reason).toBe('SPLIT');
      expect(asNumber).toBe(evaluate(byId, 'sticky', { id: String(n) }));
      variations.add(asNumber.variation);
    }
    expect(variations.size).toBe(2);
  });

  it('long and non-ASCII keys bucket like the reference bucketOf (scratch buffer growth, UTF-8 path)', () => {
    const env = givenEnv([percentFlag(50000)]);
    for (const key of ['é'.repeat(1000), 'a'.repeat(5000), `${'z'.repeat(300)}😀`, 'lone-\ud800-surrogate']) {
      const expected = bucketOf('sticky', 'sticky', key) < 50000 ? 0 : 1;
      expect(evaluate(env, 'sticky', { key }).variation).toBe(expected);
    }
  });

  it('without the bucketBy attribute a rollout is an ERROR/TARGETING_KEY_MISSING serving the off variation', () => {
    const env = givenEnv([percentFlag(50000)]);
    for (const context of [{}, { key: '' }, { key: null }]) {
      expect(evaluate(env, 'sticky', context)).toMatchObject({
        reason: 'ERROR',
        errorCode: 'TARGETING_KEY_MISSING',
        value: false,
        variation: 1,
      });
    }
  });
});
