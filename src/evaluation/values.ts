// Parsing of operator operands shared by compilation, evaluation and validation.

import safeRegex from 'safe-regex2';
import type { SemVer } from 'semver';
import semver from 'semver';
import { MAX_REGEX_LENGTH } from './limits.js';

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

// Constructs outside the common subset of ECMAScript and RE2 (backreferences, lookaround):
// refused so that Go and other RE2-based SDKs can run the same patterns in linear time.
const NON_PORTABLE = /\\[1-9]|\\k<|\(\?<?[=!]/;

/** Why a `matches` pattern is refused, or null when it is acceptable. */
export function regexProblem(pattern: unknown): string | null {
  if (typeof pattern !== 'string') return 'a regular expression must be a string';
  if (pattern.length > MAX_REGEX_LENGTH) return `regular expression longer than ${MAX_REGEX_LENGTH} characters`;
  if (NON_PORTABLE.test(pattern)) return 'backreferences and lookaround are not allowed';
  try {
    new RegExp(pattern, 'u');
  } catch (error) {
    return `invalid regular expression: ${(error as Error).message}`;
  }
  if (!safeRegex(pattern)) return 'regular expression may take exponential time (nested quantifiers)';
  return null;
}

/** The compiled pattern, or null when `regexProblem` refuses it. */
export function compileRegex(pattern: unknown): RegExp | null {
  return regexProblem(pattern) === null ? new RegExp(pattern as string, 'u') : null;
}
