import { EntitySchema } from '@mikro-orm/core';
import { timestamps } from '../../db/columns.js';
import type { Organization, User } from '../accounts/entity.js';
import { OrganizationSchema, UserSchema } from '../accounts/entity.js';

export type AccessTokenKind = 'personal' | 'service';

/**
 * A credential for the management API. The value is shown once and stored as SHA-256 only.
 * A personal token acts as its owner (scopes ∩ the owner's current role); a service token has
 * the scopes fixed at creation.
 */
export interface AccessToken {
  id: string;
  organization: Organization;
  kind: AccessTokenKind;
  name: string;
  tokenHash: string;
  masked: string;
  /** The owner of a personal token; the creator of a service token (for the audit trail). */
  user: User | null;
  scopes: string[];
  /** When set, environment-scoped writes are limited to these environments. */
  environmentIds: string[] | null;
  active: boolean;
  createdAt: Date;
  updatedAt: Date;
  lastUsedAt: Date | null;
}

export const AccessTokenSchema = new EntitySchema<AccessToken>({
  name: 'AccessToken',
  tableName: 'access_tokens',
  properties: {
    id: { type: 'uuid', primary: true },
    organization: { kind: 'm:1', entity: () => OrganizationSchema, deleteRule: 'cascade' },
    kind: { type: 'string', length: 10 },
    name: { type: 'string', length: 200 },
    tokenHash: { type: 'string', length: 64, unique: true },
    masked: { type: 'string', length: 40 },
    user: { kind: 'm:1', entity: () => UserSchema, nullable: true, deleteRule: 'set null' },
    scopes: { type: 'json' },
    environmentIds: { type: 'json', nullable: true },
    active: { type: 'boolean', default: true },
    ...timestamps,
    lastUsedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
  },
});
