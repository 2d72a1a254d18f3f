/**
 * Builds the web console into web/dist when it is missing or its inputs changed since the last
 * build (a hash of web/'s sources and the lockfile, kept in web/dist/.inputs). `npm start` and
 * `npm test` run it first, so `npm install && npm start` serves a current console; a build that
 * is already current costs a few milliseconds.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const web = join(root, 'web');
const stamp = join(web, 'dist', '.inputs');
const GENERATED = /graphql-env\.d\.ts$/;

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? files(path) : [path];
  });
}

function inputsHash(): string {
  const inputs = [
    ...files(join(web, 'src')).filter((f) => !GENERATED.test(f)),
    ...files(join(web, 'public')),
    join(web, 'index.html'),
    join(web, 'vite.config.ts'),
    join(root, 'package-lock.json'),
  ].sort();
  const hash = createHash('sha256');
  for (const file of inputs) hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
  return hash.digest('hex');
}

const wanted = inputsHash();
const force = process.argv.includes('--force');
if (
  !force &&
  existsSync(join(web, 'dist', 'index.html')) &&
  existsSync(stamp) &&
  readFileSync(stamp, 'utf8') === wanted
) {
  console.log('[console] web/dist is current');
} else {
  console.log('[console] building web/ into web/dist');
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const built = spawnSync(process.execPath, [vite, 'build', '--config', join(web, 'vite.config.ts')], {
    cwd: root,
    stdio: 'inherit',
  });
  if (built.status !== 0) {
    console.error('[console] the build failed');
    process.exitCode = built.status ?? 1;
  } else {
    writeFileSync(stamp, wanted);
  }
}
