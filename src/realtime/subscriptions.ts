import { GraphQLError } from 'graphql';
import { hasPermission, type Principal } from '../auth/principal.js';
import { type CredentialHeaders, resolvePrincipal } from '../auth/resolve.js';
import { DomainError, ForbiddenError, NotFoundError, UnauthenticatedError, ValidationError } from '../errors.js';
import { clientSideOnly, type EvaluationResult, evaluateAll, isValidContext } from '../evaluation/index.js';
import { builder } from '../graphql/builder.js';
import { actorOf, type GraphQLContext } from '../graphql/context.js';
import { type Flag, FlagSchema, type FlagState, FlagStateSchema } from '../modules/flags/entity.js';
import { FlagStateType, FlagType } from '../modules/flags/schema.js';
import type { CachedSdkKey, SdkKeyCache } from '../modules/keys/cache.js';
import { type Environment, EnvironmentSchema, ProjectSchema } from '../modules/projects/entity.js';
import { EnvironmentType } from '../modules/projects/schema.js';
import type { ChangeKind } from './changes.js';
import type { FlagDelta, LiveHub, LiveUpdate } from './pubsub.js';
import type { SnapshotStore } from './snapshots.js';

/**
 * GraphQL subscriptions (graphql-ws on /graphql, and GraphQL over SSE through yoga):
 * - `flagChanged` for dashboards, authorized like queries and re-authorized on every event;
 * - `flagValues` for SDK-key clients: one context's evaluated values, pushed when they change.
 * Both are views of the LiveHub; neither touches the database unless a field asks for it.
 */

/** What a live door (HTTP or WebSocket) hands the subscription resolvers. */
export interface LiveServices {
  hub: LiveHub;
  keyCache: SdkKeyCache;
  snapshots: SnapshotStore;
}
/** Small ids for engine results (compiled results are shared objects, so equal outcomes are one object). */
const resultIds = new WeakMap<EvaluationResult, number>();
let lastResultId = 0;

/**
 * The update's one array for these results: contexts that evaluate alike (most do) share it,
 * so what is built from it (the projected message, its bytes) is built once per update.
 */
function sharedValues(memo: Map<string, unknown>, results: EvaluationResult[]): EvaluationResult[] {
  let signature = 'flagValues:list:';
  for (const result of results) {
    let id = resultIds.get(result);
    if (id === undefined) resultIds.set(result, (id = ++lastResultId));
    signature += `${id},`;
  }
  const known = memo.get(signature) as EvaluationResult[] | undefined;
  if (known !== undefined) return known;
  memo.set(signature, results);
  return results;
}

export interface LiveRequest extends LiveServices {
  /** The management credential the principal came from; re-resolved on every flagChanged event. */
  credentials: CredentialHeaders;
  /** The SDK key presented (`X-API-Key`, or `x-api-key` in graphql-ws `connection_init`). */
  sdkKey: string | null;
  /** The browser origin of the request, checked against a client-side ID's allow-list. */
  origin: string | null;
  /**
   * Set by a door that serves `flagValues` without per-event execution (realtime/ws.ts): the
   * subscribe resolver leaves its source stream here, after every check has passed.
   */
  flagValuesSource?: { queue?: FlagValuesQueue };
}

declare module '../graphql/context.js' {
  interface GraphQLContext {
    /** Set by the doors that serve subscriptions (yoga's HTTP route, the graphql-ws server). */
    live?: LiveRequest;
  }
}

/**
 * A push queue that is also the subscription's async iterator. `return()` takes effect at once
 * even while a `next()` waits (an async generator would wait for the next event first), so an
 * idle unsubscribed stream is released immediately.
 */
export class LiveQueue<T> implements AsyncIterableIterator<T> {
  private buffer: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | null = null;
  private peeking: (() => void) | null = null;
  private finished = false;
  private closed = false;
  private cleanups: (() => void)[] = [];

  constructor(private readonly prepare?: (item: T) => Promise<T>) {}

  /** Takes items that bypass the buffer (while it is empty): true when it consumed the item. */
  divert: ((item: T) => boolean) | null = null;

  push(item: T): void {
    if (this.finished) return;
    if (this.divert && this.buffer.length === 0 && this.divert(item)) return;
    this.buffer.push(item);
    this.drain();
    this.wakePeek();
  }

  /** No more items: the stream completes after those already queued. */
  end(): void {
    this.finished = true;
    this.drain();
    this.wakePeek();
  }

  /**
   * The next item without taking it, once there is one; undefined once the stream is over. For
   * a reader that takes some items itself (`take()`) and leaves the others to `next()`.
   */
  peek(): Promise<T | undefined> {
    if (this.buffer.length > 0) return Promise.resolve(this.buffer[0]);
    if (this.finished || this.closed) return Promise.resolve(undefined);
    return new Promise<void>((resolve) => (this.peeking = resolve)).then(() => this.peek());
  }

  /** Takes the next queued item, if any (after `peek()`). */
  take(): T | undefined {
    return this.buffer.shift();
  }

  onClose(cleanup: () => void): void {
    if (this.closed) cleanup();
    else this.cleanups.push(cleanup);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer.length === 0 && (this.finished || this.closed)) return this.return();
    const item = new Promise<IteratorResult<T>>((resolve) => {
      this.waiting = resolve;
      this.drain();
    });
    return item.then(async (result) => {
      if (result.done || !this.prepare) return result;
      return { done: false, value: await this.prepare(result.value) };
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.finished = true;
    this.buffer = [];
    if (!this.closed) {
      this.closed = true;
      for (const cleanup of this.cleanups.splice(0)) cleanup();
    }
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.({ done: true, value: undefined });
    this.wakePeek();
    return Promise.resolve({ done: true, value: undefined });
  }

  throw(): Promise<IteratorResult<T>> {
    return this.return();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private wakePeek(): void {
    const peeking = this.peeking;
    this.peeking = null;
    peeking?.();
  }

  private drain(): void {
    if (!this.waiting) return;
    const waiting = this.waiting;
    if (this.buffer.length > 0) {
      this.waiting = null;
      waiting({ done: false, value: this.buffer.shift()! });
    } else if (this.finished) {
      void this.return();
    }
  }
}

/** Marks the end of a stream whose subscriber lost its right to it; resolved into this error. */
export class StreamEnded {
  constructor(readonly error: DomainError) {}
}

const shuttingDown = () =>
  new GraphQLError('the server is shutting down: reconnect', { extensions: { code: 'UNAVAILABLE' } });

function liveOf(ctx: GraphQLContext): LiveRequest {
  if (!ctx.live) throw new Error('subscription reached without live services: the door must set ctx.live');
  return ctx.live;
}

/** Resolves an SDK key from memory (or once from the database for a key new to this node). */
export async function resolveSdkKey(cache: SdkKeyCache, value: string | null): Promise<CachedSdkKey | null> {
  return value ? cache.resolve(value) : null;
}

/** A client-side ID used from a browser must be used from an allowed origin. */
export function originAllowed(key: CachedSdkKey, origin: string | null): boolean {
  return !origin || key.kind !== 'client' || key.allowAnyOrigin || key.origins.has(origin);
}

/**
 * Watches the SDK key a stream was opened with and calls `end` once it stops being valid: a
 * revocation's grace ends (a timer at expiresAt, and `stillValid()` on every event, which is a
 * comparison, not a lookup) or the key is revoked or deleted (`recheck()`, which streams call
 * when the environment's keys are reloaded).
 */
export function watchSdkKey(
  keyCache: SdkKeyCache,
  value: string,
  key: CachedSdkKey,
  end: () => void,
): { recheck(): void; stillValid(): boolean; stop(): void } {
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let expiresAt = key.expiresAt;
  const expire = () => {
    stop();
    end();
  };
  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (expiresAt === null || stopped) return;
    // The key cache decides with its own clock; the timer only says when to ask it again.
    timer = setTimeout(() => recheck(), Math.max(0, Math.min(expiresAt - Date.now(), 2 ** 31 - 1)) + 5);
    timer.unref();
  };
  const recheck = () => {
    void resolveSdkKey(keyCache, value)
      .catch(() => null)
      .then((now) => {
        if (stopped) return;
        if (!now || now.environmentId !== key.environmentId) return expire();
        expiresAt = now.expiresAt;
        schedule();
      });
  };
  const stillValid = () => {
    if (stopped) return false;
    if (expiresAt !== null && expiresAt <= Date.now()) {
      expire();
      return false;
    }
    return true;
  };
  const stop = () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
  schedule();
  return { recheck, stillValid, stop };
}

// ---------------------------------------------------------------------------------------------
// flagChanged

export interface FlagChangeEvent {
  projectId: string;
  environmentId: string;
  delta: FlagDelta;
  update: LiveUpdate;
}

const FLAG_CHANGE_KINDS = [
  'created',
  'updated',
  'state',
  'archived',
  'restored',
  'deleted',
  'killed',
  'promoted',
] as const;
const FlagChangeKindEnum = builder.enumType('FlagChangeKind', {
  description: 'What happened to the flag.',
  values: Object.fromEntries(FLAG_CHANGE_KINDS.map((k) => [k.toUpperCase(), { value: `flag.${k}` }])) as Record<
    Uppercase<(typeof FLAG_CHANGE_KINDS)[number]>,
    { value: ChangeKind }
  >,
});

const ChangeActorType = builder.objectRef<{ userId: string | null; tokenId: string | null }>('ChangeActor').implement({
  description: 'Who made a change: the member, the access token used, or both (a token acting on behalf of a member).',
  fields: (t) => ({
    userId: t.id({ nullable: true, resolve: (a) => a.userId }),
    tokenId: t.id({ nullable: true, resolve: (a) => a.tokenId }),
  }),
});

const FlagChangeType = builder.objectRef<FlagChangeEvent>('FlagChange').implement({
  description: 'One flag changed in one environment.',
  fields: (t) => ({
    flagKey: t.string({ resolve: (e) => e.delta.key }),
    flag: t.field({
      type: FlagType,
      nullable: true,
      description: 'The flag now; null once it is deleted.',
      resolve: (e, _a, ctx): Promise<Flag | null> =>
        ctx.em.findOne(FlagSchema, { project: e.projectId, key: e.delta.key }),
    }),
    environment: t.field({
      type: EnvironmentType,
      resolve: async (e, _a, ctx): Promise<Environment> => {
        const environment = await ctx.em.findOne(EnvironmentSchema, { id: e.environmentId });
        if (!environment) throw new NotFoundError('environment');
        return environment;
      },
    }),
    state: t.field({
      type: FlagStateType,
      nullable: true,
      description:
        "The flag's new state in this environment; null when it no longer evaluates there (archived or deleted).",
      resolve: (e, _a, ctx): Promise<FlagState | null> | null =>
        e.delta.config
          ? ctx.em.findOne(
              FlagStateSchema,
              { flag: { project: e.projectId, key: e.delta.key }, environment: e.environmentId },
              { populate: ['environment'] },
            )
          : null,
    }),
    version: t.int({
      description: "The environment's version after the change (the SSE event id).",
      resolve: (e) => e.update.current?.version ?? e.update.previous?.version ?? 0,
    }),
    kind: t.field({ type: FlagChangeKindEnum, resolve: (e) => e.delta.kind }),
    changedBy: t.field({
      type: ChangeActorType,
      nullable: true,
      description: 'Null for changes this node learned of by resynchronising after a lost connection.',
      resolve: (e) => e.update.change?.actor ?? null,
    }),
    changedAt: t.field({
      type: 'DateTime',
      description:
        "When the change was made, by the database's clock (the same on every node and every subscriber). For a change this node learned of by resynchronising after a lost connection, when it applied it.",
      resolve: (e) => e.update.at,
    }),
  }),
});

function credentialKey(credentials: CredentialHeaders): string {
  return `principal:${credentials.authorization ?? ''}\u0000${String(credentials['api-key'] ?? '')}`;
}

/**
 * Who the subscriber is now. Roles, memberships and tokens are read again on every event, once
 * per credential per update however many streams share it.
 */
function currentPrincipal(
  ctx: GraphQLContext,
  live: LiveRequest,
  update: LiveUpdate,
): Promise<Principal | DomainError> {
  const key = credentialKey(live.credentials);
  let known = update.memo.get(key) as Promise<Principal | DomainError> | undefined;
  if (!known) {
    // A re-check: the request or connection already spent its SSO JWT, if it carries one.
    known = resolvePrincipal(ctx.em.fork(), live.credentials, ctx.settings.jwtSecret, { recheck: true }).catch(
      (e: unknown) => (e instanceof DomainError ? e : new UnauthenticatedError('the credential could not be checked')),
    );
    update.memo.set(key, known);
  }
  return known;
}

const FlagValueType = builder.objectRef<EvaluationResult>('FlagValue').implement({
  description: "One flag evaluated for the subscriber's context.",
  fields: (t) => ({
    key: t.string({ resolve: (r) => r.key }),
    value: t.field({ type: 'JSON', nullable: true, resolve: (r) => r.value }),
    variation: t.int({
      nullable: true,
      description: "Index into the flag's variations; null on errors.",
      resolve: (r) => r.variation,
    }),
    reason: t.string({
      description: 'STATIC, DISABLED, TARGETING_MATCH, SPLIT, DEFAULT or ERROR.',
      resolve: (r) => r.reason,
    }),
    errorCode: t.string({ nullable: true, resolve: (r) => r.errorCode ?? null }),
  }),
});

builder.subscriptionFields((t) => ({
  flagChanged: t.field({
    type: FlagChangeType,
    description:
      "Every change to a flag of the project, one event per flag and environment. The subscriber's access is checked again on each event: a member who left or a deactivated token gets one error and the stream ends.",
    authScopes: { permission: 'flag:read' },
    args: {
      projectId: t.arg.id({ required: true }),
      environmentKeys: t.arg.stringList({ required: false, description: 'Only these environments (default: all).' }),
      flagKeys: t.arg.stringList({ required: false, description: 'Only these flags (default: all).' }),
    },
    subscribe: async (_root, args, ctx) => {
      const live = liveOf(ctx);
      const principal = actorOf(ctx);
      const projectId = args.projectId.toString();
      const project = /^[0-9a-f-]{36}$/i.test(projectId)
        ? await ctx.em.findOne(ProjectSchema, { id: projectId, organization: principal.organizationId })
        : null;
      if (!project) throw new NotFoundError('project');
      if (live.hub.isClosing) throw shuttingDown();
      const environments = args.environmentKeys ? new Set(args.environmentKeys) : null;
      const flags = args.flagKeys ? new Set(args.flagKeys) : null;
      const organizationId = principal.organizationId;

      const queue: LiveQueue<FlagChangeEvent | StreamEnded> = new LiveQueue(async (item) => {
        if (item instanceof StreamEnded) return item;
        const now = await currentPrincipal(ctx, live, item.update);
        const denied =
          now instanceof DomainError
            ? now
            : !now || now.organizationId !== organizationId || !hasPermission(now, 'flag:read')
              ? new ForbiddenError()
              : null;
        if (denied) {
          queue.end();
          return new StreamEnded(denied);
        }
        // A unit of work per event: fields load the flag as it is now, not as the first event saw it.
        ctx.em = ctx.em.fork();
        ctx.principal = now as Principal;
        return item;
      });
      queue.onClose(
        live.hub.onProject(project.id, (event) => {
          if (environments && !environments.has(event.environmentKey)) return;
          if (flags && !flags.has(event.delta.key)) return;
          queue.push({
            projectId: project.id,
            environmentId: event.update.environmentId,
            delta: event.delta,
            update: event.update,
          });
        }),
      );
      queue.onClose(live.hub.track(() => queue.end()));
      return queue;
    },
    resolve: (event) => {
      if (event instanceof StreamEnded) throw event.error;
      return event;
    },
  }),

  flagValues: t.field({
    type: [FlagValueType],
    description:
      "For SDK-key clients: every flag's value for this context, sent at once and again whenever one of them changes. A server key sees every flag; mobile keys and client-side IDs only client-side flags. The stream ends when the key stops being valid.",
    args: {
      context: t.arg({
        type: 'JSON',
        required: true,
        description: 'The evaluation context, e.g. {"key": "user-1", "country": "NL"}.',
      }),
    },
    subscribe: async (_root, { context }, ctx) => {
      const live = liveOf(ctx);
      const key = await resolveSdkKey(live.keyCache, live.sdkKey);
      if (!key) throw new UnauthenticatedError('API key is invalid');
      if (!originAllowed(key, live.origin))
        throw new ForbiddenError(`origin ${live.origin} is not authorized for this client-side ID`);
      if (!isValidContext(context))
        throw new ValidationError('context must be a JSON object whose key and kind, when present, are strings');
      const snapshot = live.snapshots.get(key.environmentId);
      if (!snapshot) throw new NotFoundError('environment');
      if (live.hub.isClosing) throw shuttingDown();
      // As on /v1/client: a server key sees every flag, mobile keys and client-side IDs client-side ones.
      const filter = key.kind === 'server' ? undefined : clientSideOnly;

      const queue: FlagValuesQueue = new LiveQueue<EvaluationResult[] | StreamEnded>();
      // Subscribers with the same visibility and context share one evaluation per event (the
      // update's memo is per environment): a result array is then shared, never mutated.
      const group = `flagValues:${filter ? 'client' : 'server'}:${JSON.stringify(context)}`;
      let last = evaluateAll(snapshot.compiled, context, filter);
      queue.push(last);
      const ended = () => {
        queue.push(new StreamEnded(new UnauthenticatedError('API key is invalid')));
        queue.end();
      };
      const watch = watchSdkKey(live.keyCache, live.sdkKey!, key, ended);
      queue.onClose(watch.stop);
      queue.onClose(
        live.hub.onEnvironment(key.environmentId, (event) => {
          if (event.type === 'keys') return watch.recheck();
          const current = event.update.current;
          if (!current) return queue.end();
          if (!watch.stillValid()) return;
          let next = event.update.memo.get(group) as EvaluationResult[] | undefined;
          if (!next)
            event.update.memo.set(
              group,
              (next = sharedValues(event.update.memo, evaluateAll(current.compiled, context, filter))),
            );
          if (next !== last && !sameValues(last, next)) {
            last = next;
            queue.push(next);
          }
        }),
      );
      queue.onClose(live.hub.track(() => queue.end()));
      if (live.flagValuesSource) live.flagValuesSource.queue = queue;
      return queue;
    },
    resolve: (values) => {
      if (values instanceof StreamEnded) throw values.error;
      return values;
    },
  }),
}));

/** The source stream of one `flagValues` subscription: value lists, then maybe its end. */
export type FlagValuesQueue = LiveQueue<EvaluationResult[] | StreamEnded>;

/** Equal as far as a client can tell (results are rebuilt by every compile, so not by identity). */
export function sameValues(a: readonly EvaluationResult[], b: readonly EvaluationResult[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (x.key !== y.key || x.variation !== y.variation || x.reason !== y.reason || x.errorCode !== y.errorCode)
      return false;
    if (x.value !== y.value && JSON.stringify(x.value) !== JSON.stringify(y.value)) return false;
  }
  return true;
}
