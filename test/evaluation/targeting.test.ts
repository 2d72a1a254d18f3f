import { describe, expect, it } from 'vitest';
import type { Rule } from '../../src/evaluation/index.js';
import { evaluate } from '../../src/evaluation/index.js';
import { givenEnv, givenFlag } from './builders.js';

const plan = (id: string, plans: string[], variation: number): Rule => ({
  id,
  clauses: [{ attribute: 'plan', op: 'in', values: plans }],
  serve: { variation },
});

const colors = {
  kind: 'string' as const,
  variations: [{ value: 'red', name: 'Red' }, { value: 'green' }, { value: 'blue' }],
};

describe('individual targets', () => {
  const env = givenEnv([
    givenFlag('color', {
      definition: colors,
      state: {
        offVariation: 0,
        fallthrough: { variation: 0 },
        targets: [
          { variation: 1, values: ['alice', 'bob'] },
          { variation: 2, values: ['bob', 'carol'] },
        ],
        rules: [plan('pro-users', ['pro'], 2)],
      },
    }),
  ]);

  it('serves the target variation with TARGETING_MATCH and no ruleId', () => {
    const result = evaluate(env, 'color', { key: 'alice' });
    expect(result).toEqual({ key: 'color', value: 'green', variation: 1, reason: 'TARGETING_MATCH', version: 1 });
  });

  it('the first target listing a key wins', () => {
    expect(evaluate(env, 'color', { key: 'bob' }).value).toBe('green');
    expect(evaluate(env, 'color', { key: 'carol' }).value).toBe('blue');
  });

  it('targets win over rules', () => {
    expect(evaluate(env, 'color', { key: 'alice', plan: 'pro' })).toMatchObject({
      value: 'green',
      reason: 'TARGETING_MATCH',
    });
    expect(evaluate(env, 'color', { key: 'dave', plan: 'pro' })).toMatchObject({ value: 'blue', ruleId: 'pro-users' });
  });

  it('a context without a key skips targets without error', () => {
    expect(evaluate(env, 'color', {})).toEqual({
      key: 'color',
      value: 'red',
      variation: 0,
      variationName: 'Red',
      reason: 'DEFAULT',
      version: 1,
    });
  });
});

describe('rules', () => {
  const env = givenEnv([
    givenFlag('color', {
      definition: colors,
      state: {
        offVariation: 0,
        fallthrough: { variation: 0 },
        rules: [
          plan('first', ['pro', 'team'], 1),
          plan('second', ['pro', 'free'], 2),
          {
            id: 'both-clauses',
            clauses: [
              { attribute: 'country', op: 'in', values: ['fr'] },
              { attribute: 'age', op: 'gte', values: [18] },
            ],
            serve: { variation: 2 },
          },
          {
            id: 'rollout-rule',
            clauses: [{ attribute: 'beta', op: 'in', values: [true] }],
            serve: {
              rollout: {
                variations: [
                  { variation: 1, weight: 50000 },
                  { variation: 2, weight: 50000 },
                ],
              },
            },
          },
        ],
      },
    }),
  ]);

  it('the first matching rule wins and is named by ruleId', () => {
    expect(evaluate(env, 'color', { key: 'u', plan: 'pro' })).toEqual({
      key: 'color',
      value: 'green',
      variation: 1,
      reason: 'TARGETING_MATCH',
      ruleId: 'first',
      version: 1,
    });
    expect(evaluate(env, 'color', { key: 'u', plan: 'free' })).toMatchObject({ value: 'blue', ruleId: 'second' });
  });

  it('clauses of a rule are AND-ed', () => {
    expect(evaluate(env, 'color', { key: 'u', country: 'fr', age: 30 })).toMatchObject({ ruleId: 'both-clauses' });
    expect(evaluate(env, 'color', { key: 'u', country: 'fr', age: 12 })).toMatchObject({
      reason: 'DEFAULT',
      value: 'red',
    });
    expect(evaluate(env, 'color', { key: 'u', country: 'de', age: 30 })).toMatchObject({ reason: 'DEFAULT' });
  });

  it('a rollout served by a rule is TARGETING_MATCH with its ruleId, and splits', () => {
    const served = new Set<unknown>();
    for (let i = 0; i < 100; i++) {
      const result = evaluate(env, 'color', { key: `user-${i}`, beta: true });
      expect(result).toMatchObject({ reason: 'TARGETING_MATCH', ruleId: 'rollout-rule' });
      served.add(result.value);
    }
    expect([...served].sort()).toEqual(['blue', 'green']);
  });

  it('a rule rollout without the bucketBy attribute is an error naming the rule', () => {
    expect(evaluate(env, 'color', { beta: true })).toMatchObject({
      reason: 'ERROR',
      errorCode: 'TARGETING_KEY_MISSING',
      ruleId: 'rollout-rule',
      value: 'red',
      variation: 0,
    });
  });

  it('a rule with no clauses matches everyone', () => {
    const everyone = givenEnv([
      givenFlag('f', { state: { rules: [{ id: 'all', clauses: [], serve: { variation: 0 } }] } }),
    ]);
    expect(evaluate(everyone, 'f', {})).toMatchObject({ value: true, ruleId: 'all' });
  });
});
