import { EventEmitter } from 'node:events';
import { type CompiledEnvironment, compileEnvironment, type EnvironmentData } from '../evaluation/index.js';
import type { ChangePayload } from './changes.js';

/**
 * The in-memory, compiled view of every environment that SDK requests evaluate against
 * (ARCHITECTURE.md, step 3). Loaded whole at start; on a change notification the environment is
 * reloaded and recompiled, then one `updated` event is published for the live views (GraphQL
 * subscriptions, SSE). Reloads of one environment never go backwards in version.
 */
export interface Snapshot {
  environmentId: string;
  version: number;
  data: EnvironmentData;
  compiled: CompiledEnvironment;
  /** Strong validator for datafile/OFREP bulk responses. */
  etag: string;
}

export interface SnapshotSource {
  all(): Promise<Map<string, EnvironmentData>>;
  one(environmentId: string): Promise<EnvironmentData | null>;
}

export interface SnapshotUpdate {
  environmentId: string;
  previous: Snapshot | undefined;
  current: Snapshot | undefined;
  change: ChangePayload | null;
}

function toSnapshot(environmentId: string, data: EnvironmentData): Snapshot {
  return {
    environmentId,
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
    for (const [id, data] of all) {
      const old = previous.get(id);
      next.set(id, old && old.version === data.version ? old : toSnapshot(id, data));
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
      const data = await this.source.one(environmentId);
      const previous = this.snapshots.get(environmentId);
      if (!data) {
        if (!previous) return;
        this.snapshots.delete(environmentId);
        this.emit('updated', { environmentId, previous, current: undefined, change } satisfies SnapshotUpdate);
        return;
      }
      if (previous && previous.version >= data.version) return;
      const current = toSnapshot(environmentId, data);
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
