import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { generateKey, hashKey, maskKey, parseKey } from '../../auth/keys.js';
import { isPermission, type Permission, ROLE_PERMISSIONS } from '../../auth/permissions.js';
import { hasPermission, intersect, type ManagementPrincipal } from '../../auth/principal.js';
import { type Page, type PageArgs, pageWindow, toPage } from '../../common/pagination.js';
import { ForbiddenError, NotFoundError, UnauthenticatedError, ValidationError } from '../../errors.js';
import { MembershipSchema, UserSchema } from '../accounts/entity.js';
import { recordAudit } from '../audit/service.js';
import { EnvironmentSchema } from '../projects/entity.js';
import { assertName } from '../slug.js';
import { type AccessToken, type AccessTokenKind, AccessTokenSchema } from './entity.js';

/** Environments a token may be narrowed to. */
const MAX_TOKEN_ENVIRONMENTS = 100;

export interface CreatedAccessToken {
  token: AccessToken;
  /** Shown once, to the creator, by the creating mutation; nobody can read it again. */
  value: string;
}

const MANAGE: Record<AccessTokenKind, Permission> = {
  personal: 'token:manage-personal',
  service: 'token:manage-service',
};

export async function createAccessToken(
  em: EntityManager,
  actor: ManagementPrincipal,
  input: { name: string; kind: AccessTokenKind; permissions: string[]; environmentIds?: string[] | null },
): Promise<CreatedAccessToken> {
  const name = assertName(input.name, 'name');
  if (!hasPermission(actor, MANAGE[input.kind])) throw new ForbiddenError();
  if (input.kind === 'personal' && !actor.userId)
    throw new ForbiddenError('a personal token belongs to a member: sign in as one');
  if (input.permissions.length === 0) throw new ValidationError('give the token at least one permission');
  const unknown = input.permissions.filter((p) => !isPermission(p));
  if (unknown.length) throw new ValidationError(`unknown permissions: ${unknown.join(', ')}`);
  const scopes = [...new Set(input.permissions as Permission[])].sort();
  // A token can never do more than the one who made it.
  const beyond = scopes.filter((p) => !actor.permissions.has(p));
  if (beyond.length) throw new ForbiddenError(`you cannot grant permissions you do not have: ${beyond.join(', ')}`);

  let environmentIds: string[] | null = null;
  if (input.environmentIds) {
    environmentIds = [...new Set(input.environmentIds)];
    if (environmentIds.length === 0)
      throw new ValidationError('environmentIds, when given, must name at least one environment');
    if (environmentIds.length > MAX_TOKEN_ENVIRONMENTS)
      throw new ValidationError(`environmentIds may name at most ${MAX_TOKEN_ENVIRONMENTS} environments`);
    if (actor.environmentIds && environmentIds.some((id) => !actor.environmentIds!.has(id))) {
      throw new ForbiddenError('you cannot grant access to environments you cannot reach');
    }
    const found = await em.count(EnvironmentSchema, {
      id: { $in: environmentIds },
      project: { organization: actor.organizationId },
    });
    if (found !== environmentIds.length)
      throw new ValidationError('environmentIds names an environment that does not exist');
  } else if (actor.environmentIds) {
    environmentIds = [...actor.environmentIds];
  }

  return em.transactional(async (tx) => {
    const value = generateKey(input.kind);
    const now = new Date();
    // The owner is answered with the token (its name, its dates): loaded, not a bare reference.
    const owner = actor.userId ? await tx.findOneOrFail(UserSchema, actor.userId) : null;
    const token = tx.create(AccessTokenSchema, {
      id: randomUUID(),
      organization: actor.organizationId,
      kind: input.kind,
      name,
      tokenHash: hashKey(value),
      masked: maskKey(value),
      user: owner,
      scopes,
      environmentIds,
      active: true,
      createdAt: now,
      updatedAt: now,
      lastUsedAt: null,
    });
    recordAudit(tx, actor, {
      action: 'token.created',
      resourceType: 'access_token',
      resourceId: token.id,
      details: { kind: input.kind, name, scopes, environmentIds, masked: token.masked },
    });
    return { token, value };
  });
}

export async function listAccessTokens(
  em: EntityManager,
  actor: ManagementPrincipal,
  args: PageArgs,
): Promise<Page<AccessToken>> {
  const window = pageWindow(args);
  const [rows, total] = await em.findAndCount(
    AccessTokenSchema,
    { organization: actor.organizationId },
    { populate: ['user'], orderBy: { createdAt: 'asc', id: 'asc' }, ...window },
  );
  return toPage(rows, total, window);
}

async function getToken(em: EntityManager, actor: ManagementPrincipal, id: string): Promise<AccessToken> {
  const token = await em.findOne(AccessTokenSchema, { id, organization: actor.organizationId }, { populate: ['user'] });
  if (!token) throw new NotFoundError('access token');
  return token;
}

/** What a token can exercise now: a service token its scopes; a personal token its scopes ∩ its owner's role. */
async function effectivePermissions(em: EntityManager, token: AccessToken): Promise<Set<Permission>> {
  const scopes = new Set(token.scopes.filter(isPermission));
  if (token.kind === 'service') return scopes;
  const membership = token.user
    ? await em.findOne(MembershipSchema, { user: token.user.id, organization: token.organization })
    : null;
  return membership ? intersect(scopes, ROLE_PERMISSIONS[membership.role]) : new Set();
}

/**
 * Your own personal tokens need token:manage-personal; service tokens token:manage-service; and
 * nobody activates, changes or deletes a token that can do something they cannot (a permission
 * they lack, or an environment beyond their reach). Admins (member:manage) may delete any token,
 * as in FeatBit, but never change one they could not have made.
 */
async function assertCanManage(
  em: EntityManager,
  actor: ManagementPrincipal,
  token: AccessToken,
  action: 'update' | 'delete',
): Promise<void> {
  if (action === 'delete' && hasPermission(actor, 'member:manage')) return;
  const own = actor.userId !== null && token.user?.id === actor.userId;
  const allowed =
    token.kind === 'service'
      ? hasPermission(actor, 'token:manage-service')
      : own && hasPermission(actor, 'token:manage-personal');
  if (!allowed) throw new ForbiddenError();
  const beyond = [...(await effectivePermissions(em, token))].filter((p) => !actor.permissions.has(p)).sort();
  const reach = actor.environmentIds;
  const wider = reach !== null && (token.environmentIds === null || token.environmentIds.some((id) => !reach.has(id)));
  if (beyond.length > 0 || wider) {
    throw new ForbiddenError(
      `this token holds permissions you do not hold${beyond.length ? `: ${beyond.join(', ')}` : ' (environments beyond yours)'}`,
    );
  }
}

export async function updateAccessToken(
  em: EntityManager,
  actor: ManagementPrincipal,
  id: string,
  input: { name?: string | null; active?: boolean | null },
): Promise<AccessToken> {
  return em.transactional(async (tx) => {
    const token = await getToken(tx, actor, id);
    await assertCanManage(tx, actor, token, 'update');
    if (input.name != null) token.name = assertName(input.name, 'name');
    if (input.active != null) token.active = input.active;
    recordAudit(tx, actor, {
      action: 'token.updated',
      resourceType: 'access_token',
      resourceId: id,
      details: { ...input },
    });
    return token;
  });
}

export async function deleteAccessToken(
  em: EntityManager,
  actor: ManagementPrincipal,
  id: string,
): Promise<AccessToken> {
  return em.transactional(async (tx) => {
    const token = await getToken(tx, actor, id);
    await assertCanManage(tx, actor, token, 'delete');
    recordAudit(tx, actor, {
      action: 'token.deleted',
      resourceType: 'access_token',
      resourceId: id,
      details: { kind: token.kind, name: token.name },
    });
    tx.remove(token);
    return token;
  });
}

/** Personal tokens of a member who leaves an organization stop working with them. */
export async function deactivatePersonalTokens(
  em: EntityManager,
  organizationId: string,
  userId: string,
): Promise<void> {
  await em.nativeUpdate(
    AccessTokenSchema,
    { organization: organizationId, user: userId, kind: 'personal' },
    { active: false },
  );
}

/**
 * The principal of an access token, computed on every request: a personal token gets its scopes
 * ∩ its owner's current role (and nothing once the owner has left); a service token its scopes.
 * Unknown → 401; inactive → 403.
 */
export async function tokenPrincipal(em: EntityManager, value: string): Promise<ManagementPrincipal> {
  const kind = parseKey(value);
  if (kind !== 'personal' && kind !== 'service') throw new UnauthenticatedError('API key is invalid');
  const token = await em.findOne(AccessTokenSchema, { tokenHash: hashKey(value) }, { populate: ['user'] });
  if (!token) throw new UnauthenticatedError('API key is invalid');
  if (!token.active) throw new ForbiddenError('this access token is deactivated');
  const scopes = new Set(token.scopes.filter(isPermission));
  let permissions: Set<Permission> = scopes;
  let role = null;
  if (token.kind === 'personal') {
    const membership = token.user
      ? await em.findOne(MembershipSchema, { user: token.user.id, organization: token.organization.id })
      : null;
    if (!membership) throw new ForbiddenError('this access token is deactivated: its owner left the organization');
    role = membership.role;
    permissions = intersect(scopes, ROLE_PERMISSIONS[membership.role]);
  }
  if (!token.lastUsedAt || Date.now() - token.lastUsedAt.getTime() > 60_000) {
    // Off the request path: the answer does not wait for this write.
    void em
      .fork()
      .nativeUpdate(AccessTokenSchema, { id: token.id }, { lastUsedAt: new Date() })
      .catch(() => undefined);
  }
  return {
    kind: token.kind === 'personal' ? 'personal-token' : 'service-token',
    organizationId: token.organization.id,
    userId: token.kind === 'personal' ? (token.user?.id ?? null) : null,
    tokenId: token.id,
    role,
    permissions,
    environmentIds: token.environmentIds ? new Set(token.environmentIds) : null,
    organizationBound: true,
  };
}
