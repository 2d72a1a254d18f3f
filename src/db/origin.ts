import type { EntityManager } from '@mikro-orm/core';

/**
 * Where a unit of work comes from (the request id and the caller's address), carried by the
 * EntityManager itself: MikroORM copies an EntityManager's logger context into every fork, the
 * transactions' included, so the audit entry a service writes deep inside a transaction knows the
 * request without every service passing it along.
 */
export interface RequestOrigin {
  requestId: string | null;
  clientIp: string | null;
}

export function setRequestOrigin(em: EntityManager, origin: RequestOrigin): void {
  em.setLoggerContext({ ...em.getLoggerContext(), requestId: origin.requestId, clientIp: origin.clientIp });
}

export function requestOriginOf(em: EntityManager): RequestOrigin {
  const context = em.getLoggerContext() as Record<string, unknown>;
  return {
    requestId: typeof context.requestId === 'string' ? context.requestId : null,
    clientIp: typeof context.clientIp === 'string' ? context.clientIp : null,
  };
}
