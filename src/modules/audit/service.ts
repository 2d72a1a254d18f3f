import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ManagementPrincipal } from '../../auth/principal.js';
import { type Page, type PageArgs, pageWindow, toPage } from '../../common/pagination.js';
import { type AuditEntry, AuditEntrySchema } from './entity.js';

export interface AuditRecord {
  action: string;
  resourceType: string;
  resourceId?: string | null;
  projectId?: string | null;
  environmentId?: string | null;
  details?: Record<string, unknown>;
}

/** Records a change in the caller's transaction: the entry commits or rolls back with it. */
export function recordAudit(em: EntityManager, actor: ManagementPrincipal, record: AuditRecord): void {
  em.create(AuditEntrySchema, {
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
    createdAt: new Date(),
  });
}

/** What the audit log can be narrowed to; every filter given must hold. */
export interface AuditFilters extends PageArgs {
  action?: string | null;
  resourceType?: string | null;
  resourceId?: string | null;
  projectId?: string | null;
  environmentId?: string | null;
  /** The member who made the change (or on whose behalf it was made). */
  actorUserId?: string | null;
}

/** The caller's organization's changes, newest first. */
export async function listAuditEntries(
  em: EntityManager,
  actor: ManagementPrincipal,
  filters: AuditFilters,
): Promise<Page<AuditEntry>> {
  const window = pageWindow(filters);
  const where: Record<string, string> = { organizationId: actor.organizationId };
  for (const name of ['action', 'resourceType', 'resourceId', 'projectId', 'environmentId', 'actorUserId'] as const) {
    const value = filters[name];
    if (value) where[name] = value;
  }
  const [rows, total] = await em.findAndCount(AuditEntrySchema, where, {
    orderBy: { createdAt: 'desc', id: 'desc' },
    ...window,
  });
  return toPage(rows, total, window);
}
