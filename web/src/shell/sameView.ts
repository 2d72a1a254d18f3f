/**
 * Where the project switcher goes: the same view of the other project. A list view stays itself;
 * a detail page (a flag, a segment, a request) names something of the old project only, so it
 * falls back to the list of its kind. Its query (filters by ids of the old project) is dropped.
 */
const LIST_VIEWS = ['flags', 'stale-flags', 'segments', 'environments', 'approvals', 'scheduled'];

export function sameViewIn(path: string, slug: string): string {
  const view = /^\/p\/[^/]+\/([^/?#]+)/.exec(path)?.[1];
  return `/p/${encodeURIComponent(slug)}/${view && LIST_VIEWS.includes(view) ? view : 'flags'}`;
}
