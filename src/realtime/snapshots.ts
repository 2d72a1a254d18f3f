import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type CompiledEnvironment, compileEnvironment, type EnvironmentData } from '../evaluation/index.js';
import { affectsEvaluation, type ChangePayload } from './changes.js';

/**
 * The in-memory, compiled view of every environment that SDK requests evaluate against
 * (ARCHITECTURE.md, step 3). Loaded whole at start; on a change notification the environment is
 * reloaded and recompiled, then one `updated` event is published for the live views (GraphQL
 * subscriptions, SSE). Reloads of one environment never go backwards in version.
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
}

export interface SnapshotUpdate {
  environmentId: string;
  previous: Snapshot | undefined;
  current: Snapshot | undefined;
  change: ChangePayload | null;
}

function toSnapshot(environmentId: string, loaded: EnvironmentSnapshotData): Snapshot {
  const { data } = loaded;
  return {
    environmentId,
    projectId: loaded.projectId,
    environmentKey: loaded.environmentKey,
    version: data.version,
    data,
    compiled: compileEnvironment(data),
    etag: `"${environmentId}.${data.version}"`,
  };
}

export class SnapshotStore extends EventEmitter {
  private snapshots = new Map<string, Snapshot>();
  private reloading = new Map<string, Promise<void>>();

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

  async loadAll(): Promise<void> {
    const all = await this.source.all();
    const previous = this.snapshots;
    const next = new Map<string, Snapshot>();
    for (const [id, loaded] of all) {
      const old = previous.get(id);
      next.set(id, old && old.version === loaded.data.version ? old : toSnapshot(id, loaded));
    }
    this.snapshots = next;
    // After a resync, announce every environment whose version moved (changes may have been missed).
    for (const [id, snapshot] of next) {
      const old = previous.get(id);
      if (!old || old.version !== snapshot.version)
        this.emit('updated', {
          environmentId: id,
          previous: old,
          current: snapshot,
          change: null,
        } satisfies SnapshotUpdate);
    }
    for (const [id, old] of previous) {
      if (!next.has(id))
        this.emit('updated', {
          environmentId: id,
          previous: old,
          current: undefined,
          change: null,
        } satisfies SnapshotUpdate);
    }
  }

  /** Reloads one environment; concurrent calls for it are chained so they apply in order. */
  reload(environmentId: string, change: ChangePayload | null = null): Promise<void> {
    const prior = this.reloading.get(environmentId) ?? Promise.resolve();
    const next = prior.then(async () => {
      const loaded = await this.source.one(environmentId);
      const previous = this.snapshots.get(environmentId);
      if (!loaded) {
        if (!previous) return;
        this.snapshots.delete(environmentId);
        this.emit('updated', { environmentId, previous, current: undefined, change } satisfies SnapshotUpdate);
        return;
      }
      if (previous && previous.version >= loaded.data.version) return;
      const current = toSnapshot(environmentId, loaded);
      this.snapshots.set(environmentId, current);
      this.emit('updated', { environmentId, previous, current, change } satisfies SnapshotUpdate);
    });
    const settled = next.catch(() => undefined);
    this.reloading.set(environmentId, settled);
    void settled.then(() => {
      if (this.reloading.get(environmentId) === settled) this.reloading.delete(environmentId);
    });
    return next;
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
