import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import {
  applyEnvironmentChange,
  type CompiledEnvironment,
  compileEnvironmentSteps,
  type EnvironmentChange,
  type EnvironmentData,
} from '../evaluation/index.js';
import { affectsEvaluation, type ChangePayload, type ChangeScope, changeScope } from './changes.js';

/**
 * The in-memory, compiled view of every environment that SDK requests evaluate against
 * (ARCHITECTURE.md, step 3). Loaded whole at start. A change notification names what changed:
 * when it is the next version of a snapshot this node holds, only those flags and segments are
 * read and recompiled (with their dependents) into a snapshot that shares everything else with
 * the previous one; a version gap, an environment change or a reconnect reloads the environment
 * whole, compiled in steps that yield to the event loop. Then one `updated` event is published
 * for the live views (GraphQL subscriptions, SSE). Snapshots of one environment never go
 * backwards in version.
 */
export interface Snapshot {
  environmentId: string;
  /** The environment's project and key (both fixed for its life): live views route by them. */
  projectId: string;
  environmentKey: string;
  version: number;
  data: EnvironmentData;
  compiled: CompiledEnvironment;
  /** Strong validator for datafile/OFREP bulk responses. */
  etag: string;
}

/** One environment as the source loads it. */
export interface EnvironmentSnapshotData {
  projectId: string;
  environmentKey: string;
  data: EnvironmentData;
}

export interface SnapshotSource {
  all(): Promise<Map<string, EnvironmentSnapshotData>>;
  one(environmentId: string): Promise<EnvironmentSnapshotData | null>;
  /**
   * The environment's version with the current state of the flags and segments named (null
   * for those gone), read in one consistent view; null when the environment does not exist.
   */
  changed(environmentId: string, scope: ChangeScope): Promise<EnvironmentChange | null>;
}

export interface SnapshotUpdate {
  environmentId: string;
  previous: Snapshot | undefined;
  current: Snapshot | undefined;
  change: ChangePayload | null;
  /**
   * For an incremental update, the flags whose evaluation may differ (those the change names,
   * those on a changed segment, their dependents); null when the environment was reloaded whole.
   */
  affected: ReadonlySet<string> | null;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Compiles in steps, letting the event loop run between them (SDK requests keep being answered). */
async function toSnapshot(environmentId: string, loaded: EnvironmentSnapshotData): Promise<Snapshot> {
  const { data } = loaded;
  const steps = compileEnvironmentSteps(data);
  let step = steps.next();
  while (!step.done) {
    await nextTurn();
    step = steps.next();
  }
  return snapshotOf(environmentId, loaded.projectId, loaded.environmentKey, data, step.value);
}

function snapshotOf(
  environmentId: string,
  projectId: string,
  environmentKey: string,
  data: EnvironmentData,
  compiled: CompiledEnvironment,
): Snapshot {
  return {
    environmentId,
    projectId,
    environmentKey,
    version: data.version,
    data,
    compiled,
    etag: `"${environmentId}.${data.version}"`,
  };
}

export class SnapshotStore extends EventEmitter {
  private snapshots = new Map<string, Snapshot>();
  private reloading = new Map<string, Promise<void>>();
  /** How changes were applied on this node (tests and the bench read it). */
  readonly stats = { incremental: 0, whole: 0 };

  constructor(private readonly source: SnapshotSource) {
    super();
    this.setMaxListeners(0);
  }

  get(environmentId: string): Snapshot | undefined {
    return this.snapshots.get(environmentId);
  }

  get size(): number {
    return this.snapshots.size;
  }

  /**
   * Loads every environment (at start, and after a reconnect when changes may have been missed),
   * announcing each whose version moved. A snapshot that a concurrent reload made newer is kept.
   */
  async loadAll(): Promise<void> {
    const held = new Set(this.snapshots.keys());
    const all = await this.source.all();
    for (const [id, loaded] of all) {
      const old = this.snapshots.get(id);
      if (old && old.version >= loaded.data.version) continue;
      const snapshot = await toSnapshot(id, loaded);
      const now = this.snapshots.get(id);
      if (now && now.version >= snapshot.version) continue;
      this.snapshots.set(id, snapshot);
      this.emit('updated', {
        environmentId: id,
        previous: now,
        current: snapshot,
        change: null,
        affected: null,
      } satisfies SnapshotUpdate);
    }
    for (const id of held) {
      const old = this.snapshots.get(id);
      if (all.has(id) || !old) continue;
      this.snapshots.delete(id);
      this.emit('updated', {
        environmentId: id,
        previous: old,
        current: undefined,
        change: null,
        affected: null,
      } satisfies SnapshotUpdate);
    }
  }

  /**
   * Brings one environment up to date after `change` (or reloads it whole when null);
   * concurrent calls for it are chained so they apply in order.
   */
  reload(environmentId: string, change: ChangePayload | null = null): Promise<void> {
    const prior = this.reloading.get(environmentId) ?? Promise.resolve();
    const next = prior.then(async () => {
      const previous = this.snapshots.get(environmentId);
      const expected = change?.environments[environmentId];
      // Already there (a resync read it): nothing to read.
      if (previous && expected !== undefined && expected <= previous.version) return;
      const scope = change && previous && expected === previous.version + 1 ? changeScope(change) : null;
      if (scope && previous && (await this.applyChange(previous, scope, change!))) return;
      await this.reloadWhole(environmentId, change);
    });
    const settled = next.catch(() => undefined);
    this.reloading.set(environmentId, settled);
    void settled.then(() => {
      if (this.reloading.get(environmentId) === settled) this.reloading.delete(environmentId);
    });
    return next;
  }

  /** The incremental path; false when the read found another version than the next one. */
  private async applyChange(previous: Snapshot, scope: ChangeScope, change: ChangePayload): Promise<boolean> {
    const { environmentId } = previous;
    const read = await this.source.changed(environmentId, scope);
    if (read === null || read.version !== previous.version + 1) return false;
    // A resync replaced the snapshot while the change was read: let the whole reload decide.
    if (this.snapshots.get(environmentId) !== previous) return false;
    const applied = applyEnvironmentChange(previous.data, previous.compiled, read);
    const current = snapshotOf(
      environmentId,
      previous.projectId,
      previous.environmentKey,
      applied.data,
      applied.compiled,
    );
    this.snapshots.set(environmentId, current);
    this.stats.incremental++;
    this.emit('updated', {
      environmentId,
      previous,
      current,
      change,
      affected: applied.affected,
    } satisfies SnapshotUpdate);
    return true;
  }

  private async reloadWhole(environmentId: string, change: ChangePayload | null): Promise<void> {
    const loaded = await this.source.one(environmentId);
    const previous = this.snapshots.get(environmentId);
    if (!loaded) {
      if (!previous) return;
      this.snapshots.delete(environmentId);
      this.emit('updated', {
        environmentId,
        previous,
        current: undefined,
        change,
        affected: null,
      } satisfies SnapshotUpdate);
      return;
    }
    if (previous && previous.version >= loaded.data.version) return;
    const current = await toSnapshot(environmentId, loaded);
    // Compiling yielded: a resync may have stored this version or a later one meanwhile.
    const now = this.snapshots.get(environmentId);
    if (now && now.version >= current.version) return;
    this.snapshots.set(environmentId, current);
    this.stats.whole++;
    this.emit('updated', {
      environmentId,
      previous: now,
      current,
      change,
      affected: null,
    } satisfies SnapshotUpdate);
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    snapshots: SnapshotStore;
  }
}

/**
 * The snapshots of this node, kept fresh by the change bus: a change that alters evaluation
 * reloads its environments; a bus reconnect reloads everything.
 */
export const snapshotsPlugin = fp(
  async (app: FastifyInstance, options: { source: SnapshotSource }) => {
    const snapshots = new SnapshotStore(options.source);
    const failed = (what: string) => (err: Error) => app.log.warn(`${what} failed: ${err.message}`);
    app.changeBus.on('change', (change: ChangePayload) => {
      if (!affectsEvaluation(change)) return;
      for (const environmentId of Object.keys(change.environments)) {
        snapshots.reload(environmentId, change).catch(failed('snapshot reload'));
      }
    });
    app.changeBus.on('resync', () => void snapshots.loadAll().catch(failed('snapshot resync')));
    await snapshots.loadAll();
    app.decorate('snapshots', snapshots);
  },
  { name: 'snapshots', dependencies: ['change-bus'] },
);
