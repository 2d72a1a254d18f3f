import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { isRole, ROLE_PERMISSIONS, type Role } from '../../auth/permissions.js';
import { hasPermission, type ManagementPrincipal } from '../../auth/principal.js';
import { type Page, type PageArgs, pageWindow, toPage } from '../../common/pagination.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../errors.js';
import {
  type Membership,
  MembershipSchema,
  type Organization,
  OrganizationSchema,
  RefreshTokenSchema,
  UserSchema,
} from '../accounts/entity.js';
import { issueSession, normaliseEmail, type SessionSettings } from '../accounts/service.js';
import { recordAudit } from '../audit/service.js';
import { deactivatePersonalTokens } from '../tokens/service.js';

export function assertRole(role: string): Role {
  if (!isRole(role)) throw new ValidationError(`role must be one of owner, admin, developer, viewer`);
  return role;
}

/**
 * Nobody grants, changes or takes away a role that can do something they cannot: only owners
 * touch owners, and a token that manages members grants no role beyond its own permissions (nor,
 * narrowed to environments, any role, since roles reach every environment).
 */
export function assertCanTouchRole(actor: ManagementPrincipal, ...roles: Role[]): void {
  if (roles.includes('owner') && !hasPermission(actor, 'owner:manage')) {
    throw new ForbiddenError('only an owner can grant, change or remove the owner role');
  }
  for (const role of roles) {
    const beyond = [...ROLE_PERMISSIONS[role]].filter((p) => !actor.permissions.has(p));
    if (beyond.length > 0 || actor.environmentIds !== null) {
      throw new ForbiddenError(
        `the ${role} role holds permissions you do not hold${beyond.length ? `: ${beyond.sort().join(', ')}` : ' (every environment)'}`,
      );
    }
  }
}

async function assertNotLastOwner(em: EntityManager, membership: Membership): Promise<void> {
  if (membership.role !== 'owner') return;
  const owners = await em.count(MembershipSchema, { organization: membership.organization, role: 'owner' });
  if (owners <= 1) throw new ConflictError('an organization must keep at least one owner');
}

async function getMembership(em: EntityManager, actor: ManagementPrincipal, userId: string): Promise<Membership> {
  const membership = await em.findOne(
    MembershipSchema,
    { organization: actor.organizationId, user: userId },
    { populate: ['user', 'organization'] },
  );
  if (!membership) throw new NotFoundError('member');
  return membership;
}

export async function listMembers(
  em: EntityManager,
  actor: ManagementPrincipal,
  args: PageArgs,
): Promise<Page<Membership>> {
  const window = pageWindow(args);
  const [rows, total] = await em.findAndCount(
    MembershipSchema,
    { organization: actor.organizationId },
    { populate: ['user'], orderBy: { createdAt: 'asc', id: 'asc' }, ...window },
  );
  return toPage(rows, total, window);
}

/** Adds a person who already has a Vexil account to the caller's organization. */
export async function addMember(em: EntityManager, actor: ManagementPrincipal, input: { email: string; role: string }) {
  const email = normaliseEmail(input.email);
  const role = assertRole(input.role);
  assertCanTouchRole(actor, role);
  return em.transactional(async (tx) => {
    const user = await tx.findOne(UserSchema, { email });
    if (!user) throw new NotFoundError('a user with this email');
    if (user.managedByOrganization && user.managedByOrganization.id !== actor.organizationId) {
      throw new ForbiddenError(
        'this account is managed by the single sign-on of another organization: it joins no other',
      );
    }
    if (await tx.count(MembershipSchema, { organization: actor.organizationId, user })) {
      throw new ConflictError('this user is already a member');
    }
    const now = new Date();
    const membership = tx.create(MembershipSchema, {
      id: randomUUID(),
      organization: actor.organizationId,
      user,
      role,
      createdAt: now,
      updatedAt: now,
    });
    recordAudit(tx, actor, {
      action: 'member.added',
      resourceType: 'member',
      resourceId: user.id,
      details: { email, role },
    });
    return membership;
  });
}

export async function updateMemberRole(em: EntityManager, actor: ManagementPrincipal, userId: string, newRole: string) {
  const role = assertRole(newRole);
  return em.transactional(async (tx) => {
    const membership = await getMembership(tx, actor, userId);
    assertCanTouchRole(actor, role, membership.role);
    if (membership.role === role) return membership;
    if (role !== 'owner') await assertNotLastOwner(tx, membership);
    recordAudit(tx, actor, {
      action: 'member.role_changed',
      resourceType: 'member',
      resourceId: userId,
      details: { from: membership.role, to: role },
    });
    membership.role = role;
    return membership;
  });
}

/** Removes a member; their sessions in this organization end with it. */
export async function removeMember(em: EntityManager, actor: ManagementPrincipal, userId: string) {
  return em.transactional(async (tx) => {
    const membership = await getMembership(tx, actor, userId);
    assertCanTouchRole(actor, membership.role);
    await assertNotLastOwner(tx, membership);
    await tx.nativeUpdate(
      RefreshTokenSchema,
      { user: userId, organization: actor.organizationId, revokedAt: null },
      { revokedAt: new Date() },
    );
    await deactivatePersonalTokens(tx, actor.organizationId, userId);
    recordAudit(tx, actor, {
      action: 'member.removed',
      resourceType: 'member',
      resourceId: userId,
      details: { role: membership.role },
    });
    tx.remove(membership);
    return membership;
  });
}

/** A new session in another organization the member belongs to. */
export async function switchOrganization(
  em: EntityManager,
  settings: SessionSettings,
  actor: ManagementPrincipal,
  organizationId: string,
) {
  if (actor.kind !== 'member' || !actor.userId)
    throw new ForbiddenError('only a signed-in member can switch organization');
  // A credential minted by one organization's single sign-on leads into no other.
  if (actor.organizationBound) {
    throw new ForbiddenError('a session from single sign-on stays in its organization: sign in with your own login');
  }
  const membership = await em.findOne(
    MembershipSchema,
    { user: actor.userId, organization: organizationId },
    { populate: ['user', 'organization'] },
  );
  if (!membership) throw new NotFoundError('organization');
  if (membership.user.managedByOrganization && membership.user.managedByOrganization.id !== organizationId) {
    throw new ForbiddenError('this account is managed by the single sign-on of another organization');
  }
  const tokens = await em.transactional((tx) => issueSession(tx, settings, membership.user, membership.organization));
  return { user: membership.user, organization: membership.organization, tokens };
}

/** A credential bound to one organization (a token, an SSO session) shows only that one, whoever holds it. */
export async function organizationsVisibleTo(em: EntityManager, actor: ManagementPrincipal): Promise<Organization[]> {
  if (actor.organizationBound || !actor.userId) {
    return [await em.findOneOrFail(OrganizationSchema, { id: actor.organizationId })];
  }
  const memberships = await em.find(
    MembershipSchema,
    { user: actor.userId },
    { populate: ['organization'], orderBy: { createdAt: 'asc' } },
  );
  return memberships.map((m) => m.organization);
}
