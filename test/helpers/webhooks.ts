import { expect } from 'vitest';
import { graphql } from './client.js';
import { environmentsOf } from './credentials.js';
import type { GivenProject } from './flags.js';
import { eventually } from './waiters.js';
import type { WebhookReceiver } from './webhook-receiver.js';

export const CREATE_WEBHOOK = `mutation($input: CreateWebhookInput!) {
  createWebhook(input: $input) { secret webhook { id url eventTypes active projectIds environmentIds } }
}`;

export const DELIVERIES = `query($id: ID!, $status: WebhookDeliveryStatus) {
  webhook(id: $id) {
    active disabledAt disabledReason failingSince
    deliveries(status: $status, limit: 100) {
      total
      data { id eventId eventType status attempts lastStatusCode lastError payload
        attemptLog { attempt statusCode error latencyMs responseBody } }
    }
  }
}`;

/** A webhook of `auth`'s organization pointing at `receiver`, which learns its secret. */
export async function givenWebhook(
  base: string,
  auth: Record<string, string>,
  receiver: WebhookReceiver,
  input: Record<string, unknown> = {},
): Promise<{ id: string; secret: string }> {
  const r = await graphql(
    base,
    CREATE_WEBHOOK,
    { input: { url: receiver.url, eventTypes: ['flag.*'], ...input } },
    auth,
  );
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  const secret: string = r.data.createWebhook.secret;
  receiver.secrets.push(secret);
  return { id: r.data.createWebhook.webhook.id, secret };
}

export async function deliveriesOf(base: string, auth: Record<string, string>, id: string, status?: string) {
  const r = await graphql(base, DELIVERIES, { id, status }, auth);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data.webhook;
}

/** The delivery log once every delivery is recorded as delivered (receivers answer before the node records it). */
export async function deliveredLog(base: string, auth: Record<string, string>, id: string, count: number) {
  return eventually(async () => {
    const w = await deliveriesOf(base, auth, id);
    const done = w.deliveries.data.filter((d: { status: string }) => d.status === 'DELIVERED').length;
    return done === count ? w : null;
  }, 10_000);
}

/** The server settings webhook tests share: generous budgets, receivers on this machine allowed. */
export const WEBHOOK_TEST_SETTINGS = {
  AUTH_RATE_LIMIT: '10000',
  MANAGEMENT_RATE_LIMIT: '100000',
  SENSITIVE_RATE_LIMIT: '10000',
  WEBHOOK_ALLOW_PRIVATE: 'true',
} as const;

/** An organization's default project as the flag builders take it (environment ids by key). */
export async function defaultProjectOf(base: string, org: { auth: Record<string, string> }): Promise<GivenProject> {
  const envs = await environmentsOf(base, org);
  return { id: envs.projectId, env: Object.fromEntries(Object.entries(envs.byKey).map(([k, e]) => [k, e.id])) };
}
