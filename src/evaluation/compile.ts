// Compilation: turn raw EnvironmentData into lookup structures once, so that evaluation only
// walks prepared objects (Sets, parsed semvers and dates, RE2 patterns, prebuilt frozen results).

import type { SemVer } from 'semver';
import { encodePrefix } from './bucketing.js';
import { DEPTH_EXCEEDED_MESSAGE, errorResult, makeResult, TOO_COSTLY_MESSAGE } from './results.js';
import type {
  Clause,
  EnvironmentData,
  EvaluationResult,
  FlagDefinition,
  FlagEnvState,
  FlagKind,
  Reason,
  Rollout,
  Segment,
  Serve,
} from './types.js';
import { type CompiledPattern, compileRegex, parseDate, parseSemver } from './values.js';

// Operator codes used by the evaluator's switch. `notIn` compiles to OP_IN with negate flipped.
export const OP_NEVER = 0;
export const OP_IN = 1;
export const OP_CONTAINS = 2;
export const OP_STARTS_WITH = 3;
export const OP_ENDS_WITH = 4;
export const OP_MATCHES = 5;
export const OP_LT = 6;
export const OP_LTE = 7;
export const OP_GT = 8;
export const OP_GTE = 9;
export const OP_SEMVER_EQ = 10;
export const OP_SEMVER_LT = 11;
export const OP_SEMVER_GT = 12;
export const OP_BEFORE = 13;
export const OP_AFTER = 14;
export const OP_SEGMENT_MATCH = 15;

const OP_CODES: Record<string, number> = {
  in: OP_IN,
  notIn: OP_IN,
  contains: OP_CONTAINS,
  startsWith: OP_STARTS_WITH,
  endsWith: OP_ENDS_WITH,
  matches: OP_MATCHES,
  lt: OP_LT,
  lte: OP_LTE,
  gt: OP_GT,
  gte: OP_GTE,
  semverEq: OP_SEMVER_EQ,
  semverLt: OP_SEMVER_LT,
  semverGt: OP_SEMVER_GT,
  before: OP_BEFORE,
  after: OP_AFTER,
  segmentMatch: OP_SEGMENT_MATCH,
};

/** Every clause has the same shape (unused operand lists are shared empty arrays). */
export interface CompiledClause {
  attribute: string;
  /** The attribute name also exists on Object.prototype, so lookups must check own properties. */
  ownOnly: boolean;
  op: number;
  negate: boolean;
  set: ReadonlySet<unknown>;
  strings: readonly string[];
  regexes: readonly CompiledPattern[];
  numbers: readonly number[];
  semvers: readonly SemVer[];
  segments: readonly CompiledSegment[];
  /** Work units one attribute value costs to test against this clause (evaluate.ts, FLAG_WORK). */
  cost: number;
}

export interface CompiledSegment {
  key: string;
  included: ReadonlySet<string>;
  excluded: ReadonlySet<string>;
  rules: readonly (readonly CompiledClause[])[];
}

export interface CompiledRollout {
  bucketBy: string;
  ownOnly: boolean;
  /** UTF-8 of `${flagKey}.${salt}.` */
  prefix: Uint8Array;
  /** Cumulative weights, same order as results. */
  cumulative: readonly number[];
  results: readonly EvaluationResult[];
  missingAttributeResult: EvaluationResult;
}

export interface CompiledRule {
  id: string;
  clauses: readonly CompiledClause[];
  /** Set when the rule serves a fixed variation; otherwise `rollout` is set. */
  result: EvaluationResult | null;
  rollout: CompiledRollout | null;
}

export interface CompiledPrerequisite {
  key: string;
  variation: number;
  /** Resolved after all flags are compiled; null when the flag does not exist. */
  flag: CompiledFlag | null;
  failResult: EvaluationResult;
}

export interface CompiledFlag {
  key: string;
  kind: FlagKind;
  definition: FlagDefinition;
  state: FlagEnvState;
  on: boolean;
  offResult: EvaluationResult;
  prerequisites: CompiledPrerequisite[];
  targets: ReadonlyMap<string, EvaluationResult> | null;
  rules: readonly CompiledRule[];
  fallthroughResult: EvaluationResult | null;
  fallthroughRollout: CompiledRollout | null;
  invalidContextResult: EvaluationResult;
  typeMismatchResult: EvaluationResult;
  depthExceededResult: EvaluationResult;
  /** The answer when targeting this context would take more work than an evaluation may do. */
  tooCostlyResult: EvaluationResult;
}

export interface CompiledEnvironment {
  version: number;
  flags: ReadonlyMap<string, CompiledFlag>;
  /** Flags in the order of EnvironmentData.flags (evaluateAll order). */
  flagList: readonly CompiledFlag[];
  segments: ReadonlyMap<string, CompiledSegment>;
}

const EMPTY: readonly never[] = Object.freeze([]);
const EMPTY_SET: ReadonlySet<unknown> = new Set();

function needsOwnCheck(attribute: string): boolean {
  return attribute in Object.prototype;
}

function compileClause(clause: Clause, segments: ReadonlyMap<string, CompiledSegment> | null): CompiledClause {
  const values: readonly unknown[] = Array.isArray(clause.values) ? clause.values : EMPTY;
  let op = OP_CODES[clause.op] ?? OP_NEVER;
  const compiled: CompiledClause = {
    attribute: String(clause.attribute),
    ownOnly: needsOwnCheck(String(clause.attribute)),
    op,
    negate: (clause.negate === true) !== (clause.op === 'notIn'),
    set: EMPTY_SET,
    strings: EMPTY,
    regexes: EMPTY,
    numbers: EMPTY,
    semvers: EMPTY,
    segments: EMPTY,
    cost: 1,
  };
  switch (op) {
    case OP_IN:
      compiled.set = new Set(
        values.filter((v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'),
      );
      break;
    case OP_CONTAINS:
    case OP_STARTS_WITH:
    case OP_ENDS_WITH:
      compiled.strings = values.filter((v): v is string => typeof v === 'string');
      break;
    case OP_MATCHES:
      compiled.regexes = values.map(compileRegex).filter((r): r is CompiledPattern => r !== null);
      break;
    case OP_LT:
    case OP_LTE:
    case OP_GT:
    case OP_GTE:
      compiled.numbers = values.filter((v): v is number => typeof v === 'number' && !Number.isNaN(v));
      break;
    case OP_SEMVER_EQ:
    case OP_SEMVER_LT:
    case OP_SEMVER_GT:
      compiled.semvers = values.map(parseSemver).filter((v): v is SemVer => v !== null);
      break;
    case OP_BEFORE:
    case OP_AFTER:
      compiled.numbers = values.map(parseDate).filter((v): v is number => v !== null);
      break;
    case OP_SEGMENT_MATCH:
      // Inside a segment's own rules (segments === null) segmentMatch is refused by validation
      // and never matches, negated or not.
      if (segments === null) op = OP_NEVER;
      else
        compiled.segments = values
          .map((k) => segments.get(String(k)))
          .filter((s): s is CompiledSegment => s !== undefined);
      break;
  }
  compiled.op = op;
  // A set lookup is one unit, a list of operands one per operand, a regular expression ten.
  compiled.cost = Math.max(
    1,
    compiled.strings.length + compiled.numbers.length + compiled.semvers.length + 10 * compiled.regexes.length,
  );
  return compiled;
}

export function compileSegment(segment: Segment): CompiledSegment {
  return {
    key: segment.key,
    included: new Set(segment.included ?? EMPTY),
    excluded: new Set(segment.excluded ?? EMPTY),
    rules: (segment.rules ?? EMPTY).map((rule) => (rule.clauses ?? EMPTY).map((c) => compileClause(c, null))),
  };
}

function compileRollout(
  def: FlagDefinition,
  state: FlagEnvState,
  rollout: Rollout,
  reason: Reason,
  ruleId?: string,
): CompiledRollout {
  const bucketBy = typeof rollout.bucketBy === 'string' ? rollout.bucketBy : 'key';
  const salt = rollout.salt ?? def.salt ?? def.key;
  const entries = Array.isArray(rollout.variations) ? rollout.variations : EMPTY;
  const cumulative: number[] = [];
  let sum = 0;
  for (const entry of entries) cumulative.push((sum += entry.weight));
  const extras = ruleId === undefined ? {} : { ruleId };
  return {
    bucketBy,
    ownOnly: needsOwnCheck(bucketBy),
    prefix: encodePrefix(def.key, salt),
    cumulative,
    results: entries.map((e) => makeResult(def, state, e.variation, reason, extras)),
    missingAttributeResult: errorResult(
      def,
      state,
      'TARGETING_KEY_MISSING',
      `rollout needs context attribute "${bucketBy}" as a non-empty string or a finite number`,
      ruleId,
    ),
  };
}

function isRolloutServe(serve: Serve): serve is { rollout: Rollout } {
  return typeof serve === 'object' && serve !== null && 'rollout' in serve;
}

/** One flag against the environment's compiled segments; its prerequisites are linked by the caller. */
export function compileFlag(
  def: FlagDefinition,
  state: FlagEnvState,
  segments: ReadonlyMap<string, CompiledSegment>,
): CompiledFlag {
  let targets: Map<string, EvaluationResult> | null = null;
  for (const target of state.targets ?? EMPTY) {
    const result = makeResult(def, state, target.variation, 'TARGETING_MATCH');
    for (const key of target.values) {
      targets ??= new Map();
      if (!targets.has(key)) targets.set(key, result); // the first target listing a key wins
    }
  }
  const rules = (state.rules ?? EMPTY).map((rule): CompiledRule => {
    const clauses = (rule.clauses ?? EMPTY).map((c) => compileClause(c, segments));
    return isRolloutServe(rule.serve)
      ? {
          id: rule.id,
          clauses,
          result: null,
          rollout: compileRollout(def, state, rule.serve.rollout, 'TARGETING_MATCH', rule.id),
        }
      : {
          id: rule.id,
          clauses,
          result: makeResult(def, state, rule.serve.variation, 'TARGETING_MATCH', { ruleId: rule.id }),
          rollout: null,
        };
  });
  const prerequisites = (state.prerequisites ?? EMPTY).map(
    (p): CompiledPrerequisite => ({
      key: p.key,
      variation: p.variation,
      flag: null,
      failResult: makeResult(def, state, state.offVariation, 'DISABLED', { prerequisiteKey: p.key }),
    }),
  );
  let fallthroughResult: EvaluationResult | null = null;
  let fallthroughRollout: CompiledRollout | null = null;
  if (isRolloutServe(state.fallthrough)) {
    fallthroughRollout = compileRollout(def, state, state.fallthrough.rollout, 'SPLIT');
  } else {
    // STATIC only when nothing could make the result vary: no targets, rules or prerequisites.
    const isStatic = targets === null && rules.length === 0 && prerequisites.length === 0;
    fallthroughResult = makeResult(def, state, state.fallthrough.variation, isStatic ? 'STATIC' : 'DEFAULT');
  }
  return {
    key: def.key,
    kind: def.kind,
    definition: def,
    state,
    on: state.on === true,
    offResult: makeResult(def, state, state.offVariation, 'DISABLED'),
    prerequisites,
    targets,
    rules,
    fallthroughResult,
    fallthroughRollout,
    invalidContextResult: errorResult(
      def,
      state,
      'INVALID_CONTEXT',
      'context must be a JSON object whose key and kind, when present, are strings',
    ),
    typeMismatchResult: errorResult(def, state, 'TYPE_MISMATCH', `flag is of kind ${def.kind}`),
    depthExceededResult: errorResult(def, state, 'GENERAL', DEPTH_EXCEEDED_MESSAGE),
    tooCostlyResult: errorResult(def, state, 'GENERAL', TOO_COSTLY_MESSAGE),
  };
}

/** Flags compiled between two yields of compileEnvironmentSteps (about a millisecond of work). */
export const COMPILE_CHUNK = 250;

/**
 * compileEnvironment in steps: the generator yields after every `chunk` flags, so a caller on an
 * event loop can let other work run between steps of a large environment.
 */
export function* compileEnvironmentSteps(
  data: EnvironmentData,
  chunk = COMPILE_CHUNK,
): Generator<void, CompiledEnvironment, void> {
  const segments = new Map<string, CompiledSegment>();
  for (const segment of data.segments ?? EMPTY) segments.set(segment.key, compileSegment(segment));
  const flags = new Map<string, CompiledFlag>();
  const flagList: CompiledFlag[] = [];
  let done = 0;
  for (const { definition, state } of data.flags ?? EMPTY) {
    if (done > 0 && done % chunk === 0) yield;
    done++;
    if (flags.has(definition.key)) continue; // a duplicate key keeps its first definition
    const flag = compileFlag(definition, state, segments);
    flags.set(flag.key, flag);
    flagList.push(flag);
  }
  for (const flag of flagList) {
    for (const prerequisite of flag.prerequisites) prerequisite.flag = flags.get(prerequisite.key) ?? null;
  }
  return { version: data.version, flags, flagList, segments };
}

/** Parse and index a whole environment once; the result is immutable and safe to share. */
export function compileEnvironment(data: EnvironmentData): CompiledEnvironment {
  const steps = compileEnvironmentSteps(data, Number.POSITIVE_INFINITY);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}
