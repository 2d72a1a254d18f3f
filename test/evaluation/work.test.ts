import { describe, expect, it } from 'vitest';
import type { Clause, EvaluationContext, FlagConfig } from '../../src/evaluation/index.js';
import { asOneBulk, evaluate, evaluateAll, FLAG_WORK, REQUEST_WORK } from '../../src/evaluation/index.js';
import { givenEnv, givenFlag } from './builders.js';

// Each limit bounds one rule, value or context array; evaluate.ts bounds their product (FLAG_WORK
// units per flag, REQUEST_WORK per bulk evaluation), so one tenant's targeting cannot hold the
// event loop every tenant shares. No test here measures time.

const patterns = (n: number, salt: string) => Array.from({ length: n }, (_, i) => `z${salt}_${i}$`);

/** A flag of `rules` rules, each one `matches` clause of `perRule` patterns on `email`, none of which match. */
function heavyFlag(key: string, rules: number, perRule: number): FlagConfig {
  return givenFlag(key, {
    state: {
      rules: Array.from({ length: rules }, (_, r) => ({
        id: `r${r}`,
        clauses: [{ attribute: 'email', op: 'matches', values: patterns(perRule, String(r)) } satisfies Clause],
        serve: { variation: 0 },
      })),
    },
  });
}

const emails = (n: number) => ({ key: 'u', email: Array.from({ length: n }, () => 'aaaaaaaaaaaaaaaaaaaa!') });

describe('the work one evaluation may do', () => {
  it('answers a GENERAL error, not an evaluation, when rules × patterns × array values exceed it', () => {
    // 100 rules × 100 patterns × 2,000 values: 20 million regular-expression tests.
    const env = givenEnv([heavyFlag('heavy', 100, 100)]);
    const result = evaluate(env, 'heavy', emails(2_000) as EvaluationContext);
    expect(result).toMatchObject({ reason: 'ERROR', errorCode: 'GENERAL' });
    expect(result.errorMessage).toMatch(/more work than one evaluation may do/);
  });

  it('evaluates the same flag for contexts within it, and a refusal leaves the next evaluation whole', () => {
    const env = givenEnv([heavyFlag('heavy', 100, 100)]);
    expect(evaluate(env, 'heavy', emails(2_000) as EvaluationContext).reason).toBe('ERROR');
    // 10 rules × 100 patterns (ten units each) × one value: within FLAG_WORK.
    const fits = givenEnv([heavyFlag('fits', 10, 100)]);
    expect(10 * 100 * 10 * 1).toBeLessThanOrEqual(FLAG_WORK);
    expect(evaluate(fits, 'fits', emails(1) as EvaluationContext)).toMatchObject({ reason: 'DEFAULT', value: false });
    expect(evaluate(fits, 'fits', { key: 'u', email: 'zq_3' })).toMatchObject({ reason: 'DEFAULT' });
  });

  it('counts rules reached through segments and prerequisites against the same flag', () => {
    const segment = {
      key: 'heavy-segment',
      included: [],
      excluded: [],
      rules: [
        { id: 's1', clauses: [{ attribute: 'email', op: 'matches', values: patterns(100, 's') } satisfies Clause] },
      ],
    };
    const viaSegment = givenFlag('via-segment', {
      state: {
        rules: Array.from({ length: 50 }, (_, r) => ({
          id: `r${r}`,
          clauses: [{ attribute: 'key', op: 'segmentMatch', values: ['heavy-segment'] } satisfies Clause],
          serve: { variation: 0 },
        })),
      },
    });
    const dependent = givenFlag('dependent', { state: { prerequisites: [{ key: 'heavy', variation: 0 }] } });
    const env = givenEnv([viaSegment, heavyFlag('heavy', 100, 100), dependent], [segment]);
    const context = emails(100) as EvaluationContext;
    expect(evaluate(env, 'via-segment', context).errorCode).toBe('GENERAL');
    expect(evaluate(env, 'dependent', context)).toMatchObject({ reason: 'ERROR', errorCode: 'GENERAL' });
  });

  it('bounds a bulk evaluation as a whole: once its pool is spent, the flags that still test values fail', () => {
    // Each flag spends just under FLAG_WORK for this context; the pool holds about ten of them.
    const flags: FlagConfig[] = [givenFlag('static-first', {})];
    for (let i = 0; i < 30; i++) flags.push(heavyFlag(`h${i}`, 19, 10));
    flags.push(givenFlag('static-last', {}));
    const env = givenEnv(flags);
    const results = evaluateAll(env, emails(10));
    const failed = results.filter((r) => r.errorCode === 'GENERAL').map((r) => r.key);
    const evaluated = results.filter((r) => r.key.startsWith('h') && r.reason === 'DEFAULT').length;
    expect(evaluated).toBe(Math.floor(REQUEST_WORK / (19 * 10 * 10 * 10)));
    expect(failed.length).toBe(30 - evaluated);
    // Flags with nothing to test still answer, before and after.
    expect(results.find((r) => r.key === 'static-first')?.reason).not.toBe('ERROR');
    expect(results.find((r) => r.key === 'static-last')?.reason).not.toBe('ERROR');
    // The pool is per bulk evaluation: the next one starts afresh.
    expect(evaluate(env, 'h29', emails(10) as EvaluationContext).reason).toBe('DEFAULT');
  });

  it('bounds single evaluations run as one bulk (flag_keys, live views) by the same pool', () => {
    const flags: FlagConfig[] = [];
    for (let i = 0; i < 30; i++) flags.push(heavyFlag(`h${i}`, 19, 10));
    const env = givenEnv(flags);
    const keys = flags.map((f) => f.definition.key);
    const context = emails(10) as EvaluationContext;
    const one = asOneBulk(() => keys.map((key) => evaluate(env, key, context)));
    expect(one).toEqual(evaluateAll(env, context));
    expect(one.filter((r) => r.errorCode === 'GENERAL')).toHaveLength(30 - Math.floor(REQUEST_WORK / 19_000));
    // Outside of one, each evaluation has a flag's allowance only.
    expect(keys.map((key) => evaluate(env, key, context)).every((r) => r.reason === 'DEFAULT')).toBe(true);
  });
});
