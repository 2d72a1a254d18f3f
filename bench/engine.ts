// In-process evaluation throughput: the Vexil engine against @openfeature/flagd-core (JSON logic)
// on the same flag: 3 rules (in, semverGt, endsWith) and a 50/50 rollout fallthrough.
// Run alone: npx tsx bench/engine.ts

import { pathToFileURL } from 'node:url';
import type { Logger } from '@openfeature/core';
import { FlagdCore } from '@openfeature/flagd-core';
import type { EnvironmentData } from '../src/evaluation/index.js';
import { compileEnvironment, evaluate } from '../src/evaluation/index.js';

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

const engineData: EnvironmentData = {
  version: 1,
  segments: [],
  flags: [
    {
      definition: {
        key: FLAG_KEY,
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
        rules: [
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
        ],
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

  const engineOps = measure(engineContexts, (c) => evaluate(env, FLAG_KEY, c).value);
  const flagdOps = measure(flagdContexts, (c) => flagd.resolveBooleanEvaluation(FLAG_KEY, false, c, silent).value);
  return [
    {
      name: 'engine: 3 rules + 50/50 rollout',
      opsPerSec: Math.round(engineOps),
      ratio: engineOps / flagdOps,
      baseline: 'flagd-core',
    },
    { name: 'flagd-core: same flag as JSON logic', opsPerSec: Math.round(flagdOps) },
  ];
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
}
