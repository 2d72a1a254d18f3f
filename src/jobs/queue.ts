import type { EntityManager, Knex } from '@mikro-orm/postgresql';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type Db, fromKnex, PgBoss } from 'pg-boss';

/**
 * Durable jobs on PostgreSQL (pg-boss): what must happen later, exactly once across any number
 * of nodes and even if every node restarts in between (scheduled changes, webhook deliveries,
 * metrics roll-ups). pg-boss keeps its tables in a schema of its own (`pgboss`), installed and
 * upgraded by pg-boss itself on start; a module that owns a queue creates it and its worker in
 * its own plugin, after this one (`app.jobs`).
 */
export const JOBS_SCHEMA = 'pgboss';

/** Connections this node's job queue may hold (its pool, beside the ORM's). */
const POOL_SIZE = 3;
/** How long shutdown waits for jobs in progress before it leaves them to another node's retry. */
const STOP_TIMEOUT_MS = 5_000;

export function createJobQueue(databaseUrl: string): PgBoss {
  return new PgBoss({
    connectionString: databaseUrl,
    schema: JOBS_SCHEMA,
    max: POOL_SIZE,
    connectionTimeoutMillis: 3_000,
    application_name: 'vexil-jobs',
  });
}

declare module 'fastify' {
  interface FastifyInstance {
    jobs: PgBoss;
  }
}

export const jobsPlugin = fp(
  async (app: FastifyInstance, options: { databaseUrl: string }) => {
    const boss = createJobQueue(options.databaseUrl);
    // pg-boss reports its own troubles (a lost connection, a failed maintenance run) as events.
    boss.on('error', (error: Error) => app.log.warn(`job queue: ${error.message}`));
    await boss.start();
    app.decorate('jobs', boss);
    app.addHook('onClose', async () => {
      await boss.stop({ graceful: true, timeout: STOP_TIMEOUT_MS, close: true }).catch(() => undefined);
    });
  },
  { name: 'jobs' },
);

/**
 * pg-boss statements inside a unit of work's transaction (pg-boss's `db` option, through its own
 * knex adapter): a job sent this way exists only if the transaction commits, like the change that
 * schedules it.
 */
export function jobsIn(em: EntityManager): Db {
  const trx = em.getTransactionContext<Knex.Transaction>();
  if (!trx) throw new Error('jobsIn: the unit of work is not in a transaction');
  return fromKnex(trx);
}
