import { describe, expect, it } from 'vitest';
import type { Clause, Segment } from '../../src/evaluation/index.js';
import { evaluate } from '../../src/evaluation/index.js';
import { envWithClause } from './builders.js';

const beta: Segment = {
  key: 'beta',
  included: ['alice', 'both'],
  excluded: ['bob', 'both', 'mallory'],
  rules: [
    { id: 'staff', clauses: [{ attribute: 'email', op: 'endsWith', values: ['@vexil.dev'] }] },
    {
      id: 'fr-adults',
      clauses: [
        { attribute: 'country', op: 'in', values: ['fr'] },
        { attribute: 'age', op: 'gte', values: [18] },
      ],
    },
  ],
};
const other: Segment = { key: 'other', included: ['olga'], excluded: [], rules: [] };
const inBeta: Clause = { attribute: '', op: 'segmentMatch', values: ['beta', 'other'] };

const member = (context: Record<string, unknown>, clause: Clause = inBeta) =>
  evaluate(envWithClause(clause, [beta, other]), 'f', context).value === true;

describe('segments', () => {
  it('included keys are members', () => {
    expect(member({ key: 'alice' })).toBe(true);
  });

  it('included wins over excluded', () => {
    expect(member({ key: 'both' })).toBe(true);
  });

  it('excluded keys are not members even when a rule matches', () => {
    expect(member({ key: 'bob', email: 'bob@vexil.dev' })).toBe(false);
  });

  it('rules: any rule whose clauses all match', () => {
    expect(member({ key: 'carol', email: 'carol@vexil.dev' })).toBe(true);
    expect(member({ key: 'dan', country: 'fr', age: 30 })).toBe(true);
    expect(member({ key: 'dan', country: 'fr', age: 10 })).toBe(false);
    expect(member({ email: 'nokey@vexil.dev' })).toBe(true);
  });

  it('a clause naming several segments matches a member of any', () => {
    expect(member({ key: 'olga' })).toBe(true);
    expect(member({ key: 'nobody' })).toBe(false);
  });

  it('negated segmentMatch', () => {
    const notInBeta: Clause = { ...inBeta, negate: true };
    expect(member({ key: 'nobody' }, notInBeta)).toBe(true);
    expect(member({ key: 'alice' }, notInBeta)).toBe(false);
  });

  it('an unknown segment has no members', () => {
    expect(member({ key: 'alice' }, { attribute: '', op: 'segmentMatch', values: ['ghost'] })).toBe(false);
  });

  it('segmentMatch inside a segment rule never matches, negated or not', () => {
    const nested: Segment = {
      key: 'nested',
      included: [],
      excluded: [],
      rules: [{ id: 'n', clauses: [{ attribute: '', op: 'segmentMatch', values: ['beta'], negate: true }] }],
    };
    const env = envWithClause({ attribute: '', op: 'segmentMatch', values: ['nested'] }, [beta, nested]);
    expect(evaluate(env, 'f', { key: 'zed' }).value).toBe(false);
  });
});
