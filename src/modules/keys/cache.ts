import type { EntityManager } from '@mikro-orm/postgresql';
import { hashKey, parseKey } from '../../auth/keys.js';
import type { Clock } from '../../clock.js';
import { uuidArray } from '../../db/sql.js';
import type { SdkKeyKind } from './entity.js';

/**
 * SDK key → environment, answered from memory. Loaded whole at start, refreshed per environment
 * by the change bus (revocations, new keys, origin edits) and reloaded whole after a bus
 * reconnect. A well-formed key that is not in memory (created on another node a moment ago) is
 * looked up once and remembered, negatively too, so garbage keys never reach the database twice.
 */
export interface CachedSdkKey {
  id: string;
  environmentId: string;
  /** The key (slug) of that environment, fixed for its life: paths may name the environment by it. */
  environmentKey: string;
  kind: SdkKeyKind;
  /** Epoch ms after which the key answers 401 (end of a revocation grace), or null. */
  expiresAt: number | null;
  /** Client-side ID only: allowed browser origins; `allowAnyOrigin` when the list holds `*`. */
  origins: ReadonlySet<string>;
  allowAnyOrigin: boolean;
}

interface Row {
  id: string;
  environment_id: string;
  environment_key: string;
  kind: SdkKeyKind;
  key_hash: string;
  expires_at: Date | null;
  authorized_origins: string[] | string;
}

const NEGATIVE_TTL_MS = 30_000;
const NEGATIVE_MAX = 10_000;
const HASH_MEMO_MAX = 10_000;
const LAST_USED_EVERY_MS = 60_000;

function toCached(row: Row): CachedSdkKey {
  const origins: string[] =
    typeof row.authorized_origins === 'string' ? JSON.parse(row.authorized_origins) : (row.authorized_origins ?? []);
  return {
    id: row.id,
    environmentId: row.environment_id,
    environmentKey: row.environment_key,
    kind: row.kind,
    expiresAt: row.expires_at ? new Date(row.expires_at).getTime() : null,
    origins: new Set(origins.filter((o) => o !== '*')),
    allowAnyOrigin: origins.includes('*'),
  };
}

const SELECT =
  'select k.id, k.environment_id, e.key as environment_key, k.kind, k.key_hash, k.expires_at, k.authorized_origins from sdk_keys k join environments e on e.id = k.environment_id';

export class SdkKeyCache {
  private byHash = new Map<string, CachedSdkKey>();
  /** Keys by id, rebuilt on first use after byHash changed. */
  private byId: Map<string, CachedSdkKey> | null = null;
  /** Presented value → hash, so the hot path skips SHA-256 for keys it has seen (bounded). */
  private hashes = new Map<string, string>();
  private unknown = new Map<string, number>();
  private lastUsedWritten = new Map<string, number>();
  private pendingLastUsed = new Set<string>();

  constructor(
    private readonly em: () => EntityManager,
    private readonly clock: Clock,
  ) {}

  async loadAll(): Promise<void> {
    const rows: Row[] = await this.em().execute(`${SELECT} where k.expires_at is null or k.expires_at > now()`);
    const next = new Map<string, CachedSdkKey>();
    for (const row of rows) next.set(row.key_hash, toCached(row));
    this.byHash = next;
    this.byId = null;
    this.unknown.clear();
  }

  async reloadEnvironment(environmentId: string): Promise<void> {
    const rows: Row[] = await this.em().execute(`${SELECT} where k.environment_id = ?`, [environmentId]);
    for (const [hash, key] of this.byHash) if (key.environmentId === environmentId) this.byHash.delete(hash);
    this.byId = null;
    for (const row of rows) {
      this.byHash.set(row.key_hash, toCached(row));
      this.unknown.delete(row.key_hash);
    }
  }

  forgetEnvironment(environmentId: string): void {
    for (const [hash, key] of this.byHash) if (key.environmentId === environmentId) this.byHash.delete(hash);
    this.byId = null;
  }

  /**
   * The key if it is valid now. Synchronous when the answer is in memory (the hot path);
   * a promise only for a well-formed key this node has never seen.
   */
  resolve(value: string): CachedSdkKey | null | Promise<CachedSdkKey | null> {
    let hash = this.hashes.get(value);
    if (hash === undefined) {
      hash = hashKey(value);
      if (this.byHash.has(hash)) {
        if (this.hashes.size >= HASH_MEMO_MAX) this.hashes.clear();
        this.hashes.set(value, hash);
      }
    }
    const hit = this.byHash.get(hash);
    if (hit) return this.usable(hit);
    if (!parseKey(value)) return null;
    const until = this.unknown.get(hash);
    if (until !== undefined && until > this.clock.now()) return null;
    return this.lookup(hash);
  }

  /** A key this node holds, by id, when it is valid now (never a lookup). */
  cachedById(id: string): CachedSdkKey | undefined {
    this.byId ??= new Map([...this.byHash.values()].map((key) => [key.id, key]));
    const key = this.byId.get(id);
    return key === undefined ? undefined : (this.usable(key) ?? undefined);
  }

  /** The key when this node holds it and it is valid now; undefined otherwise (never a lookup). */
  cached(value: string): CachedSdkKey | undefined {
    const hash = this.hashes.get(value);
    const hit = hash === undefined ? undefined : this.byHash.get(hash);
    return hit === undefined ? undefined : (this.usable(hit) ?? undefined);
  }

  private usable(key: CachedSdkKey): CachedSdkKey | null {
    const now = this.clock.now();
    if (key.expiresAt !== null && key.expiresAt <= now) return null;
    const written = this.lastUsedWritten.get(key.id) ?? 0;
    if (now - written >= LAST_USED_EVERY_MS) {
      this.lastUsedWritten.set(key.id, now);
      this.pendingLastUsed.add(key.id);
    }
    return key;
  }

  private async lookup(hash: string): Promise<CachedSdkKey | null> {
    const rows: Row[] = await this.em().execute(`${SELECT} where k.key_hash = ?`, [hash]);
    const row = rows[0];
    if (!row) {
      if (this.unknown.size >= NEGATIVE_MAX) this.unknown.clear();
      this.unknown.set(hash, this.clock.now() + NEGATIVE_TTL_MS);
      return null;
    }
    const key = toCached(row);
    this.byHash.set(hash, key);
    this.byId = null;
    return this.usable(key);
  }

  /** Writes last-used times, at most once a minute per key, off the request path. */
  async flushLastUsed(): Promise<void> {
    if (this.pendingLastUsed.size === 0) return;
    const ids = [...this.pendingLastUsed];
    this.pendingLastUsed.clear();
    await this.em().execute('update sdk_keys set last_used_at = now() where id = any(?::uuid[])', [uuidArray(ids)]);
  }
}
