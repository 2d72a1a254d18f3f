import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;

/**
 * Runs `args` from the repository root pinned to one CPU, with `ulimit -n` raised to the hard
 * limit (10,000 sockets need it); `exec` keeps the pid the command's own.
 */
export function pinned(
  cpu: number,
  args: string[],
  options: { env?: Record<string, string>; stdio?: ('pipe' | 'ignore' | 'inherit')[] } = {},
): ChildProcess {
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return spawn('bash', ['-c', `ulimit -n "$(ulimit -Hn)"; exec taskset -c ${cpu} ${quoted}`], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: options.stdio ?? ['pipe', 'pipe', 'inherit'],
  });
}

/**
 * How the benches run a Vexil server: as the Docker image runs it, compiled by tsc
 * (`node dist/src/main.js`); BENCH_SERVER=tsx runs `npm start`'s `node --import tsx src/main.ts`
 * instead. esbuild's keepNames, which tsx turns on, wraps every named closure our code creates
 * in a call that gives it a `name` property: more work per request and more memory per idle
 * subscriber than the deployed server spends.
 */
export const COMPILED_SERVER = process.env.BENCH_SERVER !== 'tsx';

/** The node arguments that start the server (after any of BENCH_NODE_ARGS). */
export const SERVER_ARGS = COMPILED_SERVER ? ['dist/src/main.js'] : ['--import', 'tsx', 'src/main.ts'];

export const SERVER_DESCRIPTION = COMPILED_SERVER
  ? 'node dist/src/main.js (compiled by tsc, as the Docker image runs it)'
  : 'node --import tsx src/main.ts (npm start)';

/** Compiles the server into dist/ when the benches run the compiled one. */
export function buildServer(): void {
  if (!COMPILED_SERVER) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}
