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

const READ: Permission[] = [
  'org:read',
  'project:read',
  'flag:read',
  'segment:read',
  'member:read',
  'audit:read',
  'metrics:read',
];
const WRITE: Permission[] = [
  'project:write',
  'environment:write',
  'flag:write',
  'segment:write',
  'sdkkey:read',
  'approval:request',
  'token:list',
  'token:manage-personal',
  'token:manage-service',
];
const ADMIN: Permission[] = [
  'org:manage',
  'project:delete',
  'environment:delete',
  'flag:delete',
  'sdkkey:manage',
  'member:manage',
  'approval:review',
  'webhook:manage',
];

/** viewer reads; developer writes; admin manages keys, members, webhooks and deletes; owner everything. */
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
