import { describe, expect, it } from 'vitest';
import type { Clause, EvaluationContext } from '../../src/evaluation/index.js';
import { evaluate } from '../../src/evaluation/index.js';
import { envWithClause } from './builders.js';

function matches(clause: Clause, context: EvaluationContext): boolean {
  const result = evaluate(envWithClause(clause), 'f', context);
  expect(result.errorCode).toBeUndefined();
  return result.value === true;
}

type Row = [string, Clause, unknown, boolean];

const c = (op: Clause['op'], values: Clause['values'], attribute = 'a'): Clause => ({ attribute, op, values });

const rows: Row[] = [
  ['in: equal string', c('in', ['x', 'y']), 'y', true],
  ['in: absent string', c('in', ['x', 'y']), 'z', false],
  ['in: number', c('in', [1, 2]), 2, true],
  ['in: boolean', c('in', [true]), true, true],
  ['in: strict, no coercion of "2" to 2', c('in', [2]), '2', false],
  ['notIn: absent', c('notIn', ['x']), 'z', true],
  ['notIn: present', c('notIn', ['x']), 'x', false],
  ['contains: yes', c('contains', ['ell']), 'hello', true],
  ['contains: any of the values', c('contains', ['zz', 'lo']), 'hello', true],
  ['contains: no', c('contains', ['zz']), 'hello', false],
  ['startsWith: yes', c('startsWith', ['he']), 'hello', true],
  ['startsWith: no', c('startsWith', ['lo']), 'hello', false],
  ['endsWith: yes', c('endsWith', ['@example.com']), 'a@example.com', true],
  ['endsWith: no', c('endsWith', ['@example.com']), 'a@example.org', false],
  ['matches: yes (unanchored)', c('matches', ['^[a-z]+-\\d+$']), 'user-12', true],
  ['matches: no', c('matches', ['^[a-z]+-\\d+$']), 'user-x', false],
  ['matches: unicode', c('matches', ['^caf.$']), 'café', true],
  ['lt: yes', c('lt', [10]), 9, true],
  ['lt: equal is not lt', c('lt', [10]), 10, false],
  ['lte: equal', c('lte', [10]), 10, true],
  ['lte: no', c('lte', [10]), 11, false],
  ['gt: yes', c('gt', [10]), 10.5, true],
  ['gt: no', c('gt', [10]), 10, false],
  ['gte: equal', c('gte', [10]), 10, true],
  ['gte: no', c('gte', [10]), 9, false],
  ['semverEq: yes', c('semverEq', ['1.2.3']), '1.2.3', true],
  ['semverEq: build metadata ignored', c('semverEq', ['1.2.3']), '1.2.3+build.7', true],
  ['semverEq: no', c('semverEq', ['1.2.3']), '1.2.4', false],
  ['semverLt: prerelease is lower', c('semverLt', ['2.0.0']), '2.0.0-rc.1', true],
  ['semverLt: no', c('semverLt', ['2.0.0']), '2.0.0', false],
  ['semverGt: yes', c('semverGt', ['2.0.0']), '2.10.0', true],
  ['semverGt: no', c('semverGt', ['2.0.0']), '1.99.99', false],
  ['before: ISO string', c('before', ['2025-01-01T00:00:00Z']), '2024-12-31T23:59:59Z', true],
  ['before: no', c('before', ['2025-01-01T00:00:00Z']), '2025-01-01T00:00:00Z', false],
  ['before: epoch ms in context', c('before', ['2025-01-01T00:00:00Z']), Date.UTC(2024, 0, 1), true],
  ['after: epoch ms in clause', c('after', [Date.UTC(2025, 0, 1)]), '2025-01-01T01:00:00+00:30', true],
  ['after: offset respected', c('after', ['2025-01-01T00:00:00Z']), '2025-01-01T00:30:00+01:00', false],
  ['after: date-only is UTC midnight', c('after', ['2025-01-01']), '2025-01-01T00:00:00.001Z', true],
];

describe('clause operators', () => {
  it.each(rows)('%s', (_name, clause, value, expected) => {
    expect(matches(clause, { key: 'k', a: value })).toBe(expected);
  });

  it.each(rows)('negated: %s', (_name, clause, value, expected) => {
    expect(matches({ ...clause, negate: true }, { key: 'k', a: value })).toBe(!expected);
  });
});

describe('type mismatches never match (negation then inverts the non-match)', () => {
  const mismatches: [string, Clause, unknown][] = [
    ['lt on a numeric string (no coercion)', c('lt', [10]), '5'],
    ['gt on a boolean', c('gt', [0]), true],
    ['contains on a number', c('contains', ['1']), 123],
    ['startsWith on an object', c('startsWith', ['a']), { a: 1 }],
    ['matches on a number', c('matches', ['\\d+']), 42],
    ['semverEq on an invalid version', c('semverEq', ['1.2.3']), '1.2'],
    ['semverGt on a number', c('semverGt', ['1.0.0']), 2],
    ['before on an invalid date', c('before', ['2025-01-01T00:00:00Z']), 'yesterday'],
    ['after on an impossible date', c('after', ['2020-01-01']), '2024-02-30'],
    ['in on an object', c('in', ['x']), { x: 1 }],
  ];
  it.each(mismatches)('%s', (_name, clause, value) => {
    expect(matches(clause, { key: 'k', a: value })).toBe(false);
    expect(matches({ ...clause, negate: true }, { key: 'k', a: value })).toBe(true);
  });
});

describe('missing attributes', () => {
  it.each([c('in', ['x']), c('notIn', ['x']), c('lt', [5]), c('semverGt', ['1.0.0']), c('matches', ['.*'])])(
    'a missing attribute does not match, negated or not ($op)',
    (clause) => {
      expect(matches(clause, { key: 'k' })).toBe(false);
      expect(matches({ ...clause, negate: true }, { key: 'k' })).toBe(false);
      expect(matches({ ...clause, negate: true }, { key: 'k', a: null })).toBe(false);
    },
  );

  it('attribute names are literal: a dotted name is not a path', () => {
    const clause = c('in', ['fr'], 'address.country');
    expect(matches(clause, { key: 'k', 'address.country': 'fr' })).toBe(true);
    expect(matches(clause, { key: 'k', address: { country: 'fr' } })).toBe(false);
  });

  it('Object.prototype names are not attributes unless the context has them', () => {
    const clause = c('in', ['x'], 'constructor');
    expect(matches({ ...clause, negate: true }, { key: 'k' })).toBe(false);
    expect(matches(clause, { key: 'k', constructor: 'x' })).toBe(true);
  });

  it('kind defaults to "user" and key is an attribute', () => {
    expect(matches(c('in', ['user'], 'kind'), { key: 'k' })).toBe(true);
    expect(matches(c('in', ['device'], 'kind'), { key: 'k', kind: 'device' })).toBe(true);
    expect(matches(c('startsWith', ['team-'], 'key'), { key: 'team-7' })).toBe(true);
  });
});

describe('array attribute values match if any element matches', () => {
  it('in / contains / gt over arrays', () => {
    expect(matches(c('in', ['beta']), { key: 'k', a: ['alpha', 'beta'] })).toBe(true);
    expect(matches(c('in', ['beta']), { key: 'k', a: ['alpha', 'gamma'] })).toBe(false);
    expect(matches(c('contains', ['@corp']), { key: 'k', a: ['x@home.io', 'y@corp.io'] })).toBe(true);
    expect(matches(c('gt', [10]), { key: 'k', a: [1, 'zzz', 11] })).toBe(true);
  });

  it('notIn over an array matches only when no element is in the values', () => {
    expect(matches(c('notIn', ['beta']), { key: 'k', a: ['alpha', 'gamma'] })).toBe(true);
    expect(matches(c('notIn', ['beta']), { key: 'k', a: ['alpha', 'beta'] })).toBe(false);
  });

  it('an empty array matches nothing, so its negation matches', () => {
    expect(matches(c('in', ['x']), { key: 'k', a: [] })).toBe(false);
    expect(matches(c('notIn', ['x']), { key: 'k', a: [] })).toBe(true);
  });
});

describe('operand compilation', () => {
  it('refused regular expressions never match (not RE2, non-portable, invalid)', () => {
    expect(matches(c('matches', ['^\\u0061$']), { key: 'k', a: 'a' })).toBe(false);
    expect(matches(c('matches', ['(a)\\1']), { key: 'k', a: 'aa' })).toBe(false);
    expect(matches(c('matches', ['[']), { key: 'k', a: '[' })).toBe(false);
    expect(matches(c('matches', ['[', 'a']), { key: 'k', a: 'a' })).toBe(true);
  });

  it('invalid semver and date operands are ignored, valid ones still apply', () => {
    expect(matches(c('semverLt', ['not-a-version', '3.0.0']), { key: 'k', a: '2.0.0' })).toBe(true);
    expect(matches(c('before', ['soon', '2030-01-01']), { key: 'k', a: '2029-12-31' })).toBe(true);
  });
});
