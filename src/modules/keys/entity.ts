import { EntitySchema } from '@mikro-orm/core';
import { createdAt } from '../../db/columns.js';
import type { Environment } from '../projects/entity.js';
import { EnvironmentSchema } from '../projects/entity.js';

export type SdkKeyKind = 'server' | 'mobile' | 'client';

/**
 * An SDK credential of one environment. Server and mobile keys are stored as SHA-256 only; the
 * client-side ID is public by design (it ships in browser bundles and can never be rotated), so
 * it is kept in clear beside its hash for the dashboard to show.
 */
export interface SdkKey {
  id: string;
  environment: Environment;
  kind: SdkKeyKind;
  name: string;
  keyHash: string;
  /** `vx_srv_…AbCd`: prefix and last four characters. */
  masked: string;
  /** Only for the client-side ID. */
  publicValue: string | null;
  /** Only for the client-side ID: the CORS allow-list of browser origins. */
  authorizedOrigins: string[];
  createdAt: Date;
  createdBy: string | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  /** Set when revoked: the end of the grace period, after which the key answers 401. */
  expiresAt: Date | null;
}

export const SdkKeySchema = new EntitySchema<SdkKey>({
  name: 'SdkKey',
  tableName: 'sdk_keys',
  properties: {
    id: { type: 'uuid', primary: true },
    environment: { kind: 'm:1', entity: () => EnvironmentSchema, deleteRule: 'cascade' },
    kind: { type: 'string', length: 10 },
    name: { type: 'string', length: 200 },
    keyHash: { type: 'string', length: 64, unique: true },
    masked: { type: 'string', length: 40 },
    publicValue: { type: 'string', length: 64, nullable: true },
    authorizedOrigins: { type: 'json', default: '[]' },
    createdAt,
    createdBy: { type: 'uuid', nullable: true },
    lastUsedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    revokedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    expiresAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
  },
});
