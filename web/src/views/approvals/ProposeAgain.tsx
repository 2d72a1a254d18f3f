import { useState } from 'preact/hooks';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { Loading } from '../../ui/Page.tsx';
import { fromLocalInput, LocalTimeInput, toLocalInput, When } from '../../ui/time.tsx';
import { AuditDiff, diff } from '../audit/AuditDiff.tsx';
import { draftOf, stateInputOf } from '../flags/draft.ts';
import { UpdateFlagStateMutation } from '../flags/Targeting.tsx';
import { type PendingChangeDetailData, RequestFlagChange } from './documents.ts';
import { useFlagNow } from './flagNow.ts';
import { requestPath } from './pending.tsx';

type Outcome = { request: { id: string; slug: string; requiredApprovals: number } } | { appliedVersion: number };

const inFuture = (iso: string | null) => iso !== null && new Date(iso).getTime() > Date.now() + 60_000;

/**
 * A stale flag-state change proposed again: the same proposed state, against the flag as it is
 * now, through the gate every change passes (a new request where the environment requires
 * approval or the original had a time; applied at once otherwise). Shows, before and after,
 * what changed in between and what the new proposal changes against the state now.
 */
export function ProposeAgain(props: { slug: string; change: PendingChangeDetailData; onRefused: () => void }) {
  const { slug, change } = props;
  const now = useFlagNow(slug, change);
  const env = change.environment!;
  const [comment, setComment] = useState(change.comment ?? '');
  const [at, setAt] = useState(() =>
    toLocalInput(inFuture(change.applyAt) ? new Date(change.applyAt!) : new Date(Date.now() + 3_600_000)),
  );
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const request = useAction(RequestFlagChange);
  const update = useAction(UpdateFlagStateMutation);

  if (!now.state) return now.error ? <ErrorNote error={now.error} /> : <Loading />;
  const current = { on: now.state.on, ...draftOf(now.state) };
  const proposed = stateInputOf(change.proposed);
  const before = stateInputOf(change.before);
  const nothingToDo = diff(current, proposed).length === 0;
  const scheduled = change.applyAt !== null;
  const asRequest = env.requiresApproval || scheduled;
  const applyAt = scheduled ? fromLocalInput(at) : null;

  const propose = async () => {
    const common = {
      flagId: now.flag!.id,
      environmentId: env.id,
      expectedVersion: now.state!.version,
      input: proposed,
    };
    if (asRequest) {
      const data = await request.run({ ...common, comment: comment.trim() || null, applyAt: applyAt?.toISOString() });
      if (data) setOutcome({ request: { ...data.requestFlagChange, slug: data.requestFlagChange.project.slug } });
      // Refused (the flag moved again, or the environment stopped requiring approval): read both anew.
      else props.onRefused();
      return;
    }
    const data = await update.run(common);
    const pending = data?.updateFlagState.pendingChange;
    if (pending) setOutcome({ request: { ...pending, slug: pending.project.slug } });
    else if (data) setOutcome({ appliedVersion: data.updateFlagState.version });
    else props.onRefused();
  };
  const fetching = request.fetching || update.fetching;

  return (
    <section class="card stack" aria-labelledby="again-title" data-propose-again>
      <h2 id="again-title">Propose again</h2>
      <h3>What changed in {env.name} since it was proposed</h3>
      <p class="muted">
        From version {change.baseVersion} (what it was proposed against) to version {now.state.version} (now).
      </p>
      <div data-diff="in-between">
        {diff(before, current).length > 0 ? (
          <AuditDiff details={{ before, after: current }} />
        ) : (
          <p class="muted">Nothing that matters here: the flag changed and changed back.</p>
        )}
      </div>
      <h3>What it changes against the flag now</h3>
      <div data-diff="against-now">
        {nothingToDo ? (
          <p class="muted">Nothing: the flag already is as proposed.</p>
        ) : (
          <AuditDiff details={{ before: current, after: proposed }} />
        )}
      </div>
      {outcome ? (
        'request' in outcome ? (
          <p class="notice notice-info" role="status" data-outcome="requested">
            Proposed again as a new request
            {outcome.request.requiredApprovals > 0
              ? `, waiting for ${outcome.request.requiredApprovals} approval${outcome.request.requiredApprovals === 1 ? '' : 's'}`
              : ', scheduled'}
            : <a href={requestPath(outcome.request.slug, outcome.request.id)}>view the new request</a>.
          </p>
        ) : (
          <p class="notice notice-info" role="status" data-outcome="applied">
            Applied at once: {env.name} no longer requires approval, so the change is live (version{' '}
            {outcome.appliedVersion}).
          </p>
        )
      ) : (
        !nothingToDo && (
          <>
            <p data-proposal-path={asRequest ? 'request' : 'apply'}>
              {env.requiresApproval
                ? `${env.name} requires ${env.minApprovals} approval${env.minApprovals === 1 ? '' : 's'}: this becomes a new request, reviewed from the start.`
                : scheduled
                  ? `${env.name} needs no approval: it becomes a scheduled change again, applied at its time.`
                  : `${env.name} no longer requires approval: proposing it again applies the change at once.`}
            </p>
            {scheduled && <LocalTimeInput label="Apply at" value={at} onInput={setAt} />}
            {scheduled && change.applyAt && !inFuture(change.applyAt) && (
              <p class="muted">
                Its time (<When iso={change.applyAt} />) has passed: pick a new one.
              </p>
            )}
            {asRequest && (
              <label>
                Comment for the reviewers (optional)
                <textarea
                  rows={2}
                  value={comment}
                  maxLength={2000}
                  onInput={(e) => setComment(e.currentTarget.value)}
                />
              </label>
            )}
            <ErrorNote error={request.error ?? update.error} />
            <div class="actions">
              <button
                type="button"
                class="primary"
                disabled={fetching || !now.fresh || (scheduled && !applyAt)}
                onClick={() => void propose()}
              >
                {asRequest ? 'Propose again' : 'Apply it now'}
              </button>
            </div>
          </>
        )
      )}
    </section>
  );
}
