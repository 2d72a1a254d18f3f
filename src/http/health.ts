import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { sendError } from './envelope.js';

/**
 * `GET /healthz`: the process answers. `GET /readyz`: this node can serve, meaning its change
 * bus listens and the database answers (a load balancer takes it out of rotation otherwise).
 */
export const healthPlugin = fp(
  async (app: FastifyInstance) => {
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_req, reply) => {
      if (!app.changeBus.connected) return sendError(reply, 503, 'change bus (LISTEN connection) is down');
      try {
        await app.orm.em.getConnection().execute('select 1');
        return { status: 'ready' };
      } catch {
        return sendError(reply, 503, 'database is not reachable');
      }
    });
  },
  { name: 'health', dependencies: ['change-bus'] },
);
