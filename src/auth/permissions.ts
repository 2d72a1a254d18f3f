/**
 * The permission model: one table from role to permissions. Every authorization decision in the
 * GraphQL schema is a lookup in the principal's permission set built from this table.
 */
export const ROLES = ['owner', 'admin', 'developer', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
  'org:read',
  'org:manage',
  'project:read',
  'project:write',
  'project:delete',
  'environment:write',
  'environment:delete',
  'flag:read',
  'flag:write',
  'flag:delete',
  'segment:read',
  'segment:write',
  'sdkkey:read',
  'sdkkey:manage',
  'member:read',
  'member:manage',
  'owner:manage',
  'approval:request',
  'approval:review',
  'audit:read',
  'webhook:manage',
  'metrics:read',
  'token:list',
  'token:manage-personal',
  'token:manage-service',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * The groups of the API reference's management tables: Read (all roles) lists SDK keys (masked,
 * never their values); Write (owner, admin, developer) deletes flags; Admin (owner, admin) reads
 * evaluation metrics. The REST routes name the permission they need (for their documentation); the
 * GraphQL field each one runs decides, by the same permission.
 */
const READ: Permission[] = [
  'org:read',
  'project:read',
  'flag:read',
  'segment:read',
  'sdkkey:read',
  'member:read',
  'audit:read',
];
const WRITE: Permission[] = [
  'project:write',
  'environment:write',
  'flag:write',
  'flag:delete',
  'segment:write',
  'approval:request',
  'token:list',
  'token:manage-personal',
  'token:manage-service',
];
const ADMIN: Permission[] = [
  'org:manage',
  'project:delete',
  'environment:delete',
  'sdkkey:manage',
  'member:manage',
  'approval:review',
  'webhook:manage',
  'metrics:read',
];

/**
 * viewer reads; developer writes (deleting flags too); admin manages keys, members, webhooks,
 * metrics and deletes projects and environments; owner everything.
 */
export const ROLE_PERMISSIONS: Record<Role, ReadonlySet<Permission>> = {
  viewer: new Set(READ),
  developer: new Set([...READ, ...WRITE]),
  admin: new Set([...READ, ...WRITE, ...ADMIN]),
  owner: new Set(PERMISSIONS),
};

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function isPermission(value: string): value is Permission {
  return (PERMISSIONS as readonly string[]).includes(value);
}
