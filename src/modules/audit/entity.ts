import { EntitySchema } from '@mikro-orm/core';
import { createdAt } from '../../db/columns.js';

/**
 * An append-only record of every management change. Ids are stored without foreign keys on
 * purpose: the trail outlives the users, tokens and resources it names.
 */
export interface AuditEntry {
  id: string;
  organizationId: string;
  /** The member on whose behalf the change was made, if any. */
  actorUserId: string | null;
  /** The access token that made the request, if any (on-behalf requests record both). */
  actorTokenId: string | null;
  principalKind: string;
  action: string;
  resourceType: string;
  resourceId: string | null;
  projectId: string | null;
  environmentId: string | null;
  details: Record<string, unknown>;
  createdAt: Date;
}

export const AuditEntrySchema = new EntitySchema<AuditEntry>({
  name: 'AuditEntry',
  tableName: 'audit_entries',
  properties: {
    id: { type: 'uuid', primary: true },
    organizationId: { type: 'uuid', index: true },
    actorUserId: { type: 'uuid', nullable: true },
    actorTokenId: { type: 'uuid', nullable: true },
    principalKind: { type: 'string', length: 30 },
    action: { type: 'string', length: 100 },
    resourceType: { type: 'string', length: 50 },
    resourceId: { type: 'string', length: 200, nullable: true },
    projectId: { type: 'uuid', nullable: true },
    environmentId: { type: 'uuid', nullable: true },
    details: { type: 'json', default: '{}' },
    createdAt: { ...createdAt, index: true },
  },
});
