import { type ChildProcess, spawn } from 'node:child_process';

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
