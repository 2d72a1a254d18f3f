// Evaluation over a CompiledEnvironment. Hot path: no closures, no allocation except the bytes
// hashed for a rollout; every result is a prebuilt frozen object (FLAG_NOT_FOUND aside).

import { bucketableValue, bucketWithPrefix } from './bucketing.js';
import {
  type CompiledClause,
  type CompiledEnvironment,
  type CompiledFlag,
  type CompiledRollout,
  type CompiledSegment,
  OP_AFTER,
  OP_BEFORE,
  OP_CONTAINS,
  OP_ENDS_WITH,
  OP_GT,
  OP_GTE,
  OP_IN,
  OP_LT,
  OP_LTE,
  OP_MATCHES,
  OP_SEGMENT_MATCH,
  OP_SEMVER_EQ,
  OP_SEMVER_GT,
  OP_SEMVER_LT,
  OP_STARTS_WITH,
} from './compile.js';
import { MAX_PREREQUISITE_DEPTH } from './limits.js';
import { DEPTH_EXCEEDED_MESSAGE } from './results.js';
import type { EvaluationResult, FlagDefinition, FlagKind } from './types.js';
import { matchableInput, parseDate, parseSemverCached } from './values.js';

type Context = Record<string, unknown>;

/**
 * The work one evaluation may do, in units of one context value tested against one operand (a
 * regular expression counts ten; compile.ts `cost`). Limits bound each rule, value and context
 * array on its own, not their product: 100 rules of 100 patterns against a context array of
 * 2,000 values is 20 million tests, seconds of one event loop every tenant shares. A flag whose
 * targeting would take more answers its GENERAL error (the SDK serves its default), and so does
 * every flag of a bulk evaluation once the request's pool is spent.
 */
export const FLAG_WORK = 20_000;
export const REQUEST_WORK = 200_000;

/** Units left for the flag being evaluated, and for the bulk evaluation under way. */
let work = 0;
let pool = Number.POSITIVE_INFINITY;
const OVER_BUDGET = new Error('evaluation work exhausted');

/**
 * Runs `evaluations` (several evaluate / evaluateFlag calls for one context: a live view
 * re-evaluating the flags a change touched) within one REQUEST_WORK pool, as evaluateAll does.
 */
export function asOneBulk<T>(evaluations: () => T): T {
  if (pool !== Number.POSITIVE_INFINITY) return evaluations();
  pool = REQUEST_WORK;
  try {
    return evaluations();
  } finally {
    pool = Number.POSITIVE_INFINITY;
  }
}

function spend(units: number): void {
  work -= units;
  if (work < 0) throw OVER_BUDGET;
}

/** A plain object (not an array, not a class instance) whose `key` and `kind` are strings when present. */
export function isValidContext(context: unknown): context is Context {
  if (typeof context !== 'object' || context === null || Array.isArray(context)) return false;
  const proto = Object.getPrototypeOf(context) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  const { key, kind } = context as Context;
  if (key !== undefined && key !== null && typeof key !== 'string') return false;
  if (kind !== undefined && kind !== null && typeof kind !== 'string') return false;
  return true;
}

function attributeValue(context: Context, name: string, ownOnly: boolean): unknown {
  if (ownOnly && !Object.hasOwn(context, name)) return undefined;
  const value = context[name];
  if ((value === undefined || value === null) && name === 'kind') return 'user';
  return value;
}

function contextKey(context: Context): string | null {
  const key = context['key'];
  return typeof key === 'string' && key.length > 0 ? key : null;
}

function matchesValue(clause: CompiledClause, value: unknown): boolean {
  switch (clause.op) {
    case OP_IN:
      return clause.set.has(value);
    case OP_CONTAINS:
      if (typeof value !== 'string') return false;
      for (const s of clause.strings) if (value.includes(s)) return true;
      return false;
    case OP_STARTS_WITH:
      if (typeof value !== 'string') return false;
      for (const s of clause.strings) if (value.startsWith(s)) return true;
      return false;
    case OP_ENDS_WITH:
      if (typeof value !== 'string') return false;
      for (const s of clause.strings) if (value.endsWith(s)) return true;
      return false;
    case OP_MATCHES:
      if (typeof value !== 'string' || !matchableInput(value)) return false;
      for (const r of clause.regexes) if (r.test(value)) return true;
      return false;
    case OP_LT:
      if (typeof value !== 'number') return false;
      for (const n of clause.numbers) if (value < n) return true;
      return false;
    case OP_LTE:
      if (typeof value !== 'number') return false;
      for (const n of clause.numbers) if (value <= n) return true;
      return false;
    case OP_GT:
      if (typeof value !== 'number') return false;
      for (const n of clause.numbers) if (value > n) return true;
      return false;
    case OP_GTE:
      if (typeof value !== 'number') return false;
      for (const n of clause.numbers) if (value >= n) return true;
      return false;
    case OP_SEMVER_EQ:
    case OP_SEMVER_LT:
    case OP_SEMVER_GT: {
      const version = parseSemverCached(value);
      if (version === null) return false;
      const wanted = clause.op === OP_SEMVER_EQ ? 0 : clause.op === OP_SEMVER_LT ? -1 : 1;
      for (const v of clause.semvers) if (version.compare(v) === wanted) return true;
      return false;
    }
    case OP_BEFORE:
    case OP_AFTER: {
      const time = parseDate(value);
      if (time === null) return false;
      const before = clause.op === OP_BEFORE;
      for (const n of clause.numbers) if (before ? time < n : time > n) return true;
      return false;
    }
    default:
      return false;
  }
}

function segmentContains(segment: CompiledSegment, context: Context): boolean {
  const key = contextKey(context);
  if (key !== null) {
    if (segment.included.has(key)) return true;
    if (segment.excluded.has(key)) return false;
  }
  for (const clauses of segment.rules) if (allClausesMatch(clauses, context)) return true;
  return false;
}

function clauseMatches(clause: CompiledClause, context: Context): boolean {
  if (clause.op === OP_SEGMENT_MATCH) {
    let member = false;
    for (const segment of clause.segments) {
      if (segmentContains(segment, context)) {
        member = true;
        break;
      }
    }
    return member !== clause.negate;
  }
  const value = attributeValue(context, clause.attribute, clause.ownOnly);
  // A missing attribute never matches, negated or not.
  if (value === undefined || value === null) return false;
  let matched = false;
  if (Array.isArray(value)) {
    for (const element of value) {
      spend(clause.cost);
      if (element !== undefined && element !== null && matchesValue(clause, element)) {
        matched = true;
        break;
      }
    }
  } else {
    spend(clause.cost);
    matched = matchesValue(clause, value);
  }
  return matched !== clause.negate;
}

function allClausesMatch(clauses: readonly CompiledClause[], context: Context): boolean {
  for (const clause of clauses) if (!clauseMatches(clause, context)) return false;
  return true;
}

function serveRollout(rollout: CompiledRollout, context: Context): EvaluationResult {
  const value = bucketableValue(attributeValue(context, rollout.bucketBy, rollout.ownOnly));
  if (value === null) return rollout.missingAttributeResult;
  const bucket = bucketWithPrefix(rollout.prefix, value);
  const { cumulative, results } = rollout;
  for (let i = 0; i < cumulative.length; i++) {
    if (bucket < (cumulative[i] as number)) return results[i] as EvaluationResult;
  }
  // Weights summing to less than 100000 (invalid data): the last entry takes the rest.
  return results[results.length - 1] ?? rollout.missingAttributeResult;
}

/** Evaluate a compiled flag for an already validated context, within FLAG_WORK (and the bulk's pool). */
export function evaluateFlag(flag: CompiledFlag, context: Context): EvaluationResult {
  const allowed = Math.min(pool, FLAG_WORK);
  work = allowed;
  try {
    return evaluateWithin(flag, context, 0);
  } catch (error) {
    if (error !== OVER_BUDGET) throw error;
    work = 0;
    return flag.tooCostlyResult;
  } finally {
    if (pool !== Number.POSITIVE_INFINITY) pool -= allowed - work;
  }
}

function evaluateWithin(flag: CompiledFlag, context: Context, depth: number): EvaluationResult {
  if (!flag.on) return flag.offResult;
  for (const prerequisite of flag.prerequisites) {
    const required = prerequisite.flag;
    if (required === null) return prerequisite.failResult;
    if (depth >= MAX_PREREQUISITE_DEPTH) return flag.depthExceededResult;
    const result = evaluateWithin(required, context, depth + 1);
    if (result.errorMessage === DEPTH_EXCEEDED_MESSAGE) return flag.depthExceededResult;
    if (result.reason === 'DISABLED' || result.reason === 'ERROR' || result.variation !== prerequisite.variation) {
      return prerequisite.failResult;
    }
  }
  if (flag.targets !== null) {
    const key = contextKey(context);
    if (key !== null) {
      const targeted = flag.targets.get(key);
      if (targeted !== undefined) return targeted;
    }
  }
  for (const rule of flag.rules) {
    if (allClausesMatch(rule.clauses, context)) {
      return rule.result ?? serveRollout(rule.rollout as CompiledRollout, context);
    }
  }
  return flag.fallthroughResult ?? serveRollout(flag.fallthroughRollout as CompiledRollout, context);
}

function flagNotFound(flagKey: string): EvaluationResult {
  return Object.freeze({
    key: flagKey,
    value: null,
    variation: null,
    reason: 'ERROR',
    errorCode: 'FLAG_NOT_FOUND',
    errorMessage: `flag "${flagKey}" not found`,
    version: 0,
  });
}

/**
 * Evaluate one flag. `context` is untrusted input (anything not a plain object gives
 * INVALID_CONTEXT). With `expectedKind`, a flag of another kind gives TYPE_MISMATCH.
 */
export function evaluate(
  env: CompiledEnvironment,
  flagKey: string,
  context: unknown,
  expectedKind?: FlagKind,
): EvaluationResult {
  const flag = env.flags.get(flagKey);
  if (flag === undefined) return flagNotFound(flagKey);
  if (!isValidContext(context)) return flag.invalidContextResult;
  if (expectedKind !== undefined && expectedKind !== flag.kind) return flag.typeMismatchResult;
  return evaluateFlag(flag, context);
}

/** Evaluate every flag (optionally only those `filter` accepts), in environment order. */
export function evaluateAll(
  env: CompiledEnvironment,
  context: unknown,
  filter?: (definition: FlagDefinition) => boolean,
): EvaluationResult[] {
  return asOneBulk(() => {
    const results: EvaluationResult[] = [];
    const valid = isValidContext(context);
    for (const flag of env.flagList) {
      if (filter !== undefined && !filter(flag.definition)) continue;
      results.push(valid ? evaluateFlag(flag, context) : flag.invalidContextResult);
    }
    return results;
  });
}

/** Filter for evaluateAll: flags that client-side (browser/mobile) SDKs may see. */
export function clientSideOnly(definition: FlagDefinition): boolean {
  return definition.clientSideAvailable === true;
}
