import { describe, expect, it } from 'vitest';
import type { Clause, EvaluationContext } from '../../src/evaluation/index.js';
import { evaluate, MAX_MATCHES_INPUT, MAX_REGEX_PROGRAM_SIZE, regexProblem } from '../../src/evaluation/index.js';
import { envWithClause } from './builders.js';

// `matches` runs RE2 syntax on a linear-time engine (docs/evaluation.md, "Regular expressions").
// No test here measures time: that the engine is RE2 is shown by what only RE2 accepts or does,
// and hostile patterns with inputs at the length bound finish (the test timeout guards a hang);
// bench/engine.ts measures the cost growth at 1k/10k/100k characters.

const pattern = (p: string, negate = false): Clause => ({ attribute: 'a', op: 'matches', values: [p], negate });

function matches(clause: Clause, value: unknown): boolean {
  const result = evaluate(envWithClause(clause), 'f', { key: 'k', a: value } as EvaluationContext);
  expect(result.errorCode).toBeUndefined();
  return result.value === true;
}

describe('matches has RE2 semantics', () => {
  it.each([
    ['(?i) sets case-insensitive matching', '(?i)^ADMIN$', 'admin', true],
    ['\\Q…\\E quotes a literal', '^\\Qa.b\\E$', 'a.b', true],
    ['\\Q…\\E: the dot is literal', '^\\Qa.b\\E$', 'axb', false],
    ['POSIX classes', '^[[:digit:]]+$', '2026', true],
    ['one-letter Unicode classes', '^\\pL+$', 'café', true],
    ['Unicode scripts', '^\\p{Greek}+$', 'αβγ', true],
    ['\\x{…} code points', '^caf\\x{e9}$', 'café', true],
    ['\\z is the end of the text', 'a\\z', 'xa', true],
    ['(?s) lets . match a newline', '^a(?s:.)b$', 'a\nb', true],
    ['. does not match a newline by default', '^a.b$', 'a\nb', false],
    ['(?m) makes ^ and $ match at lines', '(?m)^b$', 'a\nb\nc', true],
    ['$ is the end of the text only, by default', '^b$', 'b\n', false],
    ['. is one code point, not one UTF-16 unit', '^.$', '😀', true],
    ['\\d is ASCII only', '^\\d$', '٣', false],
    ['\\w is ASCII only', '^\\w$', 'é', false],
    ['unanchored: a match anywhere', 'min', 'administrator', true],
    ['named groups in Go syntax', '^(?P<user>[a-z]+)@', 'ana@example.com', true],
  ])('%s', (_name, source, value, expected) => {
    expect(regexProblem(source)).toBeNull();
    expect(matches(pattern(source), value)).toBe(expected);
  });

  it.each([
    ['lookahead', 'a(?=b)', /lookaround are not supported/],
    ['lookbehind', '(?<=a)b', /lookaround are not supported/],
    ['a backreference', '(a)\\1', /backreferences/],
    ['a named backreference', '(?<x>a)\\k<x>', /backreferences/],
    ['an ECMAScript \\u escape', '^\\u00e9$', /RE2 syntax\): invalid escape sequence: `\\u`/],
    ['an ECMAScript \\c escape', '\\cA', /RE2 syntax\): invalid escape sequence: `\\c`/],
    ['ECMAScript [^]', '[^]', /RE2 syntax\): missing closing \]/],
    ['a possessive quantifier', 'a++', /RE2 syntax\): invalid nested repetition operator/],
    ['a repeat count over 1000', 'a{1001}', /RE2 syntax\): invalid repeat count/],
    ['\\C (any byte)', '\\C', /RE2 syntax\): invalid escape sequence/],
    ['a program over the size limit', 'a{999}b', /too large/],
  ])('refuses %s at write time, and never matches with it', (_name, source, message) => {
    expect(regexProblem(source)).toMatch(message);
    expect(matches(pattern(source), 'ab')).toBe(false);
    expect(matches(pattern(source, true), 'ab')).toBe(true);
  });

  it('accepts a program of exactly the size limit', () => {
    expect(MAX_REGEX_PROGRAM_SIZE).toBe(1000);
    expect(regexProblem('a{998}')).toBeNull();
    expect(matches(pattern('a{998}'), 'a'.repeat(998))).toBe(true);
    expect(matches(pattern('a{998}'), 'a'.repeat(997))).toBe(false);
  });
});

describe('hostile patterns evaluate in linear time', () => {
  // Patterns the old guard accepted, each with the input that makes a backtracking engine try
  // every way to split it: 1024 characters would take longer than the universe is old.
  const n = MAX_MATCHES_INPUT - 1;
  it.each([
    ['(a|a)*$', `${'a'.repeat(n)}!`, true],
    ['(a|aa)+$', `${'a'.repeat(n)}!`, false],
    ['(a|aa)+$', 'a'.repeat(MAX_MATCHES_INPUT), true],
    ['(\\w|\\d)*$', `${'1'.repeat(n)}!`, true],
    ['(.|a)*$', `${'a'.repeat(n)}\n`, true],
    ['^(.|a)*$', `${'a'.repeat(n)}\n`, false],
    ['([a-z]|[a-z0-9])*!', 'a'.repeat(MAX_MATCHES_INPUT), false],
    ['([a-z]|[a-z0-9])*!', `${'a'.repeat(n)}!`, true],
    ['(x+x+)+y', 'x'.repeat(MAX_MATCHES_INPUT), false],
    ['^(a+)+$', `${'a'.repeat(n)}!`, false],
  ])('%s is accepted and answers on a hostile input', (source, value, expected) => {
    expect(regexProblem(source)).toBeNull();
    expect(matches(pattern(source), value)).toBe(expected);
  });
});

describe('matches reads at most MAX_MATCHES_INPUT code points', () => {
  it('a value of exactly the bound is read; one more character and no pattern matches it', () => {
    expect(MAX_MATCHES_INPUT).toBe(1024);
    const atBound = 'a'.repeat(MAX_MATCHES_INPUT);
    expect(matches(pattern('a'), atBound)).toBe(true);
    expect(matches(pattern('a'), `${atBound}a`)).toBe(false);
    // Not truncated: the first characters of a longer value do not match either.
    expect(matches(pattern('^a'), `${atBound}a`)).toBe(false);
    expect(matches(pattern('.*'), `${atBound}a`)).toBe(false);
  });

  it('a negated matches clause matches a value over the bound, as any non-matching string', () => {
    expect(matches(pattern('a', true), 'a'.repeat(MAX_MATCHES_INPUT + 1))).toBe(true);
  });

  it('counts code points, so every SDK draws the line at the same value', () => {
    const astral = '😀'; // two UTF-16 units, one code point
    expect(matches(pattern('^😀+$'), astral.repeat(MAX_MATCHES_INPUT))).toBe(true);
    expect(matches(pattern('^😀+$'), astral.repeat(MAX_MATCHES_INPUT + 1))).toBe(false);
    expect(matches(pattern('b$'), `${astral.repeat(MAX_MATCHES_INPUT - 1)}b`)).toBe(true);
    expect(matches(pattern('b$'), `${astral.repeat(MAX_MATCHES_INPUT)}b`)).toBe(false);
  });

  it('applies to each element of an array attribute', () => {
    const long = 'a'.repeat(MAX_MATCHES_INPUT + 1);
    expect(matches(pattern('^a+$'), [long, 'aa'])).toBe(true);
    expect(matches(pattern('^a+$'), [long])).toBe(false);
  });
});
