import { MembershipSchema, OrganizationSchema, RefreshTokenSchema, UserSchema } from './modules/accounts/entity.js';
import { AuditChainHeadSchema, AuditEntrySchema } from './modules/audit/entity.js';
import { FlagSchema, FlagStateSchema } from './modules/flags/entity.js';
import { InvitationSchema } from './modules/invitations/entity.js';
import { SdkKeySchema } from './modules/keys/entity.js';
import {
  EvaluationCountSchema,
  EvaluationLastSeenSchema,
  TrackedEventCountSchema,
  TrackedEventSchema,
} from './modules/metrics/entity.js';
import { PendingChangeSchema, PendingReviewSchema } from './modules/pending/entity.js';
import { EnvironmentSchema, ProjectSchema } from './modules/projects/entity.js';
import { SegmentSchema } from './modules/segments/entity.js';
import { SsoTokenUseSchema } from './modules/sso/entity.js';
import { AccessTokenSchema } from './modules/tokens/entity.js';
import {
  WebhookAttemptSchema,
  WebhookDeliverySchema,
  WebhookEventSchema,
  WebhookSchema,
} from './modules/webhooks/entity.js';

/** Every entity of the model, from every module; the migration script diffs the database against these. */
export const entities = [
  UserSchema,
  OrganizationSchema,
  MembershipSchema,
  RefreshTokenSchema,
  ProjectSchema,
  EnvironmentSchema,
  AuditEntrySchema,
  SdkKeySchema,
  AccessTokenSchema,
  FlagSchema,
  FlagStateSchema,
  SegmentSchema,
  EvaluationCountSchema,
  TrackedEventSchema,
  SsoTokenUseSchema,
  AuditChainHeadSchema,
  PendingChangeSchema,
  PendingReviewSchema,
  InvitationSchema,
  EvaluationLastSeenSchema,
  TrackedEventCountSchema,
  WebhookSchema,
  WebhookEventSchema,
  WebhookDeliverySchema,
  WebhookAttemptSchema,
];
