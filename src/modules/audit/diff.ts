import diff from 'microdiff';
import type { Clause, Prerequisite, Serve, Target } from '../../evaluation/index.js';

/**
 * What an audit entry's before and after say changed, as lines a person reads:
 * "turned on", "rule 2: clause country in [DE] → [DE, FR]", "default: variation 0 → rollout 0: 50%, 1: 50%".
 * Targeting (a flag's state, a segment) is compared as targeting: rules by their id, numbered as
 * the console shows them (from 1), clauses and serves in their own words. Anything else is
 * compared field by field.
 */
type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function value(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.map(value).join(', ')}]`;
  return JSON.stringify(v) ?? 'nothing';
}

function clause(c: Clause): string {
  if (c.op === 'segmentMatch') return `${c.negate ? 'not ' : ''}in segment ${value(c.values)}`;
  return `${c.negate ? 'not ' : ''}${c.attribute} ${c.op} ${value(c.values)}`;
}

function serve(s: Serve | undefined): string {
  if (!s) return 'nothing';
  if ('variation' in s) return `variation ${s.variation}`;
  const parts = s.rollout.variations.map((v) => `${v.variation}: ${v.weight / 1000}%`).join(', ');
  return `rollout ${parts}${s.rollout.bucketBy && s.rollout.bucketBy !== 'key' ? ` by ${s.rollout.bucketBy}` : ''}`;
}

interface AnyRule {
  id: string;
  clauses: Clause[];
  serve?: Serve;
  description?: string;
}

function rule(r: AnyRule): string {
  const when = r.clauses.length > 0 ? r.clauses.map(clause).join(' and ') : 'everyone';
  return `${r.description ? `"${r.description}" ` : ''}${when}${r.serve ? ` → serve ${serve(r.serve)}` : ''}`;
}

function clauseChanges(label: string, before: Clause[], after: Clause[]): string[] {
  const lines: string[] = [];
  for (let i = 0; i < Math.max(before.length, after.length); i++) {
    const was = before[i];
    const now = after[i];
    if (!was) lines.push(`${label}: clause added: ${clause(now!)}`);
    else if (!now) lines.push(`${label}: clause removed: ${clause(was)}`);
    else if (same(was, now)) continue;
    else if (was.attribute === now.attribute && was.op === now.op && !!was.negate === !!now.negate)
      lines.push(`${label}: clause ${clause(was)} → ${value(now.values)}`);
    else lines.push(`${label}: clause ${clause(was)} → ${clause(now)}`);
  }
  return lines;
}

function ruleChanges(before: AnyRule[], after: AnyRule[]): string[] {
  const lines: string[] = [];
  const was = new Map(before.map((r, i) => [r.id, { rule: r, at: i }]));
  const kept = new Set<string>();
  after.forEach((now, i) => {
    const label = `rule ${i + 1}`;
    const old = was.get(now.id);
    if (!old) {
      lines.push(`${label} added: ${rule(now)}`);
      return;
    }
    kept.add(now.id);
    if (old.at !== i) lines.push(`${label} (was rule ${old.at + 1}) moved`);
    if ((old.rule.description ?? '') !== (now.description ?? ''))
      lines.push(`${label}: description ${value(old.rule.description ?? '')} → ${value(now.description ?? '')}`);
    lines.push(...clauseChanges(label, old.rule.clauses, now.clauses));
    if (!same(old.rule.serve, now.serve)) lines.push(`${label}: serve ${serve(old.rule.serve)} → ${serve(now.serve)}`);
  });
  before.forEach((old, i) => {
    if (!kept.has(old.id)) lines.push(`rule ${i + 1} removed: ${rule(old)}`);
  });
  return lines;
}

function targetChanges(before: Target[], after: Target[]): string[] {
  const variations = [...new Set([...before, ...after].map((t) => t.variation))].sort((a, b) => a - b);
  const valuesOf = (targets: Target[], variation: number) =>
    targets.filter((t) => t.variation === variation).flatMap((t) => t.values);
  return variations.flatMap((v) => {
    const was = valuesOf(before, v);
    const now = valuesOf(after, v);
    return same(was, now) ? [] : [`targets of variation ${v}: ${value(was)} → ${value(now)}`];
  });
}

const prerequisite = (p: Prerequisite) => `${p.key} is variation ${p.variation}`;

/** Targeting fields, in the order the console shows them, each in its own words. */
const TARGETING: Record<string, (before: never, after: never) => string[]> = {
  on: (_was: boolean, now: boolean) => [now ? 'turned on' : 'turned off'],
  offVariation: (was: number, now: number) => [`off variation: ${was} → ${now}`],
  targets: (was: Target[], now: Target[]) => targetChanges(was ?? [], now ?? []),
  included: (was: string[], now: string[]) => [`included: ${value(was ?? [])} → ${value(now ?? [])}`],
  excluded: (was: string[], now: string[]) => [`excluded: ${value(was ?? [])} → ${value(now ?? [])}`],
  rules: (was: AnyRule[], now: AnyRule[]) => ruleChanges(was ?? [], now ?? []),
  fallthrough: (was: Serve, now: Serve) => [`default: ${serve(was)} → ${serve(now)}`],
  prerequisites: (was: Prerequisite[], now: Prerequisite[]) => [
    `prerequisites: ${value((was ?? []).map(prerequisite))} → ${value((now ?? []).map(prerequisite))}`,
  ],
};

/** Keys that are bookkeeping, not content: a version moves with every change. */
const IGNORED = new Set(['version', 'updatedAt']);

function path(parts: (string | number)[]): string {
  return parts.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

export function describeChanges(before: unknown, after: unknown): string[] {
  if (!isObject(before) || !isObject(after)) {
    if (before === undefined && after !== undefined) return [`set to ${value(after)}`];
    if (after === undefined && before !== undefined) return [`removed (was ${value(before)})`];
    return same(before, after) ? [] : [`${value(before)} → ${value(after)}`];
  }
  const lines: string[] = [];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  for (const key of keys) {
    if (IGNORED.has(key) || same(before[key], after[key])) continue;
    const describe = TARGETING[key];
    if (describe) {
      lines.push(...describe(before[key] as never, after[key] as never));
      continue;
    }
    for (const change of diff({ [key]: before[key] }, { [key]: after[key] })) {
      const at = path(change.path);
      if (change.type === 'CREATE') lines.push(`${at}: set to ${value(change.value)}`);
      else if (change.type === 'REMOVE') lines.push(`${at}: removed (was ${value(change.oldValue)})`);
      else lines.push(`${at}: ${value(change.oldValue)} → ${value(change.value)}`);
    }
  }
  return lines;
}

/**
 * The readable changes of an audit entry's details: its `before` and `after`, or, for a change
 * that reached several environments, each environment's (prefixed with the environment's key).
 */
export function describeDetails(details: Record<string, unknown>): string[] {
  if ('before' in details || 'after' in details) return describeChanges(details.before, details.after);
  const environments = details.environments;
  if (!isObject(environments)) return [];
  return Object.entries(environments).flatMap(([key, change]) =>
    isObject(change) ? describeChanges(change.before, change.after).map((line) => `${key}: ${line}`) : [],
  );
}
