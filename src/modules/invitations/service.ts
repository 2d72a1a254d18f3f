import { randomUUID } from 'node:crypto';
import { type EntityManager, LockMode, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { generateKey, hashKey, parseKey } from '../../auth/keys.js';
import { hashPassword } from '../../auth/passwords.js';
import { isPermission, type Permission, ROLE_PERMISSIONS } from '../../auth/permissions.js';
import { intersect, type ManagementPrincipal, type Principal } from '../../auth/principal.js';
import type { SessionSettings } from '../../auth/session.js';
import { type Page, type PageArgs, pageWindow, toPage } from '../../common/pagination.js';
import { ConflictError, ForbiddenError, NotFoundError, UnauthenticatedError } from '../../errors.js';
import { MembershipSchema, OrganizationSchema, UserSchema } from '../accounts/entity.js';
import { assertPassword, issueSession, memberPrincipal, normaliseEmail } from '../accounts/service.js';
import { recordAudit } from '../audit/service.js';
import { assertCanTouchRole, assertRole } from '../members/service.js';
import { assertName } from '../slug.js';
import { AccessTokenSchema } from '../tokens/entity.js';
import { type Invitation, InvitationSchema } from './entity.js';

/**
 * Invitations: how a person who has no account yet (or one elsewhere) joins an organization. An
 * invitation is a single-use token bound to an email address and a role, shown once (as an
 * accept link; mailed too when SMTP is set), stored as its hash, valid for 7 days.
 */
export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/**
 * Invitations one organization sends in 24 hours. Each may be a mail from this server to any
 * address; the per-caller budget alone is multiplied by minting tokens (each has its own).
 */
export const INVITATIONS_PER_DAY = 200;

export interface IssuedInvitation {
  invitation: Invitation;
  /** The token, shown once. */
  token: string;
}

/** The accept link: the token after `#`, so it never reaches a server log or a Referer header. */
export const acceptLink = (publicUrl: string, token: string) => `${publicUrl}/invite#${token}`;

export async function inviteMember(
  em: EntityManager,
  actor: ManagementPrincipal,
  input: { email: string; role: string },
  now: Date,
): Promise<IssuedInvitation> {
  const email = normaliseEmail(input.email);
  const role = assertRole(input.role);
  // An admin invites no owner: nobody grants a role that can do more than they can.
  assertCanTouchRole(actor, role);
  return em.transactional(async (tx) => {
    // One organization's invitations take turns, so the daily count cannot be passed at once.
    await tx.findOneOrFail(OrganizationSchema, { id: actor.organizationId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    const sent = await tx.count(InvitationSchema, {
      organization: actor.organizationId,
      createdAt: { $gt: new Date(now.getTime() - 24 * 60 * 60 * 1000) },
    });
    if (sent >= INVITATIONS_PER_DAY)
      throw new ConflictError(`an organization may send at most ${INVITATIONS_PER_DAY} invitations a day: try later`);
    const user = await tx.findOne(UserSchema, { email });
    if (user) {
      if (await tx.count(MembershipSchema, { organization: actor.organizationId, user }))
        throw new ConflictError('this person is already a member');
      if (user.managedByOrganization && user.managedByOrganization.id !== actor.organizationId)
        throw new ForbiddenError(
          'this account is managed by the single sign-on of another organization: it joins no other',
        );
    }
    // Inviting the same address again replaces the invitation still pending (a new link, a new week).
    const replaced = await tx.find(InvitationSchema, {
      organization: actor.organizationId,
      email,
      acceptedAt: null,
      revokedAt: null,
    });
    // Replacing is revoking: nobody replaces an invitation they could not revoke (an owner's, by an admin).
    for (const old of replaced) assertCanTouchRole(actor, old.role);
    for (const old of replaced) old.revokedAt = now;
    const token = generateKey('invitation');
    const invitation = tx.create(InvitationSchema, {
      id: randomUUID(),
      organization: actor.organizationId,
      email,
      role,
      tokenHash: hashKey(token),
      invitedByUserId: actor.userId,
      invitedByTokenId: actor.tokenId,
      expiresAt: new Date(now.getTime() + INVITATION_TTL_MS),
      acceptedAt: null,
      acceptedByUserId: null,
      revokedAt: null,
      createdAt: now,
    });
    recordAudit(tx, actor, {
      action: 'member.invited',
      resourceType: 'invitation',
      resourceId: invitation.id,
      details: {
        email,
        role,
        expiresAt: invitation.expiresAt.toISOString(),
        ...(replaced.length > 0 ? { replaced: replaced.map((r) => r.id) } : {}),
      },
    });
    return { invitation, token };
  });
}

/** The invitations still waiting to be accepted (not accepted, revoked nor expired). */
export async function listInvitations(
  em: EntityManager,
  actor: ManagementPrincipal,
  args: PageArgs,
  now: Date,
): Promise<Page<Invitation>> {
  const window = pageWindow(args);
  const [rows, total] = await em.findAndCount(
    InvitationSchema,
    { organization: actor.organizationId, acceptedAt: null, revokedAt: null, expiresAt: { $gt: now } },
    { orderBy: { createdAt: 'desc', id: 'desc' }, ...window },
  );
  return toPage(rows, total, window);
}

export async function revokeInvitation(
  em: EntityManager,
  actor: ManagementPrincipal,
  id: string,
  now: Date,
): Promise<Invitation> {
  return em.transactional(async (tx) => {
    const invitation = await tx.findOne(
      InvitationSchema,
      { id, organization: actor.organizationId },
      { lockMode: LockMode.PESSIMISTIC_WRITE },
    );
    if (!invitation) throw new NotFoundError('invitation');
    if (invitation.acceptedAt) throw new ConflictError('this invitation was already accepted');
    if (invitation.revokedAt) return invitation;
    assertCanTouchRole(actor, invitation.role);
    invitation.revokedAt = now;
    recordAudit(tx, actor, {
      action: 'invitation.revoked',
      resourceType: 'invitation',
      resourceId: invitation.id,
      details: { email: invitation.email, role: invitation.role },
    });
    return invitation;
  });
}

export interface AcceptInput {
  token: string;
  /** For a new account: the person's name and password. */
  name?: string | null;
  password?: string | null;
}

/**
 * The invitation a token names, locked, or why it cannot be used. Every refusal is the same
 * kind of answer (the token is a credential), with the reason in words.
 */
async function claimable(em: EntityManager, token: string, now: Date): Promise<Invitation> {
  const refuse = (why: string) => new UnauthenticatedError(`this invitation ${why}`);
  if (parseKey(token) !== 'invitation') throw refuse('is not valid');
  const invitation = await em.findOne(
    InvitationSchema,
    { tokenHash: hashKey(token) },
    { populate: ['organization'], lockMode: LockMode.PESSIMISTIC_WRITE },
  );
  if (!invitation) throw refuse('is not valid');
  if (invitation.acceptedAt) throw refuse('has already been used');
  if (invitation.revokedAt) throw refuse('was revoked');
  if (invitation.expiresAt.getTime() <= now.getTime()) throw refuse('has expired');
  return invitation;
}

/**
 * What whoever sent an invitation holds now: the member's current role, the token's scopes (none
 * once it is deactivated or gone), both for a personal token or a token acting for a member.
 */
async function senderPermissions(em: EntityManager, invitation: Invitation): Promise<ReadonlySet<Permission>> {
  const organization = invitation.organization.id;
  let permissions: ReadonlySet<Permission> | null = null;
  if (invitation.invitedByTokenId) {
    const token = await em.findOne(AccessTokenSchema, { id: invitation.invitedByTokenId, organization });
    if (!token?.active || token.environmentIds) return new Set();
    permissions = new Set(token.scopes.filter(isPermission));
  }
  if (invitation.invitedByUserId) {
    const membership = await em.findOne(MembershipSchema, { user: invitation.invitedByUserId, organization });
    if (!membership) return new Set();
    const role = ROLE_PERMISSIONS[membership.role];
    permissions = permissions ? intersect(permissions, role) : role;
  }
  return permissions ?? new Set();
}

/**
 * An invitation grants no more than its sender still holds when it is accepted, as a personal
 * token does no more than its owner's current role: an admin who is demoted or leaves cannot come
 * back as admin through invitations they sent to themselves before.
 */
async function assertSenderStillGrants(em: EntityManager, invitation: Invitation): Promise<void> {
  const held = await senderPermissions(em, invitation);
  const beyond = [...ROLE_PERMISSIONS[invitation.role]].some((p) => !held.has(p));
  if (beyond || (invitation.role === 'owner' && !held.has('owner:manage'))) {
    throw new ForbiddenError(
      `this invitation grants the ${invitation.role} role, which whoever sent it no longer holds: ask for a new one`,
    );
  }
}

/**
 * Accepts an invitation, once: a new person registers through it (name and password, no
 * organization of their own), or the signed-in person it was sent to joins with their account.
 * Answers a session in the organization that invited them.
 */
export async function acceptInvitation(
  em: EntityManager,
  settings: SessionSettings,
  principal: Principal,
  input: AcceptInput,
  now: Date,
) {
  const signedIn = principal !== null;
  if (signedIn && (principal.kind !== 'member' || !principal.userId))
    throw new ForbiddenError('sign in as the person invited to accept an invitation');
  // A guessed token costs one indexed read, never a password hash (the costly part of this door).
  if (
    parseKey(input.token) !== 'invitation' ||
    !(await em.count(InvitationSchema, { tokenHash: hashKey(input.token) }))
  )
    throw new UnauthenticatedError('this invitation is not valid');
  if (!signedIn) {
    assertPassword(input.password ?? '');
    assertName(input.name ?? '', 'name');
  }
  const passwordHash = signedIn ? null : await hashPassword(input.password!);
  try {
    return await em.transactional(async (tx) => {
      const invitation = await claimable(tx, input.token, now);
      await assertSenderStillGrants(tx, invitation);
      let user = signedIn ? await tx.findOneOrFail(UserSchema, { id: principal.userId! }) : null;
      if (user) {
        if (user.email !== invitation.email)
          throw new ForbiddenError('this invitation was sent to another email address');
        if (user.managedByOrganization && user.managedByOrganization.id !== invitation.organization.id)
          throw new ForbiddenError('this account is managed by the single sign-on of another organization');
        if (await tx.count(MembershipSchema, { organization: invitation.organization, user }))
          throw new ConflictError('you are already a member of this organization');
      } else {
        if (await tx.count(UserSchema, { email: invitation.email }))
          throw new ConflictError('an account with this email exists: sign in and accept the invitation with it');
        user = tx.create(UserSchema, {
          id: randomUUID(),
          email: invitation.email,
          name: assertName(input.name!, 'name'),
          passwordHash,
          managedByOrganization: null,
          createdAt: now,
          updatedAt: now,
        });
      }
      invitation.acceptedAt = now;
      invitation.acceptedByUserId = user.id;
      const organization = await tx.findOneOrFail(OrganizationSchema, { id: invitation.organization.id });
      const membership = tx.create(MembershipSchema, {
        id: randomUUID(),
        organization,
        user,
        role: invitation.role,
        createdAt: now,
        updatedAt: now,
      });
      recordAudit(tx, memberPrincipal(membership), {
        action: 'invitation.accepted',
        resourceType: 'member',
        resourceId: user.id,
        details: {
          invitationId: invitation.id,
          email: invitation.email,
          role: invitation.role,
          account: signedIn ? 'existing' : 'new',
          invitedBy: { userId: invitation.invitedByUserId, tokenId: invitation.invitedByTokenId },
        },
      });
      const tokens = await issueSession(tx, settings, user, organization);
      return { user, organization, tokens, created: !signedIn };
    });
  } catch (e) {
    // Two acceptances racing to register one email: the unique index decides.
    if (e instanceof UniqueConstraintViolationException) throw new ConflictError('an account with this email exists');
    throw e;
  }
}
