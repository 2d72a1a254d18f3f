import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { sendError } from './envelope.js';

/** How long /readyz waits for the database before it says the node is not ready. */
const READY_TIMEOUT_MS = 2_000;

/**
 * `GET /healthz`: the process answers. `GET /readyz`: this node can serve, meaning its change
 * bus listens and the database answers within READY_TIMEOUT_MS (a load balancer takes it out of
 * rotation otherwise), however the database fails: refused, black-holed or slow.
 */
export const healthPlugin = fp(
  async (app: FastifyInstance) => {
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_req, reply) => {
      if (!app.changeBus.connected) return sendError(reply, 503, 'change bus (LISTEN connection) is down');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
      });
      const answered = app.orm.em
        .getConnection()
        .execute('select 1')
        .then(
          () => true,
          () => false,
        );
      const ready = await Promise.race([answered, timedOut]);
      clearTimeout(timer);
      if (!ready) return sendError(reply, 503, 'database is not reachable');
      return { status: 'ready' };
    });
  },
  { name: 'health', dependencies: ['change-bus'] },
);
