import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { UnauthenticatedError } from '../errors.js';

/** Access tokens and refresh tokens are HS256 JWTs told apart by their `typ` claim. */
const ISSUER = 'vexil';

export interface AccessClaims {
  sub: string;
  org: string;
  /**
   * A session minted by single sign-on: bound to `org` (no switching out of it) for its whole
   * family, since every refresh carries the claim on.
   */
  sso: boolean;
}

export interface RefreshClaims extends AccessClaims {
  jti: string;
  fam: string;
}

/** The claims as signed: `sso` only when set, so password sessions look as they always did. */
const signed = ({ sso, ...rest }: AccessClaims) => (sso ? { ...rest, sso: true } : rest);

export function signAccessToken(claims: AccessClaims, secret: string, ttlMinutes: number) {
  const expiresAt = Math.floor(Date.now() / 1000) + ttlMinutes * 60;
  const token = jwt.sign({ ...signed(claims), typ: 'access', exp: expiresAt }, secret, {
    algorithm: 'HS256',
    issuer: ISSUER,
  });
  return { token, expiresAt };
}

export function signRefreshToken(claims: RefreshClaims, secret: string, ttlHours: number) {
  const expiresAt = Math.floor(Date.now() / 1000) + ttlHours * 3600;
  const { jti, fam, ...rest } = claims;
  const token = jwt.sign({ ...signed(rest), fam, typ: 'refresh', exp: expiresAt }, secret, {
    algorithm: 'HS256',
    issuer: ISSUER,
    jwtid: jti,
  });
  return { token, expiresAt };
}

/**
 * The secret as a KeyObject, made once per secret: jsonwebtoken would otherwise build one from
 * the string on every verification (a measurable part of a small GraphQL request).
 */
const keys = new Map<string, KeyObject>();
function keyOf(secret: string): KeyObject {
  let key = keys.get(secret);
  if (key === undefined) {
    if (keys.size > 16) keys.clear();
    keys.set(secret, (key = createSecretKey(Buffer.from(secret, 'utf8'))));
  }
  return key;
}

function verify(token: string, secret: string, typ: 'access' | 'refresh'): jwt.JwtPayload {
  let payload: string | jwt.JwtPayload;
  try {
    payload = jwt.verify(token, keyOf(secret), { algorithms: ['HS256'], issuer: ISSUER });
  } catch {
    throw new UnauthenticatedError(typ === 'access' ? 'invalid or expired access token' : 'invalid refresh token');
  }
  if (
    typeof payload === 'string' ||
    payload.typ !== typ ||
    typeof payload.sub !== 'string' ||
    typeof payload.org !== 'string'
  ) {
    throw new UnauthenticatedError(typ === 'access' ? 'invalid or expired access token' : 'invalid refresh token');
  }
  return payload;
}

export function verifyAccessToken(token: string, secret: string): AccessClaims {
  const p = verify(token, secret, 'access');
  return { sub: p.sub as string, org: p.org as string, sso: p.sso === true };
}

export function verifyRefreshToken(token: string, secret: string): RefreshClaims {
  const p = verify(token, secret, 'refresh');
  if (typeof p.jti !== 'string' || typeof p.fam !== 'string') throw new UnauthenticatedError('invalid refresh token');
  return { sub: p.sub as string, org: p.org as string, sso: p.sso === true, jti: p.jti, fam: p.fam };
}

/** A compact JWT looks like three base64url segments; used to tell JWTs from vx_ tokens. */
export function looksLikeJwt(value: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]*$/.test(value);
}
