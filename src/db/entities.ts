import { MembershipSchema, OrganizationSchema, RefreshTokenSchema, UserSchema } from '../modules/accounts/entity.js';
import { AuditEntrySchema } from '../modules/audit/entity.js';
import { EnvironmentSchema, ProjectSchema } from '../modules/projects/entity.js';

/** Every entity of the model; the migration script diffs the database against these. */
export const entities = [
  UserSchema,
  OrganizationSchema,
  MembershipSchema,
  RefreshTokenSchema,
  ProjectSchema,
  EnvironmentSchema,
  AuditEntrySchema,
];
