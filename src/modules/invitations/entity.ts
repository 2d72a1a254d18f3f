import { EntitySchema } from '@mikro-orm/core';
import type { Role } from '../../auth/permissions.js';
import { createdAt } from '../../db/columns.js';
import { type Organization, OrganizationSchema } from '../accounts/entity.js';

/**
 * An invitation into an organization: a single-use token (stored as its SHA-256 only, shown
 * once), bound to an email address and a role, that expires.
 */
export interface Invitation {
  id: string;
  organization: Organization;
  email: string;
  role: Role;
  tokenHash: string;
  invitedByUserId: string | null;
  invitedByTokenId: string | null;
  expiresAt: Date;
  acceptedAt: Date | null;
  acceptedByUserId: string | null;
  revokedAt: Date | null;
  createdAt: Date;
}

export const InvitationSchema = new EntitySchema<Invitation>({
  name: 'Invitation',
  tableName: 'invitations',
  properties: {
    id: { type: 'uuid', primary: true },
    organization: { kind: 'm:1', entity: () => OrganizationSchema, deleteRule: 'cascade', index: true },
    email: { type: 'string', length: 320 },
    role: { type: 'string', length: 20 },
    tokenHash: { type: 'string', length: 64, unique: true },
    invitedByUserId: { type: 'uuid', nullable: true },
    invitedByTokenId: { type: 'uuid', nullable: true },
    expiresAt: { type: 'Date', columnType: 'timestamptz' },
    acceptedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    acceptedByUserId: { type: 'uuid', nullable: true },
    revokedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    createdAt,
  },
});
