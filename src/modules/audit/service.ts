import { randomUUID } from 'node:crypto';
import type { EntityManager, FilterQuery } from '@mikro-orm/postgresql';
import type { ManagementPrincipal } from '../../auth/principal.js';
import { type Page, type PageArgs, pageWindow, toPage } from '../../common/pagination.js';
import { requestOriginOf } from '../../db/origin.js';
import { ValidationError } from '../../errors.js';
import { enqueueWebhookEvent } from '../webhooks/outbox/write.js';
import { entryHash, GENESIS_HASH } from './chain.js';
import { type AuditEntry, AuditEntrySchema } from './entity.js';

/**
 * Who made a change, as the audit log records it: a member, an access token, a token acting on
 * behalf of a member (both ids), or the scheduler applying a change someone scheduled (kind
 * `scheduler`, with the member and token that scheduled it).
 */
export type AuditActor = Pick<ManagementPrincipal, 'organizationId' | 'userId' | 'tokenId' | 'kind'>;

/**
 * One change, as every service records it (and as webhooks announce it):
 * - `action`: what happened, `<resource>.<verb>` (`flag.state.updated`, `approval.reviewed`);
 * - `resourceType`, `resourceId`: what it happened to (`flag` and the flag's id);
 * - `projectId`, `environmentId`: where, when it happened in one;
 * - `details`: what changed. A change to something that has a before and an after records both
 *   (`details.before`, `details.after`; `describeChanges` in diff.ts reads them as lines a person
 *   reads), a change reaching several environments records them per environment key
 *   (`details.environments.<key>.before/after`). Never a secret.
 */
export interface AuditRecord {
  action: string;
  resourceType: string;
  resourceId?: string | null;
  projectId?: string | null;
  environmentId?: string | null;
  details?: Record<string, unknown>;
}

/**
 * Records a change in the caller's transaction: the entry commits or rolls back with it, and is
 * linked into its organization's hash chain as it is written (chain.ts). The request it came
 * from is the unit of work's (db/origin.ts).
 */
export function recordAudit(em: EntityManager, actor: AuditActor, record: AuditRecord): void {
  const origin = requestOriginOf(em);
  const entry = em.create(AuditEntrySchema, {
    id: randomUUID(),
    organizationId: actor.organizationId,
    actorUserId: actor.userId,
    actorTokenId: actor.tokenId,
    principalKind: actor.kind,
    action: record.action,
    resourceType: record.resourceType,
    resourceId: record.resourceId ?? null,
    projectId: record.projectId ?? null,
    environmentId: record.environmentId ?? null,
    details: record.details ?? {},
    requestId: origin.requestId,
    clientIp: origin.clientIp,
    createdAt: new Date(),
  });
  // The webhooks subscribed to this change get it through their outbox, in the same transaction.
  enqueueWebhookEvent(em, entry);
}

/** What the audit log can be narrowed to; every filter given must hold. */
export interface AuditFilters extends PageArgs {
  action?: string | null;
  resourceType?: string | null;
  resourceId?: string | null;
  projectId?: string | null;
  environmentId?: string | null;
  /** The member who made the change (or on whose behalf, or who scheduled it). */
  actorUserId?: string | null;
  actorTokenId?: string | null;
  /** member, personal-token, service-token, on-behalf or scheduler. */
  principalKind?: string | null;
  /** Entries at or after this time. */
  since?: Date | null;
  /** Entries before this time. */
  until?: Date | null;
  /**
   * Continue after this cursor (`nextCursor` of the previous page): the export door. Entries are
   * listed newest first, and a cursor stays valid however many entries are written meanwhile.
   */
  after?: string | null;
}

export interface AuditPage extends Page<AuditEntry> {
  /** Where the next page starts; null on the last page. */
  nextCursor: string | null;
}

const FILTERS = [
  'action',
  'resourceType',
  'resourceId',
  'projectId',
  'environmentId',
  'actorUserId',
  'actorTokenId',
  'principalKind',
] as const;

const cursorOf = (entry: AuditEntry) =>
  Buffer.from(JSON.stringify([entry.createdAt.toISOString(), entry.id])).toString('base64url');

function parseCursor(cursor: string): { at: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const date = new Date(at);
    if (typeof id === 'string' && /^[0-9a-f-]{36}$/i.test(id) && !Number.isNaN(date.getTime())) return { at: date, id };
  } catch {
    /* answered below */
  }
  throw new ValidationError('after is not a cursor this API gave');
}

/** The caller's organization's changes, newest first, by page (offset) or by cursor (after). */
export async function listAuditEntries(
  em: EntityManager,
  actor: Pick<ManagementPrincipal, 'organizationId'>,
  filters: AuditFilters,
): Promise<AuditPage> {
  const window = pageWindow(filters);
  const where: FilterQuery<AuditEntry> & Record<string, unknown> = { organizationId: actor.organizationId };
  for (const name of FILTERS) {
    const value = filters[name];
    if (value) where[name] = value;
  }
  const time: Record<string, Date> = {};
  if (filters.since) time.$gte = filters.since;
  if (filters.until) time.$lt = filters.until;
  if (Object.keys(time).length > 0) where.createdAt = time;
  const total = await em.count(AuditEntrySchema, where);
  if (filters.after) {
    if (window.offset !== 0) throw new ValidationError('give either after or offset, not both');
    const { at, id } = parseCursor(filters.after);
    where.$and = [{ $or: [{ createdAt: { $lt: at } }, { createdAt: at, id: { $lt: id } }] }];
  }
  const rows = await em.find(AuditEntrySchema, where, {
    orderBy: { createdAt: 'desc', id: 'desc' },
    limit: window.limit + 1,
    offset: window.offset,
  });
  const more = rows.length > window.limit;
  const data = rows.slice(0, window.limit);
  const page = toPage(data, total, window);
  return { ...page, hasMore: more, nextCursor: more ? cursorOf(data[data.length - 1]!) : null };
}

export interface ChainBreak {
  /** The position the broken link should have in the chain. */
  seq: number;
  /** The entry found there (null when it is missing). */
  entryId: string | null;
  reason: string;
}

export interface ChainVerification {
  valid: boolean;
  /** Entries checked (every chained entry of the organization up to the first broken link). */
  checked: number;
  /** The chain's length as its head records it. */
  length: number;
  firstBroken: ChainBreak | null;
}

const VERIFY_BATCH = 1_000;

/**
 * Walks an organization's chain from its first entry, recomputing every hash, and reports the
 * first broken link: an entry whose content no longer matches its hash (edited), a gap in the
 * numbering (removed), a link to a previous hash that is not the previous entry's (reordered or
 * replaced), or a chain shorter than its head says (its last entries removed).
 */
export async function verifyAuditChain(em: EntityManager, organizationId: string): Promise<ChainVerification> {
  const [head] = await em.execute<{ seq: number; hash: string }[]>(
    'select seq, hash from audit_chain_heads where organization_id = ?',
    [organizationId],
  );
  const length = head ? Number(head.seq) : 0;
  let previous = GENESIS_HASH;
  let expected = 1;
  let checked = 0;
  const broken = (reason: string, entryId: string | null): ChainVerification => ({
    valid: false,
    checked,
    length,
    firstBroken: { seq: expected, entryId, reason },
  });
  for (;;) {
    const rows = await em.find(
      AuditEntrySchema,
      { organizationId, seq: { $gte: expected } },
      // Not kept in the unit of work: a chain of millions of entries is read a batch at a time.
      { orderBy: { seq: 'asc' }, limit: VERIFY_BATCH, disableIdentityMap: true },
    );
    for (const entry of rows) {
      const seq = entry.seq!;
      if (seq !== expected) return broken(`entry ${expected} is missing`, null);
      if (entry.prevHash !== previous)
        return broken("it does not link to the previous entry's hash: an entry before it was replaced", entry.id);
      if (entryHash(previous, { ...entry, seq }) !== entry.hash)
        return broken('its content no longer matches its hash: it was changed after it was written', entry.id);
      previous = entry.hash!;
      expected++;
      checked++;
    }
    if (rows.length < VERIFY_BATCH) break;
  }
  if (checked < length) return broken(`the chain ends at ${checked} but its head records ${length}`, null);
  if (head && head.hash !== previous && length > 0)
    return broken("the last entry's hash is not the one its head records", null);
  return { valid: true, checked, length, firstBroken: null };
}
