import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ManagementPrincipal } from '../../auth/principal.js';
import { AuditEntrySchema } from './entity.js';

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
