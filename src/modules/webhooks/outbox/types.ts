/**
 * The event types a webhook can subscribe to, and which audited action announces which. A type
 * is `<family>.<what>`; a subscription names types, or whole families as `<family>.*`.
 */
export const WEBHOOK_EVENT_FAMILIES = ['flag', 'segment', 'sdkkey', 'approval', 'member'] as const;

export const WEBHOOK_EVENT_TYPES = [
  'flag.created',
  'flag.updated',
  'flag.state.updated',
  'flag.archived',
  'flag.restored',
  'flag.deleted',
  'segment.created',
  'segment.updated',
  'segment.deleted',
  'sdkkey.created',
  'sdkkey.revoked',
  'sdkkey.rotated_all',
  'sdkkey.origins_changed',
  'member.invited',
  'member.invitation_accepted',
  'member.invitation_revoked',
  'member.added',
  'member.role_changed',
  'member.removed',
  'approval.requested',
  'approval.edited',
  'approval.reviewed',
  'approval.approved',
  'approval.rejected',
  'approval.applied',
  'approval.stale',
  'approval.cancelled',
  'approval.rescheduled',
  'approval.expired',
] as const;

/** The test event `sendWebhookTest` sends; no subscription is needed to receive it. */
export const PING_EVENT_TYPE = 'webhook.ping';

// Every change to a flag's targeting in an environment is a state update to a receiver; the
// payload's `action` still says which (`flag.killed`, `flag.promoted`).
const STATE_CHANGES = new Set(['flag.state.updated', 'flag.killed', 'flag.promoted']);
// Invitations are how people become members: member.* receivers hear of them too.
const RENAMED: Record<string, string> = {
  'invitation.accepted': 'member.invitation_accepted',
  'invitation.revoked': 'member.invitation_revoked',
};
const FAMILIES: ReadonlySet<string> = new Set(WEBHOOK_EVENT_FAMILIES);
const KNOWN: ReadonlySet<string> = new Set(WEBHOOK_EVENT_TYPES);
// Approvals may name more actions than those listed: any `approval.<what>` is one.
const APPROVAL_TYPE = /^approval\.[a-z][a-z_]{0,49}$/;

/** The event type an audited action is announced as, or null when webhooks do not announce it. */
export function eventTypeOf(action: string): string | null {
  if (STATE_CHANGES.has(action)) return 'flag.state.updated';
  if (RENAMED[action]) return RENAMED[action];
  const family = action.slice(0, action.indexOf('.'));
  return FAMILIES.has(family) ? action : null;
}

/** The family of a subscription entry, or null when the entry names no type a webhook can receive. */
export function subscriptionFamily(entry: string): string | null {
  const family = entry.slice(0, entry.indexOf('.'));
  if (!FAMILIES.has(family)) return null;
  if (entry === `${family}.*` || KNOWN.has(entry) || APPROVAL_TYPE.test(entry)) return family;
  return null;
}
