import { randomUUID } from 'node:crypto';
import { type EntityManager, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import jwt from 'jsonwebtoken';
import { ROLE_PERMISSIONS } from '../../auth/permissions.js';
import { intersect, type ManagementPrincipal } from '../../auth/principal.js';
import { generateSsoSecret, openSecret, sealSecret } from '../../auth/sso-secret.js';
import { ConflictError, ForbiddenError, UnauthenticatedError, ValidationError } from '../../errors.js';
import {
  type Membership,
  MembershipSchema,
  type Organization,
  OrganizationSchema,
  type User,
  UserSchema,
} from '../accounts/entity.js';
import { issueSession, memberPrincipal, normaliseEmail, type SessionSettings } from '../accounts/service.js';
import { recordAudit } from '../audit/service.js';

/**
 * Single sign-on (the FeatureOS model): the organization's integration signs a short-lived HS256
 * JWT with its SSO secret naming a person by `email` or `sub` (user id). It is exchanged for a
 * session (POST /v1/auth/sso) or sent with an access token to act on behalf of a member. Rules
 * (docs/sso.md): `exp` required and at most SSO_MAX_LIFETIME_SECONDS ahead, `jti` required and
 * good once (per organization, on every node), `nbf`/`iat` honoured, `aud`/`iss` checked when the
 * organization sets them, every clock comparison with SSO_CLOCK_SKEW_SECONDS of tolerance.
 */
export const SSO_MAX_LIFETIME_SECONDS = 300;
export const SSO_CLOCK_SKEW_SECONDS = 30;

const INVALID = 'SSO token is invalid or expired';
const ATTACH_REFUSED =
  'this email already has an account, and single sign-on never attaches an existing account to an organization: its holder joins with their own login';
const CONTROL = /\p{Cc}/u;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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

/** Undefined leaves a setting as it is; null clears it. */
export interface SsoSettingsInput {
  audience?: string | null;
  issuer?: string | null;
}

function setting(value: string | null | undefined, name: string): string | null | undefined {
  if (value == null) return value;
  const trimmed = value.trim();
  if (trimmed.length === 0 || trimmed.length > 500 || CONTROL.test(trimmed)) {
    throw new ValidationError(`${name} must be 1 to 500 characters without control characters`);
  }
  return trimmed;
}

export async function updateSsoSettings(
  em: EntityManager,
  actor: ManagementPrincipal,
  input: SsoSettingsInput,
): Promise<Organization> {
  const audience = setting(input.audience, 'audience');
  const issuer = setting(input.issuer, 'issuer');
  return em.transactional(async (tx) => {
    const org = await tx.findOneOrFail(OrganizationSchema, { id: actor.organizationId });
    if (audience !== undefined) org.ssoAudience = audience;
    if (issuer !== undefined) org.ssoIssuer = issuer;
    recordAudit(tx, actor, {
      action: 'sso.settings_updated',
      resourceType: 'organization',
      resourceId: org.id,
      details: { audience: org.ssoAudience, issuer: org.ssoIssuer },
    });
    return org;
  });
}

interface SsoClaims {
  jti: string;
  exp: number;
  email: string | null;
  sub: string | null;
  name: string | null;
  /** The organization the token names, if it names one (id or slug). */
  org: string | null;
}

/** A claim that must be a plain string when present: bounded, without control characters. */
function claim(payload: jwt.JwtPayload, name: string, max: number): string | null {
  const value: unknown = payload[name];
  if (value === undefined) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > max || CONTROL.test(value)) {
    throw new UnauthenticatedError(`the SSO token's "${name}" claim must be a string of 1 to ${max} characters`);
  }
  return value;
}

function verifySsoJwt(org: Organization, token: string, serverSecret: string): SsoClaims {
  const secret = org.ssoSecretEncrypted ? openSecret(org.ssoSecretEncrypted, serverSecret) : null;
  // The same answer as for an organization that does not exist: a caller learns no slug from it.
  if (!secret) throw new UnauthenticatedError(INVALID);
  let payload: string | jwt.JwtPayload;
  try {
    payload = jwt.verify(token, secret, {
      algorithms: ['HS256'],
      clockTolerance: SSO_CLOCK_SKEW_SECONDS,
      ...(org.ssoAudience ? { audience: org.ssoAudience } : {}),
      ...(org.ssoIssuer ? { issuer: org.ssoIssuer } : {}),
    });
  } catch {
    throw new UnauthenticatedError(INVALID);
  }
  if (typeof payload === 'string') throw new UnauthenticatedError(INVALID);
  const now = Math.floor(Date.now() / 1000);
  // A token that never expires, or lives long, is a password: refuse it.
  if (typeof payload.exp !== 'number') throw new UnauthenticatedError('the SSO token must carry an "exp" claim');
  if (payload.exp > now + SSO_MAX_LIFETIME_SECONDS + SSO_CLOCK_SKEW_SECONDS) {
    throw new UnauthenticatedError('the SSO token must expire within 5 minutes ("exp")');
  }
  if (payload.iat !== undefined && (typeof payload.iat !== 'number' || payload.iat > now + SSO_CLOCK_SKEW_SECONDS)) {
    throw new UnauthenticatedError('the SSO token was issued in the future ("iat")');
  }
  const jti = claim(payload, 'jti', 128);
  if (!jti) throw new UnauthenticatedError('the SSO token must carry a "jti" claim: a unique id, used once');
  const rawEmail = claim(payload, 'email', 320);
  let email: string | null = null;
  if (rawEmail !== null) {
    try {
      email = normaliseEmail(rawEmail);
    } catch {
      throw new UnauthenticatedError(`the SSO token's "email" claim is not a valid address`);
    }
  }
  const sub = claim(payload, 'sub', 36);
  if (sub !== null && !UUID.test(sub)) throw new UnauthenticatedError(`the SSO token's "sub" claim must be a user id`);
  if (!email && !sub) throw new UnauthenticatedError('the SSO token must name the person by "email" or "sub"');
  return { jti, exp: payload.exp, email, sub, name: claim(payload, 'name', 200), org: claim(payload, 'org', 100) };
}

async function userNamed(em: EntityManager, claims: SsoClaims): Promise<User | null> {
  return em.findOne(UserSchema, claims.email ? { email: claims.email } : { id: claims.sub! });
}

async function membershipOf(em: EntityManager, org: Organization, user: User): Promise<Membership | null> {
  return em.findOne(MembershipSchema, { organization: org.id, user }, { populate: ['user', 'organization'] });
}

/**
 * Spends the token's jti: remembered until the token expires, so any node refuses it again. The
 * primary key decides between concurrent uses; a jti whose earlier token has expired may return.
 */
async function spend(em: EntityManager, org: Organization, claims: SsoClaims): Promise<void> {
  const rows = await em.execute(
    `insert into sso_token_uses (organization_id, jti, expires_at) values (?, ?, to_timestamp(?))
     on conflict (organization_id, jti) do update set expires_at = excluded.expires_at
       where sso_token_uses.expires_at < now()
     returning jti`,
    [org.id, claims.jti, claims.exp + SSO_CLOCK_SKEW_SECONDS],
  );
  if (rows.length === 0) {
    throw new UnauthenticatedError('this SSO token was already used: mint one (with a new jti) per request');
  }
}

/** Keeps the table to the ids of tokens that could still be presented. */
async function forgetExpired(em: EntityManager): Promise<void> {
  await em.execute('delete from sso_token_uses where expires_at < now()');
}

export interface OnBehalfOptions {
  /**
   * The request or connection that presented this SSO JWT already spent it, and checks it again
   * (a live subscription's per-event re-check): it must have been spent, and is not spent again.
   */
  recheck?: boolean;
}

/** A token's principal narrowed to the member the SSO JWT names: token ∩ member, audited as both. */
export async function onBehalfPrincipal(
  em: EntityManager,
  token: ManagementPrincipal,
  ssoJwt: string,
  serverSecret: string,
  options: OnBehalfOptions = {},
): Promise<ManagementPrincipal> {
  const org = await em.findOneOrFail(OrganizationSchema, { id: token.organizationId });
  const claims = verifySsoJwt(org, ssoJwt, serverSecret);
  if (claims.org !== null && claims.org !== org.id && claims.org !== org.slug) {
    throw new UnauthenticatedError('the SSO token names another organization');
  }
  const user = await userNamed(em, claims);
  const membership = user ? await membershipOf(em, org, user) : null;
  if (!membership) throw new UnauthenticatedError('the SSO token names no member of this organization');
  if (!options.recheck) {
    await spend(em, org, claims);
    await forgetExpired(em);
  } else if (
    (
      await em.execute('select 1 from sso_token_uses where organization_id = ? and jti = ? and expires_at >= now()', [
        org.id,
        claims.jti,
      ])
    ).length === 0
  ) {
    throw new UnauthenticatedError(INVALID);
  }
  return {
    kind: 'on-behalf',
    organizationId: org.id,
    userId: membership.user.id,
    tokenId: token.tokenId,
    role: membership.role,
    permissions: intersect(token.permissions, ROLE_PERMISSIONS[membership.role]),
    environmentIds: token.environmentIds,
    organizationBound: true,
  };
}

function joinAsViewer(em: EntityManager, org: Organization, user: User): Membership {
  const now = new Date();
  return em.create(MembershipSchema, {
    id: randomUUID(),
    organization: org,
    user,
    role: 'viewer',
    createdAt: now,
    updatedAt: now,
  });
}

async function organizationNamed(em: EntityManager, ssoJwt: string): Promise<Organization> {
  const unverified = jwt.decode(ssoJwt);
  const ref = unverified && typeof unverified === 'object' ? unverified.org : undefined;
  if (typeof ref !== 'string' || ref.length === 0 || ref.length > 100 || CONTROL.test(ref)) {
    throw new ValidationError('the SSO token must carry an "org" claim: the organization id or slug');
  }
  const org = await em.findOne(OrganizationSchema, UUID.test(ref) ? { id: ref } : { slug: ref });
  if (!org) throw new UnauthenticatedError(INVALID);
  return org;
}

/**
 * `POST /v1/auth/sso`: a signed SSO JWT (with an `org` claim: the organization's id or slug) for
 * a session bound to that organization. A member signs in; an email no account holds gets a new
 * account managed by the organization (just-in-time provisioning, as viewer); an email held by
 * any other account is refused (403) and nothing is written, not even the spent jti.
 */
export async function exchangeSsoToken(em: EntityManager, settings: SessionSettings, ssoJwt: string) {
  const org = await organizationNamed(em, ssoJwt);
  const claims = verifySsoJwt(org, ssoJwt, settings.jwtSecret);
  let session: { user: User; organization: Organization; tokens: Awaited<ReturnType<typeof issueSession>> };
  try {
    session = await em.transactional(async (tx) => {
      await spend(tx, org, claims);
      let user = await userNamed(tx, claims);
      let membership = user ? await membershipOf(tx, org, user) : null;
      if (!membership) {
        if (user && user.managedByOrganization?.id !== org.id) throw new ForbiddenError(ATTACH_REFUSED);
        if (!user && !claims.email)
          throw new UnauthenticatedError('the SSO token names no member of this organization');
        const now = new Date();
        user ??= tx.create(UserSchema, {
          id: randomUUID(),
          email: claims.email!,
          name: claims.name ?? claims.email!,
          passwordHash: null,
          managedByOrganization: org,
          createdAt: now,
          updatedAt: now,
        });
        membership = joinAsViewer(tx, org, user);
        recordAudit(tx, memberPrincipal(membership, true), {
          action: 'member.provisioned_sso',
          resourceType: 'member',
          resourceId: user.id,
          details: { email: user.email },
        });
      }
      const tokens = await issueSession(tx, settings, membership.user, org, { sso: true });
      return { user: membership.user, organization: org, tokens };
    });
  } catch (e) {
    // Two first sign-ins of one new email at once: the unique index lets one create the account.
    if (e instanceof UniqueConstraintViolationException) {
      throw new ConflictError('this account is being created by another sign-in: try again');
    }
    throw e;
  }
  await forgetExpired(em);
  return session;
}
