import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { atCommit, type CommitWork } from '../../../db/commit-hooks.js';
import { eventTypeOf } from './types.js';

/**
 * The webhook outbox, written in the transaction of the change it announces (ARCHITECTURE.md,
 * "Work that happens later"): a change that rolls back leaves no event, one that commits leaves
 * a pending delivery for every endpoint that subscribed to it, which the job queue then sends
 * (webhooks/worker.ts) whatever happens to the node that made the change.
 *
 * The audit trail calls `enqueueWebhookEvent` for every entry it records. The rows themselves
 * are written by one statement at the very end of the transaction (db/commit-hooks.ts): only
 * then are the environment versions the change bumped known, and since the environments are
 * still locked, the deliveries' sequence numbers follow those versions. An entry recorded in a
 * savepoint that rolled back is gone from `audit_entries` by then, and so announces nothing.
 *
 * This folder imports nothing else of webhooks/, so that the audit module can call it while
 * webhooks/ records its own changes in the audit trail.
 */

/** What the outbox reads of an audit entry (the entry recordAudit just created). */
export interface AnnouncedChange {
  id: string;
  organizationId: string;
  actorUserId: string | null;
  actorTokenId: string | null;
  principalKind: string;
  action: string;
  resourceType: string;
  resourceId: string | null;
  projectId: string | null;
  environmentId: string | null;
  details: Record<string, unknown>;
  createdAt: Date;
}

interface OutboxRow {
  ord: number;
  id: string;
  audit_id: string;
  organization_id: string;
  type: string;
  project_id: string | null;
  environment_id: string | null;
  actor_user_id: string | null;
  body: Record<string, unknown>;
}

interface OutboxState {
  /** The ORM the transaction belongs to (whose listeners hear of the deliveries written). */
  orm: object;
  rows: OutboxRow[];
  webhookIds: Set<string>;
}

// One statement: the entries still in the audit trail (with the time the trail gives them), the
// endpoints each one reaches (same
// organization, active, subscribed to the type or its family, within their projects and
// environments; organization-wide events such as member.* pass those filters), one event per
// entry that reaches any, with the versions of the environments it changed and the actor's
// name, and one delivery per endpoint, in the order the entries were recorded.
const WRITE_OUTBOX = `
with input as (
  select * from jsonb_to_recordset(?::jsonb) as r(ord int, id uuid, audit_id uuid, organization_id uuid, type text,
    project_id uuid, environment_id uuid, actor_user_id uuid, body jsonb)
),
announced as (
  select i.*, to_jsonb(to_char(a.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) as at
  from input i join audit_entries a on a.id = i.audit_id
),
matched as (
  select a.ord, a.id as event_id, w.id as webhook_id
  from announced a join webhooks w on w.organization_id = a.organization_id and w.active
  where (a.type = any(w.event_types) or split_part(a.type, '.', 1) || '.*' = any(w.event_types))
    and (a.project_id is null or w.project_ids is null or a.project_id = any(w.project_ids))
    and (a.environment_id is null or w.environment_ids is null or a.environment_id = any(w.environment_ids))
),
events as (
  insert into webhook_events (id, organization_id, type, payload, created_at)
  select a.id, a.organization_id, a.type,
    jsonb_set(jsonb_set(
      jsonb_set(a.body, '{data,environments}', coalesce((
        select jsonb_agg(jsonb_build_object('id', e.id, 'key', e.key, 'version', e.version) order by e.sort_order, e.created_at)
        from environments e
        where e.id = a.environment_id or (a.environment_id is null and e.project_id = a.project_id)), '[]'::jsonb)),
      '{data,actor}',
      (a.body #> '{data,actor}') || coalesce(
        (select jsonb_build_object('name', u.name, 'email', u.email) from users u where u.id = a.actor_user_id), '{}'::jsonb)),
      '{timestamp}', a.at),
    (a.at #>> '{}')::timestamptz
  from announced a where a.id in (select event_id from matched)
  returning id
)
insert into webhook_deliveries (id, webhook_id, event_id, status, attempts, next_attempt_at, created_at)
select gen_random_uuid(), m.webhook_id, m.event_id, 'pending', 0, now(), now()
from matched m join events ev on ev.id = m.event_id
order by m.ord, m.webhook_id
returning webhook_id`;

type DeliveriesListener = (webhookIds: string[]) => void;
const listeners = new WeakMap<object, Set<DeliveriesListener>>();

/**
 * Calls `listener` with the endpoints that got new deliveries, each time a transaction of
 * `orm` (its configuration, `orm.config`) commits some: the node's webhook worker wakes up for
 * them at once instead of at its next sweep. Returns the unsubscribe function.
 */
export function onDeliveriesWritten(orm: object, listener: DeliveriesListener): () => void {
  let set = listeners.get(orm);
  if (!set) listeners.set(orm, (set = new Set()));
  set.add(listener);
  return () => set.delete(listener);
}

function announce(orm: object, webhookIds: Iterable<string>): void {
  const ids = [...webhookIds];
  if (ids.length === 0) return;
  for (const listener of listeners.get(orm) ?? []) {
    try {
      listener(ids);
    } catch {
      /* a listener's failure must not reach the committed change: the sweep delivers anyway */
    }
  }
}

const outbox: CommitWork<OutboxState> = {
  create: (em) => ({ orm: em.config, rows: [], webhookIds: new Set() }),
  async beforeCommit(em, state) {
    if (state.rows.length === 0) return;
    const written: { webhook_id: string }[] = await em.execute(WRITE_OUTBOX, [JSON.stringify(state.rows)]);
    for (const row of written) state.webhookIds.add(row.webhook_id);
  },
  afterCommit: (state) => announce(state.orm, state.webhookIds),
};

/** Announces an audited change to the webhooks that subscribed to it; call it inside the change's transaction. */
export function enqueueWebhookEvent(em: EntityManager, change: AnnouncedChange): void {
  const type = eventTypeOf(change.action);
  if (type === null) return;
  const state = atCommit(em, outbox);
  const id = randomUUID();
  state.rows.push({
    ord: state.rows.length,
    id,
    audit_id: change.id,
    organization_id: change.organizationId,
    type,
    project_id: change.projectId,
    environment_id: change.environmentId,
    actor_user_id: change.actorUserId,
    body: {
      type,
      // The audit trail's time for the change, set in the statement (the chain may move it on a little).
      timestamp: change.createdAt.toISOString(),
      data: {
        id,
        action: change.action,
        organizationId: change.organizationId,
        projectId: change.projectId,
        environmentId: change.environmentId,
        resource: {
          type: change.resourceType,
          id: change.resourceId,
          key: typeof change.details['key'] === 'string' ? change.details['key'] : null,
        },
        actor: { kind: change.principalKind, userId: change.actorUserId, tokenId: change.actorTokenId },
        change: change.details,
      },
    },
  });
}

/**
 * For deliveries written directly (a redelivery, a test ping): once `em`'s transaction commits,
 * the listeners hear of `webhookId` as they do of the outbox's.
 */
export function deliveriesWritten(em: EntityManager, webhookId: string): void {
  atCommit(em, outbox).webhookIds.add(webhookId);
}
