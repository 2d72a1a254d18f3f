// HTTP throughput and latency of the SDK routes, as ratios to a bare node:http baseline measured
// in the same run. Both servers are pinned to core 0 and the load generator (autocannon, its own
// process) to core 1, so they never compete for a CPU. A scratch database holds the seed.
// Two ratios per route: throughput in alternating rounds (baseline, route, baseline, …), and
// server CPU per request in shared-core rounds (both servers loaded at once; see sharedCore).
// The server runs compiled, as the Docker image runs it (BENCH_SERVER=tsx: as `npm start` does).
// Run alone: npx tsx bench/http.ts

import { type ChildProcess, spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { withScratchDatabase } from '../scripts/scratch-db.js';
import { freePort } from '../test/helpers/process.js';
import { buildServer, SERVER_ARGS } from './pinned.js';
import { cpuMs } from './scale.js';

export interface HttpRow {
  name: string;
  requestsPerSec: number;
  p50: number;
  p99: number;
  ratio?: number;
  baseline?: string;
  /** The baseline's server CPU per request ÷ the route's, in shared-core rounds. */
  cpuRatio?: number;
  /** The route's server CPU per request (µs), median of the shared-core rounds. */
  cpuUs?: number;
}

const WARMUP_S = 2;
/** Each route is measured for ROUNDS × ROUND_S seconds, each round right after a baseline round. */
const ROUNDS = 9;
const ROUND_S = Number(process.env.BENCH_ROUND_SECONDS ?? 2);
const CONNECTIONS = 32;
const FLAG_COUNT = 50;
const SERVER_CORE = '0';
const LOAD_CORE = '1';

interface Proc {
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `args` pinned to `core` and resolves once its output contains `ready`. */
async function startPinned(core: string, args: string[], env: Record<string, string>, ready: string): Promise<Proc> {
  const child = spawn('taskset', ['-c', core, process.execPath, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start:\n${output}`)), 120_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(ready)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited:\n${output}`));
    });
  });
  return {
    child,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function call(base: string, method: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as any;
  if (!res.ok || json.errors) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const gql = (base: string, token: string, query: string, variables: Record<string, unknown> = {}) =>
  call(base, 'POST', '/graphql', { query, variables }, { authorization: `Bearer ${token}` }).then((r) => r.data);

const HOT_STATE = {
  on: true,
  rules: [
    { clauses: [{ attribute: 'country', op: 'in', values: ['US', 'CA', 'GB'] }], serve: { variation: 0 } },
    { clauses: [{ attribute: 'appVersion', op: 'semverGt', values: ['2.0.0'] }], serve: { variation: 0 } },
    { clauses: [{ attribute: 'email', op: 'endsWith', values: ['@example.com'] }], serve: { variation: 1 } },
  ],
  fallthrough: {
    rollout: {
      variations: [
        { variation: 0, weight: 50000 },
        { variation: 1, weight: 50000 },
      ],
    },
  },
};

/** An org with 50 flags on in `dev` (one with 3 rules + a rollout) and a server key. */
async function seed(base: string): Promise<{ serverKey: string }> {
  const reg = await call(base, 'POST', '/v1/auth/register', {
    email: `bench-${process.pid}@example.com`,
    password: 'correct-horse-battery',
    name: 'Bench',
    org_name: 'Bench',
  });
  const token: string = reg.tokens.access_token;
  const { project } = await gql(base, token, '{ project(slug: "default") { id environments { id key } } }');
  const dev: string = project.environments.find((e: { key: string }) => e.key === 'dev').id;
  const update = `mutation($f: ID!, $e: ID!, $input: FlagStateInput!) { updateFlagState(flagId: $f, environmentId: $e, expectedVersion: 1, input: $input) { version } }`;
  for (let i = 0; i < FLAG_COUNT; i++) {
    const key = i === 0 ? 'new-checkout' : `flag-${String(i).padStart(2, '0')}`;
    const { createFlag } = await gql(
      base,
      token,
      'mutation($p: ID!, $input: CreateFlagInput!) { createFlag(projectId: $p, input: $input) { id } }',
      {
        p: project.id,
        input: { key, kind: 'boolean' },
      },
    );
    await gql(base, token, update, { f: createFlag.id, e: dev, input: i === 0 ? HOT_STATE : { on: true } });
  }
  const { createSdkKey } = await gql(
    base,
    token,
    'mutation($e: ID!) { createSdkKey(environmentId: $e, kind: SERVER, name: "bench") { value } }',
    { e: dev },
  );
  return { serverKey: createSdkKey.value as string };
}

/**
 * Waits until `base` evaluates all the seeded flags, on, for `serverKey`: a node that served the
 * seed rebuilds its snapshot from the change notifications, a fresh one loads it at start.
 */
async function snapshotReady(base: string, serverKey: string): Promise<void> {
  for (let tries = 0; ; tries++) {
    const bulk = await call(base, 'POST', '/v1/evaluate/bulk', { context: { key: 'u' } }, { 'x-api-key': serverKey });
    const flags = Object.values(bulk.flags) as { reason: string }[];
    if (flags.length === FLAG_COUNT && flags.every((f) => f.reason !== 'DISABLED')) break;
    if (tries > 200) throw new Error('the seeded flags never showed up in the snapshot');
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Target {
  name: string;
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** The status class every answer must have ('2xx', or '3xx' for the 304 path). */
  expect: '2xx' | '3xx';
}

interface CannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  '1xx': number;
  '2xx': number;
  '3xx': number;
  '4xx': number;
  '5xx': number;
}

/** One autocannon run in its own process on the load core. */
function autocannon(target: Target, seconds: number): Promise<CannonResult> {
  const args = [
    '-c',
    LOAD_CORE,
    process.execPath,
    'node_modules/autocannon/autocannon.js',
    '--json',
    '-c',
    String(CONNECTIONS),
    '-d',
    String(seconds),
    '-m',
    target.method,
  ];
  for (const [k, v] of Object.entries(target.headers)) args.push('-H', `${k}=${v}`);
  if (target.body !== undefined) args.push('-b', target.body);
  args.push(target.url);
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) throw new Error(`exit ${code}`);
        resolve(JSON.parse(line) as CannonResult);
      } catch (e) {
        reject(new Error(`autocannon failed for ${target.name}: ${(e as Error).message}\n${err}`));
      }
    });
  });
}

function checked(target: Target, r: CannonResult): CannonResult {
  const total = r['1xx'] + r['2xx'] + r['3xx'] + r['4xx'] + r['5xx'];
  if (r.errors > 0 || r.timeouts > 0 || r[target.expect] !== total || total === 0) {
    throw new Error(
      `${target.name}: unexpected answers ${JSON.stringify({ ...r, latency: undefined, requests: undefined })}`,
    );
  }
  return r;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

/**
 * Alternating rounds (baseline, route, baseline, route, …) so that a machine whose speed drifts
 * (other processes, thermal limits) affects both sides alike; the ratio is the median of the
 * per-round ratios, the other figures the medians of the route's rounds.
 */
async function measureAgainst(baseline: Target, target: Target, baselineRounds: CannonResult[]): Promise<HttpRow> {
  await autocannon(baseline, 1);
  await autocannon(target, WARMUP_S);
  const rounds: { rate: number; ratio: number; p50: number; p99: number }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const base = checked(baseline, await autocannon(baseline, ROUND_S));
    const r = checked(target, await autocannon(target, ROUND_S));
    baselineRounds.push(base);
    rounds.push({
      rate: r.requests.average,
      ratio: r.requests.average / base.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
    });
  }
  return {
    name: target.name,
    requestsPerSec: median(rounds.map((r) => r.rate)),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    ratio: median(rounds.map((r) => r.ratio)),
    baseline: 'baseline',
  };
}

/**
 * Shared-core rounds: the baseline and the route loaded at the same time, each by its own
 * autocannon (both on the load core), for ROUND_S; per round, each server's CPU (utime+stime
 * from /proc) over the requests it answered. Whatever slows this VM within a round slows both
 * servers alike, which alternating rounds cannot promise: here one 2 s round's rate differs from
 * the next by up to ±25%. Reading CPU per request, not rates, leaves out how the scheduler split
 * the core. Which load starts first alternates from round to round.
 */
async function sharedCore(
  baseline: Target,
  basePid: number,
  target: Target,
  targetPid: number,
): Promise<{ cpuRatio: number; cpuUs: number }> {
  await Promise.all([autocannon(baseline, 1), autocannon(target, 1)]);
  const rounds: { ratio: number; us: number }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const [b0, t0] = [await cpuMs(basePid), await cpuMs(targetPid)];
    const loads = i % 2 === 0 ? [autocannon(baseline, ROUND_S), autocannon(target, ROUND_S)] : [];
    if (i % 2 === 1) loads.push(autocannon(target, ROUND_S), autocannon(baseline, ROUND_S));
    const done = await Promise.all(loads);
    const [base, route] = i % 2 === 0 ? [done[0]!, done[1]!] : [done[1]!, done[0]!];
    const [b1, t1] = [await cpuMs(basePid), await cpuMs(targetPid)];
    checked(baseline, base);
    checked(target, route);
    const baseUs = ((b1 - b0) * 1000) / answered(base);
    const routeUs = ((t1 - t0) * 1000) / answered(route);
    rounds.push({ ratio: baseUs / routeUs, us: routeUs });
    if (process.env.BENCH_DEBUG)
      console.log(`shared core ${target.name}: ${baseUs.toFixed(1)} vs ${routeUs.toFixed(1)} µs`);
  }
  return { cpuRatio: median(rounds.map((r) => r.ratio)), cpuUs: median(rounds.map((r) => r.us)) };
}

const answered = (r: CannonResult) => r['1xx'] + r['2xx'] + r['3xx'] + r['4xx'] + r['5xx'];

/**
 * The measured server is a Vexil node that has served only the SDK requests of the bench: the
 * seed (sign-up, 100 GraphQL mutations) goes through another node on the same database, which
 * stops before the measured node starts and loads the seeded environment from PostgreSQL. A node
 * that has also served management traffic answers SDK routes a few percent slower, because V8's
 * inline caches in the code both paths share (node:http, streams) have seen more object shapes;
 * BENCH_SEED_NODE=measured seeds through the measured node to show that case.
 */
export async function benchHttp(): Promise<HttpRow[]> {
  let rows: HttpRow[] = [];
  buildServer();
  await withScratchDatabase(async (databaseUrl) => {
    const [vexilPort, baselinePort] = [await freePort(), await freePort()];
    const startVexil = (port: number) =>
      startPinned(
        SERVER_CORE,
        // BENCH_NODE_ARGS profiles the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/vexil-prof".
        [...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...SERVER_ARGS],
        {
          DATABASE_URL: databaseUrl,
          HOST: '127.0.0.1',
          PORT: String(port),
          LOG_LEVEL: 'warn',
          EVALUATION_RATE_LIMIT: '100000000',
          AUTH_RATE_LIMIT: '100000',
          MANAGEMENT_RATE_LIMIT: '100000',
        },
        'GraphiQL: ',
      );
    // BENCH_SEED_NODE=measured: seed through the measured node itself, inside the try below.
    let seededElsewhere: { serverKey: string } | undefined;
    if (process.env.BENCH_SEED_NODE !== 'measured') {
      const seedPort = await freePort();
      const seeder = await startVexil(seedPort);
      try {
        seededElsewhere = await seed(`http://127.0.0.1:${seedPort}`);
      } finally {
        await seeder.stop();
      }
    }
    const vexil = await startVexil(vexilPort);
    const baseline = await startPinned(
      SERVER_CORE,
      ['--import', 'tsx', 'bench/baseline-server.ts', String(baselinePort)],
      {},
      'baseline listening',
    );
    // taskset execs the server, so each child's pid is the server's own.
    const [vexilPid, baselinePid] = [vexil.child.pid!, baseline.child.pid!];
    try {
      const base = `http://127.0.0.1:${vexilPort}`;
      const { serverKey } = seededElsewhere ?? (await seed(base));
      await snapshotReady(base, serverKey);
      const datafile = await fetch(`${base}/v1/datafile`, { headers: { 'x-api-key': serverKey } });
      const etag = datafile.headers.get('etag');
      if (!datafile.ok || !etag) throw new Error(`datafile: ${datafile.status}`);
      const json = { 'content-type': 'application/json', 'x-api-key': serverKey };
      const context = { key: 'user-4711', country: 'FR', appVersion: '1.4.2', email: 'u4711@mail.test' };
      // OpenFeature's name for the context key; the same context otherwise.
      const { key: targetingKey, ...attributes } = context;
      const ofrepContext = { targetingKey, ...attributes };
      const ofrepHeaders = { 'content-type': 'application/json', authorization: `Bearer ${serverKey}` };

      const baseline: Target = {
        name: 'baseline: node:http, JSON body in, fixed JSON out',
        url: `http://127.0.0.1:${baselinePort}/`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ flag_key: 'new-checkout', context }),
        expect: '2xx',
      };
      const targets: Target[] = [
        {
          name: 'POST /v1/evaluate (3 rules + rollout)',
          url: `${base}/v1/evaluate`,
          method: 'POST',
          headers: json,
          body: JSON.stringify({ flag_key: 'new-checkout', context }),
          expect: '2xx',
        },
        {
          name: `POST /v1/evaluate/bulk (${FLAG_COUNT} flags)`,
          url: `${base}/v1/evaluate/bulk`,
          method: 'POST',
          headers: json,
          body: JSON.stringify({ context }),
          expect: '2xx',
        },
        {
          name: 'POST /ofrep/v1/evaluate/flags/{key} (OFREP single)',
          url: `${base}/ofrep/v1/evaluate/flags/new-checkout`,
          method: 'POST',
          headers: ofrepHeaders,
          body: JSON.stringify({ context: ofrepContext }),
          expect: '2xx',
        },
        {
          name: `POST /ofrep/v1/evaluate/flags (OFREP bulk, ${FLAG_COUNT} flags)`,
          url: `${base}/ofrep/v1/evaluate/flags`,
          method: 'POST',
          headers: ofrepHeaders,
          body: JSON.stringify({ context: ofrepContext }),
          expect: '2xx',
        },
        {
          name: 'GET /v1/datafile (304, If-None-Match)',
          url: `${base}/v1/datafile`,
          method: 'GET',
          headers: { 'x-api-key': serverKey, 'if-none-match': etag },
          expect: '3xx',
        },
      ];
      const baselineRounds: CannonResult[] = [];
      const measured: HttpRow[] = [];
      // BENCH_ONLY="evaluate (" measures just the matching routes (for profiling).
      for (const target of targets.filter((t) => t.name.includes(process.env.BENCH_ONLY ?? ''))) {
        const row = await measureAgainst(baseline, target, baselineRounds);
        measured.push({ ...row, ...(await sharedCore(baseline, baselinePid, target, vexilPid)) });
      }
      const of = (pick: (r: CannonResult) => number) => median(baselineRounds.map(pick));
      rows = [
        {
          name: baseline.name,
          requestsPerSec: of((r) => r.requests.average),
          p50: of((r) => r.latency.p50),
          p99: of((r) => r.latency.p99),
        },
        ...measured,
      ];
    } finally {
      await Promise.all([vexil.stop(), baseline.stop()]);
    }
  });
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const row of await benchHttp()) console.log(row);
}
