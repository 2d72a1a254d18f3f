import type { EntityManager } from '@mikro-orm/postgresql';
import type { Principal } from '../auth/principal.js';
import type { Clock } from '../clock.js';
import type { SessionSettings } from '../modules/accounts/service.js';

/** What every resolver gets: a unit of work of its own, who is calling, and the app's settings. */
export interface GraphQLContext {
  em: EntityManager;
  principal: Principal;
  settings: SessionSettings;
  clock: Clock;
  /**
   * Read-your-writes for SDK keys on this node: apply a key change to the in-memory key cache
   * before the mutation answers (other nodes hear it through the change bus within ms).
   */
  refreshKeys(environmentId: string): Promise<void>;
  requestId: string;
}

/** Resolvers behind a scope that requires a principal can rely on one. */
export function actorOf(ctx: GraphQLContext) {
  if (!ctx.principal) throw new Error('resolver reached without a principal: its authScopes are missing');
  return ctx.principal;
}
