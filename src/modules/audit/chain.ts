import { createHash } from 'node:crypto';
import type { EventArgs } from '@mikro-orm/core';
import canonicalize from 'canonicalize';
import type { AuditEntry } from './entity.js';

/**
 * The tamper evidence of the audit log: each organization's entries form a hash chain. An entry's
 * hash is SHA-256 over the previous entry's hash and the entry's own content in RFC 8785 canonical
 * JSON, so changing, removing or reordering an entry after the fact breaks every link from there
 * on, and verifyChain (service.ts) names the first broken one.
 *
 * Entries are chained as they are written, inside the writer's transaction: the writer locks the
 * organization's chain head (one row per organization), takes the next number and the previous
 * hash from it, and moves it on. Concurrent mutations of one organization therefore chain one
 * after the other in commit order (the lock is held until commit, and is taken at the end of the
 * transaction, when its entries are flushed); a transaction that rolls back takes its links with it.
 */
export const GENESIS_HASH = '0'.repeat(64);

type Chained = Pick<
  AuditEntry,
  | 'id'
  | 'organizationId'
  | 'actorUserId'
  | 'actorTokenId'
  | 'principalKind'
  | 'action'
  | 'resourceType'
  | 'resourceId'
  | 'projectId'
  | 'environmentId'
  | 'details'
  | 'requestId'
  | 'clientIp'
  | 'createdAt'
> & { seq: number };

/** Everything an entry says, as JSON would carry it (the details as they come back from jsonb). */
function content(entry: Chained): unknown {
  return {
    id: entry.id,
    organizationId: entry.organizationId,
    seq: entry.seq,
    actorUserId: entry.actorUserId,
    actorTokenId: entry.actorTokenId,
    principalKind: entry.principalKind,
    action: entry.action,
    resourceType: entry.resourceType,
    resourceId: entry.resourceId,
    projectId: entry.projectId,
    environmentId: entry.environmentId,
    details: JSON.parse(JSON.stringify(entry.details ?? {})),
    requestId: entry.requestId,
    clientIp: entry.clientIp,
    createdAt: entry.createdAt.toISOString(),
  };
}

export function entryHash(prevHash: string, entry: Chained): string {
  return createHash('sha256')
    .update(`${prevHash}\n${canonicalize(content(entry))}`)
    .digest('hex');
}

interface HeadRow {
  seq: number;
  hash: string;
  last_at: Date;
}

/**
 * The entity's beforeCreate hook: links a new entry to its organization's chain. Its time is made
 * strictly later than the previous entry's, so time order and chain order agree within an
 * organization (listings and their cursors sort by time).
 */
export async function chainEntry({ entity, em }: EventArgs<AuditEntry>): Promise<void> {
  const connection = em.getConnection();
  const ctx = em.getTransactionContext();
  const [head] = (await connection.execute(
    `insert into audit_chain_heads (organization_id, seq, hash, last_at) values (?, 0, ?, to_timestamp(0))
     on conflict (organization_id) do update set seq = audit_chain_heads.seq
     returning seq, hash, last_at`,
    [entity.organizationId, GENESIS_HASH],
    'all',
    ctx,
  )) as HeadRow[];
  const seq = Number(head!.seq) + 1;
  const createdAt = new Date(Math.max(entity.createdAt.getTime(), new Date(head!.last_at).getTime() + 1));
  const hash = entryHash(head!.hash, { ...entity, seq, createdAt });
  await connection.execute(
    'update audit_chain_heads set seq = ?, hash = ?, last_at = ? where organization_id = ?',
    [seq, hash, createdAt, entity.organizationId],
    'run',
    ctx,
  );
  entity.seq = seq;
  entity.prevHash = head!.hash;
  entity.hash = hash;
  entity.createdAt = createdAt;
}
