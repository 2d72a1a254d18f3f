// The evaluation data model. Everything here is plain JSON: it is what the database stores, what
// the snapshot holds and what local-evaluating SDKs download. docs/evaluation.md is the reference.

export type FlagKind = 'boolean' | 'string' | 'number' | 'json';

export const FLAG_KINDS: readonly FlagKind[] = ['boolean', 'string', 'number', 'json'];

export interface Variation {
  value: unknown;
  name?: string;
}

/** Environment-independent part of a flag. */
export interface FlagDefinition {
  key: string;
  kind: FlagKind;
  variations: Variation[];
  clientSideAvailable: boolean;
  tags?: string[];
  temporary?: boolean;
  /** Bucketing salt; defaults to the flag key. */
  salt?: string;
}

export type Operator =
  | 'in'
  | 'notIn'
  | 'contains'
  | 'startsWith'
  | 'endsWith'
  | 'matches'
  | 'lt'
  | 'lte'
  | 'gt'
  | 'gte'
  | 'semverEq'
  | 'semverLt'
  | 'semverGt'
  | 'before'
  | 'after'
  | 'segmentMatch';

export const OPERATORS: readonly Operator[] = [
  'in',
  'notIn',
  'contains',
  'startsWith',
  'endsWith',
  'matches',
  'lt',
  'lte',
  'gt',
  'gte',
  'semverEq',
  'semverLt',
  'semverGt',
  'before',
  'after',
  'segmentMatch',
];

export type ClauseValue = string | number | boolean;

export interface Clause {
  /** Context attribute name, looked up literally (a dot is not a path separator). Ignored by segmentMatch. */
  attribute: string;
  op: Operator;
  values: ClauseValue[];
  negate?: boolean;
}

export interface WeightedVariation {
  variation: number;
  /** In thousandths of a percent: all weights of a rollout sum to 100000. */
  weight: number;
}

export interface Rollout {
  variations: WeightedVariation[];
  /** Context attribute hashed to pick a bucket; default 'key'. */
  bucketBy?: string;
  /** Overrides the flag's salt for this rollout. */
  salt?: string;
}

export type Serve = { variation: number } | { rollout: Rollout };

export interface Rule {
  id: string;
  clauses: Clause[];
  serve: Serve;
  description?: string;
}

/** Individual targeting: context keys that get a variation. */
export interface Target {
  variation: number;
  values: string[];
}

export interface Prerequisite {
  key: string;
  variation: number;
}

/** Per-environment part of a flag. */
export interface FlagEnvState {
  on: boolean;
  offVariation: number;
  targets: Target[];
  rules: Rule[];
  fallthrough: Serve;
  prerequisites: Prerequisite[];
  version: number;
}

export interface SegmentRule {
  id: string;
  clauses: Clause[];
}

export interface Segment {
  key: string;
  included: string[];
  excluded: string[];
  rules: SegmentRule[];
}

export interface FlagConfig {
  definition: FlagDefinition;
  state: FlagEnvState;
}

export interface EnvironmentData {
  version: number;
  flags: FlagConfig[];
  segments: Segment[];
}

/** A plain object; `key` identifies the subject, `kind` defaults to 'user'. */
export type EvaluationContext = { key?: string; kind?: string; [attribute: string]: unknown };

/** OpenFeature resolution reasons. */
export type Reason = 'STATIC' | 'DISABLED' | 'TARGETING_MATCH' | 'SPLIT' | 'DEFAULT' | 'ERROR';

/** OpenFeature error codes (PARSE_ERROR is for callers parsing requests; the engine never returns it). */
export type ErrorCode =
  | 'FLAG_NOT_FOUND'
  | 'TYPE_MISMATCH'
  | 'PARSE_ERROR'
  | 'INVALID_CONTEXT'
  | 'TARGETING_KEY_MISSING'
  | 'GENERAL';

/**
 * What one evaluation produced. Results are frozen and may be shared between calls: copy before
 * changing one. Optional fields are absent (never undefined-valued) when they do not apply.
 */
export interface EvaluationResult {
  key: string;
  value: unknown;
  variation: number | null;
  variationName?: string;
  reason: Reason;
  /** The rule that matched (TARGETING_MATCH by rule, or ERROR inside a rule's rollout). */
  ruleId?: string;
  /** The prerequisite flag that was not satisfied (reason DISABLED). */
  prerequisiteKey?: string;
  errorCode?: ErrorCode;
  errorMessage?: string;
  /** The flag state's version; 0 when the flag was not found. */
  version: number;
}

/** A validation problem; `path` is a JSON-path-like location such as `rules[0].clauses[1].values[2]`. */
export interface Problem {
  path: string;
  message: string;
}
