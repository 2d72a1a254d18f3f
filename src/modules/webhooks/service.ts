import { randomUUID } from 'node:crypto';
import { type EntityManager, LockMode } from '@mikro-orm/postgresql';
import type { Permission } from '../../auth/permissions.js';
import { hasPermission, type ManagementPrincipal } from '../../auth/principal.js';
import { type Page, type PageArgs, pageWindow, toPage } from '../../common/pagination.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../errors.js';
import { type Organization, OrganizationSchema } from '../accounts/entity.js';
import { recordAudit } from '../audit/service.js';
import { EnvironmentSchema, ProjectSchema } from '../projects/entity.js';
import { generateWebhookSecret, sealWebhookSecret } from './delivery.js';
import {
  type DeliveryStatus,
  type Webhook,
  type WebhookAttempt,
  WebhookAttemptSchema,
  type WebhookDelivery,
  WebhookDeliverySchema,
  WebhookEventSchema,
  WebhookSchema,
} from './entity.js';
import { PING_EVENT_TYPE, subscriptionFamily } from './outbox/types.js';
import { deliveriesWritten } from './outbox/write.js';
import { assertSafeTarget, parseWebhookUrl } from './targets.js';
import { attempt, recordAttempt, type WorkerDeps } from './worker.js';

/** Bounds an organization's webhooks live within (docs/security.md). */
export const WEBHOOK_LIMITS = {
  perOrganization: 50,
  eventTypes: 50,
  scopeIds: 100,
  descriptionLength: 500,
  /** The longest a rotated-out secret keeps signing. */
  maxOverlapMinutes: 7 * 24 * 60,
} as const;

/** Reading what a family's events carry is needed to subscribe to it. */
const FAMILY_READ: Record<string, Permission> = {
  flag: 'flag:read',
  segment: 'segment:read',
  sdkkey: 'sdkkey:read',
  approval: 'flag:read',
  member: 'member:read',
};

export interface WebhookInput {
  url?: string | null;
  description?: string | null;
  eventTypes?: string[] | null;
  /** An empty list (or null on create) means every project; on update, omitted keeps it. */
  projectIds?: string[] | null;
  environmentIds?: string[] | null;
  active?: boolean | null;
}

export interface WebhookSettingsForWrites {
  allowPrivate: boolean;
  serverSecret: string;
}

export interface WebhookWithSecret {
  webhook: Webhook;
  /** The signing secret, returned once by the mutation that makes it. */
  secret: string;
}

export async function listWebhooks(
  em: EntityManager,
  actor: ManagementPrincipal,
  args: PageArgs,
): Promise<Page<Webhook>> {
  const window = pageWindow(args);
  const [rows, total] = await em.findAndCount(
    WebhookSchema,
    { organization: actor.organizationId },
    { orderBy: { createdAt: 'asc', id: 'asc' }, ...window },
  );
  return toPage(rows, total, window);
}

export async function getWebhook(em: EntityManager, actor: ManagementPrincipal, id: string): Promise<Webhook> {
  const webhook = await em.findOne(WebhookSchema, { id, organization: actor.organizationId });
  if (!webhook) throw new NotFoundError('webhook');
  return webhook;
}

function normalizeEventTypes(actor: ManagementPrincipal, types: string[]): string[] {
  const unique = [...new Set(types.map((t) => t.trim()))];
  if (unique.length === 0) throw new ValidationError('eventTypes must name at least one event type');
  if (unique.length > WEBHOOK_LIMITS.eventTypes) {
    throw new ValidationError(`eventTypes may name at most ${WEBHOOK_LIMITS.eventTypes} types`);
  }
  for (const type of unique) {
    if (subscriptionFamily(type) === null)
      throw new ValidationError(`eventTypes: "${type.slice(0, 100)}" is not an event type`);
  }
  assertCanRead(actor, unique, 'subscribing to');
  return unique;
}

/** What a webhook hears, the caller must be able to read: to subscribe to it, and to act on a subscription. */
function assertCanRead(actor: ManagementPrincipal, types: readonly string[], doing: string): void {
  for (const type of types) {
    const family = subscriptionFamily(type);
    const needed = family === null ? undefined : FAMILY_READ[family];
    if (needed && !hasPermission(actor, needed)) {
      throw new ForbiddenError(`${doing} ${family}.* events needs ${needed}, which you do not have`);
    }
  }
}

/**
 * The projects and environments a webhook is narrowed to, checked against the organization.
 * Environments imply their projects, so an environment-narrowed webhook never hears of another
 * project's changes. A credential narrowed to environments may only make webhooks narrowed to
 * some of those.
 */
async function normalizeScope(
  em: EntityManager,
  actor: ManagementPrincipal,
  projectIds: string[] | null,
  environmentIds: string[] | null,
): Promise<{ projectIds: string[] | null; environmentIds: string[] | null }> {
  const projects = projectIds && projectIds.length > 0 ? [...new Set(projectIds)] : null;
  const environments = environmentIds && environmentIds.length > 0 ? [...new Set(environmentIds)] : null;
  for (const list of [projects, environments]) {
    if (list && list.length > WEBHOOK_LIMITS.scopeIds) {
      throw new ValidationError(`a webhook may name at most ${WEBHOOK_LIMITS.scopeIds} projects and environments`);
    }
  }
  if (actor.environmentIds) {
    if (!environments || environments.some((id) => !actor.environmentIds!.has(id))) {
      throw new ForbiddenError('a credential narrowed to environments may only make webhooks narrowed to those');
    }
  }
  if (projects) {
    const found = await em.count(ProjectSchema, { id: { $in: projects }, organization: actor.organizationId });
    if (found !== projects.length) throw new NotFoundError('project');
  }
  if (!environments) return { projectIds: projects, environmentIds: null };
  const rows = await em.find(
    EnvironmentSchema,
    { id: { $in: environments }, project: { organization: actor.organizationId } },
    { fields: ['id', 'project'] },
  );
  if (rows.length !== environments.length) throw new NotFoundError('environment');
  const ofEnvironments = [...new Set(rows.map((e) => e.project.id))];
  if (projects && ofEnvironments.some((id) => !projects.includes(id))) {
    throw new ValidationError('environmentIds must belong to the projects in projectIds');
  }
  return { projectIds: projects ?? ofEnvironments, environmentIds: environments };
}

/**
 * Who may act on a webhook (change, delete, rotate its secret, which answers the new one, send to
 * it, read its log): whoever could have made it. A credential narrowed to environments, only on
 * webhooks narrowed to some of those; anyone, only on webhooks of events they can read (re-pointing
 * a member.* webhook would otherwise hand member events to a caller without member:read).
 */
function assertMayActOn(actor: ManagementPrincipal, webhook: Webhook, doing: string): void {
  if (actor.environmentIds) {
    const within = webhook.environmentIds?.every((e) => actor.environmentIds!.has(e)) ?? false;
    if (!within) {
      throw new ForbiddenError(`a credential narrowed to environments may only ${doing} webhooks narrowed to those`);
    }
  }
  assertCanRead(actor, webhook.eventTypes, `${doing} a webhook of`);
}

function normalizeDescription(description: string | null | undefined): string {
  const text = (description ?? '').trim();
  if (text.length > WEBHOOK_LIMITS.descriptionLength) {
    throw new ValidationError(`description must be at most ${WEBHOOK_LIMITS.descriptionLength} characters`);
  }
  return text;
}

/** What the audit trail says of a webhook: its URL's origin only (paths and queries often hold tokens). */
const auditOf = (webhook: Webhook) => ({
  origin: new URL(webhook.url).origin,
  eventTypes: webhook.eventTypes,
  projectIds: webhook.projectIds,
  environmentIds: webhook.environmentIds,
  active: webhook.active,
});

export async function createWebhook(
  em: EntityManager,
  actor: ManagementPrincipal,
  input: WebhookInput & { url: string; eventTypes: string[] },
  settings: WebhookSettingsForWrites,
): Promise<WebhookWithSecret> {
  const url = parseWebhookUrl(input.url);
  const eventTypes = normalizeEventTypes(actor, input.eventTypes);
  const description = normalizeDescription(input.description);
  // Resolved before the transaction: no lock is held while DNS answers.
  await assertSafeTarget(url, settings.allowPrivate);
  return em.transactional(async (tx) => {
    const scope = await normalizeScope(tx, actor, input.projectIds ?? null, input.environmentIds ?? null);
    // Creations of one organization take turns, so concurrent ones cannot all count 49 and pass.
    await tx.findOneOrFail(OrganizationSchema, { id: actor.organizationId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if ((await tx.count(WebhookSchema, { organization: actor.organizationId })) >= WEBHOOK_LIMITS.perOrganization) {
      throw new ConflictError(`an organization may have at most ${WEBHOOK_LIMITS.perOrganization} webhooks`);
    }
    const secret = generateWebhookSecret();
    const now = new Date();
    const webhook = tx.create(WebhookSchema, {
      id: randomUUID(),
      organization: tx.getReference<Organization>('Organization', actor.organizationId),
      url: url.toString(),
      description,
      eventTypes,
      ...scope,
      active: input.active ?? true,
      secretSealed: sealWebhookSecret(secret, settings.serverSecret),
      previousSecretSealed: null,
      previousSecretExpiresAt: null,
      failingSince: null,
      disabledAt: null,
      disabledReason: null,
      createdAt: now,
      updatedAt: now,
    });
    recordAudit(tx, actor, {
      action: 'webhook.created',
      resourceType: 'webhook',
      resourceId: webhook.id,
      details: auditOf(webhook),
    });
    return { webhook, secret };
  });
}

export async function updateWebhook(
  em: EntityManager,
  actor: ManagementPrincipal,
  id: string,
  input: WebhookInput,
  settings: WebhookSettingsForWrites,
): Promise<Webhook> {
  const url = input.url != null ? parseWebhookUrl(input.url) : null;
  const eventTypes = input.eventTypes != null ? normalizeEventTypes(actor, input.eventTypes) : null;
  if (url) {
    // A name is resolved only for a webhook the caller has (not for any id someone makes up).
    await getWebhook(em, actor, id);
    await assertSafeTarget(url, settings.allowPrivate);
  }
  return em.transactional(async (tx) => {
    const webhook = await getWebhook(tx, actor, id);
    const before = auditOf(webhook);
    assertMayActOn(actor, webhook, 'change');
    if (url) webhook.url = url.toString();
    if (eventTypes) webhook.eventTypes = eventTypes;
    if (input.description != null) webhook.description = normalizeDescription(input.description);
    if (input.projectIds !== undefined || input.environmentIds !== undefined) {
      const scope = await normalizeScope(
        tx,
        actor,
        input.projectIds === undefined ? webhook.projectIds : input.projectIds,
        input.environmentIds === undefined ? webhook.environmentIds : input.environmentIds,
      );
      webhook.projectIds = scope.projectIds;
      webhook.environmentIds = scope.environmentIds;
    }
    if (input.active != null && input.active !== webhook.active) {
      webhook.active = input.active;
      if (input.active) {
        // Turned back on: the backlog is sent now, oldest first, with a fresh day before it is disabled again.
        webhook.disabledAt = null;
        webhook.disabledReason = null;
        webhook.failingSince = null;
        await tx.nativeUpdate(WebhookDeliverySchema, { webhook, status: 'pending' }, { nextAttemptAt: new Date() });
        deliveriesWritten(tx, webhook.id);
      }
    }
    recordAudit(tx, actor, {
      action: 'webhook.updated',
      resourceType: 'webhook',
      resourceId: webhook.id,
      details: { before, after: auditOf(webhook) },
    });
    return webhook;
  });
}

export async function deleteWebhook(em: EntityManager, actor: ManagementPrincipal, id: string): Promise<Webhook> {
  return em.transactional(async (tx) => {
    const webhook = await getWebhook(tx, actor, id);
    assertMayActOn(actor, webhook, 'delete');
    recordAudit(tx, actor, {
      action: 'webhook.deleted',
      resourceType: 'webhook',
      resourceId: webhook.id,
      details: auditOf(webhook),
    });
    tx.remove(webhook);
    return webhook;
  });
}

/**
 * A new signing secret. The previous one keeps signing beside it for `overlapMinutes`, so
 * receivers can switch without missing a delivery (every attempt in the overlap carries both
 * signatures); 0 retires it at once.
 */
export async function rotateWebhookSecret(
  em: EntityManager,
  actor: ManagementPrincipal,
  id: string,
  overlapMinutes: number,
  serverSecret: string,
): Promise<WebhookWithSecret> {
  if (!Number.isInteger(overlapMinutes) || overlapMinutes < 0 || overlapMinutes > WEBHOOK_LIMITS.maxOverlapMinutes) {
    throw new ValidationError(`overlapMinutes must be between 0 and ${WEBHOOK_LIMITS.maxOverlapMinutes}`);
  }
  return em.transactional(async (tx) => {
    const webhook = await getWebhook(tx, actor, id);
    assertMayActOn(actor, webhook, 'rotate the secret of');
    const secret = generateWebhookSecret();
    const now = Date.now();
    webhook.previousSecretSealed = overlapMinutes > 0 ? webhook.secretSealed : null;
    webhook.previousSecretExpiresAt = overlapMinutes > 0 ? new Date(now + overlapMinutes * 60_000) : null;
    webhook.secretSealed = sealWebhookSecret(secret, serverSecret);
    recordAudit(tx, actor, {
      action: 'webhook.secret_rotated',
      resourceType: 'webhook',
      resourceId: webhook.id,
      details: { overlapMinutes },
    });
    return { webhook, secret };
  });
}

export interface DeliveryListArgs extends PageArgs {
  status?: DeliveryStatus | null;
}

/** An endpoint's deliveries, newest first. */
export async function listDeliveries(
  em: EntityManager,
  actor: ManagementPrincipal,
  webhook: Webhook,
  args: DeliveryListArgs,
): Promise<Page<WebhookDelivery>> {
  // The log holds the events' payloads: it is read by who may read those events.
  assertMayActOn(actor, webhook, 'read the deliveries of');
  const window = pageWindow(args);
  const [rows, total] = await em.findAndCount(
    WebhookDeliverySchema,
    { webhook, ...(args.status ? { status: args.status } : {}) },
    { orderBy: { seq: 'desc' }, populate: ['event'], ...window },
  );
  return toPage(rows, total, window);
}

export async function listAttempts(em: EntityManager, delivery: WebhookDelivery): Promise<WebhookAttempt[]> {
  return em.find(WebhookAttemptSchema, { delivery }, { orderBy: { attempt: 'asc' } });
}

export async function getDelivery(em: EntityManager, actor: ManagementPrincipal, id: string): Promise<WebhookDelivery> {
  const delivery = await em.findOne(
    WebhookDeliverySchema,
    { id, webhook: { organization: actor.organizationId } },
    { populate: ['event', 'webhook'] },
  );
  if (!delivery) throw new NotFoundError('webhook delivery');
  return delivery;
}

/**
 * Sends an event again. A delivery still pending is tried at once (it keeps its place); one
 * that was delivered (or a ping) is queued again as a new delivery of the same event, after the
 * endpoint's other pending ones. Receivers see the same `webhook-id`.
 */
export async function redeliver(em: EntityManager, actor: ManagementPrincipal, deliveryId: string) {
  return em.transactional(async (tx) => {
    const delivery = await getDelivery(tx, actor, deliveryId);
    assertMayActOn(actor, delivery.webhook, 'send to');
    let result = delivery;
    if (delivery.status === 'pending') {
      delivery.nextAttemptAt = new Date();
    } else {
      const [row] = await tx.execute<{ id: string }[]>(
        `insert into webhook_deliveries (id, webhook_id, event_id, status, attempts, next_attempt_at, created_at)
         values (gen_random_uuid(), ?, ?, 'pending', 0, now(), now()) returning id`,
        [delivery.webhook.id, delivery.event.id],
      );
      result = await tx.findOneOrFail(WebhookDeliverySchema, { id: row!.id }, { populate: ['event'] });
    }
    recordAudit(tx, actor, {
      action: 'webhook.redelivered',
      resourceType: 'webhook',
      resourceId: delivery.webhook.id,
      details: { deliveryId: delivery.id, eventId: delivery.event.id },
    });
    deliveriesWritten(tx, delivery.webhook.id);
    return result;
  });
}

/**
 * Sends a `webhook.ping` to the endpoint now, once, and answers with what happened (in the
 * delivery log as well). It goes around the endpoint's queue: a receiver being set up, or one
 * that keeps failing, is tested without waiting for its backlog. The target rules apply.
 */
export async function sendTestPing(
  em: EntityManager,
  actor: ManagementPrincipal,
  id: string,
  deps: WorkerDeps,
): Promise<WebhookDelivery> {
  const { webhook, delivery } = await em.transactional(async (tx) => {
    const webhook = await getWebhook(tx, actor, id);
    assertMayActOn(actor, webhook, 'send to');
    const now = new Date();
    const event = tx.create(WebhookEventSchema, {
      id: randomUUID(),
      organization: webhook.organization,
      type: PING_EVENT_TYPE,
      payload: {
        type: PING_EVENT_TYPE,
        timestamp: now.toISOString(),
        data: { webhookId: webhook.id, organizationId: actor.organizationId, message: 'a test sent from Vexil' },
      },
      createdAt: now,
    });
    await tx.flush();
    const [row] = await tx.execute<{ id: string }[]>(
      `insert into webhook_deliveries (id, webhook_id, event_id, status, attempts, next_attempt_at, created_at)
       values (gen_random_uuid(), ?, ?, 'failed', 0, now(), now()) returning id`,
      [webhook.id, event.id],
    );
    recordAudit(tx, actor, {
      action: 'webhook.pinged',
      resourceType: 'webhook',
      resourceId: webhook.id,
    });
    return {
      webhook,
      delivery: await tx.findOneOrFail(WebhookDeliverySchema, { id: row!.id }, { populate: ['event'] }),
    };
  });
  const startedAt = new Date();
  const result = await attempt(deps, webhook, delivery);
  await recordAttempt(deps, webhook.id, delivery.id, startedAt, result, { once: true });
  return em.fork().findOneOrFail(WebhookDeliverySchema, { id: delivery.id }, { populate: ['event'] });
}
