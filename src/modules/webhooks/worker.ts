import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { WebhookSettings } from '../../config.js';
import { type AttemptOutcome, type AttemptResult, attemptDelivery, openWebhookSecret } from './delivery.js';
import {
  type Webhook,
  WebhookAttemptSchema,
  type WebhookDelivery,
  WebhookDeliverySchema,
  WebhookSchema,
} from './entity.js';

/**
 * Sending an endpoint's deliveries, in order: the job queue runs `drainEndpoint` for one
 * endpoint at a time (plugin.ts), and it sends the endpoint's pending deliveries oldest first
 * until one fails. That one is retried with exponential backoff and holds back every later
 * delivery of the endpoint until it succeeds (so a receiver never sees version 7 before 6), or
 * until the endpoint, failing for a day, is disabled, its backlog kept for when it is turned
 * back on. Delivery is at least once: a node that dies between the receiver's answer and the
 * record of it leaves the delivery pending, and it is sent again (same `webhook-id`).
 */

/** Deliveries one run sends at most, and how long it keeps going, before it lets other endpoints' runs go first. */
const MAX_PER_RUN = 100;
const RUN_BUDGET_MS = 20_000;
/** What the delivery log keeps of an error. */
const MAX_ERROR_LENGTH = 500;
/**
 * Attempts a delivery keeps in its log, the latest: a pending delivery is never pruned, and each
 * time its endpoint is turned back on (or the delivery is redelivered) it is tried once more, so
 * without a bound its log, and every read of it, would grow without end.
 */
export const ATTEMPTS_KEPT = 100;

export type DeliveryCounts = Record<AttemptOutcome, number> & { disabled: number };

export const newDeliveryCounts = (): DeliveryCounts => ({
  delivered: 0,
  failed: 0,
  timeout: 0,
  refused: 0,
  disabled: 0,
});

export interface WorkerDeps {
  em(): EntityManager;
  settings: WebhookSettings;
  /** JWT_SECRET, which the signing secrets are sealed under. */
  serverSecret: string;
  counts: DeliveryCounts;
}

/** The wait before the next attempt after `failures` failed ones: doubling from the base, capped, ±20%. */
export function retryDelayMs(settings: WebhookSettings, failures: number): number {
  const exponential = settings.retryBaseMs * 2 ** Math.min(Math.max(failures - 1, 0), 40);
  return Math.round(Math.min(exponential, settings.retryMaxMs) * (0.8 + Math.random() * 0.4));
}

/** The secrets that sign now: the current one, and the previous one during a rotation's overlap. */
export function signingSecrets(webhook: Webhook, serverSecret: string, now: Date): string[] {
  const secrets: string[] = [];
  const current = openWebhookSecret(webhook.secretSealed, serverSecret);
  if (current) secrets.push(current);
  if (webhook.previousSecretSealed && webhook.previousSecretExpiresAt && webhook.previousSecretExpiresAt > now) {
    const previous = openWebhookSecret(webhook.previousSecretSealed, serverSecret);
    if (previous) secrets.push(previous);
  }
  return secrets;
}

/** Sends one delivery once (no record written). */
export async function attempt(deps: WorkerDeps, webhook: Webhook, delivery: WebhookDelivery): Promise<AttemptResult> {
  const secrets = signingSecrets(webhook, deps.serverSecret, new Date());
  if (secrets.length === 0) {
    // JWT_SECRET changed since the secret was sealed: nothing can sign, nothing is sent.
    return {
      outcome: 'refused',
      statusCode: null,
      latencyMs: 0,
      error: 'the signing secret cannot be opened (JWT_SECRET changed?): rotate the secret',
      responseBody: null,
    };
  }
  const result = await attemptDelivery({
    url: webhook.url,
    messageId: delivery.event.id,
    body: JSON.stringify(delivery.event.payload),
    secrets,
    allowPrivate: deps.settings.allowPrivate,
    timeoutMs: deps.settings.timeoutMs,
  });
  deps.counts[result.outcome]++;
  return result;
}

/**
 * Writes what an attempt did: the log row, the delivery's state, and the endpoint's health
 * (failing since when; disabled once that is longer than the setting). Returns when the
 * delivery is tried next, or null when it is done.
 */
export async function recordAttempt(
  deps: WorkerDeps,
  webhookId: string,
  deliveryId: string,
  startedAt: Date,
  result: AttemptResult,
  options: { once?: boolean } = {},
): Promise<Date | null> {
  return deps.em().transactional(async (tx) => {
    const delivery = await tx.findOneOrFail(WebhookDeliverySchema, { id: deliveryId });
    const webhook = await tx.findOneOrFail(WebhookSchema, { id: webhookId });
    const now = new Date();
    delivery.attempts += 1;
    tx.create(WebhookAttemptSchema, {
      id: randomUUID(),
      delivery,
      attempt: delivery.attempts,
      startedAt,
      statusCode: result.statusCode,
      latencyMs: result.latencyMs,
      error: result.error?.slice(0, MAX_ERROR_LENGTH) ?? null,
      responseBody: result.responseBody,
    });
    if (delivery.attempts > ATTEMPTS_KEPT) {
      await tx.nativeDelete(WebhookAttemptSchema, { delivery, attempt: { $lte: delivery.attempts - ATTEMPTS_KEPT } });
    }
    delivery.lastAttemptAt = startedAt;
    delivery.lastStatusCode = result.statusCode;
    delivery.lastError = result.error?.slice(0, MAX_ERROR_LENGTH) ?? null;
    if (result.outcome === 'delivered') {
      delivery.status = 'delivered';
      delivery.deliveredAt = now;
      webhook.failingSince = null;
      return null;
    }
    if (options.once) {
      // A test ping says how the endpoint answers; it neither retries nor counts against it.
      delivery.status = 'failed';
      return null;
    }
    webhook.failingSince ??= startedAt;
    const failingForMs = now.getTime() - webhook.failingSince.getTime();
    if (webhook.active && failingForMs >= deps.settings.disableAfterSeconds * 1000) {
      disable(webhook, now, delivery.lastError ?? 'failed');
      deps.counts.disabled++;
    }
    delivery.nextAttemptAt = new Date(now.getTime() + retryDelayMs(deps.settings, delivery.attempts));
    return webhook.active ? delivery.nextAttemptAt : null;
  });
}

/** Turns a failing endpoint off, saying why; its pending deliveries wait for it to be turned on. */
export function disable(webhook: Webhook, now: Date, lastError: string): void {
  webhook.active = false;
  webhook.disabledAt = now;
  webhook.disabledReason = `failing since ${webhook.failingSince?.toISOString() ?? now.toISOString()}; last error: ${lastError}`;
}

/**
 * Sends `webhookId`'s due deliveries in order. Returns when to run again for it: the time of
 * the next attempt of a delivery that failed or is not due yet, now when this run stopped with
 * more to send, or null when nothing is pending (or the endpoint is off).
 */
export async function drainEndpoint(deps: WorkerDeps, webhookId: string): Promise<Date | null> {
  const started = Date.now();
  for (let sent = 0; sent < MAX_PER_RUN && Date.now() - started < RUN_BUDGET_MS; sent++) {
    const em = deps.em();
    const webhook = await em.findOne(WebhookSchema, { id: webhookId });
    if (!webhook?.active) return null;
    const head = await em.findOne(
      WebhookDeliverySchema,
      { webhook, status: 'pending' },
      { orderBy: { seq: 'asc' }, populate: ['event'] },
    );
    if (!head) return null;
    if (head.nextAttemptAt.getTime() > Date.now()) return head.nextAttemptAt;
    const startedAt = new Date();
    const result = await attempt(deps, webhook, head);
    const next = await recordAttempt(deps, webhook.id, head.id, startedAt, result);
    if (next !== null) return next;
    if (result.outcome !== 'delivered') return null;
  }
  return new Date();
}
