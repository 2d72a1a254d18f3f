import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { signAccessToken, signRefreshToken, verifyRefreshToken } from '../../auth/jwt.js';
import { DUMMY_PASSWORD_HASH, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, verifyPassword } from '../../auth/passwords.js';
import { ROLE_PERMISSIONS, type Role } from '../../auth/permissions.js';
import type { ManagementPrincipal } from '../../auth/principal.js';
import type { SessionSettings } from '../../auth/session.js';
import { UnauthenticatedError, ValidationError } from '../../errors.js';
import {
  type Membership,
  MembershipSchema,
  type Organization,
  RefreshTokenSchema,
  type User,
  UserSchema,
} from './entity.js';

export type { SessionSettings } from '../../auth/session.js';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  /** Unix seconds at which the access token expires. */
  expiresAt: number;
}

// Pragmatic address check (RFC 5322 is not what people type): one @, a dotted domain, no spaces.
const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@.]{2,}$/;

export function normaliseEmail(email: string): string {
  const normalised = email.trim().normalize('NFC').toLowerCase();
  if (normalised.length > 320 || !EMAIL.test(normalised)) throw new ValidationError('email is not a valid address');
  return normalised;
}

export function assertPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new ValidationError(`password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new ValidationError(`password must be at most ${MAX_PASSWORD_LENGTH} characters`);
  }
}

/** A member acting through a session: their own login (`sso` false) or their organization's single sign-on. */
export function memberPrincipal(membership: Membership, sso = false): ManagementPrincipal {
  return {
    kind: 'member',
    organizationId: membership.organization.id,
    userId: membership.user.id,
    tokenId: null,
    role: membership.role,
    permissions: ROLE_PERMISSIONS[membership.role],
    environmentIds: null,
    organizationBound: sso,
  };
}

/**
 * The principal of a member signed in to an organization, or null when they no longer belong to
 * it: one narrow read of the role, on every request (so demotions take effect at once), with
 * nothing hydrated into the unit of work.
 */
export async function memberPrincipalOf(
  em: EntityManager,
  userId: string,
  organizationId: string,
  sso = false,
): Promise<ManagementPrincipal | null> {
  const [row] = await em.execute<{ role: Role }[]>(
    'select role from memberships where user_id = ? and organization_id = ?',
    [userId, organizationId],
  );
  if (!row) return null;
  return {
    kind: 'member',
    organizationId,
    userId,
    tokenId: null,
    role: row.role,
    permissions: ROLE_PERMISSIONS[row.role],
    environmentIds: null,
    organizationBound: sso,
  };
}

export async function findMembership(
  em: EntityManager,
  userId: string,
  organizationId: string,
): Promise<Membership | null> {
  return em.findOne(
    MembershipSchema,
    { user: userId, organization: organizationId },
    { populate: ['user', 'organization'] },
  );
}

/**
 * Issues an access token and the first refresh token of a new family (or the next of `familyId`).
 * `sso`: minted by the organization's single sign-on, so bound to it for the whole family.
 */
export async function issueSession(
  em: EntityManager,
  settings: SessionSettings,
  user: User,
  organization: Organization,
  { familyId = randomUUID(), sso = false }: { familyId?: string; sso?: boolean } = {},
): Promise<TokenPair> {
  const jti = randomUUID();
  const access = signAccessToken(
    { sub: user.id, org: organization.id, sso },
    settings.jwtSecret,
    settings.tokenTtlMinutes,
  );
  const refresh = signRefreshToken(
    { sub: user.id, org: organization.id, sso, jti, fam: familyId },
    settings.jwtSecret,
    settings.refreshTtlHours,
  );
  em.create(RefreshTokenSchema, {
    id: jti,
    familyId,
    user,
    organization,
    expiresAt: new Date(refresh.expiresAt * 1000),
    usedAt: null,
    revokedAt: null,
    createdAt: new Date(),
  });
  await em.flush();
  return { accessToken: access.token, refreshToken: refresh.token, expiresAt: access.expiresAt };
}

/** Same answer and the same work for an unknown email and a wrong password. */
export async function login(em: EntityManager, settings: SessionSettings, input: { email: string; password: string }) {
  const fail = () => new UnauthenticatedError('invalid credentials');
  let email: string | null = null;
  try {
    email = normaliseEmail(input.email);
  } catch {
    email = null;
  }
  const user = email ? await em.findOne(UserSchema, { email }) : null;
  const ok = await verifyPassword(input.password, user?.passwordHash ?? DUMMY_PASSWORD_HASH);
  // An account single sign-on created has no password: it signs in through its organization only.
  if (!user?.passwordHash || user.managedByOrganization || !ok) throw fail();
  // A person signs into the organization they joined first; switching is a later feature.
  const membership = await em.findOne(
    MembershipSchema,
    { user },
    { orderBy: { createdAt: 'asc' }, populate: ['organization'] },
  );
  if (!membership) throw fail();
  const tokens = await em.transactional((tx) => issueSession(tx, settings, user, membership.organization));
  return { user, organization: membership.organization, tokens };
}

/**
 * Refresh tokens rotate: each works once. Presenting one that was already used means it was
 * copied, so the whole family (every token descended from that login) is revoked.
 */
export async function refresh(em: EntityManager, settings: SessionSettings, refreshToken: string): Promise<TokenPair> {
  const claims = verifyRefreshToken(refreshToken, settings.jwtSecret);
  const pair = await em.transactional(async (tx) => {
    // Claim the token atomically so two concurrent refreshes cannot both succeed.
    const claimed = await tx.execute(
      'update refresh_tokens set used_at = now() where id = ? and used_at is null and revoked_at is null and expires_at > now() returning id',
      [claims.jti],
    );
    if (claimed.length === 0) return null;
    const membership = await findMembership(tx, claims.sub, claims.org);
    if (!membership) return null;
    // The family stays in its organization, and an SSO family stays an SSO family.
    return issueSession(tx, settings, membership.user, membership.organization, {
      familyId: claims.fam,
      sso: claims.sso,
    });
  });
  if (pair) return pair;
  const reused = await em.execute('select family_id from refresh_tokens where id = ? and used_at is not null', [
    claims.jti,
  ]);
  if (reused.length > 0) {
    await em.execute('update refresh_tokens set revoked_at = now() where family_id = ? and revoked_at is null', [
      claims.fam,
    ]);
  }
  throw new UnauthenticatedError('refresh token is invalid, expired or already used');
}

/**
 * Signing out ends the refresh-token family of the presented token: it and every token rotated
 * from it stop refreshing. Access tokens already issued live out their short lifetime.
 */
export async function logout(em: EntityManager, settings: SessionSettings, refreshToken: string): Promise<void> {
  const claims = verifyRefreshToken(refreshToken, settings.jwtSecret);
  await em.execute('update refresh_tokens set revoked_at = now() where family_id = ? and revoked_at is null', [
    claims.fam,
  ]);
}
