import { useQuery } from '@urql/preact';
import { useEffect, useRef } from 'preact/hooks';
import type { ResultOf } from '../../graphql/index.ts';
import { FlagDetailQuery } from '../flags/FlagDetail.tsx';
import type { PendingChangeDetailData } from './documents.ts';

type FlagData = ResultOf<typeof FlagDetailQuery>['project'];
export type FlagStateNow = FlagData['flag']['environments'][number];

/**
 * The flag a flag-state change is about, as it is now: its state in the change's environment
 * (what a re-proposal or an edit is made against) and what its editors choose from. Fetched
 * again when the request moves (`change.updatedAt`) or the flag does (its state's version).
 */
export function useFlagNow(slug: string, change: PendingChangeDetailData) {
  const version = change.flag?.environments.find((s) => s.environment.id === change.environment?.id)?.version;
  const [result, reexecute] = useQuery({
    query: FlagDetailQuery,
    variables: { slug, key: change.flagKey ?? '' },
    pause: !change.flagKey || !change.flag,
  });
  const mounted = useRef(false);
  useEffect(() => {
    if (mounted.current && change.flag) reexecute({ requestPolicy: 'network-only' });
    mounted.current = true;
  }, [version, change.updatedAt]);
  const project = result.data?.project;
  const flag = project?.flag;
  const state = flag?.environments.find((s) => s.environment.id === change.environment?.id);
  return {
    flag,
    state,
    // Until the refetch lands, the state shown may be older than the request page's: not "now" yet.
    fresh: state !== undefined && state.version === version,
    segments: project?.segments.data ?? [],
    otherFlags: project?.flags.data.filter((f) => f.key !== flag?.key) ?? [],
    error: result.error,
  };
}
