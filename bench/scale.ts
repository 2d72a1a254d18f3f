// Cost of a change at scale (issue 08): environments of N flags (each with two rules, one a
// segmentMatch, and a rollout; 20 segments in the project), seeded by SQL. One Vexil node pinned
// to core 0; the load generator (autocannon) and this script on core 1. For each N:
//
// - CPU per flag-state change on the node that ran the mutation (utime+stime from /proc, over
//   CHANGES sequential `updateFlagState` mutations, minus the idle CPU of as long a quiet period);
// - CPU per change on a node that only reloads: the same change committed by this script in SQL
//   with the pg_notify payload a mutation sends (so no other node's CPU is involved);
// - rows read per change (pg_stat_user_tables: seq_tup_read + idx_tup_fetch), the mutation's
//   and its node's reload together, and the reload alone;
// - the mutation's round trip p50/p99, and when /v1/evaluate sees the change after the answer;
// - the longest /v1/evaluate answer while polling for changes (the event loop's longest block);
// - /v1/evaluate req/s with no changes, with one change per 500 ms through this node, and with
//   one per 500 ms committed elsewhere, in alternating rounds; ratios to the no-change rounds.
//
// BENCH_SERVER_DIR runs another checkout's server (same schema) for a before/after comparison.
// Run alone: DATABASE_URL=postgres://… npx tsx bench/scale.ts   (BENCH_SCALE_SIZES=100,1000)

import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { withScratchDatabase } from '../scripts/scratch-db.js';
import { freePort } from '../test/helpers/process.js';

export interface ScaleRow {
  flags: number;
  mutationCpuMs: number[];
  reloadCpuMs: number[];
  rowsPerMutation: number;
  rowsPerReload: number;
  roundTripP50: number;
  roundTripP99: number;
  seenP50: number;
  seenP99: number;
  longestAnswerMs: number;
  rate: { none: number[]; here: number[]; elsewhere: number[] };
  maxLatency: { none: number[]; here: number[]; elsewhere: number[] };
}

const ROOT = new URL('..', import.meta.url).pathname;
/** The checkout whose server is measured (BENCH_SERVER_DIR: another one, for a before/after run). */
export const SERVER_DIR = process.env.BENCH_SERVER_DIR ?? ROOT;
const SIZES = (process.env.BENCH_SCALE_SIZES ?? '100,1000,10000').split(',').map(Number);
const CHANGES = 40;
const BATCHES = 4;
const ROUNDS = Number(process.env.BENCH_SCALE_ROUNDS ?? 5);
const ROUND_S = 3;
const CONNECTIONS = 32;
const HOT = 'flag-00000';
const PROBE = 'flag-00001';
const CONTEXT = { key: 'user-4711', country: 'FR', plan: 'p3' };
const CLK_TCK = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? Number.NaN;
const percentile = (v: number[], p: number) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
};

export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** What the nodes printed (warnings): drained as it comes, so a full pipe never blocks a node. */
const nodeOutput: string[] = [];

export function startNode(
  databaseUrl: string,
  port: number,
  nodeArgs: string[] = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
  serverDir = SERVER_DIR,
): Promise<{ child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn('taskset', ['-c', '0', process.execPath, ...nodeArgs, '--import', 'tsx', 'src/main.ts'], {
    cwd: serverDir,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      EVALUATION_RATE_LIMIT: '100000000',
      AUTH_RATE_LIMIT: '100000',
      MANAGEMENT_RATE_LIMIT: '100000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 180_000);
    let started = false;
    const onData = (chunk: Buffer) => {
      if (started) {
        if (nodeOutput.length < 50) nodeOutput.push(chunk.toString().slice(0, 500));
        return;
      }
      output += chunk.toString();
      if (output.includes('GraphiQL: ')) {
        started = true;
        clearTimeout(timer);
        resolve({
          child,
          async stop() {
            child.kill('SIGTERM');
            await exited;
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', () => reject(new Error(`server exited:\n${output}`)));
  });
}

export async function post(base: string, path: string, body: unknown, headers: Record<string, string>) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as any;
  if (!res.ok || json.errors) throw new Error(`${path}: ${res.status} ${JSON.stringify(json).slice(0, 500)}`);
  return json;
}

/** Signs up (the Default project with dev, staging, production) and makes a server key for dev. */
export async function signUp(base: string) {
  const reg = await post(
    base,
    '/v1/auth/register',
    { email: `scale-${process.pid}@example.com`, password: 'correct-horse-battery', name: 'Scale', org_name: 'Scale' },
    {},
  );
  const token: string = reg.tokens.access_token;
  const gql = (query: string, variables: Record<string, unknown> = {}) =>
    post(base, '/graphql', { query, variables }, { authorization: `Bearer ${token}` }).then((r) => r.data);
  const { project } = await gql('{ project(slug: "default") { id environments { id key } } }');
  const dev: string = project.environments.find((e: { key: string }) => e.key === 'dev').id;
  const { createSdkKey } = await gql(
    'mutation($e: ID!) { createSdkKey(environmentId: $e, kind: SERVER, name: "bench") { value } }',
    { e: dev },
  );
  return { token, projectId: project.id as string, dev, serverKey: createSdkKey.value as string };
}

/** N flags in every environment of the project (two rules, one on a segment, and a rollout), 20 segments. */
export async function seedFlags(db: pg.Client, projectId: string, n: number) {
  await db.query('begin');
  await db.query(
    `insert into segments (id, project_id, key, name, description, included, excluded, rules, version, created_at, updated_at)
     select gen_random_uuid(), $1, 'seg-' || lpad(i::text, 2, '0'), 'Segment ' || i, '',
            jsonb_build_array('member-' || i), '[]'::jsonb,
            jsonb_build_array(jsonb_build_object('id', 's' || i, 'clauses',
              jsonb_build_array(jsonb_build_object('attribute', 'plan', 'op', 'in', 'values', jsonb_build_array('p' || i))))),
            1, now(), now()
     from generate_series(0, 19) i`,
    [projectId],
  );
  await db.query(
    `insert into flags (id, project_id, key, name, description, kind, variations, tags, client_side_available,
                        temporary, salt, archived_at, created_at, updated_at)
     select gen_random_uuid(), $1, 'flag-' || lpad(i::text, 5, '0'), 'Flag ' || i, '', 'boolean',
            '[{"value": true, "name": "on"}, {"value": false, "name": "off"}]'::jsonb, '{}', i % 4 = 0, true,
            null, null, now(), now()
     from generate_series(0, $2 - 1) i`,
    [projectId, n],
  );
  await db.query(
    `insert into flag_states (id, flag_id, environment_id, "on", off_variation, targets, rules, fallthrough,
                              prerequisites, version, updated_at)
     select gen_random_uuid(), f.id, e.id, true, 1, '[]'::jsonb,
            jsonb_build_array(
              jsonb_build_object('id', 'r1', 'clauses', jsonb_build_array(jsonb_build_object(
                'attribute', 'segment', 'op', 'segmentMatch',
                'values', jsonb_build_array('seg-' || lpad((substr(f.key, 6)::int % 20)::text, 2, '0')))),
                'serve', jsonb_build_object('variation', 0)),
              jsonb_build_object('id', 'r2', 'clauses', jsonb_build_array(jsonb_build_object(
                'attribute', 'country', 'op', 'in', 'values', '["US", "CA", "GB"]'::jsonb)),
                'serve', jsonb_build_object('variation', 1))),
            '{"rollout": {"variations": [{"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}]}}'::jsonb,
            '[]'::jsonb, 1, now()
     from flags f cross join environments e
     where f.project_id = $1 and e.project_id = $1`,
    [projectId],
  );
  await db.query('update environments set version = version + 1 where project_id = $1', [projectId]);
  await db.query('commit');
  await db.query('analyze');
}

async function rowsRead(db: pg.Client): Promise<number> {
  // The statistics collector publishes counts at transaction end, within a few hundred ms.
  await sleep(700);
  const { rows } = await db.query(
    'select relname, (seq_tup_read + coalesce(idx_tup_fetch, 0))::bigint as n from pg_stat_user_tables',
  );
  if (process.env.BENCH_DEBUG)
    console.log(JSON.stringify(Object.fromEntries(rows.map((r) => [r.relname, Number(r.n)]))));
  return rows.reduce((sum, r) => sum + Number(r.n), 0);
}

/** A change committed without any Vexil node: what a mutation writes, bumps and announces. */
async function commitElsewhere(db: pg.Client, environmentId: string, stateId: string, flagKey: string, on: boolean) {
  await db.query('begin');
  await db.query('update flag_states set "on" = $2, version = version + 1, updated_at = now() where id = $1', [
    stateId,
    on,
  ]);
  const { rows } = await db.query(
    'update environments set version = version + 1, updated_at = now() where id = $1 returning version',
    [environmentId],
  );
  const payload = {
    environments: { [environmentId]: Number(rows[0].version) },
    kind: 'flag.state',
    flagKeys: [flagKey],
  };
  await db.query('select pg_notify($1, $2)', ['vexil_changes', JSON.stringify(payload)]);
  await db.query('commit');
}

interface Cannon {
  requests: { average: number };
  latency: { p50: number; p99: number; max: number };
  errors: number;
  non2xx: number;
}

function autocannon(url: string, serverKey: string, seconds: number): Promise<Cannon> {
  const args = ['-c', '1', process.execPath, 'node_modules/autocannon/autocannon.js', '--json'];
  args.push('-c', String(CONNECTIONS), '-d', String(seconds), '-m', 'POST');
  args.push('-H', 'content-type=application/json', '-H', `x-api-key=${serverKey}`);
  args.push('-b', JSON.stringify({ flag_key: PROBE, context: CONTEXT }), url);
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('exit', () => {
      try {
        const r = JSON.parse(out.trim().split('\n').pop() ?? '') as Cannon;
        if (r.errors > 0 || r.non2xx > 0) throw new Error(`errors: ${r.errors}, non-2xx: ${r.non2xx}`);
        resolve(r);
      } catch (e) {
        reject(new Error(`autocannon: ${(e as Error).message}`));
      }
    });
  });
}

async function runOne(databaseUrl: string, n: number, serverDir: string): Promise<ScaleRow> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const seedPort = await freePort();
  const seeder = await startNode(databaseUrl, seedPort, [], serverDir);
  let account: Awaited<ReturnType<typeof signUp>>;
  try {
    account = await signUp(`http://127.0.0.1:${seedPort}`);
  } finally {
    await seeder.stop();
  }
  await seedFlags(db, account.projectId, n);
  const port = await freePort();
  const node = await startNode(databaseUrl, port, undefined, serverDir);
  const pid = node.child.pid!;
  const base = `http://127.0.0.1:${port}`;
  const sdk = { 'x-api-key': account.serverKey };
  const auth = { authorization: `Bearer ${account.token}` };
  try {
    const evaluate = (flag: string) => post(base, '/v1/evaluate', { flag_key: flag, context: CONTEXT }, sdk);
    const { rows } = await db.query(
      `select f.id, s.version from flags f join flag_states s on s.flag_id = f.id
       where f.key = $1 and f.project_id = $2 and s.environment_id = $3`,
      [HOT, account.projectId, account.dev],
    );
    const hotId: string = rows[0].id;
    const elsewhereState: string = (
      await db.query(
        `select s.id from flags f join flag_states s on s.flag_id = f.id
         where f.key = 'flag-00002' and f.project_id = $1 and s.environment_id = $2`,
        [account.projectId, account.dev],
      )
    ).rows[0].id;
    let version = Number(rows[0].version);
    let on = true;
    const mutation = `mutation($f: ID!, $e: ID!, $v: Int!, $on: Boolean!) {
      updateFlagState(flagId: $f, environmentId: $e, expectedVersion: $v, input: { on: $on }) { version on } }`;
    const mutate = async () => {
      on = !on;
      const r = await post(
        base,
        '/graphql',
        { query: mutation, variables: { f: hotId, e: account.dev, v: version, on } },
        auth,
      );
      version = r.data.updateFlagState.version;
    };
    // Warm up both paths, slowly: PostgreSQL publishes a connection's table statistics at the
    // end of a transaction at most once a second, so the start's whole load must be counted
    // before the rows of a change are.
    for (let i = 0; i < 6; i++) {
      await mutate();
      await evaluate(HOT);
      await sleep(1100);
    }

    // The idle CPU of a quiet period, to subtract.
    const idleStart = await cpuMs(pid);
    const idleT = performance.now();
    await sleep(2000);
    const idlePerMs = ((await cpuMs(pid)) - idleStart) / (performance.now() - idleT);

    // CPU per change in batches (the kernel counts CPU in 10 ms ticks): the node that runs the
    // mutation (it also applies the change to its own snapshot), then a node that only reloads.
    const perChange = async (change: () => Promise<void>) => {
      const batches: number[] = [];
      for (let b = 0; b < BATCHES; b++) {
        const c0 = await cpuMs(pid);
        const t0 = performance.now();
        for (let i = 0; i < CHANGES / BATCHES; i++) {
          await change();
          await sleep(100); // the notification's reload lands within this
        }
        batches.push(((await cpuMs(pid)) - c0 - idlePerMs * (performance.now() - t0)) / (CHANGES / BATCHES));
      }
      return batches;
    };
    const roundTrips: number[] = [];
    let rowsBefore = await rowsRead(db);
    const mutationCpuMs = await perChange(async () => {
      const t0 = performance.now();
      await mutate();
      roundTrips.push(performance.now() - t0);
    });
    const rowsPerMutation = ((await rowsRead(db)) - rowsBefore) / CHANGES;
    rowsBefore = await rowsRead(db);
    let elsewhereOn = true;
    const reloadCpuMs = await perChange(async () => {
      elsewhereOn = !elsewhereOn;
      await commitElsewhere(db, account.dev, elsewhereState, 'flag-00002', elsewhereOn);
    });
    const rowsPerReload = ((await rowsRead(db)) - rowsBefore) / CHANGES;
    version = Number(
      (
        await db.query('select s.version from flag_states s where s.flag_id = $1 and s.environment_id = $2', [
          hotId,
          account.dev,
        ])
      ).rows[0].version,
    );

    // When /v1/evaluate sees a change, after the mutation answered; the longest answer meanwhile.
    const seen: number[] = [];
    let longestAnswerMs = 0;
    for (let i = 0; i < CHANGES; i++) {
      await mutate();
      const answered = performance.now();
      for (;;) {
        const t = performance.now();
        const r = await evaluate(HOT);
        longestAnswerMs = Math.max(longestAnswerMs, performance.now() - t);
        if ((r.reason === 'DISABLED') === !on) break;
      }
      seen.push(performance.now() - answered);
      await sleep(100);
    }

    // Throughput with and without changes, in alternating rounds.
    const rate = { none: [] as number[], here: [] as number[], elsewhere: [] as number[] };
    const maxLatency = { none: [] as number[], here: [] as number[], elsewhere: [] as number[] };
    const url = `${base}/v1/evaluate`;
    await autocannon(url, account.serverKey, 2);
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of ['none', 'here', 'elsewhere'] as const) {
        let changing = mode !== 'none';
        const changes = (async () => {
          while (changing) {
            await sleep(500);
            if (!changing) break;
            if (mode === 'here') await mutate();
            else {
              elsewhereOn = !elsewhereOn;
              await commitElsewhere(db, account.dev, elsewhereState, 'flag-00002', elsewhereOn);
            }
          }
        })();
        const r = await autocannon(url, account.serverKey, ROUND_S);
        changing = false;
        await changes;
        rate[mode].push(r.requests.average);
        maxLatency[mode].push(r.latency.max);
      }
    }
    return {
      flags: n,
      mutationCpuMs,
      reloadCpuMs,
      rowsPerMutation,
      rowsPerReload,
      roundTripP50: percentile(roundTrips, 50),
      roundTripP99: percentile(roundTrips, 99),
      seenP50: percentile(seen, 50),
      seenP99: percentile(seen, 99),
      longestAnswerMs,
      rate,
      maxLatency,
    };
  } finally {
    await node.stop();
    await db.end();
  }
}

export async function benchScale(sizes = SIZES, serverDir = SERVER_DIR): Promise<ScaleRow[]> {
  const rows: ScaleRow[] = [];
  for (const n of sizes) {
    // A database per size, so each node loads exactly its N flags.
    await withScratchDatabase(async (url) => {
      rows.push(await runOne(url, n, serverDir));
    });
  }
  return rows;
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
const range = (v: number[]) => `${f1(median(v))} (${f1(Math.min(...v))}–${f1(Math.max(...v))})`;
const ratios = (v: number[], base: number[]) => v.map((x, i) => x / base[i]!);

export function printScale(rows: ScaleRow[], serverDir = SERVER_DIR): void {
  console.log(`Scale (issue 08): server ${serverDir === ROOT ? 'this checkout' : serverDir}; medians (min–max)`);
  const cells: [string, (r: ScaleRow) => string][] = [
    ['CPU per change, node that ran the mutation (ms)', (r) => range(r.mutationCpuMs)],
    ['CPU per change, node that only reloads (ms)', (r) => range(r.reloadCpuMs)],
    [
      'rows read per change: mutation + reload / reload only',
      (r) => `${f1(r.rowsPerMutation)} / ${f1(r.rowsPerReload)}`,
    ],
    ['updateFlagState round trip p50 / p99 (ms)', (r) => `${f1(r.roundTripP50)} / ${f1(r.roundTripP99)}`],
    ['/v1/evaluate sees it after the answer p50 / p99 (ms)', (r) => `${f1(r.seenP50)} / ${f1(r.seenP99)}`],
    ['longest /v1/evaluate answer while changes land (ms)', (r) => f1(r.longestAnswerMs)],
    ['/v1/evaluate req/s, no changes', (r) => range(r.rate.none)],
    ['… one change / 500 ms on this node: ratio', (r) => range(ratios(r.rate.here, r.rate.none).map((x) => x * 100))],
    ['… one change / 500 ms elsewhere: ratio', (r) => range(ratios(r.rate.elsewhere, r.rate.none).map((x) => x * 100))],
    [
      'max latency none / here / elsewhere (ms)',
      (r) => `${median(r.maxLatency.none)} / ${median(r.maxLatency.here)} / ${median(r.maxLatency.elsewhere)}`,
    ],
  ];
  const header = ['N flags', ...rows.map((r) => r.flags.toLocaleString('en-US'))];
  const table = [header, ...cells.map(([name, cell]) => [name, ...rows.map(cell)])];
  const widths = header.map((_, i) => Math.max(...table.map((line) => line[i]!.length)));
  for (const [i, line] of table.entries()) {
    console.log(line.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  console.log('(ratios in % of the no-change rate of the same round)');
  const [small, large] = [rows[0], rows[rows.length - 1]];
  if (small && large && small !== large)
    console.log(
      `at ${large.flags} vs ${small.flags} flags: CPU per change ${(median(large.mutationCpuMs) / median(small.mutationCpuMs)).toFixed(2)}× (mutation node), ${(median(large.reloadCpuMs) / median(small.reloadCpuMs)).toFixed(2)}× (reload node); change→evaluation ${(large.seenP50 / small.seenP50).toFixed(2)}×`,
    );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await benchScale();
  if (process.env.BENCH_JSON) console.log(JSON.stringify(rows));
  printScale(rows);
  if (nodeOutput.length > 0) console.log(`the nodes printed:\n${nodeOutput.join('')}`);
}
