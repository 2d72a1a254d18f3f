import { EntitySchema } from '@mikro-orm/core';
import { createdAt, timestamps } from '../../db/columns.js';
import { type Organization, OrganizationSchema } from '../accounts/entity.js';

/**
 * A receiver of an organization's changes, optionally narrowed to projects, environments and
 * event types. Its signing secret is an HMAC key (Standard Webhooks), so it is kept sealed
 * (AES-256-GCM under a key derived from JWT_SECRET), never shown again after creation or rotation.
 */
export interface Webhook {
  id: string;
  organization: Organization;
  url: string;
  description: string;
  /** Exact types (`flag.state.updated`) or families (`flag.*`). */
  eventTypes: string[];
  /** Null: every project. */
  projectIds: string[] | null;
  /** Null: every environment. */
  environmentIds: string[] | null;
  /** Off: no new deliveries are recorded for it and none is sent. */
  active: boolean;
  secretSealed: string;
  /** The secret before the last rotation, which also signs until `previousSecretExpiresAt`. */
  previousSecretSealed: string | null;
  previousSecretExpiresAt: Date | null;
  /** Since when every attempt failed (null once one succeeds). */
  failingSince: Date | null;
  /** Set when the server turned the endpoint off after failing for too long; cleared when turned on. */
  disabledAt: Date | null;
  disabledReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export const WebhookSchema = new EntitySchema<Webhook>({
  name: 'Webhook',
  tableName: 'webhooks',
  properties: {
    id: { type: 'uuid', primary: true },
    organization: { kind: 'm:1', entity: () => OrganizationSchema, deleteRule: 'cascade', index: true },
    url: { type: 'text' },
    description: { type: 'text', default: '' },
    eventTypes: { type: 'string[]' },
    projectIds: { type: 'string[]', columnType: 'uuid[]', nullable: true },
    environmentIds: { type: 'string[]', columnType: 'uuid[]', nullable: true },
    active: { type: 'boolean', default: true },
    secretSealed: { type: 'text', hidden: true },
    previousSecretSealed: { type: 'text', nullable: true, hidden: true },
    previousSecretExpiresAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    failingSince: { type: 'Date', columnType: 'timestamptz', nullable: true },
    disabledAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    disabledReason: { type: 'text', nullable: true },
    ...timestamps,
  },
});

/** What happened, as every subscribed endpoint receives it: the signed body, fixed when the change committed. */
export interface WebhookEvent {
  id: string;
  organization: Organization;
  type: string;
  /** `{type, timestamp, data}`, the Standard Webhooks shape. */
  payload: Record<string, unknown>;
  createdAt: Date;
}

export const WebhookEventSchema = new EntitySchema<WebhookEvent>({
  name: 'WebhookEvent',
  tableName: 'webhook_events',
  properties: {
    id: { type: 'uuid', primary: true },
    organization: { kind: 'm:1', entity: () => OrganizationSchema, deleteRule: 'cascade', index: true },
    type: { type: 'string', length: 100 },
    payload: { type: 'json' },
    createdAt: { ...createdAt, index: true },
  },
});

/** `failed` only ends a test ping, which is tried once; every other delivery is retried until it is delivered. */
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/**
 * One event for one endpoint: the outbox row, written in the transaction of the change it
 * announces. `seq` orders an endpoint's deliveries (it is drawn at the very end of that
 * transaction, while the environments it changed are locked, so it follows their versions);
 * an endpoint's first pending delivery holds back the later ones until it succeeds.
 */
export interface WebhookDelivery {
  id: string;
  seq: string;
  webhook: Webhook;
  event: WebhookEvent;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date;
  lastAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

export const WebhookDeliverySchema = new EntitySchema<WebhookDelivery>({
  name: 'WebhookDelivery',
  tableName: 'webhook_deliveries',
  properties: {
    id: { type: 'uuid', primary: true },
    seq: { type: 'bigint', autoincrement: true },
    webhook: { kind: 'm:1', entity: () => WebhookSchema, deleteRule: 'cascade' },
    event: { kind: 'm:1', entity: () => WebhookEventSchema, deleteRule: 'cascade', index: true },
    status: { type: 'string', length: 20 },
    attempts: { type: 'integer', default: 0 },
    nextAttemptAt: { type: 'Date', columnType: 'timestamptz' },
    lastAttemptAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    lastStatusCode: { type: 'integer', nullable: true },
    lastError: { type: 'text', nullable: true },
    deliveredAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    createdAt: { ...createdAt, index: true },
  },
  indexes: [{ properties: ['webhook', 'status', 'seq'] }, { properties: ['status', 'nextAttemptAt'] }],
});

/** One try of a delivery, for the delivery log: what the receiver answered (its first KB), and how fast. */
export interface WebhookAttempt {
  id: string;
  delivery: WebhookDelivery;
  attempt: number;
  startedAt: Date;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  responseBody: string | null;
}

export const WebhookAttemptSchema = new EntitySchema<WebhookAttempt>({
  name: 'WebhookAttempt',
  tableName: 'webhook_attempts',
  properties: {
    id: { type: 'uuid', primary: true },
    delivery: { kind: 'm:1', entity: () => WebhookDeliverySchema, deleteRule: 'cascade', index: true },
    attempt: { type: 'integer' },
    startedAt: { type: 'Date', columnType: 'timestamptz' },
    statusCode: { type: 'integer', nullable: true },
    latencyMs: { type: 'integer' },
    error: { type: 'text', nullable: true },
    responseBody: { type: 'text', nullable: true },
  },
});
