// Validation of flag definitions, flag states and segments. Each validator returns a list of
// problems (empty = valid); none throws. Paths are relative to the validated object.

import {
  MAX_CLAUSES_PER_RULE,
  MAX_PREREQUISITES,
  MAX_RULES,
  MAX_SEGMENT_KEYS,
  MAX_TARGET_KEYS,
  MAX_VALUES_PER_CLAUSE,
  ROLLOUT_TOTAL_WEIGHT,
} from './limits.js';
import type {
  Clause,
  EnvironmentData,
  FlagDefinition,
  FlagEnvState,
  FlagKind,
  Problem,
  Segment,
  Serve,
} from './types.js';
import { FLAG_KINDS, OPERATORS } from './types.js';
import { parseDate, parseSemver, regexProblem } from './values.js';

/** What a flag state is validated against: the rest of its environment. */
export interface StateValidationContext {
  /** Keys of the segments of the flag's project. */
  segmentKeys: ReadonlySet<string>;
  /** Every flag of the project that may be a prerequisite. */
  flags: ReadonlyMap<string, { kind?: FlagKind; variationsCount: number }>;
  /** Prerequisite keys of each flag in this environment; the validated flag's own entry is replaced. */
  prerequisiteGraph: ReadonlyMap<string, readonly string[]>;
}

const isInteger = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n);

function isJsonValue(value: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((v) => isJsonValue(v, depth + 1));
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return false;
    return Object.values(value).every((v) => isJsonValue(v, depth + 1));
  }
  return false;
}

function valueMatchesKind(kind: FlagKind, value: unknown): boolean {
  switch (kind) {
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'json':
      return isJsonValue(value);
  }
}

export function validateFlagDefinition(def: FlagDefinition): Problem[] {
  const problems: Problem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  if (typeof def.key !== 'string' || def.key.length === 0) add('key', 'key must be a non-empty string');
  const kindKnown = FLAG_KINDS.includes(def.kind);
  if (!kindKnown) add('kind', `kind must be one of ${FLAG_KINDS.join(', ')}`);
  if (!Array.isArray(def.variations) || def.variations.length === 0) {
    add('variations', 'a flag needs at least one variation');
  } else {
    if (def.kind === 'boolean' && def.variations.length !== 2)
      add('variations', 'a boolean flag has exactly 2 variations');
    def.variations.forEach((v, i) => {
      if (kindKnown && !valueMatchesKind(def.kind, v?.value))
        add(`variations[${i}].value`, `value is not a valid ${def.kind}`);
      if (v?.name !== undefined && typeof v.name !== 'string') add(`variations[${i}].name`, 'name must be a string');
    });
  }
  if (typeof def.clientSideAvailable !== 'boolean') add('clientSideAvailable', 'clientSideAvailable must be a boolean');
  if (def.tags !== undefined && !(Array.isArray(def.tags) && def.tags.every((t) => typeof t === 'string'))) {
    add('tags', 'tags must be an array of strings');
  }
  if (def.temporary !== undefined && typeof def.temporary !== 'boolean')
    add('temporary', 'temporary must be a boolean');
  if (def.salt !== undefined && typeof def.salt !== 'string') add('salt', 'salt must be a string');
  return problems;
}

function validateClauseValues(clause: Clause, path: string, add: (path: string, message: string) => void): void {
  clause.values.forEach((value, i) => {
    const at = `${path}.values[${i}]`;
    switch (clause.op) {
      case 'in':
      case 'notIn':
        if (!['string', 'number', 'boolean'].includes(typeof value))
          add(at, 'value must be a string, number or boolean');
        break;
      case 'contains':
      case 'startsWith':
      case 'endsWith':
      case 'segmentMatch':
        if (typeof value !== 'string') add(at, 'value must be a string');
        break;
      case 'matches': {
        const problem = regexProblem(value);
        if (problem !== null) add(at, problem);
        break;
      }
      case 'lt':
      case 'lte':
      case 'gt':
      case 'gte':
        if (typeof value !== 'number' || !Number.isFinite(value)) add(at, 'value must be a finite number');
        break;
      case 'semverEq':
      case 'semverLt':
      case 'semverGt':
        if (parseSemver(value) === null) add(at, 'value must be a semantic version (e.g. 1.2.3)');
        break;
      case 'before':
      case 'after':
        if (parseDate(value) === null)
          add(at, 'value must be an RFC 3339 date-time, a YYYY-MM-DD date or epoch milliseconds');
        break;
    }
  });
}

/** Clauses of a flag rule (segmentKeys given) or of a segment rule (segmentKeys null: no segmentMatch). */
function validateClauses(
  clauses: Clause[],
  path: string,
  segmentKeys: ReadonlySet<string> | null,
  add: (path: string, message: string) => void,
): void {
  if (!Array.isArray(clauses)) {
    add(`${path}.clauses`, 'clauses must be an array');
    return;
  }
  if (clauses.length > MAX_CLAUSES_PER_RULE) add(`${path}.clauses`, `at most ${MAX_CLAUSES_PER_RULE} clauses per rule`);
  clauses.forEach((clause, i) => {
    const at = `${path}.clauses[${i}]`;
    if (!OPERATORS.includes(clause.op)) {
      add(`${at}.op`, `unknown operator "${String(clause.op)}"`);
      return;
    }
    if (clause.op !== 'segmentMatch' && (typeof clause.attribute !== 'string' || clause.attribute.length === 0)) {
      add(`${at}.attribute`, 'attribute must be a non-empty string');
    }
    if (clause.negate !== undefined && typeof clause.negate !== 'boolean')
      add(`${at}.negate`, 'negate must be a boolean');
    if (!Array.isArray(clause.values) || clause.values.length === 0) {
      add(`${at}.values`, 'a clause needs at least one value');
      return;
    }
    if (clause.values.length > MAX_VALUES_PER_CLAUSE)
      add(`${at}.values`, `at most ${MAX_VALUES_PER_CLAUSE} values per clause`);
    validateClauseValues(clause, at, add);
    if (clause.op === 'segmentMatch') {
      if (segmentKeys === null) {
        add(`${at}.op`, 'segmentMatch is not allowed inside a segment');
        return;
      }
      clause.values.forEach((key, j) => {
        if (typeof key === 'string' && !segmentKeys.has(key)) add(`${at}.values[${j}]`, `unknown segment "${key}"`);
      });
    }
  });
}

function checkRuleIds(rules: { id: string }[], path: string, add: (path: string, message: string) => void): void {
  const seen = new Set<string>();
  rules.forEach((rule, i) => {
    if (typeof rule.id !== 'string' || rule.id.length === 0)
      add(`${path}[${i}].id`, 'rule id must be a non-empty string');
    else if (seen.has(rule.id)) add(`${path}[${i}].id`, `duplicate rule id "${rule.id}"`);
    else seen.add(rule.id);
  });
}

function validateServe(
  serve: Serve,
  path: string,
  variationsCount: number,
  add: (path: string, message: string) => void,
): void {
  const inRange = (n: unknown) => isInteger(n) && n >= 0 && n < variationsCount;
  if (typeof serve !== 'object' || serve === null) {
    add(path, 'serve must be { variation } or { rollout }');
    return;
  }
  if ('rollout' in serve) {
    const { rollout } = serve;
    if (!Array.isArray(rollout?.variations) || rollout.variations.length === 0) {
      add(`${path}.rollout.variations`, 'a rollout needs at least one weighted variation');
      return;
    }
    let total = 0;
    rollout.variations.forEach((wv, i) => {
      if (!inRange(wv.variation))
        add(`${path}.rollout.variations[${i}].variation`, `variation index ${String(wv.variation)} out of range`);
      if (!isInteger(wv.weight) || wv.weight < 0)
        add(`${path}.rollout.variations[${i}].weight`, 'weight must be an integer ≥ 0');
      else total += wv.weight;
    });
    if (total !== ROLLOUT_TOTAL_WEIGHT)
      add(`${path}.rollout.variations`, `weights sum to ${total}, not ${ROLLOUT_TOTAL_WEIGHT}`);
    if (rollout.bucketBy !== undefined && (typeof rollout.bucketBy !== 'string' || rollout.bucketBy.length === 0)) {
      add(`${path}.rollout.bucketBy`, 'bucketBy must be a non-empty string');
    }
    if (rollout.salt !== undefined && typeof rollout.salt !== 'string')
      add(`${path}.rollout.salt`, 'salt must be a string');
  } else if (!inRange(serve.variation)) {
    add(`${path}.variation`, `variation index ${String(serve.variation)} out of range`);
  }
}

/**
 * The first prerequisite cycle reachable from `from` (or anywhere when omitted), as the list of
 * keys walked, first key repeated at the end (`['a', 'b', 'a']`; a self-loop is `['a', 'a']`).
 */
export function findPrerequisiteCycle(graph: ReadonlyMap<string, readonly string[]>, from?: string): string[] | null {
  const done = new Set<string>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const visit = (key: string): string[] | null => {
    if (onStack.has(key)) return [...stack.slice(stack.indexOf(key)), key];
    if (done.has(key)) return null;
    stack.push(key);
    onStack.add(key);
    for (const next of graph.get(key) ?? []) {
      const cycle = visit(next);
      if (cycle !== null) return cycle;
    }
    stack.pop();
    onStack.delete(key);
    done.add(key);
    return null;
  };
  for (const key of from === undefined ? graph.keys() : [from]) {
    const cycle = visit(key);
    if (cycle !== null) return cycle;
  }
  return null;
}

export function validateFlagState(def: FlagDefinition, state: FlagEnvState, ctx: StateValidationContext): Problem[] {
  const problems: Problem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  const count = Array.isArray(def.variations) ? def.variations.length : 0;
  const inRange = (n: unknown) => isInteger(n) && n >= 0 && n < count;
  if (typeof state.on !== 'boolean') add('on', 'on must be a boolean');
  if (!inRange(state.offVariation)) add('offVariation', `variation index ${String(state.offVariation)} out of range`);
  if (!isInteger(state.version) || state.version < 0) add('version', 'version must be an integer ≥ 0');

  let targetKeys = 0;
  (state.targets ?? []).forEach((target, i) => {
    if (!inRange(target.variation))
      add(`targets[${i}].variation`, `variation index ${String(target.variation)} out of range`);
    if (!Array.isArray(target.values) || !target.values.every((v) => typeof v === 'string')) {
      add(`targets[${i}].values`, 'target values must be an array of context keys (strings)');
    } else {
      targetKeys += target.values.length;
    }
  });
  if (targetKeys > MAX_TARGET_KEYS)
    add('targets', `at most ${MAX_TARGET_KEYS} target keys per flag (got ${targetKeys})`);

  const rules = Array.isArray(state.rules) ? state.rules : [];
  if (rules.length > MAX_RULES) add('rules', `at most ${MAX_RULES} rules per flag`);
  checkRuleIds(rules, 'rules', add);
  rules.forEach((rule, i) => {
    validateClauses(rule.clauses, `rules[${i}]`, ctx.segmentKeys, add);
    validateServe(rule.serve, `rules[${i}].serve`, count, add);
  });
  validateServe(state.fallthrough, 'fallthrough', count, add);

  const prerequisites = Array.isArray(state.prerequisites) ? state.prerequisites : [];
  if (prerequisites.length > MAX_PREREQUISITES)
    add('prerequisites', `at most ${MAX_PREREQUISITES} prerequisites per flag`);
  const seen = new Set<string>();
  prerequisites.forEach((p, i) => {
    const at = `prerequisites[${i}]`;
    if (p.key === def.key) {
      add(`${at}.key`, 'a flag cannot be its own prerequisite');
      return;
    }
    if (seen.has(p.key)) add(`${at}.key`, `duplicate prerequisite "${p.key}"`);
    seen.add(p.key);
    const other = ctx.flags.get(p.key);
    if (other === undefined) {
      add(`${at}.key`, `unknown flag "${p.key}"`);
      return;
    }
    if (!isInteger(p.variation) || p.variation < 0 || p.variation >= other.variationsCount) {
      add(`${at}.variation`, `variation index ${String(p.variation)} out of range for flag "${p.key}"`);
    }
  });
  const graph = new Map(ctx.prerequisiteGraph);
  graph.set(
    def.key,
    prerequisites.map((p) => p.key),
  );
  const cycle = findPrerequisiteCycle(graph, def.key);
  // A self-loop of this flag is already reported above.
  if (cycle !== null && !(cycle.length === 2 && cycle[0] === def.key))
    add('prerequisites', `prerequisite cycle: ${cycle.join(' → ')}`);
  return problems;
}

export function validateSegment(segment: Segment): Problem[] {
  const problems: Problem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  if (typeof segment.key !== 'string' || segment.key.length === 0) add('key', 'key must be a non-empty string');
  for (const field of ['included', 'excluded'] as const) {
    const keys = segment[field];
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string'))
      add(field, `${field} must be an array of strings`);
    else if (keys.length > MAX_SEGMENT_KEYS) add(field, `at most ${MAX_SEGMENT_KEYS} keys`);
  }
  const rules = Array.isArray(segment.rules) ? segment.rules : [];
  if (rules.length > MAX_RULES) add('rules', `at most ${MAX_RULES} rules per segment`);
  checkRuleIds(rules, 'rules', add);
  for (const [i, rule] of rules.entries()) validateClauses(rule.clauses, `rules[${i}]`, null, add);
  return problems;
}

/** Everything above over a whole environment snapshot; paths start at the environment. */
export function validateEnvironment(data: EnvironmentData): Problem[] {
  const problems: Problem[] = [];
  const prefixed = (prefix: string, list: Problem[]) => {
    for (const p of list) problems.push({ path: `${prefix}.${p.path}`, message: p.message });
  };
  const segmentKeys = new Set<string>();
  data.segments.forEach((segment, i) => {
    if (segmentKeys.has(segment.key))
      problems.push({ path: `segments[${i}].key`, message: `duplicate segment "${segment.key}"` });
    segmentKeys.add(segment.key);
    prefixed(`segments[${i}]`, validateSegment(segment));
  });
  const flags = new Map<string, { kind: FlagKind; variationsCount: number }>();
  const prerequisiteGraph = new Map<string, string[]>();
  data.flags.forEach(({ definition, state }, i) => {
    if (flags.has(definition.key))
      problems.push({ path: `flags[${i}].definition.key`, message: `duplicate flag "${definition.key}"` });
    flags.set(definition.key, { kind: definition.kind, variationsCount: definition.variations?.length ?? 0 });
    prerequisiteGraph.set(
      definition.key,
      (state.prerequisites ?? []).map((p) => p.key),
    );
  });
  data.flags.forEach(({ definition, state }, i) => {
    prefixed(`flags[${i}].definition`, validateFlagDefinition(definition));
    prefixed(`flags[${i}].state`, validateFlagState(definition, state, { segmentKeys, flags, prerequisiteGraph }));
  });
  return problems;
}
