import { useQuery } from '@urql/preact';
import { useMemo } from 'preact/hooks';
import { notify } from '../../ui/notices.tsx';
import { When } from '../../ui/time.tsx';
import { OPEN_STATES, type PendingAnswerData, PendingChangesQuery, type PendingRowData } from './documents.ts';
import { useApprovalChanges } from './live.ts';

export const requestPath = (slug: string, id: string) => `/p/${slug}/approvals/${id}`;

/**
 * Tells the person that their change did not apply but waits as a pending change, with a link
 * to it. Answers whether it did (so the caller does not report the change as applied).
 */
export function announcePending(pending: PendingAnswerData | null | undefined): boolean {
  if (!pending) return false;
  const where = pending.environment?.name ?? pending.environments.map((e) => e.name).join(', ');
  const link = { href: requestPath(pending.project.slug, pending.id), label: 'View request' };
  if (pending.requiredApprovals === 0) {
    notify.ok(
      `Scheduled: the change applies in ${where} at ${new Date(pending.applyAt ?? '').toLocaleString()}.`,
      link,
    );
  } else {
    const n = pending.requiredApprovals;
    notify.ok(`Approval requested: ${where} requires ${n} approval${n === 1 ? '' : 's'} before this applies.`, link);
  }
  return true;
}

/** The open flag-state changes of a project by `flagKey/environmentId`, kept current live. */
export function useOpenChanges(projectId: string | undefined) {
  const [result, reexecute] = useQuery({
    query: PendingChangesQuery,
    variables: { projectId: projectId ?? '', states: [...OPEN_STATES], limit: 100 },
    pause: !projectId,
  });
  const refetch = () => reexecute({ requestPolicy: 'network-only' });
  useApprovalChanges(projectId, refetch, refetch);
  const byState = useMemo(() => {
    const map = new Map<string, PendingRowData[]>();
    for (const change of result.data?.pendingChanges.data ?? []) {
      if (change.kind !== 'FLAG_STATE' || !change.environment) continue;
      const key = `${change.flagKey}/${change.environment.id}`;
      map.set(key, [...(map.get(key) ?? []), change]);
    }
    return map;
  }, [result.data]);
  return { of: (flagKey: string, environmentId: string) => byState.get(`${flagKey}/${environmentId}`) ?? [], refetch };
}

/** "pending approval" (or "scheduled") next to a switch whose change waits, linking to it. */
export function PendingBadges({ slug, changes }: { slug: string; changes: PendingRowData[] }) {
  if (changes.length === 0) return null;
  return (
    <span class="pending-badges">
      {changes.map((c) => (
        <a key={c.id} class="badge warn" href={requestPath(slug, c.id)} data-pending={c.id}>
          {c.state === 'PENDING' ? 'pending approval' : 'scheduled'}
          {proposedOn(c)}
          {c.applyAt && (
            <>
              {' '}
              · <When iso={c.applyAt} />
            </>
          )}
        </a>
      ))}
    </span>
  );
}

/** ": on" or ": off" when the change switches the flag. */
function proposedOn(change: PendingRowData) {
  const proposed = change.proposed as { on?: boolean } | null;
  return typeof proposed?.on === 'boolean' ? `: ${proposed.on ? 'on' : 'off'}` : '';
}
