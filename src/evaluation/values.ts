// Parsing of operator operands shared by compilation, evaluation and validation.

import { RE2JS } from 're2js';
import type { SemVer } from 'semver';
import semver from 'semver';
import { MAX_MATCHES_INPUT, MAX_REGEX_LENGTH, MAX_REGEX_PROGRAM_SIZE } from './limits.js';

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|([+-])(\d{2}):(\d{2})))?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * Epoch milliseconds of a date operand: a finite number is already epoch ms; a string must be
 * RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`) or a bare `YYYY-MM-DD` (UTC midnight).
 * Fractions are truncated to milliseconds. Anything else (including 2024-02-30) is null.
 */
export function parseDate(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string') return null;
  const m = DATE_TIME.exec(value);
  if (m === null) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1) return null;
  const maxDay = month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] as number);
  if (day > maxDay) return null;
  let ms = daysFromCivil(year, month, day) * 86400000;
  if (m[4] === undefined) return ms;
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (hour > 23 || minute > 59 || second > 59) return null;
  ms += ((hour * 60 + minute) * 60 + second) * 1000;
  if (m[7] !== undefined) ms += Number(m[7].slice(0, 3).padEnd(3, '0'));
  if (m[9] !== undefined) {
    const offsetHours = Number(m[10]);
    const offsetMinutes = Number(m[11]);
    if (offsetHours > 23 || offsetMinutes > 59) return null;
    const offset = (offsetHours * 60 + offsetMinutes) * 60000;
    ms += m[9] === '+' ? -offset : offset;
  }
  return ms;
}

/** A strict SemVer 2.0.0 version (leading `v` allowed), or null. */
export function parseSemver(value: unknown): SemVer | null {
  return typeof value === 'string' ? semver.parse(value, false) : null;
}

// Context-side versions repeat a lot (a few app versions across many users), so evaluation keeps
// a small bounded memo of parses. SemVer objects are only read, never mutated, so sharing is safe.
const SEMVER_CACHE_LIMIT = 1000;
const semverCache = new Map<string, SemVer | null>();

/** parseSemver with a bounded memo, for context values during evaluation. */
export function parseSemverCached(value: unknown): SemVer | null {
  // semver refuses versions over 256 characters; never memoize such strings.
  if (typeof value !== 'string' || value.length > 256) return null;
  let parsed = semverCache.get(value);
  if (parsed === undefined) {
    parsed = semver.parse(value, false);
    if (semverCache.size >= SEMVER_CACHE_LIMIT) semverCache.clear();
    semverCache.set(value, parsed);
  }
  return parsed;
}

// `matches` runs on RE2JS, a port of RE2 (and of Go's regexp): matching takes time linear in the
// input whatever the pattern, so no stored pattern can turn an evaluation into a search that
// backtracks. The syntax is RE2's (docs/evaluation.md, "Regular expressions"), which is also what
// Go's regexp and Rust's regex crate accept, so SDKs evaluating locally match the server.

/** A compiled `matches` pattern: an unanchored search, linear in the input. */
export interface CompiledPattern {
  test(input: string): boolean;
}

// RE2 already refuses these; recognising them gives a clearer message than its parse error.
const NON_PORTABLE = /\\[1-9]|\\k<|\(\?<?[=!]/;
const PARSE_PREFIX = 'error parsing regexp: ';

type Compiled = { pattern: CompiledPattern; problem: null } | { pattern: null; problem: string };

function compilePattern(source: unknown): Compiled {
  const refuse = (problem: string): Compiled => ({ pattern: null, problem });
  if (typeof source !== 'string') return refuse('a regular expression must be a string');
  if (source.length > MAX_REGEX_LENGTH) return refuse(`regular expression longer than ${MAX_REGEX_LENGTH} characters`);
  let compiled: RE2JS;
  try {
    // No flags: case-sensitive, `.` excludes newline, `^`/`$` at the ends of the text only;
    // a pattern sets its own with (?i), (?s), (?m), (?U).
    compiled = RE2JS.compile(source);
  } catch (error) {
    if (NON_PORTABLE.test(source)) return refuse('backreferences and lookaround are not supported (RE2 syntax)');
    const message = error instanceof Error ? error.message : String(error);
    return refuse(`invalid regular expression (RE2 syntax): ${message.replace(PARSE_PREFIX, '')}`);
  }
  // Matching costs up to (program size × input length); both are bounded.
  if (compiled.programSize() > MAX_REGEX_PROGRAM_SIZE) {
    return refuse(`regular expression too large: compiles to more than ${MAX_REGEX_PROGRAM_SIZE} instructions`);
  }
  return { pattern: compiled, problem: null };
}

/** Why a `matches` pattern is refused, or null when it is acceptable. */
export function regexProblem(pattern: unknown): string | null {
  return compilePattern(pattern).problem;
}

/**
 * The compiled pattern, or null when `regexProblem` refuses it: a stored pattern that the engine
 * cannot run (one saved before RE2 syntax, e.g. with a lookahead) never matches.
 */
export function compileRegex(pattern: unknown): CompiledPattern | null {
  return compilePattern(pattern).pattern;
}

/**
 * Whether `matches` reads this value: at most MAX_MATCHES_INPUT Unicode code points (a lone
 * surrogate counts as one). Longer values match no pattern, so the cost of a clause is bounded
 * and the answer is the same in every SDK, whatever its string encoding.
 */
export function matchableInput(value: string): boolean {
  const length = value.length;
  if (length <= MAX_MATCHES_INPUT) return true;
  if (length > 2 * MAX_MATCHES_INPUT) return false;
  let points = 0;
  for (let i = 0; i < length; i++) {
    const unit = value.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < length) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    if (++points > MAX_MATCHES_INPUT) return false;
  }
  return true;
}
