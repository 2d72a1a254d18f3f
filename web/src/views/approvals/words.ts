import type { PendingRowData } from './documents.ts';

/** How the console names a pending change's kind and state, and what each state means. */
export const KIND_LABEL: Record<string, string> = {
  FLAG_STATE: 'Targeting',
  FLAG_ARCHIVE: 'Archive flag',
  FLAG_RESTORE: 'Restore flag',
  FLAG_DELETE: 'Delete flag',
  SEGMENT_UPDATE: 'Segment change',
};

export const STATE_LABEL: Record<string, string> = {
  PENDING: 'Pending review',
  APPROVED: 'Approved, scheduled',
  APPLIED: 'Applied',
  REJECTED: 'Rejected',
  STALE: 'Stale',
  CANCELLED: 'Cancelled',
  EXPIRED: 'Expired',
};

/** The badge style of a state: open ones neutral, applied ok, the ones that ended unapplied warn. */
export const stateTone = (state: string) =>
  state === 'APPLIED' ? 'ok' : ['REJECTED', 'STALE', 'EXPIRED'].includes(state) ? 'warn' : '';

/** Why a change that ended did not (or did) apply, in words. */
export const STATE_EXPLANATION: Record<string, string> = {
  STALE:
    'The flag changed after this was proposed, so it was not applied: nobody approved it over a state they did not see. Re-propose the change against the flag as it is now.',
  EXPIRED: 'Its time to apply came before it was approved, so it did not run. Propose it again with a new time.',
  REJECTED: 'A reviewer rejected it: it will not apply. Propose a new change if it is still wanted.',
  CANCELLED: 'It was withdrawn: it will not apply.',
  APPLIED: 'It was applied: what it proposed is live.',
};

/** What a change is about: the flag or segment it names, and where. */
export function subjectOf(change: Pick<PendingRowData, 'flagKey' | 'segmentKey' | 'environment' | 'environments'>) {
  const what = change.flagKey ?? change.segmentKey ?? 'unknown';
  const where = change.environment?.name ?? change.environments.map((e) => e.name).join(', ');
  return { what, where };
}
