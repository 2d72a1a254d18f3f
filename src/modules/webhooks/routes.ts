import { Type } from 'typebox';
import {
  defineRoute,
  Int32,
  Json,
  lower,
  Nullable,
  PAGE_FIELDS,
  Page,
  PageQuery,
  strict,
  Timestamp,
  Uuid,
  upper,
} from '../../rest/route.js';
import { ATTEMPTS_KEPT } from './worker.js';

/** Webhooks over REST (`/v1/webhooks/*`), each route one GraphQL operation of webhooks/schema.ts. */

const WEBHOOK = `fragment RestWebhook on Webhook {
  id url description event_types: eventTypes project_ids: projectIds environment_ids: environmentIds active
  failing_since: failingSince disabled_at: disabledAt disabled_reason: disabledReason
  previous_secret_expires_at: previousSecretExpiresAt created_at: createdAt updated_at: updatedAt
}`;
const DELIVERY = `fragment RestWebhookDelivery on WebhookDelivery {
  id event_id: eventId event_type: eventType status attempts next_attempt_at: nextAttemptAt
  last_attempt_at: lastAttemptAt last_status_code: lastStatusCode last_error: lastError delivered_at: deliveredAt
  created_at: createdAt payload
  attempt_log: attemptLog { attempt started_at: startedAt status_code: statusCode latency_ms: latencyMs error response_body: responseBody }
}`;

const Webhook = Type.Object({
  id: Uuid,
  url: Type.String(),
  description: Type.String(),
  event_types: Type.Array(Type.String()),
  project_ids: Nullable(Type.Array(Uuid)),
  environment_ids: Nullable(Type.Array(Uuid)),
  active: Type.Boolean(),
  failing_since: Nullable(Timestamp),
  disabled_at: Nullable(Timestamp),
  disabled_reason: Nullable(Type.String()),
  previous_secret_expires_at: Nullable(Timestamp),
  created_at: Timestamp,
  updated_at: Timestamp,
});
const WebhookWithSecret = Type.Object({
  ...Webhook.properties,
  secret: Type.String({ description: 'The signing secret (whsec_…). Shown this once.' }),
});
const DeliveryStatus = Type.Enum(['pending', 'delivered', 'failed']);
const Delivery = Type.Object({
  id: Uuid,
  event_id: Type.String({ description: 'The webhook-id header receivers see.' }),
  event_type: Type.String(),
  status: DeliveryStatus,
  attempts: Type.Integer(),
  next_attempt_at: Nullable(Timestamp),
  last_attempt_at: Nullable(Timestamp),
  last_status_code: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  delivered_at: Nullable(Timestamp),
  created_at: Timestamp,
  payload: Json,
  attempt_log: Type.Array(
    Type.Object({
      attempt: Type.Integer(),
      started_at: Timestamp,
      status_code: Nullable(Type.Integer()),
      latency_ms: Type.Integer(),
      error: Nullable(Type.String()),
      response_body: Nullable(Type.String({ description: 'The first KB of the answer.' })),
    }),
  ),
});

const deliveryJson = (d: { status: string }) => ({ ...d, status: lower(d.status) });
const withSecret = (data: { secret: string; webhook: object }) => ({ ...data.webhook, secret: data.secret });
const ById = Type.Object({ id: Uuid }, strict);

const Fields = {
  url: Type.String({ description: 'http(s); it must resolve to public addresses only.' }),
  description: Type.Optional(Type.String()),
  event_types: Type.Array(Type.String(), { description: 'Types (flag.state.updated) or families (flag.*).' }),
  project_ids: Type.Optional(Type.Array(Uuid)),
  environment_ids: Type.Optional(Type.Array(Uuid)),
  active: Type.Optional(Type.Boolean()),
};
const toInput = (body: {
  url?: string;
  description?: string;
  event_types?: string[];
  project_ids?: string[];
  environment_ids?: string[];
  active?: boolean;
}) => ({
  url: body.url,
  description: body.description,
  eventTypes: body.event_types,
  projectIds: body.project_ids,
  environmentIds: body.environment_ids,
  active: body.active,
});

const tag = 'Webhooks';
const permission = 'webhook:manage';

export const webhookRoutes = [
  defineRoute({
    name: 'listWebhooks',
    method: 'GET',
    url: '/v1/webhooks',
    tag,
    summary: 'List webhooks',
    permission,
    query: Type.Object(PageQuery, strict),
    status: 200,
    response: Page(Webhook),
    operation: `query RestWebhooks($limit: Int, $offset: Int) {
      webhooks(limit: $limit, offset: $offset) { data { ...RestWebhook } ${PAGE_FIELDS} }
    } ${WEBHOOK}`,
    variables: ({ query }) => query,
    result: (data) => data.webhooks,
  }),
  defineRoute({
    name: 'createWebhook',
    method: 'POST',
    url: '/v1/webhooks',
    tag,
    summary: 'Create webhook',
    description:
      "Its signing secret is in this answer only. Subscribing to a family's events needs its read permission.",
    permission,
    body: Type.Object(Fields, strict),
    status: 201,
    response: WebhookWithSecret,
    operation: `mutation RestCreateWebhook($input: CreateWebhookInput!) {
      createWebhook(input: $input) { secret webhook { ...RestWebhook } }
    } ${WEBHOOK}`,
    variables: ({ body }) => ({ input: toInput(body) }),
    result: (data) => withSecret(data.createWebhook),
  }),
  defineRoute({
    name: 'getWebhook',
    method: 'GET',
    url: '/v1/webhooks/:id',
    tag,
    summary: 'Get webhook',
    permission,
    params: ById,
    status: 200,
    response: Webhook,
    operation: `query RestWebhook($id: ID!) { webhook(id: $id) { ...RestWebhook } } ${WEBHOOK}`,
    variables: ({ params }) => params,
    result: (data) => data.webhook,
  }),
  defineRoute({
    name: 'updateWebhook',
    method: 'PUT',
    url: '/v1/webhooks/:id',
    tag,
    summary: 'Update webhook',
    description: 'Replaces the fields given. `active: true` turns a disabled endpoint back on and sends its backlog.',
    permission,
    params: ById,
    body: Type.Object(
      {
        ...Fields,
        url: Type.Optional(Fields.url),
        event_types: Type.Optional(Fields.event_types),
      },
      strict,
    ),
    status: 200,
    response: Webhook,
    operation: `mutation RestUpdateWebhook($id: ID!, $input: UpdateWebhookInput!) {
      updateWebhook(id: $id, input: $input) { ...RestWebhook }
    } ${WEBHOOK}`,
    variables: ({ params, body }) => ({ id: params.id, input: toInput(body) }),
    result: (data) => data.updateWebhook,
  }),
  defineRoute({
    name: 'deleteWebhook',
    method: 'DELETE',
    url: '/v1/webhooks/:id',
    tag,
    summary: 'Delete webhook',
    description: 'With its delivery log; pending deliveries are dropped.',
    permission,
    params: ById,
    status: 204,
    operation: 'mutation RestDeleteWebhook($id: ID!) { deleteWebhook(id: $id) { __typename } }',
    variables: ({ params }) => params,
  }),
  defineRoute({
    name: 'rotateWebhookSecret',
    method: 'POST',
    url: '/v1/webhooks/:id/rotate-secret',
    tag,
    summary: 'Rotate signing secret',
    description: 'The previous secret keeps signing beside the new one for overlap_minutes (default 1440).',
    permission,
    params: ById,
    body: Type.Object({ overlap_minutes: Type.Optional(Int32({ minimum: 0, maximum: 10_080 })) }, strict),
    status: 200,
    response: WebhookWithSecret,
    operation: `mutation RestRotateWebhookSecret($id: ID!, $overlapMinutes: Int) {
      rotateWebhookSecret(id: $id, overlapMinutes: $overlapMinutes) { secret webhook { ...RestWebhook } }
    } ${WEBHOOK}`,
    variables: ({ params, body }) => ({ id: params.id, overlapMinutes: body.overlap_minutes ?? 1440 }),
    result: (data) => withSecret(data.rotateWebhookSecret),
  }),
  defineRoute({
    name: 'sendWebhookTest',
    method: 'POST',
    url: '/v1/webhooks/:id/test',
    tag,
    summary: 'Send a test ping',
    description: 'A webhook.ping sent now, once, around the queue; the answer is the attempt.',
    permission,
    params: ById,
    status: 200,
    response: Delivery,
    operation: `mutation RestSendWebhookTest($id: ID!) { sendWebhookTest(id: $id) { ...RestWebhookDelivery } } ${DELIVERY}`,
    variables: ({ params }) => params,
    result: (data) => deliveryJson(data.sendWebhookTest),
  }),
  defineRoute({
    name: 'listWebhookDeliveries',
    method: 'GET',
    url: '/v1/webhooks/:id/deliveries',
    tag,
    summary: 'List deliveries',
    description: `The delivery log, newest first, with the last ${ATTEMPTS_KEPT} attempts of each.`,
    permission,
    params: ById,
    query: Type.Object({ ...PageQuery, status: Type.Optional(DeliveryStatus) }, strict),
    status: 200,
    response: Page(Delivery),
    operation: `query RestWebhookDeliveries($id: ID!, $limit: Int, $offset: Int, $status: WebhookDeliveryStatus) {
      webhook(id: $id) { deliveries(limit: $limit, offset: $offset, status: $status) { data { ...RestWebhookDelivery } ${PAGE_FIELDS} } }
    } ${DELIVERY}`,
    variables: ({ params, query }) => ({
      id: params.id,
      limit: query.limit,
      offset: query.offset,
      status: query.status ? upper(query.status) : undefined,
    }),
    result: (data) => ({ ...data.webhook.deliveries, data: data.webhook.deliveries.data.map(deliveryJson) }),
  }),
  defineRoute({
    name: 'redeliverWebhook',
    method: 'POST',
    url: '/v1/webhooks/deliveries/:id/redeliver',
    tag,
    summary: 'Redeliver',
    description: 'A pending delivery is tried at once; a delivered one is queued again (same webhook-id).',
    permission,
    params: ById,
    status: 200,
    response: Delivery,
    operation: `mutation RestRedeliverWebhook($id: ID!) { redeliverWebhook(deliveryId: $id) { ...RestWebhookDelivery } } ${DELIVERY}`,
    variables: ({ params }) => params,
    result: (data) => deliveryJson(data.redeliverWebhook),
  }),
];
