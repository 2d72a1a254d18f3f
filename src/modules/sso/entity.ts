import { EntitySchema } from '@mikro-orm/core';
import { type Organization, OrganizationSchema } from '../accounts/entity.js';

/**
 * An SSO JWT id (`jti`) already spent, kept until the JWT expires: single use across every node,
 * decided by the primary key. Ids are the integration's own, so they are scoped to its organization.
 */
export interface SsoTokenUse {
  organization: Organization;
  jti: string;
  expiresAt: Date;
}

export const SsoTokenUseSchema = new EntitySchema<SsoTokenUse>({
  name: 'SsoTokenUse',
  tableName: 'sso_token_uses',
  properties: {
    organization: { kind: 'm:1', entity: () => OrganizationSchema, deleteRule: 'cascade', primary: true },
    jti: { type: 'string', length: 128, primary: true },
    expiresAt: { type: 'Date', columnType: 'timestamptz', index: true },
  },
});
