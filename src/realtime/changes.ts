import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidArray } from '../db/sql.js';

/**
 * The first step of the change pipeline (ARCHITECTURE.md): inside the mutation's own transaction,
 * bump the version of every environment whose evaluation changed and `pg_notify` a small payload.
 * PostgreSQL delivers the notification only if the transaction commits, so no listener ever
 * hears of a change that was rolled back.
 */
export const CHANGE_CHANNEL = 'vexil_changes';

/**
 * What each kind of change alters on every node: `evaluation`, the environments' snapshots
 * (and so SDK answers and live views); `keys`, the SDK-key cache (who may evaluate).
 */
const EFFECTS = {
  'flag.created': { evaluation: true, keys: false },
  'flag.updated': { evaluation: true, keys: false },
  'flag.state': { evaluation: true, keys: false },
  'flag.archived': { evaluation: true, keys: false },
  'flag.restored': { evaluation: true, keys: false },
  'flag.deleted': { evaluation: true, keys: false },
  'flag.killed': { evaluation: true, keys: false },
  'flag.promoted': { evaluation: true, keys: false },
  'segment.created': { evaluation: true, keys: false },
  'segment.updated': { evaluation: true, keys: false },
  'segment.deleted': { evaluation: true, keys: false },
  'sdkkey.created': { evaluation: false, keys: true },
  'sdkkey.updated': { evaluation: false, keys: true },
  'sdkkey.revoked': { evaluation: false, keys: true },
  // An environment is born with its client-side ID, and its keys go with it.
  'environment.created': { evaluation: true, keys: true },
  'environment.updated': { evaluation: true, keys: false },
  'environment.deleted': { evaluation: true, keys: true },
  // A pending change was proposed, reviewed, applied…: live views hear it (the hub's notices), no cache does.
  'approval.changed': { evaluation: false, keys: false },
} as const satisfies Record<string, { evaluation: boolean; keys: boolean }>;

export type ChangeKind = keyof typeof EFFECTS;

/** Whether the change alters what its environments evaluate (their snapshots reload). */
export function affectsEvaluation(change: Pick<ChangePayload, 'kind'>): boolean {
  return EFFECTS[change.kind]?.evaluation ?? true;
}

/** Whether the change alters the SDK keys of its environments (the key cache reloads them). */
export function affectsKeys(change: Pick<ChangePayload, 'kind'>): boolean {
  return EFFECTS[change.kind]?.keys ?? true;
}

export interface ChangePayload {
  /** Environment id → its version after this change. */
  environments: Record<string, number>;
  kind: ChangeKind;
  flagKeys?: string[];
  segmentKeys?: string[];
  /** The member (or token) that made the change, for dashboards. */
  actor?: { userId: string | null; tokenId: string | null };
  /**
   * For changes no cache holds (an approval request moved): the project live views route it to,
   * what changed (its id) and the state it is in now.
   */
  notice?: { projectId: string; id: string; state: string };
  /**
   * When the change was made: the database's clock as the change is announced (ISO 8601, UTC,
   * milliseconds), one clock for every node. Set by announceChange; absent from older payloads.
   */
  at?: string;
  /** Set when flagKeys or segmentKeys were cut to MAX_KEYS: listeners must reload the whole environment. */
  truncated?: true;
}

/** What a change names, for a node to apply it incrementally; null when only a full reload will do. */
export interface ChangeScope {
  flagKeys: readonly string[];
  segmentKeys: readonly string[];
}

/**
 * Flag and segment changes name everything they altered (ARCHITECTURE.md, "Cost of a change");
 * environment changes, cut key lists and payloads of unknown kinds reload the environment.
 */
export function changeScope(change: ChangePayload): ChangeScope | null {
  if (change.truncated) return null;
  const flagKeys = Array.isArray(change.flagKeys) ? change.flagKeys.filter((k) => typeof k === 'string') : [];
  const segmentKeys = Array.isArray(change.segmentKeys) ? change.segmentKeys.filter((k) => typeof k === 'string') : [];
  if (change.kind.startsWith('flag.')) return flagKeys.length > 0 ? { flagKeys, segmentKeys } : null;
  if (change.kind.startsWith('segment.')) return segmentKeys.length > 0 ? { flagKeys, segmentKeys } : null;
  return null;
}

// NOTIFY payloads are limited to 8000 bytes: long key lists are cut and marked (listeners then
// reload the whole environment) rather than failing the transaction.
const MAX_KEYS = 100;

/** Bumps the versions and announces the change; call it inside the mutation's transaction. */
export async function announceChange(
  em: EntityManager,
  change: Omit<ChangePayload, 'environments'> & {
    environmentIds: string[];
    /** False for changes that alter no evaluation (SDK keys): announced, but the version stays. */
    bumpVersion?: boolean;
  },
): Promise<Record<string, number>> {
  const environments: Record<string, number> = {};
  if (change.environmentIds.length > 0) {
    const rows: { id: string; version: number }[] = await em.execute(
      change.bumpVersion === false
        ? 'select id, version from environments where id = any(?::uuid[])'
        : // Rows locked in id order, as lockEnvironments does, so concurrent writers never deadlock.
          `with locked as (select id from environments where id = any(?::uuid[]) order by id for no key update)
           update environments e set version = e.version + 1, updated_at = now()
           from locked where e.id = locked.id returning e.id, e.version`,
      [uuidArray(change.environmentIds)],
    );
    for (const row of rows) environments[row.id] = Number(row.version);
  }
  const payload: ChangePayload = {
    environments,
    kind: change.kind,
    ...(change.flagKeys ? { flagKeys: change.flagKeys.slice(0, MAX_KEYS) } : {}),
    ...(change.segmentKeys ? { segmentKeys: change.segmentKeys.slice(0, MAX_KEYS) } : {}),
    ...(change.actor ? { actor: change.actor } : {}),
    ...(change.notice ? { notice: change.notice } : {}),
    ...((change.flagKeys?.length ?? 0) > MAX_KEYS || (change.segmentKeys?.length ?? 0) > MAX_KEYS
      ? { truncated: true as const }
      : {}),
  };
  // `at` is appended in SQL, as the payload's last field, from the same statement that notifies.
  const json = JSON.stringify(payload);
  await em.execute(
    `select pg_notify(?, ?::text || to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '"}')`,
    [CHANGE_CHANNEL, `${json.slice(0, -1)},"at":"`],
  );
  return environments;
}
