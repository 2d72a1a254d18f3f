import { describe, expect, it } from 'vitest';
import { clientSideOnly, compileEnvironment, evaluate, evaluateAll } from '../../src/evaluation/index.js';
import { givenEnv, givenFlag } from './builders.js';

const split = {
  rollout: {
    variations: [
      { variation: 0, weight: 50000 },
      { variation: 1, weight: 50000 },
    ],
  },
};
const anyRule = {
  id: 'r',
  clauses: [{ attribute: 'plan', op: 'in' as const, values: ['pro'] }],
  serve: { variation: 0 },
};

describe('reasons', () => {
  it('STATIC: fixed fallthrough and nothing that could vary', () => {
    const env = givenEnv([givenFlag('f', { state: { fallthrough: { variation: 0 }, version: 7 } })]);
    expect(evaluate(env, 'f', {})).toEqual({
      key: 'f',
      value: true,
      variation: 0,
      variationName: 'on',
      reason: 'STATIC',
      version: 7,
    });
  });

  it('DEFAULT: fixed fallthrough of a flag with rules, targets or prerequisites', () => {
    const withRule = givenFlag('rule', { state: { rules: [anyRule] } });
    const withTarget = givenFlag('target', { state: { targets: [{ variation: 0, values: ['x'] }] } });
    const withPrereq = givenFlag('prereq', { state: { prerequisites: [{ key: 'rule', variation: 1 }] } });
    const env = givenEnv([withRule, withTarget, withPrereq]);
    for (const key of ['rule', 'target', 'prereq']) {
      expect(evaluate(env, key, { key: 'u' })).toMatchObject({ reason: 'DEFAULT', value: false, variation: 1 });
    }
  });

  it('DISABLED: a flag that is off serves its off variation, whatever the targeting', () => {
    const env = givenEnv([
      givenFlag('f', {
        state: {
          on: false,
          offVariation: 1,
          fallthrough: { variation: 0 },
          targets: [{ variation: 0, values: ['u'] }],
        },
      }),
    ]);
    expect(evaluate(env, 'f', { key: 'u' })).toEqual({
      key: 'f',
      value: false,
      variation: 1,
      variationName: 'off',
      reason: 'DISABLED',
      version: 1,
    });
  });

  it('TARGETING_MATCH and SPLIT', () => {
    const env = givenEnv([givenFlag('f', { state: { rules: [anyRule], fallthrough: split } })]);
    expect(evaluate(env, 'f', { key: 'u', plan: 'pro' })).toMatchObject({ reason: 'TARGETING_MATCH', ruleId: 'r' });
    const result = evaluate(env, 'f', { key: 'u', plan: 'free' });
    expect(result.reason).toBe('SPLIT');
    expect(result.ruleId).toBeUndefined();
    expect([true, false]).toContain(result.value);
  });

  it('ERROR / FLAG_NOT_FOUND', () => {
    const env = givenEnv([givenFlag('f')]);
    expect(evaluate(env, 'nope', {})).toEqual({
      key: 'nope',
      value: null,
      variation: null,
      reason: 'ERROR',
      errorCode: 'FLAG_NOT_FOUND',
      errorMessage: 'flag "nope" not found',
      version: 0,
    });
  });

  it.each([null, 'user-1', 42, [{ key: 'u' }], new Date(), { key: 42 }, { kind: ['user'] }])(
    'ERROR / INVALID_CONTEXT for %j',
    (context) => {
      const env = givenEnv([givenFlag('f')]);
      expect(evaluate(env, 'f', context)).toMatchObject({
        reason: 'ERROR',
        errorCode: 'INVALID_CONTEXT',
        value: false,
        variation: 1,
      });
    },
  );

  it('accepts a null-prototype context', () => {
    const env = givenEnv([givenFlag('f', { state: { rules: [anyRule] } })]);
    const context = Object.assign(Object.create(null) as Record<string, unknown>, { key: 'u', plan: 'pro' });
    expect(evaluate(env, 'f', context)).toMatchObject({ reason: 'TARGETING_MATCH' });
  });

  it('ERROR / TYPE_MISMATCH when the caller expects another kind', () => {
    const env = givenEnv([givenFlag('f')]);
    expect(evaluate(env, 'f', {}, 'string')).toMatchObject({ reason: 'ERROR', errorCode: 'TYPE_MISMATCH' });
    expect(evaluate(env, 'f', {}, 'boolean')).toMatchObject({ reason: 'STATIC', value: false });
  });

  it('results are frozen and reused for the same outcome', () => {
    const env = givenEnv([givenFlag('f', { state: { rules: [anyRule] } })]);
    const a = evaluate(env, 'f', { key: 'a', plan: 'pro' });
    expect(Object.isFrozen(a)).toBe(true);
    expect(evaluate(env, 'f', { key: 'b', plan: 'pro' })).toBe(a);
  });

  it('results are plain JSON', () => {
    const env = givenEnv([givenFlag('f', { state: { rules: [anyRule], fallthrough: split } })]);
    const result = evaluate(env, 'f', { key: 'u', plan: 'pro' });
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });
});

describe('evaluateAll', () => {
  const env = compileEnvironment({
    version: 3,
    flags: [
      givenFlag('b', { definition: { clientSideAvailable: true } }),
      givenFlag('a'),
      givenFlag('c', { definition: { clientSideAvailable: true }, state: { on: false } }),
    ],
    segments: [],
  });

  it('evaluates every flag in environment order', () => {
    expect(evaluateAll(env, { key: 'u' }).map((r) => [r.key, r.reason])).toEqual([
      ['b', 'STATIC'],
      ['a', 'STATIC'],
      ['c', 'DISABLED'],
    ]);
  });

  it('filters, e.g. to client-side flags', () => {
    expect(evaluateAll(env, { key: 'u' }, clientSideOnly).map((r) => r.key)).toEqual(['b', 'c']);
  });

  it('an invalid context gives INVALID_CONTEXT for each flag', () => {
    expect(evaluateAll(env, 'oops').map((r) => r.errorCode)).toEqual([
      'INVALID_CONTEXT',
      'INVALID_CONTEXT',
      'INVALID_CONTEXT',
    ]);
  });
});
