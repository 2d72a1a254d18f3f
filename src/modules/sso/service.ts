import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import jwt from 'jsonwebtoken';
import { ROLE_PERMISSIONS } from '../../auth/permissions.js';
import { intersect, type ManagementPrincipal } from '../../auth/principal.js';
import { generateSsoSecret, openSecret, sealSecret } from '../../auth/sso-secret.js';
import { UnauthenticatedError, ValidationError } from '../../errors.js';
import {
  type Membership,
  MembershipSchema,
  type Organization,
  OrganizationSchema,
  UserSchema,
} from '../accounts/entity.js';
import { issueSession, normaliseEmail, type SessionSettings } from '../accounts/service.js';
import { recordAudit } from '../audit/service.js';

/**
 * Acting on behalf of a member (the FeatureOS model): the organization's integration signs a
 * short-lived HS256 JWT with its SSO secret naming the member by `email` or `sub` (user id).
 */
const INVALID = 'SSO token is invalid or expired';

export async function rotateSsoSecret(
  em: EntityManager,
  actor: ManagementPrincipal,
  serverSecret: string,
): Promise<string> {
  return em.transactional(async (tx) => {
    const org = await tx.findOneOrFail(OrganizationSchema, { id: actor.organizationId });
    const secret = generateSsoSecret();
    org.ssoSecretEncrypted = sealSecret(secret, serverSecret);
    recordAudit(tx, actor, { action: 'sso.secret_rotated', resourceType: 'organization', resourceId: org.id });
    return secret;
  });
}

interface SsoClaims {
  email?: string;
  sub?: string;
  name?: string;
  org?: string;
}

function verifyWith(org: Organization, token: string, serverSecret: string): SsoClaims {
  const secret = org.ssoSecretEncrypted ? openSecret(org.ssoSecretEncrypted, serverSecret) : null;
  if (!secret) throw new UnauthenticatedError('single sign-on is not configured for this organization');
  let claims: string | jwt.JwtPayload;
  try {
    claims = jwt.verify(token, secret, { algorithms: ['HS256'] });
  } catch {
    throw new UnauthenticatedError(INVALID);
  }
  // A token that never expires is a password: refuse it.
  if (typeof claims === 'string' || typeof claims.exp !== 'number') throw new UnauthenticatedError(INVALID);
  if (typeof claims.email !== 'string' && typeof claims.sub !== 'string') throw new UnauthenticatedError(INVALID);
  return claims as SsoClaims;
}

async function memberNamed(em: EntityManager, org: Organization, claims: SsoClaims): Promise<Membership | null> {
  const where = claims.email ? { user: { email: normaliseEmail(claims.email) } } : { user: claims.sub! };
  return em.findOne(MembershipSchema, { organization: org.id, ...where }, { populate: ['user', 'organization'] });
}

/** A token's principal narrowed to the member the SSO JWT names: token ∩ member, audited as both. */
export async function onBehalfPrincipal(
  em: EntityManager,
  token: ManagementPrincipal,
  ssoJwt: string,
  serverSecret: string,
): Promise<ManagementPrincipal> {
  const org = await em.findOneOrFail(OrganizationSchema, { id: token.organizationId });
  const claims = verifyWith(org, ssoJwt, serverSecret);
  let membership: Membership | null = null;
  try {
    membership = await memberNamed(em, org, claims);
  } catch {
    membership = null;
  }
  if (!membership) throw new UnauthenticatedError('the SSO token names no member of this organization');
  return {
    kind: 'on-behalf',
    organizationId: org.id,
    userId: membership.user.id,
    tokenId: token.tokenId,
    role: membership.role,
    permissions: intersect(token.permissions, ROLE_PERMISSIONS[membership.role]),
    environmentIds: token.environmentIds,
  };
}

/**
 * `POST /v1/auth/sso`: a signed SSO JWT (with an `org` claim: the organization's id or slug) for
 * the member's session. An email not yet a member joins as viewer (just-in-time provisioning).
 */
export async function exchangeSsoToken(em: EntityManager, settings: SessionSettings, ssoJwt: string) {
  const unverified = jwt.decode(ssoJwt);
  const orgRef =
    unverified && typeof unverified === 'object' && typeof unverified.org === 'string' ? unverified.org : null;
  if (!orgRef) throw new ValidationError('the SSO token must carry an "org" claim: the organization id or slug');
  const byId = /^[0-9a-f-]{36}$/i.test(orgRef);
  const org = await em.findOne(OrganizationSchema, byId ? { id: orgRef } : { slug: orgRef });
  if (!org) throw new UnauthenticatedError(INVALID);
  const claims = verifyWith(org, ssoJwt, settings.jwtSecret);

  return em.transactional(async (tx) => {
    let membership = await memberNamed(tx, org, claims);
    if (!membership) {
      if (!claims.email) throw new UnauthenticatedError('the SSO token names no member of this organization');
      const email = normaliseEmail(claims.email);
      const now = new Date();
      const user =
        (await tx.findOne(UserSchema, { email })) ??
        tx.create(UserSchema, {
          id: randomUUID(),
          email,
          name: claims.name?.slice(0, 200) || email,
          passwordHash: null,
          createdAt: now,
          updatedAt: now,
        });
      membership = tx.create(MembershipSchema, {
        id: randomUUID(),
        organization: org,
        user,
        role: 'viewer',
        createdAt: now,
        updatedAt: now,
      });
      const principal: ManagementPrincipal = {
        kind: 'member',
        organizationId: org.id,
        userId: user.id,
        tokenId: null,
        role: 'viewer',
        permissions: ROLE_PERMISSIONS.viewer,
        environmentIds: null,
      };
      recordAudit(tx, principal, {
        action: 'member.provisioned_sso',
        resourceType: 'member',
        resourceId: user.id,
        details: { email },
      });
    }
    const tokens = await issueSession(tx, settings, membership.user, org);
    return { user: membership.user, organization: org, tokens };
  });
}
