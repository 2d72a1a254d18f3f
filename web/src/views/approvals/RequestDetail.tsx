import { useQuery } from '@urql/preact';
import { useState } from 'preact/hooks';
import { useCan, useViewer } from '../../session/viewer.tsx';
import { Confirm } from '../../ui/Dialog.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { Loading, Page } from '../../ui/Page.tsx';
import { When } from '../../ui/time.tsx';
import { AuditDiff } from '../audit/AuditDiff.tsx';
import { useFlagChanges } from '../flags/live.ts';
import {
  CancelPendingChange,
  type PendingChangeDetailData,
  PendingChangeQuery,
  ReviewPendingChange,
} from './documents.ts';
import { EditRequest } from './EditRequest.tsx';
import { useApprovalChanges } from './live.ts';
import { ProposeAgain } from './ProposeAgain.tsx';
import { Reschedule } from './Reschedule.tsx';
import { KIND_LABEL, STATE_EXPLANATION, STATE_LABEL, stateTone, subjectOf } from './words.ts';

type Change = PendingChangeDetailData;

/** The version of the flag's state now, in the environment the change was made against. */
const currentVersion = (c: Change) =>
  c.environment ? c.flag?.environments.find((s) => s.environment.id === c.environment?.id)?.version : undefined;

/** Where the change stands, in words: what a reviewer or its author should know first. */
function StateNote({ change }: { change: Change }) {
  const now = currentVersion(change);
  const moved = change.kind === 'FLAG_STATE' && change.baseVersion != null && now != null && now !== change.baseVersion;
  if (change.state === 'PENDING' || change.state === 'APPROVED') {
    if (moved) {
      return (
        <p class="warning" role="status" data-note="stale">
          The flag changed after this was proposed (version {change.baseVersion}, now {now}): it can no longer apply as
          proposed. Re-propose it against the flag as it is now.
        </p>
      );
    }
    if (change.state === 'APPROVED') {
      return (
        <p class="notice notice-info" role="status">
          Approved: it applies at <When iso={change.applyAt} />, if the flag has not changed by then.
        </p>
      );
    }
    return null;
  }
  return (
    <div
      class={change.state === 'APPLIED' ? 'notice notice-info' : 'warning'}
      role="status"
      data-note={change.state.toLowerCase()}
    >
      <p>{STATE_EXPLANATION[change.state]}</p>
      {change.outcome && <p class="muted">{change.outcome}</p>}
      {change.resolvedAt && (
        <p class="muted">
          {STATE_LABEL[change.state]} <When iso={change.resolvedAt} />
        </p>
      )}
    </div>
  );
}

function ReviewForm({ change, onDone }: { change: Change; onDone: () => void }) {
  const review = useAction(ReviewPendingChange, { notifyErrors: false });
  const [comment, setComment] = useState('');
  const decide = async (decision: 'APPROVE' | 'REJECT') => {
    const done = await review.run({ id: change.id, decision, comment: comment.trim() || null });
    if (done) {
      setComment('');
      onDone();
    }
  };
  return (
    <section class="card stack" aria-labelledby="review-title">
      <h2 id="review-title">Your review</h2>
      <label>
        Comment for the author (optional; say why when you reject)
        <textarea rows={3} value={comment} onInput={(e) => setComment(e.currentTarget.value)} maxLength={2000} />
      </label>
      <ErrorNote error={review.error} />
      <div class="actions">
        <button type="button" class="danger" disabled={review.fetching} onClick={() => void decide('REJECT')}>
          Reject
        </button>
        <button type="button" class="primary" disabled={review.fetching} onClick={() => void decide('APPROVE')}>
          Approve
        </button>
      </div>
    </section>
  );
}

/** One approval request: who proposed what, where, against what, its reviews, and what to do. */
export function RequestDetail({ project: slug, id }: { project: string; id: string }) {
  const can = useCan();
  const viewer = useViewer();
  const [result, reexecute] = useQuery({ query: PendingChangeQuery, variables: { id } });
  const refetch = () => reexecute({ requestPolicy: 'network-only' });
  const change = result.data?.pendingChange;
  useApprovalChanges(change?.project.id, (e) => e.pendingChangeId === id && refetch(), refetch);
  // The flag moving on makes an open change stale: show it as soon as it happens.
  useFlagChanges(change?.flagKey ? change.project.id : undefined, [change?.flagKey ?? ''], refetch, refetch);
  const [cancelling, setCancelling] = useState(false);
  const [editing, setEditing] = useState(false);
  const cancel = useAction(CancelPendingChange, { notifyErrors: true, success: 'Cancelled: it will not apply.' });

  if (!change) {
    return (
      <Page title="Approval request">
        <ErrorNote error={result.error} />
        {result.fetching && <Loading />}
      </Page>
    );
  }
  const { what, where } = subjectOf(change);
  const me = viewer.me.user?.id;
  const mine = change.author?.id === me;
  const open = change.state === 'PENDING' || change.state === 'APPROVED';
  const round = change.reviews.filter((r) => r.round === change.round);
  const reviewed = round.some((r) => r.reviewer?.id === me);
  // The server refuses self-review and a second review: neither is offered.
  const mayReview =
    can('approval:review') && change.state === 'PENDING' && change.requiredApprovals > 0 && !mine && !reviewed;
  const mayCancel = (mine || can('approval:review')) && (open || change.state === 'STALE');
  const mayReschedule = open && change.applyAt !== null && can('flag:write') && (mine || can('approval:review'));
  const flagStateChange = change.kind === 'FLAG_STATE' && change.flag !== null && !change.flag.archived;
  // The server lets only the author edit, and only a change to a flag's state.
  const mayEdit = mine && open && flagStateChange && can('flag:write');
  const mayProposeAgain = change.state === 'STALE' && flagStateChange && can('flag:write');
  const flagLink =
    change.flagKey && change.flag
      ? `/p/${slug}/flags/${encodeURIComponent(change.flagKey)}${change.environment ? `?env=${change.environment.key}` : ''}`
      : null;

  return (
    <Page
      title={`${KIND_LABEL[change.kind]}: ${what}`}
      lead={
        <>
          <a href={`/p/${slug}/approvals`}>Approvals</a> /{' '}
          <span class={`badge ${stateTone(change.state)}`}>{STATE_LABEL[change.state]}</span>
          {flagLink && (
            <>
              {' '}
              · <a href={flagLink}>Open the flag</a>
            </>
          )}
        </>
      }
      actions={
        (mayReschedule || mayCancel || mayEdit) && (
          <>
            {mayEdit && !editing && (
              <button type="button" onClick={() => setEditing(true)}>
                Edit request…
              </button>
            )}
            {mayReschedule && change.applyAt && (
              <Reschedule id={change.id} applyAt={change.applyAt} needsApproval={change.requiredApprovals > 0} />
            )}
            {mayCancel && (
              <button type="button" class="danger" onClick={() => setCancelling(true)}>
                Cancel request…
              </button>
            )}
          </>
        )
      }
    >
      <div class="stack">
        <ErrorNote error={result.error} />
        <StateNote change={change} />
        <dl class="kv card">
          <div>
            <dt>Proposed by</dt>
            <dd>
              {change.author ? `${change.author.name} (${change.author.email})` : 'a service token'}
              {mine && <span class="badge">you</span>}
            </dd>
          </div>
          <div>
            <dt>When</dt>
            <dd>
              <When iso={change.createdAt} />
            </dd>
          </div>
          <div>
            <dt>Environment</dt>
            <dd>{where || '—'}</dd>
          </div>
          {change.applyAt && (
            <div>
              <dt>Applies at</dt>
              <dd>
                <When iso={change.applyAt} /> <span class="muted">({new Date(change.applyAt).toISOString()})</span>
              </dd>
            </div>
          )}
          <div>
            <dt>Approvals</dt>
            <dd data-approvals>
              {change.requiredApprovals === 0
                ? 'none needed (a scheduled change)'
                : `${change.approvals} of ${change.requiredApprovals}`}
            </dd>
          </div>
          {change.baseVersion != null && (
            <div>
              <dt>Made against</dt>
              <dd>version {change.baseVersion}</dd>
            </div>
          )}
        </dl>
        {change.comment && (
          <section aria-labelledby="comment-title">
            <h2 id="comment-title">Comment</h2>
            <blockquote class="card">{change.comment}</blockquote>
          </section>
        )}
        <section aria-labelledby="diff-title">
          <h2 id="diff-title">What it changes</h2>
          <p class="muted">
            {open && currentVersion(change) === change.baseVersion
              ? 'Compared with the current state.'
              : 'Compared with the state it was proposed against.'}
          </p>
          {change.changes.length > 0 ? (
            <ul class="changes">
              {change.changes.map((line) => (
                <li key={line}>{line}</li>
              ))}
            </ul>
          ) : (
            <p class="muted">No difference.</p>
          )}
          <details>
            <summary>Every changed field</summary>
            <AuditDiff details={{ before: change.before, after: change.proposed }} />
          </details>
        </section>
        {mayEdit && editing && (
          <EditRequest
            slug={slug}
            change={change}
            onClose={() => {
              setEditing(false);
              refetch();
            }}
          />
        )}
        {mayProposeAgain && <ProposeAgain slug={slug} change={change} onRefused={refetch} />}
        <section aria-labelledby="reviews-title">
          <h2 id="reviews-title">Reviews</h2>
          {change.reviews.length === 0 ? (
            <p class="muted">No reviews yet.</p>
          ) : (
            <ol class="reviews">
              {change.reviews.map((r) => (
                <li key={`${r.round}-${r.createdAt}-${r.reviewer?.id}`}>
                  <span class={`badge ${r.decision === 'APPROVE' ? 'ok' : 'warn'}`}>
                    {r.decision === 'APPROVE' ? 'approved' : 'rejected'}
                  </span>{' '}
                  {r.reviewer?.name ?? 'a former member'} · <When iso={r.createdAt} />
                  {r.round !== change.round && <span class="muted"> (an earlier round: no longer counts)</span>}
                  {r.comment && <blockquote>{r.comment}</blockquote>}
                </li>
              ))}
            </ol>
          )}
        </section>
        {mayReview && <ReviewForm change={change} onDone={refetch} />}
        {can('approval:review') && mine && change.state === 'PENDING' && (
          <p class="muted">You proposed this change: another reviewer approves or rejects it.</p>
        )}
      </div>
      <Confirm
        open={cancelling}
        title="Cancel this request?"
        confirmLabel="Cancel request"
        danger
        busy={cancel.fetching}
        onCancel={() => setCancelling(false)}
        onConfirm={async () => {
          await cancel.run({ id: change.id });
          setCancelling(false);
        }}
      >
        <p>It will not apply. Its reviews are kept with it.</p>
      </Confirm>
    </Page>
  );
}
