import type { EvaluationResult } from '../../evaluation/index.js';

/**
 * Engine results as the SDK doors answer them. Results are frozen and shared, so these build new
 * objects and never touch the result itself.
 */

/** One result in the REST shape (snake_case, as the API reference); absent fields are omitted. */
export interface RestEvaluation {
  flag_key?: string;
  value: unknown;
  variation: number | null;
  variation_name?: string;
  reason: string;
  rule_id?: string;
  prerequisite_key?: string;
  error_code?: string;
  error_message?: string;
  version: number;
}

export function restEvaluation(result: EvaluationResult, withKey: boolean): RestEvaluation {
  // Fields in the order of the response schemas below, so JSON.stringify writes what they document.
  const out = (withKey ? { flag_key: result.key } : {}) as RestEvaluation;
  out.value = result.value;
  out.variation = result.variation;
  if (result.variationName !== undefined) out.variation_name = result.variationName;
  out.reason = result.reason;
  if (result.ruleId !== undefined) out.rule_id = result.ruleId;
  if (result.prerequisiteKey !== undefined) out.prerequisite_key = result.prerequisiteKey;
  if (result.errorCode !== undefined) out.error_code = result.errorCode;
  if (result.errorMessage !== undefined) out.error_message = result.errorMessage;
  out.version = result.version;
  return out;
}

const restSingles = new WeakMap<EvaluationResult, string>();

/**
 * `POST /v1/evaluate`'s answer as JSON, serialized once per result: compiled results are shared
 * and frozen (see below), so a flag evaluated for many contexts is a lookup, not an object and a
 * serializer call per request. A FLAG_NOT_FOUND result is built per request (its key is the
 * caller's) and is serialized each time rather than kept.
 */
export function restEvaluationJson(result: EvaluationResult): string {
  if (result.errorCode === 'FLAG_NOT_FOUND') return JSON.stringify(restEvaluation(result, true));
  let json = restSingles.get(result);
  if (json === undefined) {
    json = JSON.stringify(restEvaluation(result, true));
    restSingles.set(result, json);
  }
  return json;
}

/**
 * Each result's part of a bulk answer, serialized once: compiled results are shared, frozen
 * objects (one per outcome of a flag in a snapshot), so fifty flags answered to many contexts
 * are mostly the same few hundred strings, joined.
 */
const restParts = new WeakMap<EvaluationResult, string>();
const ofrepParts = new WeakMap<EvaluationResult, string>();

/** `{"flags": {"<flag key>": evaluation, …}, "version": n}` as JSON (the bulk routes' answer). */
export function restFlagsJson(results: readonly EvaluationResult[], version: number): string {
  let out = '{"flags":{';
  for (let i = 0; i < results.length; i++) {
    const result = results[i]!;
    let part = restParts.get(result);
    if (part === undefined) {
      part = `${JSON.stringify(result.key)}:${JSON.stringify(restEvaluation(result, false))}`;
      restParts.set(result, part);
    }
    out += i === 0 ? part : `,${part}`;
  }
  return `${out}},"version":${version}}`;
}

/** One result in OFREP's shape, as JSON (kept per result, as restFlagsJson's parts). */
export function ofrepJson(result: EvaluationResult): string {
  let part = ofrepParts.get(result);
  if (part === undefined) {
    part = JSON.stringify(ofrepResult(result));
    ofrepParts.set(result, part);
  }
  return part;
}

/** `{ "<flag key>": evaluation, … }` for the bulk and client routes. */
export function restFlags(results: readonly EvaluationResult[]): Record<string, RestEvaluation> {
  const flags: Record<string, RestEvaluation> = {};
  for (const result of results) flags[result.key] = restEvaluation(result, false);
  return flags;
}

const evaluationProperties = {
  value: {},
  variation: { type: ['integer', 'null'] },
  variation_name: { type: 'string' },
  reason: { type: 'string' },
  rule_id: { type: 'string' },
  prerequisite_key: { type: 'string' },
  error_code: { type: 'string' },
  error_message: { type: 'string' },
  version: { type: 'integer' },
} as const;

/** Response schemas: fast-json-stringify serializes these replies without JSON.stringify's walk. */
export const evaluationResponse = {
  type: 'object',
  properties: { flag_key: { type: 'string' }, ...evaluationProperties },
  required: ['flag_key', 'value', 'variation', 'reason', 'version'],
} as const;

export const flagsResponse = {
  type: 'object',
  properties: {
    flags: { type: 'object', additionalProperties: { type: 'object', properties: evaluationProperties } },
    version: { type: 'integer' },
  },
  required: ['flags', 'version'],
} as const;

/* ---------------------------------------------------------------- OFREP ---------------------- */

/** OFREP `evaluationFailure` codes; the engine's TYPE_MISMATCH cannot arise (OFREP sends no type). */
type OfrepErrorCode = 'PARSE_ERROR' | 'TARGETING_KEY_MISSING' | 'INVALID_CONTEXT' | 'GENERAL' | 'FLAG_NOT_FOUND';

export interface OfrepSuccess {
  key: string;
  value: unknown;
  reason: string;
  variant: string;
  metadata: Record<string, string | number | boolean>;
}

export interface OfrepFailure {
  key: string;
  errorCode: OfrepErrorCode;
  errorDetails?: string;
}

function ofrepErrorCode(result: EvaluationResult): OfrepErrorCode {
  switch (result.errorCode) {
    case 'FLAG_NOT_FOUND':
    case 'TARGETING_KEY_MISSING':
    case 'INVALID_CONTEXT':
    case 'PARSE_ERROR':
      return result.errorCode;
    default:
      return 'GENERAL';
  }
}

/**
 * A result in OFREP's shape. An ERROR result is a failure even though the engine carries the off
 * variation's value: OpenFeature callers must get their own default, never our fallback.
 */
export function ofrepResult(result: EvaluationResult): OfrepSuccess | OfrepFailure {
  if (result.reason === 'ERROR') {
    const failure: OfrepFailure = { key: result.key, errorCode: ofrepErrorCode(result) };
    if (result.errorMessage !== undefined) failure.errorDetails = result.errorMessage;
    return failure;
  }
  const metadata: Record<string, string | number | boolean> = { version: result.version };
  if (result.variation !== null) metadata['variationIndex'] = result.variation;
  if (result.ruleId !== undefined) metadata['ruleId'] = result.ruleId;
  if (result.prerequisiteKey !== undefined) metadata['prerequisiteKey'] = result.prerequisiteKey;
  return {
    key: result.key,
    value: result.value,
    reason: result.reason,
    // OFREP variants are strings: the variation's name, else its index.
    variant: result.variationName ?? String(result.variation),
    metadata,
  };
}

/** HTTP status of a single-flag OFREP answer: 404 for an unknown flag, 400 for other failures. */
export function ofrepStatus(answer: OfrepSuccess | OfrepFailure): number {
  if (!('errorCode' in answer)) return 200;
  return answer.errorCode === 'FLAG_NOT_FOUND' ? 404 : 400;
}

/** Equal as far as a client can tell (results are rebuilt by every compile, so not by identity). */
export function sameResult(a: EvaluationResult, b: EvaluationResult): boolean {
  if (a === b) return true;
  return (
    a.key === b.key &&
    a.variation === b.variation &&
    a.reason === b.reason &&
    a.errorCode === b.errorCode &&
    (a.value === b.value || JSON.stringify(a.value) === JSON.stringify(b.value))
  );
}

export function sameResults(a: readonly EvaluationResult[], b: readonly EvaluationResult[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!sameResult(a[i]!, b[i]!)) return false;
  return true;
}
