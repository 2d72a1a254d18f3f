import { graphql, type ResultOf } from '../../graphql/index.ts';

/** What the audit log and a flag's history show of an entry. */
export const AuditEntryFields = graphql(`
  fragment AuditEntryFields on AuditEntry @_unmask {
    id seq action resourceType resourceId projectId environmentId createdAt
    principalKind actorUserId actorTokenId requestId clientIp changes details
  }
`);

export type AuditEntryRow = ResultOf<typeof AuditEntryFields>;

/** Names for the ids an entry carries, from what the view read beside it. */
export interface AuditNames {
  members: Map<string, string>;
  environments: Map<string, string>;
}

export function namesOf(data: {
  members: { data: { user: { id: string; name: string } }[] };
  projects?: { data: { name: string; environments: { id: string; name: string }[] }[] };
}): AuditNames {
  return {
    members: new Map(data.members.data.map((m) => [m.user.id, m.user.name])),
    environments: new Map(
      (data.projects?.data ?? []).flatMap((p) => p.environments.map((e) => [e.id, `${p.name} / ${e.name}`] as const)),
    ),
  };
}

const KINDS: Record<string, string> = {
  member: '',
  'personal-token': 'with a personal token',
  'service-token': 'a service token',
  'on-behalf': 'through a token, on behalf of',
  scheduler: 'the scheduler, for',
};

/** Who did it, in words: "Ada", "Ada with a personal token", "a service token", "the scheduler, for Ada". */
export function actorOf(entry: AuditEntryRow, names: AuditNames): string {
  const person = entry.actorUserId ? (names.members.get(entry.actorUserId) ?? 'a former member') : '';
  const kind = KINDS[entry.principalKind] ?? entry.principalKind;
  if (entry.principalKind === 'personal-token') return `${person} ${kind}`.trim();
  if (entry.principalKind === 'member') return person || 'a member';
  return person ? `${kind} ${person}` : kind.replace(/,? (for|on behalf of)$/, '');
}

/** The names an entry's ids are shown by: members, and the projects with their environments. */
export const AuditContextQuery = graphql(`
  query AuditContext {
    members(limit: 100) { data { user { id name } } }
    projects(limit: 100) { data { id slug name environments { id name } } }
  }
`);

/** Where the changed thing lives now, when it still can be opened. */
export function linkOf(entry: AuditEntryRow, slugs: Map<string, string>): { href: string; label: string } | null {
  const slug = entry.projectId ? slugs.get(entry.projectId) : undefined;
  const key = (entry.details as { key?: unknown } | null)?.key;
  if (!slug || typeof key !== 'string' || entry.action.endsWith('.deleted')) return null;
  if (entry.resourceType === 'flag') return { href: `/p/${slug}/flags/${encodeURIComponent(key)}`, label: key };
  if (entry.resourceType === 'segment') return { href: `/p/${slug}/segments/${encodeURIComponent(key)}`, label: key };
  return null;
}
