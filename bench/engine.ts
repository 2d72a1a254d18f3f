// In-process evaluation throughput: the Vexil engine against @openfeature/flagd-core (JSON logic)
// on the same flag: 3 rules (in, semverGt, endsWith) and a 50/50 rollout fallthrough; the engine
// with its RE2 `matches` against the same engine with the ECMAScript RegExp it used before; the
// door's JSON limits on a context. Then the regular-expression engines themselves (benchRegex):
// cost growth on hostile patterns, and compile/match cost of RE2JS, re2-wasm and RegExp.
// Run alone: npx tsx bench/engine.ts

import { pathToFileURL } from 'node:url';
import type { Logger } from '@openfeature/core';
import { FlagdCore } from '@openfeature/flagd-core';
import { RE2 } from 're2-wasm';
import { RE2JS } from 're2js';
import { type CompiledEnvironment, OP_MATCHES } from '../src/evaluation/compile.js';
import type { EnvironmentData, FlagEnvState } from '../src/evaluation/index.js';
import { compileEnvironment, evaluate } from '../src/evaluation/index.js';
import { contextProblem } from '../src/modules/sdk/context.js';

export interface Row {
  name: string;
  opsPerSec: number;
  ratio?: number;
  baseline?: string;
}

const FLAG_KEY = 'new-checkout';
const CONTEXT_COUNT = 10000;
const ROUNDS = 7;
const ROUND_MS = 250;

/** An environment of one boolean flag (true, false): `rules`, then a 50/50 rollout. */
function oneFlag(key: string, rules: FlagEnvState['rules']): EnvironmentData {
  return {
    version: 1,
    segments: [],
    flags: [
      {
        definition: {
          key,
          kind: 'boolean',
          variations: [{ value: true }, { value: false }],
          clientSideAvailable: false,
        },
        state: {
          on: true,
          offVariation: 1,
          targets: [],
          prerequisites: [],
          version: 1,
          rules,
          fallthrough: {
            rollout: {
              variations: [
                { variation: 0, weight: 50000 },
                { variation: 1, weight: 50000 },
              ],
            },
          },
        },
      },
    ],
  };
}

const engineData = oneFlag(FLAG_KEY, [
  {
    id: 'countries',
    clauses: [{ attribute: 'country', op: 'in', values: ['US', 'CA', 'GB'] }],
    serve: { variation: 0 },
  },
  {
    id: 'recent-app',
    clauses: [{ attribute: 'appVersion', op: 'semverGt', values: ['2.0.0'] }],
    serve: { variation: 0 },
  },
  {
    id: 'staff',
    clauses: [{ attribute: 'email', op: 'endsWith', values: ['@example.com'] }],
    serve: { variation: 1 },
  },
]);

const flagdConfig = JSON.stringify({
  flags: {
    [FLAG_KEY]: {
      state: 'ENABLED',
      variants: { on: true, off: false },
      defaultVariant: 'off',
      targeting: {
        if: [
          { in: [{ var: 'country' }, ['US', 'CA', 'GB']] },
          'on',
          { sem_ver: [{ var: 'appVersion' }, '>', '2.0.0'] },
          'on',
          { ends_with: [{ var: 'email' }, '@example.com'] },
          'off',
          {
            fractional: [
              ['on', 50],
              ['off', 50],
            ],
          },
        ],
      },
    },
  },
});

// Two `matches` rules in the syntax common to RE2 and ECMAScript, so both engines run them.
const MATCH_FLAG = 'staff-preview';
const matchData = oneFlag(MATCH_FLAG, [
  {
    id: 'staff',
    clauses: [{ attribute: 'email', op: 'matches', values: ['@(example|corp)\\.(com|io)$'] }],
    serve: { variation: 0 },
  },
  {
    id: 'testers',
    clauses: [{ attribute: 'key', op: 'matches', values: ['^user-\\d*7$'] }],
    serve: { variation: 0 },
  },
]);

/** The same compiled environment with every `matches` pattern run by RegExp (`u` flag), as before RE2. */
function withRegExpMatches(data: EnvironmentData): CompiledEnvironment {
  const env = compileEnvironment(data);
  for (const flag of env.flagList) {
    for (const [i, rule] of flag.rules.entries()) {
      for (const [j, clause] of rule.clauses.entries()) {
        if (clause.op !== OP_MATCHES) continue;
        const values = flag.state.rules[i]?.clauses[j]?.values ?? [];
        clause.regexes = values.map((v) => new RegExp(String(v), 'u'));
      }
    }
  }
  return env;
}

const silent: Logger = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };

interface Subject {
  key: string;
  country: string;
  appVersion: string;
  email: string;
}

function subjects(): Subject[] {
  const countries = ['US', 'FR', 'DE', 'CA', 'JP', 'BR', 'GB', 'IN'];
  const domains = ['example.com', 'mail.test', 'corp.io', 'home.net'];
  return Array.from({ length: CONTEXT_COUNT }, (_, i) => ({
    key: `user-${i}`,
    country: countries[(i * 7) % countries.length] as string,
    appVersion: `${1 + (i % 3)}.${(i >> 2) % 10}.${i % 7}`,
    email: `u${i}@${domains[(i >> 3) % domains.length] as string}`,
  }));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Median ops/s over ROUNDS timed rounds (after one warm-up round) of cycling through `contexts`. */
function measure<C>(contexts: C[], run: (context: C) => unknown): number {
  let sink = 0;
  const round = (): number => {
    let ops = 0;
    const start = performance.now();
    let elapsed = 0;
    do {
      for (const context of contexts) if (run(context) === true) sink++;
      ops += contexts.length;
      elapsed = performance.now() - start;
    } while (elapsed < ROUND_MS);
    return (ops / elapsed) * 1000;
  };
  round();
  const rates: number[] = [];
  for (let i = 0; i < ROUNDS; i++) rates.push(round());
  if (sink < 0) console.log(sink); // keeps the results observable
  return median(rates);
}

export async function benchEngine(): Promise<Row[]> {
  const people = subjects();
  const engineContexts = people.map((p) => ({
    key: p.key,
    country: p.country,
    appVersion: p.appVersion,
    email: p.email,
  }));
  const flagdContexts = people.map((p) => ({
    targetingKey: p.key,
    country: p.country,
    appVersion: p.appVersion,
    email: p.email,
  }));

  const env = compileEnvironment(engineData);
  const flagd = new FlagdCore(undefined, silent);
  flagd.setConfigurations(flagdConfig);

  // Same work on both sides: rule outcomes must agree exactly; the rollouts (different hash inputs)
  // must both split the remaining contexts about evenly.
  let split = 0;
  let engineOn = 0;
  let flagdOn = 0;
  for (let i = 0; i < people.length; i++) {
    const mine = evaluate(env, FLAG_KEY, engineContexts[i]);
    const theirs = flagd.resolveBooleanEvaluation(FLAG_KEY, false, flagdContexts[i], silent);
    if (typeof mine.value !== 'boolean' || typeof theirs.value !== 'boolean')
      throw new Error(`non-boolean result for ${people[i]?.key}`);
    if (mine.reason === 'SPLIT') {
      split++;
      if (mine.value) engineOn++;
      if (theirs.value) flagdOn++;
    } else if (mine.value !== theirs.value) {
      throw new Error(
        `engine and flagd disagree on ${JSON.stringify(people[i])}: ${String(mine.value)} vs ${String(theirs.value)}`,
      );
    }
  }
  if (split < 1000 || Math.abs(engineOn / split - 0.5) > 0.05 || Math.abs(flagdOn / split - 0.5) > 0.05) {
    throw new Error(`rollouts do not split evenly: ${engineOn}/${split} vs ${flagdOn}/${split}`);
  }

  const re2Env = compileEnvironment(matchData);
  const regExpEnv = withRegExpMatches(matchData);
  let staff = 0;
  for (const context of engineContexts) {
    const mine = evaluate(re2Env, MATCH_FLAG, context);
    const before = evaluate(regExpEnv, MATCH_FLAG, context);
    if (mine.variation !== before.variation || mine.ruleId !== before.ruleId)
      throw new Error(`RE2 and RegExp disagree on ${JSON.stringify(context)}`);
    if (mine.ruleId !== undefined) staff++;
  }
  if (staff < 1000 || staff > CONTEXT_COUNT - 1000) throw new Error(`the matches rules matched ${staff} contexts`);

  const engineOps = measure(engineContexts, (c) => evaluate(env, FLAG_KEY, c).value);
  const flagdOps = measure(flagdContexts, (c) => flagd.resolveBooleanEvaluation(FLAG_KEY, false, c, silent).value);
  const re2Ops = measure(engineContexts, (c) => evaluate(re2Env, MATCH_FLAG, c).value);
  const regExpOps = measure(engineContexts, (c) => evaluate(regExpEnv, MATCH_FLAG, c).value);
  // What every SDK door adds before evaluating: the JSON limits on the context.
  const checkOps = measure(engineContexts, (c) => contextProblem(c) === null);
  return [
    {
      name: 'engine: 3 rules + 50/50 rollout',
      opsPerSec: Math.round(engineOps),
      ratio: engineOps / flagdOps,
      baseline: 'flagd-core',
    },
    { name: 'flagd-core: same flag as JSON logic', opsPerSec: Math.round(flagdOps) },
    {
      name: 'engine: 2 matches rules + rollout (RE2)',
      opsPerSec: Math.round(re2Ops),
      ratio: re2Ops / regExpOps,
      baseline: 'RegExp matches',
    },
    { name: 'engine: same flag, old RegExp matches', opsPerSec: Math.round(regExpOps) },
    {
      name: 'door: JSON limits of a 4-member context',
      opsPerSec: Math.round(checkOps),
      ratio: checkOps / engineOps,
      baseline: 'engine (3 rules)',
    },
  ];
}

// The hostile patterns, each with an input that makes a backtracking engine try every way
// to split it (the last character stops every attempt).
const HOSTILE: { pattern: string; input: (n: number) => string }[] = [
  { pattern: '(a|a)*$', input: (n) => `${'a'.repeat(n)}!` },
  { pattern: '(a|aa)+$', input: (n) => `${'a'.repeat(n)}!` },
  { pattern: '(\\w|\\d)*$', input: (n) => `${'1'.repeat(n)}!` },
  { pattern: '(.|a)*$', input: (n) => `${'a'.repeat(n)}\n` },
  { pattern: '([a-z]|[a-z0-9])*!', input: (n) => 'a'.repeat(n) },
];
// A pattern whose DFA has more states than RE2JS's cache holds: its worst case, on the NFA.
const DFA_HEAVY = { pattern: 'a[ab]{250}$', input: (n: number) => `${'ab'.repeat(n / 2 - 150)}${'b'.repeat(300)}` };
const NEW_SIZES = [1_000, 10_000, 100_000];
// Exponential: a few more characters multiply the time, so the old engine gets short inputs only.
const OLD_SIZES = [10, 14, 18];

export interface GrowthRow {
  engine: string;
  pattern: string;
  sizes: number[];
  msPerMatch: number[];
  /** Cost at the largest size over cost at the smallest. */
  growth: number;
}

/**
 * Milliseconds per call of `run`: the fastest of 5 rounds of at least 20 ms (after one warm-up
 * call), so that a round another process interrupted does not count.
 */
function msPerCall(run: () => unknown): number {
  run();
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    let calls = 0;
    const start = performance.now();
    let elapsed = 0;
    do {
      run();
      calls++;
      elapsed = performance.now() - start;
    } while (elapsed < 20);
    best = Math.min(best, elapsed / calls);
  }
  return best;
}

function growth(
  engine: string,
  pattern: string,
  sizes: number[],
  test: (input: string) => boolean,
  input: (n: number) => string,
): GrowthRow {
  const msPerMatch = sizes.map((n) => {
    const text = input(n);
    return msPerCall(() => test(text));
  });
  return { engine, pattern, sizes, msPerMatch, growth: (msPerMatch.at(-1) as number) / (msPerMatch[0] as number) };
}

// Patterns as flag authors write them, in the syntax both engines accept, and inputs for them.
const TYPICAL = [
  '@(example|corp)\\.(com|io)$',
  '^user-\\d*7$',
  '^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,63}$',
  '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
  '(Chrome|Firefox|Safari|Edg)/\\d+',
  '^(US|CA|GB|FR|DE)$',
  'beta|preview|canary',
  '^v?\\d+\\.\\d+\\.\\d+$',
];

export interface EngineRow {
  engine: string;
  compileUs: number;
  matchNs: number;
}

interface RegexEngine {
  name: string;
  compile(pattern: string): { test(input: string): boolean };
}

const ENGINES: RegexEngine[] = [
  { name: 're2js (RE2JS)', compile: (p) => RE2JS.compile(p) },
  { name: 're2-wasm (RE2 in WebAssembly)', compile: (p) => new RE2(p, 'u') },
  { name: 'RegExp (backtracking, before)', compile: (p) => new RegExp(p, 'u') },
];

function engineCost(engine: RegexEngine, inputs: string[]): EngineRow {
  // re2-wasm never frees a pattern, so compiles are counted sparingly (see heapLimit below).
  const rounds = 40;
  const start = performance.now();
  // V8 caches RegExps by source and compiles them at their first match: every round's sources
  // differ, and the cost includes one match.
  for (let r = 0; r < rounds; r++) for (const p of TYPICAL) engine.compile(`${p}|x{0}${r}`).test('user-1');
  const compileUs = ((performance.now() - start) * 1000) / (rounds * TYPICAL.length);
  const compiled = TYPICAL.map((p) => engine.compile(p));
  const perSecond = measure(inputs, (input) => {
    let hits = 0;
    for (const r of compiled) if (r.test(input)) hits++;
    return hits > 0;
  });
  return { engine: engine.name, compileUs, matchNs: 1e9 / (perSecond * compiled.length) };
}

/** How many small patterns re2-wasm compiles before its fixed 16 MB WebAssembly heap is exhausted. */
function re2WasmHeapLimit(): number {
  let compiled = 0;
  const write = process.stderr.write;
  process.stderr.write = () => true; // its abort() prints the error too
  try {
    for (; compiled < 100_000; compiled++) new RE2(`^user-${compiled}(a|b)+c$`, 'u').test('x');
  } catch {
    return compiled;
  } finally {
    process.stderr.write = write;
  }
  return Number.POSITIVE_INFINITY;
}

export interface RegexReport {
  growth: GrowthRow[];
  engines: EngineRow[];
  re2WasmPatternsBeforeAbort: number;
}

export function benchRegex(): RegexReport {
  const rows: GrowthRow[] = [];
  for (const { pattern, input } of HOSTILE) {
    const re2 = RE2JS.compile(pattern);
    const old = new RegExp(pattern, 'u');
    rows.push(growth('RE2JS (now)', pattern, NEW_SIZES, (s) => re2.test(s), input));
    rows.push(growth('RegExp (before)', pattern, OLD_SIZES, (s) => old.test(s), input));
  }
  const heavy = RE2JS.compile(DFA_HEAVY.pattern);
  rows.push(growth('RE2JS (now)', DFA_HEAVY.pattern, NEW_SIZES, (s) => heavy.test(s), DFA_HEAVY.input));
  const inputs = subjects().flatMap((p) => [p.email, p.key, p.country, p.appVersion]);
  const engines = ENGINES.map((e) => engineCost(e, inputs));
  return { growth: rows, engines, re2WasmPatternsBeforeAbort: re2WasmHeapLimit() };
}

function table(header: string[], lines: string[][], right: (i: number) => boolean): void {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const format = (cells: string[]) =>
    cells.map((c, i) => (right(i) ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ');
  console.log(format(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(format(line));
}

export function printRegex(report: RegexReport): void {
  const ms = (n: number) => (n < 0.01 ? n.toFixed(4) : n < 1 ? n.toFixed(3) : n.toFixed(1));
  table(
    ['matches engine', 'pattern', 'input sizes (chars)', 'ms per match', 'growth'],
    report.growth.map((r) => [
      r.engine,
      r.pattern,
      r.sizes.map((n) => n.toLocaleString('en-US')).join(' / '),
      r.msPerMatch.map(ms).join(' / '),
      `${r.growth.toFixed(1)}× for ${((r.sizes.at(-1) as number) / (r.sizes[0] as number)).toLocaleString('en-US')}× input`,
    ]),
    (i) => i >= 2,
  );
  console.log('');
  table(
    ['regex engine', 'compile + first match µs', 'match ns'],
    report.engines.map((e) => [e.engine, e.compileUs.toFixed(1), e.matchNs.toFixed(0)]),
    (i) => i >= 1,
  );
  console.log(
    `re2-wasm frees no pattern: its fixed 16 MB heap aborted after ${report.re2WasmPatternsBeforeAbort.toLocaleString('en-US')} more compiles`,
  );
}

function printRows(rows: Row[]): void {
  const lines = rows.map((r) => [
    r.name,
    r.opsPerSec.toLocaleString('en-US'),
    r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}× ${r.baseline ?? ''}`.trim(),
  ]);
  const header = ['benchmark', 'evaluations/s', 'ratio'];
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const format = (cells: string[]) =>
    cells.map((c, i) => (i === 1 ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ');
  console.log(format(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(format(line));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  printRows(await benchEngine());
  console.log('');
  printRegex(benchRegex());
}
