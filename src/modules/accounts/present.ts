import type { Organization, User } from './entity.js';
import type { TokenPair } from './service.js';

/** The REST shapes of a session's parts (featuresignals-authentication), shared by every auth route. */
const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
export const userJson = (u: User) => ({
  id: u.id,
  email: u.email,
  name: u.name,
  created_at: iso(u.createdAt),
  updated_at: iso(u.updatedAt),
});
export const orgJson = (o: Organization) => ({
  id: o.id,
  name: o.name,
  slug: o.slug,
  created_at: iso(o.createdAt),
  updated_at: iso(o.updatedAt),
});
export const tokensJson = (t: TokenPair) => ({
  access_token: t.accessToken,
  refresh_token: t.refreshToken,
  expires_at: t.expiresAt,
});
