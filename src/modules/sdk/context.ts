import { jsonValueProblem } from '../../common/json.js';
import { ValidationError } from '../../errors.js';
import type { EvaluationContext } from '../../evaluation/index.js';

/**
 * Evaluation contexts as SDKs send them, checked at the door so that a malformed one is a 400
 * rather than an INVALID_CONTEXT result: a plain JSON object whose `key` and `kind`, when
 * present, are strings, within the JSON limits of every SDK door (docs/evaluation.md, "Context").
 */
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;
const MAX_QUERY_CONTEXT = 8192;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function shapeProblem(value: unknown, keyName: string): string | null {
  if (!isPlainObject(value)) return 'context must be a JSON object';
  const key = value[keyName];
  if (key !== undefined && key !== null && typeof key !== 'string') return `context.${keyName} must be a string`;
  const kind = value['kind'];
  if (kind !== undefined && kind !== null && typeof kind !== 'string') return 'context.kind must be a string';
  return null;
}

/** Why `value` is not a usable context, or null when it is. */
export function contextProblem(value: unknown, keyName = 'key'): string | null {
  return shapeProblem(value, keyName) ?? jsonValueProblem(value, 'context');
}

/** The context of a REST body (`context` is optional: no context evaluates as an anonymous subject). */
export function bodyContext(value: unknown): EvaluationContext {
  if (value === undefined) return {};
  const problem = contextProblem(value);
  if (problem) throw new ValidationError(problem);
  return value as EvaluationContext;
}

/**
 * The context of `GET /v1/client/:envKey/flags`: `?context=<base64url JSON object>` or, for the
 * common case, `?key=<context key>`. Both at once is ambiguous and refused.
 */
export function queryContext(query: { context?: string; key?: string }): EvaluationContext {
  if (query.context !== undefined) {
    if (query.key !== undefined) throw new ValidationError('give either "context" or "key", not both');
    const raw = query.context;
    if (raw.length > MAX_QUERY_CONTEXT || !BASE64URL.test(raw))
      throw new ValidationError('query "context" is not base64url');
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    } catch {
      throw new ValidationError('query "context" is not base64url-encoded JSON');
    }
    return bodyContext(parsed);
  }
  if (query.key === undefined) return {};
  const problem = jsonValueProblem(query.key, 'query "key"');
  if (problem) throw new ValidationError(problem);
  return { key: query.key };
}

/**
 * An OpenFeature evaluation context as the engine's context: `targetingKey` becomes `key` (it
 * wins over an attribute named `key`). Returns the problem as a string for the OFREP error body.
 */
export function openFeatureContext(value: unknown): EvaluationContext | string {
  if (value === undefined || value === null) return {};
  const problem = contextProblem(value, 'targetingKey');
  if (problem) return problem.replace('context.targetingKey', 'targetingKey');
  const { targetingKey, ...attributes } = value as Record<string, unknown>;
  if (typeof targetingKey === 'string') attributes['key'] = targetingKey;
  return shapeProblem(attributes, 'key') ?? (attributes as EvaluationContext);
}
