import { EntitySchema } from '@mikro-orm/core';
import type { Role } from '../../auth/permissions.js';
import { createdAt, timestamps } from '../../db/columns.js';

export interface User {
  id: string;
  email: string;
  name: string;
  passwordHash: string | null;
  /**
   * Set for an account that single sign-on created: it belongs to that organization, signs in
   * only through its SSO and joins no other. Null for accounts people registered themselves.
   */
  managedByOrganization: Organization | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface Organization {
  id: string;
  name: string;
  slug: string;
  /**
   * The SSO signing secret, encrypted with a key derived from JWT_SECRET: HS256 verification
   * needs the secret itself, so unlike tokens it cannot be kept as a hash.
   */
  ssoSecretEncrypted: string | null;
  /** When set, an SSO JWT must carry this `aud` (and this `iss`): for integrations that mint several kinds. */
  ssoAudience: string | null;
  ssoIssuer: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface Membership {
  id: string;
  organization: Organization;
  user: User;
  role: Role;
  createdAt: Date;
  updatedAt: Date;
}

/** One row per issued refresh token; a family is one login's chain of rotations. */
export interface RefreshToken {
  id: string;
  familyId: string;
  user: User;
  organization: Organization;
  expiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
}

export const UserSchema = new EntitySchema<User>({
  name: 'User',
  tableName: 'users',
  properties: {
    id: { type: 'uuid', primary: true },
    email: { type: 'string', length: 320, unique: true },
    name: { type: 'string', length: 200 },
    passwordHash: { type: 'string', nullable: true, columnType: 'text', hidden: true },
    managedByOrganization: { kind: 'm:1', entity: () => OrganizationSchema, nullable: true, deleteRule: 'cascade' },
    ...timestamps,
  },
});

export const OrganizationSchema = new EntitySchema<Organization>({
  name: 'Organization',
  tableName: 'organizations',
  properties: {
    id: { type: 'uuid', primary: true },
    name: { type: 'string', length: 200 },
    slug: { type: 'string', length: 100, unique: true },
    ssoSecretEncrypted: { type: 'text', nullable: true, hidden: true },
    ssoAudience: { type: 'string', length: 500, nullable: true },
    ssoIssuer: { type: 'string', length: 500, nullable: true },
    ...timestamps,
  },
});

export const MembershipSchema = new EntitySchema<Membership>({
  name: 'Membership',
  tableName: 'memberships',
  properties: {
    id: { type: 'uuid', primary: true },
    organization: { kind: 'm:1', entity: () => OrganizationSchema, deleteRule: 'cascade' },
    user: { kind: 'm:1', entity: () => UserSchema, deleteRule: 'cascade', index: true },
    role: { type: 'string', length: 20 },
    ...timestamps,
  },
  uniques: [{ properties: ['organization', 'user'] }],
});

export const RefreshTokenSchema = new EntitySchema<RefreshToken>({
  name: 'RefreshToken',
  tableName: 'refresh_tokens',
  properties: {
    id: { type: 'uuid', primary: true },
    familyId: { type: 'uuid', index: true },
    user: { kind: 'm:1', entity: () => UserSchema, deleteRule: 'cascade' },
    organization: { kind: 'm:1', entity: () => OrganizationSchema, deleteRule: 'cascade' },
    expiresAt: { type: 'Date', columnType: 'timestamptz' },
    usedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    revokedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    createdAt,
  },
});
