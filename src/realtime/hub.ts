import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { FlagConfig } from '../evaluation/index.js';
import type { ChangeKind, ChangePayload } from './changes.js';
import type { Snapshot, SnapshotStore, SnapshotUpdate } from './snapshots.js';

/**
 * The node-local pubsub behind every live view (ARCHITECTURE.md, step 3): one SnapshotStore
 * `updated` event becomes one HubUpdate, dispatched to the streams of that environment (SSE,
 * flagValues) and of its project (flagChanged). What changed is computed once per update, not
 * once per subscriber. The hub also tracks every open stream so shutdown can end them all.
 */

/** How one flag changed in one environment. */
export interface FlagDelta {
  key: string;
  kind: ChangeKind;
  /** The flag as the environment now evaluates it; null once archived or deleted. */
  config: FlagConfig | null;
}

export interface HubUpdate extends SnapshotUpdate {
  /** When the change was made (the payload's `at`); for a resync, when this node applied it. */
  at: Date;
  /** Flags whose evaluation data changed, plus the flags the change names (a rename, say). */
  readonly flags: FlagDelta[];
  /** True when segments changed: every flag may evaluate differently. */
  readonly segmentsChanged: boolean;
  /** Per-update memo for work every subscriber would otherwise repeat (principal lookups, encodings). */
  readonly memo: Map<string, unknown>;
}

/** A change no snapshot holds (ChangePayload.notice), for a project's live views. */
export interface NoticeEvent {
  change: ChangePayload & { notice: NonNullable<ChangePayload['notice']> };
  /** When the change was made (the payload's `at`), else when this node heard of it. */
  at: Date;
  /** Per-notice memo, as HubUpdate's. */
  readonly memo: Map<string, unknown>;
}

export type EnvironmentEvent = { type: 'update'; update: HubUpdate } | { type: 'keys' };

export interface ProjectEvent {
  update: HubUpdate;
  environmentKey: string;
  delta: FlagDelta;
}

type Listener<T> = (event: T) => void;

/**
 * A live view following one environment. An object with a method rather than a closure: with
 * 10,000 idle subscribers, each closure and its context is a megabyte of heap.
 */
export interface EnvironmentFollower {
  environmentEvent(event: EnvironmentEvent): void;
}

/** An open stream, as shutdown sees it. */
export interface OpenStream {
  /** Ends the stream because the server is going away. */
  shutdown(): void;
}

/**
 * Listeners called per turn of the event loop when one environment event reaches many streams.
 * Between chunks the loop gets to I/O, so the first subscribers' frames leave while later ones
 * are still being prepared (a graphql-ws send completes in microtasks after its listener ran).
 */
const DISPATCH_CHUNK = 256;

interface Dispatch {
  set: Set<EnvironmentFollower>;
  listeners: EnvironmentFollower[];
  event: EnvironmentEvent;
  index: number;
}

function configsByKey(snapshot: Snapshot | undefined): Map<string, FlagConfig> {
  return new Map((snapshot?.data.flags ?? []).map((f) => [f.definition.key, f]));
}

function removalKind(change: ChangePayload | null): ChangeKind {
  return change?.kind === 'flag.deleted' ? 'flag.deleted' : 'flag.archived';
}

/** One flag's delta between two configs (undefined: nothing a client could see changed). */
function deltaOf(
  update: SnapshotUpdate,
  key: string,
  was: FlagConfig | undefined,
  now: FlagConfig | undefined,
  named: boolean,
): FlagDelta | undefined {
  if (!now)
    return { key, kind: was ? removalKind(update.change) : (update.change?.kind ?? 'flag.deleted'), config: null };
  if (!was)
    return { key, kind: update.change?.kind === 'flag.restored' ? 'flag.restored' : 'flag.created', config: now };
  if (named || (was !== now && JSON.stringify(was) !== JSON.stringify(now)))
    return { key, kind: update.change?.kind.startsWith('flag.') ? update.change.kind : 'flag.updated', config: now };
  return undefined;
}

/**
 * The flags an update touched. An incremental update changed only the flags its change names,
 * so only those are looked at; a whole reload (a reconnect's resync names none) compares every flag.
 */
export function flagDeltas(update: SnapshotUpdate): FlagDelta[] {
  const named = new Set(update.change?.kind.startsWith('flag.') ? (update.change.flagKeys ?? []) : []);
  const deltas: FlagDelta[] = [];
  if (update.affected !== null && update.previous && update.current) {
    const before = update.previous.compiled.flags;
    const after = update.current.compiled.flags;
    for (const key of named) {
      const was = before.get(key);
      const now = after.get(key);
      const delta = deltaOf(
        update,
        key,
        was && { definition: was.definition, state: was.state },
        now && { definition: now.definition, state: now.state },
        true,
      );
      if (delta) deltas.push(delta);
    }
    return deltas;
  }
  const before = configsByKey(update.previous);
  const after = configsByKey(update.current);
  // A named flag may be in neither snapshot (an archived flag deleted for good): still a change.
  const keys = new Set([...before.keys(), ...after.keys(), ...named]);
  for (const key of keys) {
    const delta = deltaOf(update, key, before.get(key), after.get(key), named.has(key));
    if (delta) deltas.push(delta);
  }
  return deltas;
}

function segmentsDiffer(update: SnapshotUpdate): boolean {
  const before = update.previous?.data.segments ?? [];
  const after = update.current?.data.segments ?? [];
  if (before === after) return false;
  return JSON.stringify(before) !== JSON.stringify(after);
}

function toHubUpdate(update: SnapshotUpdate, at: Date): HubUpdate {
  let flags: FlagDelta[] | undefined;
  let segments: boolean | undefined;
  return {
    ...update,
    at,
    memo: new Map(),
    get flags() {
      return (flags ??= flagDeltas(update));
    },
    get segmentsChanged() {
      return (segments ??= segmentsDiffer(update));
    },
  };
}

export class Hub {
  private byEnvironment = new Map<string, Set<EnvironmentFollower>>();
  private byProject = new Map<string, Set<Listener<ProjectEvent>>>();
  private noticesByProject = new Map<string, Set<Listener<NoticeEvent>>>();
  private open = new Set<OpenStream>();
  private closing = false;
  /** Environment events being dispatched in chunks, in order, per environment. */
  private dispatching = new Map<string, Dispatch[]>();

  constructor(
    snapshots: SnapshotStore,
    private readonly now: () => number,
  ) {
    snapshots.on('updated', (update: SnapshotUpdate) => this.publish(update));
  }

  /** True once shutdown began: new streams are refused. */
  get isClosing(): boolean {
    return this.closing;
  }

  /** The number of open streams (SSE, GraphQL subscriptions). */
  get openStreams(): number {
    return this.open.size;
  }

  /** How many live views follow an environment. */
  followers(environmentId: string): number {
    return this.byEnvironment.get(environmentId)?.size ?? 0;
  }

  /** `follower` hears the environment's events until `unfollow`. */
  follow(environmentId: string, follower: EnvironmentFollower): void {
    let set = this.byEnvironment.get(environmentId);
    if (!set) this.byEnvironment.set(environmentId, (set = new Set()));
    set.add(follower);
  }

  unfollow(environmentId: string, follower: EnvironmentFollower): void {
    const set = this.byEnvironment.get(environmentId);
    if (!set) return;
    set.delete(follower);
    if (set.size === 0) this.byEnvironment.delete(environmentId);
  }

  /** `follow` for a listener function; answers the function that stops it. */
  onEnvironment(environmentId: string, listener: Listener<EnvironmentEvent>): () => void {
    const follower: EnvironmentFollower = { environmentEvent: listener };
    this.follow(environmentId, follower);
    return () => this.unfollow(environmentId, follower);
  }

  onProject(projectId: string, listener: Listener<ProjectEvent>): () => void {
    return this.add(this.byProject, projectId, listener);
  }

  /** Notices (changes no snapshot holds) of a project. */
  onNotice(projectId: string, listener: Listener<NoticeEvent>): () => void {
    return this.add(this.noticesByProject, projectId, listener);
  }

  /** A change the bus delivered that names a notice: to that project's notice listeners. */
  notice(change: ChangePayload): void {
    const notice = change.notice;
    if (!notice || typeof notice.projectId !== 'string' || typeof notice.id !== 'string') return;
    const at = change.at ? new Date(change.at) : new Date(this.now());
    this.emit(this.noticesByProject.get(notice.projectId), {
      change: change as NoticeEvent['change'],
      at,
      memo: new Map(),
    });
  }

  /** Registers an open stream so shutdown can end it, until `release`. */
  hold(stream: OpenStream): void {
    this.open.add(stream);
  }

  release(stream: OpenStream): void {
    this.open.delete(stream);
  }

  /** `hold` for a closer function; answers the unregister function. */
  track(close: () => void): () => void {
    const stream: OpenStream = { shutdown: close };
    this.open.add(stream);
    return () => this.open.delete(stream);
  }

  /** Ends every open stream (graceful shutdown). */
  closeAll(): void {
    this.closing = true;
    for (const stream of [...this.open]) {
      try {
        stream.shutdown();
      } catch {
        /* a stream that fails to close must not stop the others */
      }
    }
    this.open.clear();
  }

  /** The SDK keys of an environment were reloaded (a revocation or a grace ending may end streams). */
  keysReloaded(environmentId: string): void {
    this.emitEnvironment(environmentId, { type: 'keys' });
  }

  /** Every key was reloaded (after a LISTEN reconnect). */
  allKeysReloaded(): void {
    for (const environmentId of [...this.byEnvironment.keys()]) this.emitEnvironment(environmentId, { type: 'keys' });
  }

  private publish(update: SnapshotUpdate): void {
    const hubUpdate = toHubUpdate(update, update.change?.at ? new Date(update.change.at) : new Date(this.now()));
    this.emitEnvironment(update.environmentId, { type: 'update', update: hubUpdate });
    // Every snapshot names its project and environment key, so project listeners need no lookup.
    const snapshot = update.current ?? update.previous;
    const listeners = snapshot && this.byProject.get(snapshot.projectId);
    if (!listeners || listeners.size === 0) return;
    for (const delta of hubUpdate.flags)
      this.emit(listeners, { update: hubUpdate, environmentKey: snapshot.environmentKey, delta });
  }

  /**
   * Calls the environment's listeners (those registered now and still registered when their
   * turn comes) in chunks; a later event of the same environment waits for the earlier one.
   * Up to one chunk runs synchronously, so a small audience is served as before.
   */
  private emitEnvironment(environmentId: string, event: EnvironmentEvent): void {
    const set = this.byEnvironment.get(environmentId);
    if (!set || set.size === 0) return;
    const job: Dispatch = { set, listeners: [...set], event, index: 0 };
    const queue = this.dispatching.get(environmentId);
    if (queue) {
      queue.push(job);
      return;
    }
    const jobs = [job];
    this.dispatching.set(environmentId, jobs);
    this.pump(environmentId, jobs);
  }

  private pump(environmentId: string, jobs: Dispatch[]): void {
    let budget = DISPATCH_CHUNK;
    while (jobs.length > 0) {
      const job = jobs[0]!;
      while (job.index < job.listeners.length) {
        if (budget-- === 0) {
          setImmediate(() => this.pump(environmentId, jobs));
          return;
        }
        const follower = job.listeners[job.index++]!;
        // A stream closed since the event was published is not called.
        if (!job.set.has(follower)) continue;
        try {
          follower.environmentEvent(job.event);
        } catch {
          /* one broken stream must not starve the others */
        }
      }
      jobs.shift();
    }
    this.dispatching.delete(environmentId);
  }

  private emit<T>(listeners: Set<Listener<T>> | undefined, event: T): void {
    if (!listeners) return;
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch {
        /* one broken stream must not starve the others */
      }
    }
  }

  private add<T>(map: Map<string, Set<Listener<T>>>, id: string, listener: Listener<T>): () => void {
    let set = map.get(id);
    if (!set) map.set(id, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && map.get(id) === set) map.delete(id);
    };
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    hub: Hub;
  }
}

/**
 * The hub over this node's snapshots, and the bus's notices. Open streams would keep close() waiting forever, so
 * shutdown ends them (`closeAll`), once the transports that must close first have (app.ts).
 */
export const hubPlugin = fp(
  async (app: FastifyInstance) => {
    const hub = new Hub(app.snapshots, () => app.clock.now());
    app.changeBus.on('change', (change: ChangePayload) => {
      if (change.notice) hub.notice(change);
    });
    app.decorate('hub', hub);
  },
  { name: 'hub', dependencies: ['snapshots', 'change-bus'] },
);
