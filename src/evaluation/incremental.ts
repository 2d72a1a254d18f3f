// Incremental compilation: a change that names its flags and segments costs what it names (and
// what depends on it), not the environment. The result shares every untouched compiled flag with
// the previous environment and equals what compileEnvironment makes of the new data.

import {
  type CompiledEnvironment,
  type CompiledFlag,
  type CompiledSegment,
  compileFlag,
  compileSegment,
} from './compile.js';
import type { EnvironmentData, FlagConfig, Segment } from './types.js';

/** What a change left of the flags and segments it names: the current value, or null when gone. */
export interface EnvironmentChange {
  version: number;
  flags: ReadonlyMap<string, FlagConfig | null>;
  segments: ReadonlyMap<string, Segment | null>;
}

export interface AppliedChange {
  data: EnvironmentData;
  compiled: CompiledEnvironment;
  /** Flags whose evaluation may differ: the named ones, those on a changed segment, their dependents. */
  affected: ReadonlySet<string>;
}

/**
 * Who depends on what, as a superset: a flag stays listed under a segment or a prerequisite it no
 * longer names until the next full compile, which only costs it a needless recompile. Being a
 * superset, one index serves every later version of the environment, growing as flags compile.
 */
interface Dependents {
  bySegment: Map<string, Set<string>>;
  byPrerequisite: Map<string, Set<string>>;
}

const dependentsOf = new WeakMap<CompiledEnvironment, Dependents>();

/** Where each flag sits in an environment's flagList (and its data's flags, in the same order). */
const positions = new WeakMap<CompiledEnvironment, ReadonlyMap<string, number>>();

function positionsOf(env: CompiledEnvironment): ReadonlyMap<string, number> {
  let known = positions.get(env);
  if (known === undefined) positions.set(env, (known = new Map(env.flagList.map((f, i) => [f.key, i]))));
  return known;
}

function addEdge(map: Map<string, Set<string>>, from: string, to: string): void {
  let set = map.get(from);
  if (set === undefined) map.set(from, (set = new Set()));
  set.add(to);
}

/** Records what `config` refers to: its segments (from the raw rules, known or not) and prerequisites. */
function index(dependents: Dependents, config: FlagConfig): void {
  const { key } = config.definition;
  for (const rule of config.state.rules ?? []) {
    for (const clause of rule.clauses ?? []) {
      if (clause.op !== 'segmentMatch' || !Array.isArray(clause.values)) continue;
      for (const value of clause.values) addEdge(dependents.bySegment, String(value), key);
    }
  }
  for (const prerequisite of config.state.prerequisites ?? [])
    addEdge(dependents.byPrerequisite, prerequisite.key, key);
}

function dependentsFor(env: CompiledEnvironment): Dependents {
  let known = dependentsOf.get(env);
  if (known === undefined) {
    known = { bySegment: new Map(), byPrerequisite: new Map() };
    for (const flag of env.flagList) index(known, { definition: flag.definition, state: flag.state });
    dependentsOf.set(env, known);
  }
  return known;
}

const REMOVED: unique symbol = Symbol('removed');

/**
 * A map that is another map plus a small layer of changes: copying the 10,000 entries of a
 * large environment's flag map for every change cost more than the rest of the change. Lookups
 * ask the layer, then the base (two Map lookups); each version carries its own layer (the
 * previous one's, plus what changed), flattened into a new base once it grows past a fraction
 * of the base. Immutable, like the maps it replaces.
 */
class LayeredMap<K, V> implements ReadonlyMap<K, V> {
  constructor(
    private readonly base: ReadonlyMap<K, V>,
    private readonly layer: ReadonlyMap<K, V | typeof REMOVED>,
    readonly size: number,
  ) {}

  /** `map` with `changes` applied (null removes); shares `map`'s entries. */
  static of<K, V>(map: ReadonlyMap<K, V>, changes: ReadonlyMap<K, V | null>): ReadonlyMap<K, V> {
    if (changes.size === 0) return map;
    const base = map instanceof LayeredMap ? (map.base as ReadonlyMap<K, V>) : map;
    const layer = new Map<K, V | typeof REMOVED>(map instanceof LayeredMap ? map.layer : undefined);
    let size = map.size;
    for (const [key, value] of changes) {
      const had = map.has(key);
      if (value === null) {
        if (had) size--;
        if (base.has(key)) layer.set(key, REMOVED);
        else layer.delete(key);
      } else {
        if (!had) size++;
        layer.set(key, value);
      }
    }
    const next = new LayeredMap<K, V>(base, layer, size);
    return layer.size > Math.max(64, base.size / 8) ? new Map(next) : next;
  }

  get(key: K): V | undefined {
    const value = this.layer.get(key);
    if (value !== undefined) return value === REMOVED ? undefined : value;
    return this.base.get(key);
  }

  has(key: K): boolean {
    const value = this.layer.get(key);
    return value !== undefined ? value !== REMOVED : this.base.has(key);
  }

  *entries(): MapIterator<[K, V]> {
    for (const entry of this.base) if (!this.layer.has(entry[0])) yield entry;
    for (const [key, value] of this.layer) if (value !== REMOVED) yield [key, value];
  }

  *keys(): MapIterator<K> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }
}

const byKey = <T>(key: (item: T) => string) => {
  return (a: T, b: T) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
};

/**
 * `list` (sorted by key) with the keys of `changes` replaced, removed (null) or inserted in key
 * order. Unchanged items are kept as they are.
 */
function merged<T>(list: readonly T[], keyOf: (item: T) => string, changes: ReadonlyMap<string, T | null>): T[] {
  if (changes.size === 0) return list as T[];
  const out: T[] = [];
  const seen = new Set<string>();
  for (const item of list) {
    const key = keyOf(item);
    if (!changes.has(key)) {
      out.push(item);
      continue;
    }
    seen.add(key);
    const next = changes.get(key);
    if (next !== null && next !== undefined) out.push(next);
  }
  const added = [...changes].filter(([key, item]) => item !== null && !seen.has(key)).map(([, item]) => item as T);
  if (added.length === 0) return out;
  // Few insertions: place each by binary search rather than sorting the whole list again.
  const compare = byKey(keyOf);
  for (const item of added.sort(compare)) {
    let lo = 0;
    let hi = out.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(out[mid]!, item) < 0) lo = mid + 1;
      else hi = mid;
    }
    out.splice(lo, 0, item);
  }
  return out;
}

/**
 * Applies a change to an environment whose flags and segments are sorted by key (as the snapshot
 * source reads them). Flags named by the change are recompiled, and so are flags with a
 * segmentMatch on a changed segment; flags whose prerequisites were replaced (transitively) get
 * new links; every other compiled flag is shared with `compiled`.
 */
export function applyEnvironmentChange(
  data: EnvironmentData,
  compiled: CompiledEnvironment,
  change: EnvironmentChange,
): AppliedChange {
  const dependents = dependentsFor(compiled);

  // Segments: replaced wholesale by key; the compiled map is copied only when one changed.
  let segments = compiled.segments;
  const flagsToCompile = new Map<string, FlagConfig>();
  if (change.segments.size > 0) {
    const next = new Map(compiled.segments);
    for (const [key, segment] of change.segments) {
      if (segment === null) next.delete(key);
      else next.set(key, compileSegment(segment));
      for (const flagKey of dependents.bySegment.get(key) ?? []) {
        const flag = compiled.flags.get(flagKey);
        if (flag) flagsToCompile.set(flagKey, { definition: flag.definition, state: flag.state });
      }
    }
    segments = next as ReadonlyMap<string, CompiledSegment>;
  }
  const removed = new Set<string>(); // flags the change removed from the environment
  for (const [key, config] of change.flags) {
    if (config === null) {
      flagsToCompile.delete(key);
      if (compiled.flags.has(key)) removed.add(key);
    } else flagsToCompile.set(key, config);
  }

  // What changed, by key (null: gone); the environment's flag map is that on top of the old one.
  const replaced = new Map<string, CompiledFlag | null>();
  for (const key of removed) replaced.set(key, null);
  for (const [key, config] of flagsToCompile) {
    replaced.set(key, compileFlag(config.definition, config.state, segments));
    index(dependents, config);
  }
  const current = (key: string) => (replaced.has(key) ? (replaced.get(key) ?? undefined) : compiled.flags.get(key));
  // Every flag whose prerequisite chain reaches a replaced flag needs new links: a shallow copy,
  // since the previous environment's flags must keep pointing where they did.
  const relink = [...replaced.keys()];
  for (let i = 0; i < relink.length; i++) {
    for (const dependent of dependents.byPrerequisite.get(relink[i]!) ?? []) {
      if (replaced.has(dependent)) continue;
      const flag = compiled.flags.get(dependent);
      if (flag === undefined) continue;
      replaced.set(dependent, { ...flag, prerequisites: flag.prerequisites.map((p) => ({ ...p })) });
      relink.push(dependent);
    }
  }
  for (const flag of replaced.values()) {
    if (flag === null) continue;
    for (const prerequisite of flag.prerequisites) prerequisite.flag = current(prerequisite.key) ?? null;
  }
  const flags = LayeredMap.of(compiled.flags, replaced);

  // When no flag came or went, every list keeps its order: the changed entries are replaced in
  // copies by position (kept per environment, carried to the next) instead of merged by key.
  const sameFlags = [...replaced].every(([key, flag]) => flag !== null && compiled.flags.has(key));
  const at = sameFlags && data.flags.length === compiled.flagList.length ? positionsOf(compiled) : null;
  let flagList: CompiledFlag[];
  let dataFlags: FlagConfig[];
  if (at) {
    flagList = compiled.flagList.slice();
    for (const [key, flag] of replaced) flagList[at.get(key)!] = flag!;
    dataFlags = data.flags.slice();
    // (A null here names a flag that was not there: gone before, still gone.)
    for (const [key, config] of change.flags) if (config !== null) dataFlags[at.get(key)!] = config;
  } else {
    flagList = merged(compiled.flagList, (f) => f.key, replaced);
    dataFlags = merged(data.flags, (f) => f.definition.key, change.flags);
  }
  const next: CompiledEnvironment = { version: change.version, flags, flagList, segments };
  dependentsOf.set(next, dependents);
  if (at) positions.set(next, at);
  return {
    data: {
      version: change.version,
      flags: dataFlags,
      segments: merged(data.segments, (s) => s.key, change.segments),
    },
    compiled: next,
    affected: new Set(replaced.keys()),
  };
}
