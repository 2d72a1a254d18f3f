import { randomBytes } from 'node:crypto';
import type { Options } from '@mikro-orm/postgresql';
import type { FastifyInstance } from 'fastify';
import { afterAll, inject, onTestFinished } from 'vitest';
import { buildApp } from '../../src/app.js';
import type { Clock } from '../../src/clock.js';
import { type Config, loadConfig } from '../../src/config.js';
import { dropDatabase, ensureDatabase, withDatabase } from '../../src/db/embedded.js';
import { createOrm, type Orm } from '../../src/db/orm.js';
import { entities } from '../../src/entities.js';

export interface TestServer {
  url: string;
  app: FastifyInstance;
  orm: Orm;
  databaseUrl: string;
  /** Raw SQL against this server's database, for asserting on stored state. */
  sql<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/** A fresh database cloned from the migrated template. Dropped when the file's tests end. */
export async function givenDatabase(): Promise<string> {
  const admin = inject('pgAdminUrl');
  const name = `vexil_t_${randomBytes(6).toString('hex')}`;
  await ensureDatabase(admin, name, inject('pgTemplate'));
  afterAll(() => dropDatabase(admin, name));
  return withDatabase(admin, name);
}

/** A real Vexil server on a random port, over its own database. */
export async function startServer(
  env: Record<string, string> = {},
  options: { databaseUrl?: string; clock?: Clock; logStream?: NodeJS.WritableStream; orm?: Partial<Options> } = {},
): Promise<TestServer> {
  const databaseUrl = options.databaseUrl ?? (await givenDatabase());
  const config: Config = loadConfig({ LOG_LEVEL: 'silent', ...env });
  const orm = await createOrm(databaseUrl, entities, options.orm);
  const app = await buildApp({ config, orm, clock: options.clock, logStream: options.logStream });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  let closed = false;
  const server: TestServer = {
    url: `http://127.0.0.1:${port}`,
    app,
    orm,
    databaseUrl,
    sql: (query, params = []) =>
      orm.em
        .fork()
        .getConnection()
        .execute(query, params as never[]),
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await orm.close();
    },
  };
  // A server started inside a test closes when that test ends (files that start one per test
  // would otherwise hold every one's connections until the file ends); one started in a
  // beforeAll closes with the file.
  try {
    onTestFinished(() => server.close());
  } catch {
    afterAll(() => server.close());
  }
  return server;
}
