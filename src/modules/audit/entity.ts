import { EntitySchema, type Opt } from '@mikro-orm/core';
import { createdAt } from '../../db/columns.js';
import { chainEntry } from './chain.js';

/**
 * An append-only record of every management change. Ids are stored without foreign keys on
 * purpose: the trail outlives the users, tokens and resources it names.
 *
 * Each organization's entries form a hash chain (chain.ts): `seq` numbers them 1, 2, 3… in the
 * order they committed, and `hash` covers `prevHash` (the previous entry's hash) and the entry's
 * own content, so an entry changed or removed afterwards breaks the chain where it happened.
 */
export interface AuditEntry {
  id: string;
  organizationId: string;
  /** The member who made the change, or on whose behalf (or, for the scheduler, who scheduled it). */
  actorUserId: string | null;
  /** The access token that made the request, if any (on-behalf requests record both). */
  actorTokenId: string | null;
  /** member, personal-token, service-token, on-behalf or scheduler. */
  principalKind: string;
  action: string;
  resourceType: string;
  resourceId: string | null;
  projectId: string | null;
  environmentId: string | null;
  details: Record<string, unknown>;
  /** The request that made the change (its X-Request-Id), when a request did. */
  requestId: string | null;
  clientIp: string | null;
  /** Set as the entry is written (chain.ts); null only for entries older than the chain. */
  seq: Opt<number | null>;
  prevHash: Opt<string | null>;
  hash: Opt<string | null>;
  createdAt: Date;
}

/** The last link of an organization's chain: locked by every writer, so entries chain one at a time. */
export interface AuditChainHead {
  organizationId: string;
  seq: number;
  hash: string;
  lastAt: Date;
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
    requestId: { type: 'string', length: 100, nullable: true },
    clientIp: { type: 'string', length: 64, nullable: true },
    seq: { type: 'integer', nullable: true },
    prevHash: { type: 'string', length: 64, nullable: true },
    hash: { type: 'string', length: 64, nullable: true },
    createdAt: { ...createdAt, index: true },
  },
  uniques: [{ properties: ['organizationId', 'seq'] }],
  indexes: [{ properties: ['organizationId', 'createdAt'] }],
  hooks: { beforeCreate: [chainEntry] },
});

export const AuditChainHeadSchema = new EntitySchema<AuditChainHead>({
  name: 'AuditChainHead',
  tableName: 'audit_chain_heads',
  properties: {
    organizationId: { type: 'uuid', primary: true },
    seq: { type: 'integer' },
    hash: { type: 'string', length: 64 },
    lastAt: { type: 'Date', columnType: 'timestamptz' },
  },
});
