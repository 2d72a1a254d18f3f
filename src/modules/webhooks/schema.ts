import { builder } from '../../graphql/builder.js';
import { actorOf } from '../../graphql/context.js';
import { rateLimited } from '../../graphql/limits.js';
import { pageArgs, pageOf } from '../../graphql/page.js';
import type { Webhook, WebhookAttempt, WebhookDelivery } from './entity.js';
import { WEBHOOK_EVENT_FAMILIES, WEBHOOK_EVENT_TYPES } from './outbox/types.js';
import type { Webhooks } from './plugin.js';
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listAttempts,
  listDeliveries,
  listWebhooks,
  redeliver,
  rotateWebhookSecret,
  sendTestPing,
  updateWebhook,
  type WebhookWithSecret,
} from './service.js';
import { ATTEMPTS_KEPT } from './worker.js';

declare module '../../graphql/context.js' {
  interface ContextServices {
    /** Webhook delivery on this node (modules/webhooks/plugin.ts). */
    webhooks: Webhooks;
  }
}

const manage = { permission: 'webhook:manage' } as const;

const DeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  values: {
    PENDING: { value: 'pending', description: 'Not delivered yet: waiting for its turn or its next attempt.' },
    DELIVERED: { value: 'delivered', description: 'The receiver answered 2xx.' },
    FAILED: { value: 'failed', description: 'A test ping that was not answered 2xx (pings are tried once).' },
  } as const,
});

const WebhookAttemptType = builder.objectRef<WebhookAttempt>('WebhookAttempt').implement({
  description: 'One try of a delivery.',
  authScopes: manage,
  fields: (t) => ({
    attempt: t.exposeInt('attempt'),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    statusCode: t.exposeInt('statusCode', { nullable: true, description: 'Null when no answer came.' }),
    latencyMs: t.exposeInt('latencyMs'),
    error: t.exposeString('error', { nullable: true }),
    responseBody: t.exposeString('responseBody', {
      nullable: true,
      description: 'The first KB of the answer (nothing beyond it is read).',
    }),
  }),
});

const WebhookDeliveryType = builder.objectRef<WebhookDelivery>('WebhookDelivery').implement({
  description: 'One event for one endpoint.',
  authScopes: manage,
  fields: (t) => ({
    id: t.exposeID('id'),
    eventId: t.id({ description: 'The `webhook-id` header receivers see.', resolve: (d) => d.event.id }),
    eventType: t.string({ resolve: (d) => d.event.type }),
    payload: t.field({
      type: 'JSON',
      description: 'The body that is signed and sent.',
      resolve: (d) => d.event.payload,
    }),
    status: t.field({ type: DeliveryStatusEnum, resolve: (d) => d.status }),
    attempts: t.exposeInt('attempts'),
    nextAttemptAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When a pending delivery is tried next (once the ones before it are delivered).',
      resolve: (d) => (d.status === 'pending' ? d.nextAttemptAt : null),
    }),
    lastAttemptAt: t.expose('lastAttemptAt', { type: 'DateTime', nullable: true }),
    lastStatusCode: t.exposeInt('lastStatusCode', { nullable: true }),
    lastError: t.exposeString('lastError', { nullable: true }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    attemptLog: t.field({
      type: [WebhookAttemptType],
      description: `Its attempts, oldest first: the last ${ATTEMPTS_KEPT} (attempts counts every one).`,
      complexity: { field: 1, multiplier: 10 },
      resolve: (d, _args, ctx) => listAttempts(ctx.em, d),
    }),
  }),
});

const WebhookDeliveryPage = pageOf('WebhookDelivery', WebhookDeliveryType);

const WebhookType = builder.objectRef<Webhook>('Webhook').implement({
  description:
    "A receiver of the organization's changes, signed per the Standard Webhooks specification (headers `webhook-id`, `webhook-timestamp`, `webhook-signature`). The signing secret is shown once, by createWebhook and rotateWebhookSecret.",
  authScopes: manage,
  fields: (t) => ({
    id: t.exposeID('id'),
    url: t.exposeString('url'),
    description: t.exposeString('description'),
    eventTypes: t.exposeStringList('eventTypes'),
    projectIds: t.idList({ nullable: true, description: 'Null: every project.', resolve: (w) => w.projectIds }),
    environmentIds: t.idList({
      nullable: true,
      description: 'Null: every environment.',
      resolve: (w) => w.environmentIds,
    }),
    active: t.exposeBoolean('active'),
    failingSince: t.expose('failingSince', {
      type: 'DateTime',
      nullable: true,
      description: 'Since when every attempt failed; null once one succeeds.',
    }),
    disabledAt: t.expose('disabledAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the server turned the endpoint off for failing too long (turn it on with updateWebhook).',
    }),
    disabledReason: t.exposeString('disabledReason', { nullable: true }),
    previousSecretExpiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'Until when the secret before the last rotation still signs, beside the new one.',
      resolve: (w) =>
        w.previousSecretExpiresAt && w.previousSecretExpiresAt.getTime() > Date.now()
          ? w.previousSecretExpiresAt
          : null,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    deliveries: t.field({
      type: WebhookDeliveryPage,
      description: 'The delivery log, newest first.',
      args: { ...pageArgs, status: t.arg({ type: DeliveryStatusEnum, required: false }) },
      resolve: (w, args, ctx) => listDeliveries(ctx.em, actorOf(ctx), w, args),
    }),
  }),
});

const WebhookWithSecretType = builder.objectRef<WebhookWithSecret>('WebhookWithSecret').implement({
  fields: (t) => ({
    webhook: t.field({ type: WebhookType, resolve: (c) => c.webhook }),
    secret: t.exposeString('secret', {
      description: 'The signing secret (`whsec_…`). Shown this once: give it to the receiver now.',
    }),
  }),
});

const WebhookPage = pageOf('Webhook', WebhookType);

const eventTypesDescription = `Event types (${WEBHOOK_EVENT_TYPES.join(', ')}, approval.…) or whole families (${WEBHOOK_EVENT_FAMILIES.map((f) => `${f}.*`).join(', ')}).`;

const CreateWebhookInput = builder.inputType('CreateWebhookInput', {
  fields: (t) => ({
    url: t.string({ required: true, description: 'http(s); it must resolve to public addresses only.' }),
    description: t.string({ required: false }),
    eventTypes: t.stringList({ required: true, description: eventTypesDescription }),
    projectIds: t.idList({ required: false, description: 'Only changes in these projects (default: every project).' }),
    environmentIds: t.idList({
      required: false,
      description: 'Only changes in these environments (default: every environment); their projects are implied.',
    }),
    active: t.boolean({ required: false, description: 'Default true.' }),
  }),
});

const UpdateWebhookInput = builder.inputType('UpdateWebhookInput', {
  fields: (t) => ({
    url: t.string({ required: false }),
    description: t.string({ required: false }),
    eventTypes: t.stringList({ required: false }),
    projectIds: t.idList({ required: false, description: 'An empty list: every project.' }),
    environmentIds: t.idList({ required: false, description: 'An empty list: every environment.' }),
    active: t.boolean({
      required: false,
      description: 'true turns a disabled endpoint back on; its pending deliveries are then sent, oldest first.',
    }),
  }),
});

const ids = (list: readonly (string | number)[] | null | undefined) => (list ? list.map(String) : list);

builder.queryFields((t) => ({
  webhooks: t.field({
    type: WebhookPage,
    authScopes: manage,
    args: pageArgs,
    resolve: (_r, args, ctx) => listWebhooks(ctx.em, actorOf(ctx), args),
  }),
  webhook: t.field({
    type: WebhookType,
    authScopes: manage,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, { id }, ctx) => getWebhook(ctx.em, actorOf(ctx), id.toString()),
  }),
  webhookEventTypes: t.stringList({
    description: 'The event types a webhook can subscribe to (families as `<family>.*`).',
    authScopes: { authenticated: true },
    resolve: () => [...WEBHOOK_EVENT_TYPES, ...WEBHOOK_EVENT_FAMILIES.map((f) => `${f}.*`)],
  }),
}));

builder.mutationFields((t) => ({
  createWebhook: t.field({
    type: WebhookWithSecretType,
    description:
      "Creates a webhook; its signing secret is in the answer and never shown again. Subscribing to a family's events needs its read permission.",
    authScopes: manage,
    extensions: rateLimited({ sensitive: true }),
    args: { input: t.arg({ type: CreateWebhookInput, required: true }) },
    resolve: (_r, { input }, ctx) =>
      createWebhook(
        ctx.em,
        actorOf(ctx),
        { ...input, projectIds: ids(input.projectIds), environmentIds: ids(input.environmentIds) },
        { allowPrivate: ctx.services.webhooks.settings.allowPrivate, serverSecret: ctx.services.webhooks.serverSecret },
      ),
  }),
  updateWebhook: t.field({
    type: WebhookType,
    authScopes: manage,
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateWebhookInput, required: true }) },
    resolve: (_r, { id, input }, ctx) =>
      updateWebhook(
        ctx.em,
        actorOf(ctx),
        id.toString(),
        { ...input, projectIds: ids(input.projectIds), environmentIds: ids(input.environmentIds) },
        { allowPrivate: ctx.services.webhooks.settings.allowPrivate, serverSecret: ctx.services.webhooks.serverSecret },
      ),
  }),
  deleteWebhook: t.field({
    type: WebhookType,
    description: 'Deletes the webhook with its delivery log; pending deliveries are dropped.',
    authScopes: manage,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, { id }, ctx) => deleteWebhook(ctx.em, actorOf(ctx), id.toString()),
  }),
  rotateWebhookSecret: t.field({
    type: WebhookWithSecretType,
    description:
      'A new signing secret (in the answer, shown once). The previous one keeps signing beside it for overlapMinutes (default 1440), so receivers switch without missing a delivery.',
    authScopes: manage,
    extensions: rateLimited({ sensitive: true }),
    args: { id: t.arg.id({ required: true }), overlapMinutes: t.arg.int({ required: false, defaultValue: 1440 }) },
    resolve: (_r, { id, overlapMinutes }, ctx) =>
      rotateWebhookSecret(
        ctx.em,
        actorOf(ctx),
        id.toString(),
        overlapMinutes ?? 1440,
        ctx.services.webhooks.serverSecret,
      ),
  }),
  redeliverWebhook: t.field({
    type: WebhookDeliveryType,
    description:
      "Sends a delivery again: a pending one is tried at once, a delivered one is queued again (same webhook-id) after the endpoint's pending ones.",
    authScopes: manage,
    extensions: rateLimited({ sensitive: true }),
    args: { deliveryId: t.arg.id({ required: true }) },
    resolve: (_r, { deliveryId }, ctx) => redeliver(ctx.em, actorOf(ctx), deliveryId.toString()),
  }),
  sendWebhookTest: t.field({
    type: WebhookDeliveryType,
    description:
      "Sends a `webhook.ping` event now, once, around the endpoint's queue, and answers with the attempt (status, latency, the first KB of the answer).",
    authScopes: manage,
    extensions: rateLimited({ sensitive: true }),
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, { id }, ctx) => sendTestPing(ctx.em, actorOf(ctx), id.toString(), ctx.services.webhooks),
  }),
}));
