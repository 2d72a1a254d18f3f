import type { Permission, Role } from './permissions.js';

/**
 * Who is calling a management door. Resolved once per request, before any resolver runs;
 * authorization is then a set lookup.
 */
export interface ManagementPrincipal {
  /** `scheduler`: the job that applies a scheduled change, for the member (and token) who scheduled it. */
  kind: 'member' | 'personal-token' | 'service-token' | 'on-behalf' | 'scheduler';
  organizationId: string;
  /** The member acting (null for a service token acting on its own). */
  userId: string | null;
  /** The access token used, when one was. */
  tokenId: string | null;
  role: Role | null;
  permissions: ReadonlySet<Permission>;
  /** When set, write permissions only apply to these environments (least privilege). */
  environmentIds: ReadonlySet<string> | null;
  /**
   * The credential belongs to this one organization and can lead into no other: every token, an
   * on-behalf credential, and a session minted by the organization's single sign-on. False only
   * for a person's own (password) session, which may switch between their organizations.
   */
  organizationBound: boolean;
}

export type Principal = ManagementPrincipal | null;

export function hasPermission(principal: Principal, permission: Permission, environmentId?: string): boolean {
  if (!principal?.permissions.has(permission)) return false;
  if (environmentId && principal.environmentIds && !principal.environmentIds.has(environmentId)) return false;
  return true;
}

export function intersect(a: ReadonlySet<Permission>, b: ReadonlySet<Permission>): Set<Permission> {
  const out = new Set<Permission>();
  for (const p of a) if (b.has(p)) out.add(p);
  return out;
}

/** Who made a change, as the change bus announces it (the member, the token, or both). */
export const changeActor = (actor: ManagementPrincipal) => ({ userId: actor.userId, tokenId: actor.tokenId });
