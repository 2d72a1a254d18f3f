import type { EntityManager } from '@mikro-orm/postgresql';
import { verifyAccessToken } from '../../auth/jwt.js';
import type { Principal } from '../../auth/principal.js';
import { UnauthenticatedError } from '../../errors.js';
import { memberPrincipalOf } from '../accounts/service.js';
import { type OnBehalfOptions, onBehalfPrincipal } from '../sso/service.js';
import { tokenPrincipal } from '../tokens/service.js';

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
 * Resolves the management principal of a request, before any resolver runs:
 * - `API-KEY: vx_pat_…|vx_sat_…` alone → the access token;
 * - `API-KEY` + `Authorization: Bearer <SSO JWT>` → the token acting on behalf of that member;
 * - `Authorization: Bearer vx_…` → the access token;
 * - `Authorization: Bearer <access JWT>` → the signed-in member.
 * No credential → null (anonymous). A credential that does not check out → 401 (or 403 for an
 * inactive token). Roles are read on every request, so demotions take effect at once.
 *
 * An SSO JWT works once: resolving spends it. A door that checks the credentials of a request or
 * connection it already resolved (a live subscription, each event) passes `{ recheck: true }`.
 */
export async function resolvePrincipal(
  em: EntityManager,
  headers: CredentialHeaders,
  jwtSecret: string,
  options: OnBehalfOptions = {},
): Promise<Principal> {
  const apiKey = typeof headers['api-key'] === 'string' && headers['api-key'] ? headers['api-key'].trim() : null;
  const auth = bearer(headers.authorization);
  if (apiKey) {
    const token = await tokenPrincipal(em, apiKey);
    return auth ? onBehalfPrincipal(em, token, auth, jwtSecret, options) : token;
  }
  if (!auth) return null;
  if (auth.startsWith('vx_')) return tokenPrincipal(em, auth);
  const claims = verifyAccessToken(auth, jwtSecret);
  const principal = await memberPrincipalOf(em, claims.sub, claims.org, claims.sso);
  if (!principal) throw new UnauthenticatedError('the member no longer belongs to this organization');
  return principal;
}
