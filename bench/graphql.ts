// The GraphQL read path (issue 08): a dashboard query, a project's environments and 50 flags with
// every environment's state, against a node pinned to core 0, load (autocannon) on core 1. The
// same-run baseline is a bare node:http server answering the very same response from a
// precomputed string (bench/baseline-server.ts), so the ratio is what GraphQL costs over
// reading a request and writing those bytes. CPU per request = 1 / (requests per second on one
// core), from the same rounds. BENCH_SERVER_DIR measures another checkout's server.
// Run alone: DATABASE_URL=postgres://… npx tsx bench/graphql.ts

import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { withScratchDatabase } from '../scripts/scratch-db.js';
import { freePort } from '../test/helpers/process.js';
import { cpuMs, post, SERVER_DIR, seedFlags, signUp, startNode } from './scale.js';

export const DASHBOARD_QUERY = `query Dashboard($slug: String!) {
  project(slug: $slug) {
    id name slug
    environments { id key name color }
    flags(limit: 50) {
      total hasMore
      data {
        id key name description kind tags clientSideAvailable temporary archived updatedAt
        variations { value name }
        environments {
          environment { id key }
          on offVariation version updatedAt
          fallthrough { variation rollout { variations { variation weight } } }
        }
      }
    }
  }
}`;

const ROOT = new URL('..', import.meta.url).pathname;
const ROUNDS = Number(process.env.BENCH_GRAPHQL_ROUNDS ?? 5);
const ROUND_S = 3;

export interface GraphqlRow {
  bytes: number;
  /** Requests per second, per round. */
  vexil: number[];
  baseline: number[];
  /** Server CPU per request (ms, from /proc), per round: robust to other load on the machine. */
  vexilCpu: number[];
  baselineCpu: number[];
}

function cannon(
  url: string,
  headers: Record<string, string>,
  body: string,
  seconds: number,
): Promise<{ rate: number; total: number }> {
  const args = ['-c', '1', process.execPath, 'node_modules/autocannon/autocannon.js', '--json', '-c', '32'];
  args.push('-d', String(seconds), '-m', 'POST', '-b', body);
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('exit', () => {
      try {
        const r = JSON.parse(out.trim().split('\n').pop() ?? '');
        if (r.errors > 0 || r.non2xx > 0) throw new Error(`errors ${r.errors}, non-2xx ${r.non2xx}`);
        resolve({ rate: r.requests.average, total: r.requests.total });
      } catch (e) {
        reject(new Error(`autocannon: ${(e as Error).message}`));
      }
    });
  });
}

export async function benchGraphql(serverDir = SERVER_DIR): Promise<GraphqlRow> {
  let row: GraphqlRow | undefined;
  await withScratchDatabase(async (databaseUrl) => {
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
    await seedFlags(db, account.projectId, 50);
    await db.end();
    const port = await freePort();
    const node = await startNode(databaseUrl, port, undefined, serverDir);
    const base = `http://127.0.0.1:${port}`;
    const auth = { authorization: `Bearer ${account.token}`, 'content-type': 'application/json' };
    const body = JSON.stringify({ query: DASHBOARD_QUERY, variables: { slug: 'default' } });
    const answer = JSON.stringify(await post(base, '/graphql', JSON.parse(body), auth));
    const file = join(tmpdir(), `vexil-dashboard-${process.pid}.json`);
    await writeFile(file, answer);
    const baselinePort = await freePort();
    const baseline = spawn(
      'taskset',
      ['-c', '0', process.execPath, '--import', 'tsx', 'bench/baseline-server.ts', String(baselinePort), file],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) =>
      baseline.stdout!.on('data', (c) => String(c).includes('listening') && resolve()),
    );
    try {
      await cannon(`${base}/graphql`, auth, body, 2);
      row = { bytes: Buffer.byteLength(answer), vexil: [], baseline: [], vexilCpu: [], baselineCpu: [] };
      const measure = async (url: string, pid: number) => {
        const c0 = await cpuMs(pid);
        const r = await cannon(url, auth, body, ROUND_S);
        return { rate: r.rate, cpu: ((await cpuMs(pid)) - c0) / r.total };
      };
      for (let i = 0; i < ROUNDS; i++) {
        const b = await measure(`http://127.0.0.1:${baselinePort}/`, baseline.pid!);
        const v = await measure(`${base}/graphql`, node.child.pid!);
        row.baseline.push(b.rate);
        row.baselineCpu.push(b.cpu);
        row.vexil.push(v.rate);
        row.vexilCpu.push(v.cpu);
      }
    } finally {
      baseline.kill('SIGTERM');
      await node.stop();
    }
  });
  return row!;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

export function printGraphql(row: GraphqlRow, serverDir = SERVER_DIR): void {
  const ratios = row.vexil.map((v, i) => v / row.baseline[i]!);
  const which = serverDir === ROOT ? 'this checkout' : serverDir;
  console.log(
    `GraphQL dashboard query (${(row.bytes / 1024).toFixed(0)} KB: environments + 50 flags × every state), server ${which}`,
  );
  const range = (v: number[], d: number) =>
    `${median(v).toFixed(d)} (${Math.min(...v).toFixed(d)}–${Math.max(...v).toFixed(d)})`;
  console.log(`  vexil    ${range(row.vexil, 0)} req/s, server CPU ${range(row.vexilCpu, 2)} ms per request`);
  console.log(
    `  baseline ${range(row.baseline, 0)} req/s, server CPU ${range(row.baselineCpu, 3)} ms per request (same response from a precomputed string)`,
  );
  console.log(
    `  ratio    ${median(ratios).toFixed(3)}× (${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)})`,
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  printGraphql(await benchGraphql());
}
