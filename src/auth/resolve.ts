import type { EntityManager } from '@mikro-orm/postgresql';
import { UnauthenticatedError } from '../errors.js';
import { findMembership, memberPrincipal } from '../modules/accounts/service.js';
import { looksLikeJwt, verifyAccessToken } from './jwt.js';
import type { Principal } from './principal.js';

export interface CredentialHeaders {
  authorization?: string;
  'api-key'?: string | string[];
  [name: string]: unknown;
}

function bearer(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new UnauthenticatedError('Authorization header must be "Bearer <token>"');
  return match[1]!;
}

/**
 * Resolves the management principal of a request, before any resolver runs. No credential →
 * null (anonymous); a credential that does not check out → UnauthenticatedError. The member's
 * role is read on every request, so a demotion or removal takes effect at once.
 */
export async function resolvePrincipal(
  em: EntityManager,
  headers: CredentialHeaders,
  jwtSecret: string,
): Promise<Principal> {
  const token = bearer(headers.authorization);
  if (!token) return null;
  if (!looksLikeJwt(token)) throw new UnauthenticatedError('API key is invalid');
  const claims = verifyAccessToken(token, jwtSecret);
  const membership = await findMembership(em, claims.sub, claims.org);
  if (!membership) throw new UnauthenticatedError('the member no longer belongs to this organization');
  return memberPrincipal(membership);
}
