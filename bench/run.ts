// `npm run bench`: every bench, one table. Ratios compare with a baseline measured in the same
// run (flagd-core for the engine, a bare node:http server for the HTTP routes), so the numbers
// mean something on any machine.
import { benchEngine, benchRegex, printRegex } from './engine.js';
import { benchHttp } from './http.js';

interface Line {
  name: string;
  rate: string;
  p50: string;
  p99: string;
  ratio: string;
  cpu: string;
}

const number = (n: number) => Math.round(n).toLocaleString('en-US');
const ratio = (r: number | undefined, baseline: string | undefined) =>
  r === undefined ? '' : `${r.toFixed(2)}× ${baseline ?? ''}`.trim();

const lines: Line[] = [];
for (const r of await benchEngine())
  lines.push({
    name: r.name,
    rate: `${number(r.opsPerSec)} eval/s`,
    p50: '',
    p99: '',
    ratio: ratio(r.ratio, r.baseline),
    cpu: '',
  });
for (const r of await benchHttp()) {
  lines.push({
    name: r.name,
    rate: `${number(r.requestsPerSec)} req/s`,
    p50: `${r.p50} ms`,
    p99: `${r.p99} ms`,
    ratio: ratio(r.ratio, r.baseline),
    cpu: r.cpuRatio === undefined ? '' : `${r.cpuRatio.toFixed(2)}× (${r.cpuUs!.toFixed(1)} µs/req)`,
  });
}

const header: Line = {
  name: 'benchmark',
  rate: 'throughput',
  p50: 'p50',
  p99: 'p99',
  ratio: 'ratio',
  cpu: 'CPU/request ratio, shared core',
};
const columns = ['name', 'rate', 'p50', 'p99', 'ratio', 'cpu'] as const;
const widths = columns.map((c) => Math.max(...[header, ...lines].map((l) => l[c].length)));
const format = (l: Line) =>
  columns
    .map((c, i) => (c === 'name' || c === 'ratio' || c === 'cpu' ? l[c].padEnd(widths[i]!) : l[c].padStart(widths[i]!)))
    .join('  ')
    .trimEnd();
console.log(format(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const line of lines) console.log(format(line));

// The `matches` engines: cost growth on hostile patterns (linear now, exponential before).
console.log('');
printRegex(benchRegex());

// The GraphQL dashboard read path, against a bare server answering the same bytes.
// BENCH_COMPARE_DIR=<another checkout> measures that checkout's server in the same run too
// (the before/after tables of issue 08).
const compare = process.env.BENCH_COMPARE_DIR;
if (!process.env.BENCH_SKIP_GRAPHQL) {
  const { benchGraphql, printGraphql } = await import('./graphql.js');
  console.log('');
  if (compare) printGraphql(await benchGraphql(compare), compare);
  printGraphql(await benchGraphql());
}

// Cost of a change at N = 100 / 1,000 / 10,000 flags (BENCH_SKIP_SCALE=1 leaves it out).
if (!process.env.BENCH_SKIP_SCALE) {
  const { benchScale, printScale } = await import('./scale.js');
  console.log('');
  if (compare) printScale(await benchScale(undefined, compare), compare);
  printScale(await benchScale());
}

// Live updates: time from a mutation's response to each subscriber's receipt, and memory per
// idle subscriber (BENCH_SKIP_PROPAGATION=1 leaves it out).
if (!process.env.BENCH_SKIP_PROPAGATION) {
  const { benchPropagation, printPropagation } = await import('./propagation.js');
  console.log('');
  printPropagation(await benchPropagation());
}
