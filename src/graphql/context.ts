import type { EntityManager } from '@mikro-orm/postgresql';
import type { Principal } from '../auth/principal.js';
import type { SessionSettings } from '../auth/session.js';
import type { Clock } from '../clock.js';
import { setRequestOrigin } from '../db/origin.js';

/**
 * What every resolver gets, whatever door the operation came through (HTTP, GraphQL over SSE,
 * graphql-ws): a unit of work of its own, who is calling, and the app's services. One factory
 * (below) builds it for every door, so no door adds fields the schema must know about.
 */

/** The management credentials of a request: headers over HTTP, `connection_init` over graphql-ws. */
export interface ManagementCredentials {
  authorization?: string;
  'api-key'?: string;
}

/** What an operation presents, read by its door. */
export interface RequestCredentials extends ManagementCredentials {
  /** The SDK key presented (`X-API-Key`, or `x-api-key` in `connection_init`). */
  sdkKey: string | null;
  /** The browser origin, checked against a client-side ID's allow-list. */
  origin: string | null;
}

/**
 * The node's services resolvers use (the live pipeline, the SDK-key door). Empty here: the
 * modules that read a service declare it (TypeScript declaration merging), and app.ts supplies it.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by declaration merging
export interface ContextServices {}

export interface GraphQLContext {
  em: EntityManager;
  principal: Principal;
  /** The caller's address (through trusted proxies): anonymous callers' and the auth budgets count by it. */
  clientIp: string;
  settings: SessionSettings;
  clock: Clock;
  requestId: string;
  /**
   * Read-your-writes for SDK keys on this node: apply a key change to the in-memory key cache
   * before the mutation answers (other nodes hear it through the change bus within ms).
   */
  refreshKeys(environmentId: string): Promise<void>;
  /** The caller as they are now: the operation's credentials resolved again (subscriptions re-check on every event). */
  principalNow(): Promise<Principal>;
  /** Names those credentials, so that the streams sharing them share one re-check per event. */
  credentialId: string;
  /** The SDK credential presented with the operation, with its origin (SDK-key subscriptions). */
  sdkCredential: { presented: string | null; origin: string | null };
  services: ContextServices;
}

export interface ContextDeps {
  em(): EntityManager;
  /**
   * Who the credentials belong to; throws a DomainError (401/403) when they do not check out.
   * `recheck`: the request or connection already presented them once (a single-use SSO JWT is
   * checked again, not spent again).
   */
  resolvePrincipal(
    em: EntityManager,
    credentials: ManagementCredentials,
    options: { recheck: boolean },
  ): Promise<Principal>;
  settings: SessionSettings;
  clock: Clock;
  refreshKeys(environmentId: string): Promise<void>;
  services: ContextServices;
}

/** Where an operation came from. */
export interface RequestOrigin {
  requestId: string;
  clientIp: string;
}

export type ContextFactory = (
  credentials: RequestCredentials,
  origin: RequestOrigin,
  options?: { recheck?: boolean },
) => Promise<GraphQLContext>;

/**
 * A context is a class instance: its fields live in the object itself and its methods on the
 * prototype, so the one a live subscription keeps for its whole life costs a few hundred bytes,
 * not a dictionary of closures (with 10,000 subscribers, that was 1.7 KB each). `ctx` names the
 * context itself, so envelop's hooks that run before a context is built (`context.ctx`) read it
 * the same way whether a door passes it as yoga's initial context (graphql-ws) or inside one.
 */
class OperationContext implements GraphQLContext {
  private unitOfWork: EntityManager | undefined = undefined;
  readonly settings: SessionSettings;
  readonly clock: Clock;
  readonly refreshKeys: (environmentId: string) => Promise<void>;
  readonly services: ContextServices;
  readonly credentialId: string;
  readonly sdkCredential: { presented: string | null; origin: string | null };
  principal: Principal = null as unknown as Principal;

  constructor(
    private readonly deps: ContextDeps,
    private readonly management: ManagementCredentials,
    readonly requestId: string,
    readonly clientIp: string,
    credentials: RequestCredentials,
  ) {
    this.settings = deps.settings;
    this.clock = deps.clock;
    this.refreshKeys = deps.refreshKeys;
    this.services = deps.services;
    this.credentialId = `${management.authorization ?? ''}\u0000${management['api-key'] ?? ''}`;
    this.sdkCredential = { presented: credentials.sdkKey, origin: credentials.origin };
  }

  get ctx(): this {
    return this;
  }

  /**
   * The unit of work, forked when a resolver first reads it: a live subscription that never
   * touches the database (an SDK's flagValues) keeps none for its whole life.
   */
  get em(): EntityManager {
    if (this.unitOfWork === undefined) {
      this.unitOfWork = this.deps.em();
      // The audit entries this operation writes name its request (db/origin.ts).
      setRequestOrigin(this.unitOfWork, { requestId: this.requestId, clientIp: this.clientIp });
    }
    return this.unitOfWork;
  }

  /** A live subscription takes a fresh unit of work per event. */
  set em(next: EntityManager) {
    this.unitOfWork = next;
  }

  principalNow(): Promise<Principal> {
    return this.deps.resolvePrincipal(this.deps.em(), this.management, { recheck: true });
  }
}

/** The one way a door turns what a request presents into a GraphQL context. */
export function contextFactory(deps: ContextDeps): ContextFactory {
  return async (credentials, { requestId, clientIp }, options = {}) => {
    const management: ManagementCredentials = {
      authorization: credentials.authorization,
      'api-key': credentials['api-key'],
    };
    const context = new OperationContext(deps, management, requestId, clientIp, credentials);
    if (management.authorization || management['api-key'])
      context.principal = await deps.resolvePrincipal(context.em, management, { recheck: options.recheck ?? false });
    return context;
  };
}

/**
 * Makes yoga's context for an HTTP request (which wraps the door's as `ctx`) read as the door's
 * own: its fields copied, the unit of work and the re-check forwarded to it.
 */
export function joinContext(target: object, context: GraphQLContext): void {
  if (target === context) return;
  const { principal, clientIp, settings, clock, requestId, refreshKeys, credentialId, sdkCredential, services } =
    context;
  Object.assign(target, {
    principal,
    clientIp,
    settings,
    clock,
    requestId,
    refreshKeys,
    credentialId,
    sdkCredential,
    services,
  } satisfies Omit<GraphQLContext, 'em' | 'principalNow'>);
  Object.defineProperty(target, 'em', {
    get: () => context.em,
    set: (next: EntityManager) => {
      context.em = next;
    },
  });
  Object.defineProperty(target, 'principalNow', { value: () => context.principalNow() });
}

export function actorOf(ctx: GraphQLContext) {
  if (!ctx.principal) throw new Error('resolver reached without a principal: its authScopes are missing');
  return ctx.principal;
}
