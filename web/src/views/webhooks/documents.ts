import { graphql } from '../../graphql/index.ts';

/** What the list and the detail page show of a webhook. */
export const WebhookFields = graphql(`
  fragment WebhookFields on Webhook @_unmask {
    id url description eventTypes projectIds environmentIds active
    failingSince disabledAt disabledReason previousSecretExpiresAt createdAt
  }
`);

/** The choices a webhook form offers: event types, and the projects and environments to narrow to. */
export const WebhookChoicesQuery = graphql(`
  query WebhookChoices {
    webhookEventTypes
    projects(limit: 100) { data { id name environments { id name } } }
  }
`);

export const CreateWebhook = graphql(
  `
  mutation CreateWebhook($input: CreateWebhookInput!) {
    createWebhook(input: $input) { secret webhook { ...WebhookFields } }
  }
`,
  [WebhookFields],
);

export const UpdateWebhook = graphql(
  `
  mutation UpdateWebhook($id: ID!, $input: UpdateWebhookInput!) {
    updateWebhook(id: $id, input: $input) { ...WebhookFields }
  }
`,
  [WebhookFields],
);

export const DeleteWebhook = graphql(`mutation DeleteWebhook($id: ID!) { deleteWebhook(id: $id) { id } }`);

export const RotateWebhookSecret = graphql(
  `
  mutation RotateWebhookSecret($id: ID!, $overlapMinutes: Int!) {
    rotateWebhookSecret(id: $id, overlapMinutes: $overlapMinutes) { secret webhook { ...WebhookFields } }
  }
`,
  [WebhookFields],
);

export const SendWebhookTest = graphql(`
  mutation SendWebhookTest($id: ID!) {
    sendWebhookTest(id: $id) { id status lastStatusCode lastError attemptLog { latencyMs } }
  }
`);

export const RedeliverWebhook = graphql(`
  mutation RedeliverWebhook($deliveryId: ID!) { redeliverWebhook(deliveryId: $deliveryId) { id status attempts } }
`);
