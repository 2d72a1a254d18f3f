import { useQuery } from '@urql/preact';
import { useState } from 'preact/hooks';
import { graphql, type VariablesOf } from '../../graphql/index.ts';
import { useCan, useViewer } from '../../session/viewer.tsx';
import { Dialog } from '../../ui/Dialog.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { fromLocalInput, LocalTimeInput, toLocalInput, utc, When } from '../../ui/time.tsx';
import { CancelPendingChange, PendingRow, RequestFlagChange } from './documents.ts';
import { useApprovalChanges } from './live.ts';
import { announcePending, requestPath } from './pending.tsx';
import { STATE_LABEL, stateTone } from './words.ts';

type StateInput = VariablesOf<typeof RequestFlagChange>['input'];

/**
 * "Schedule a change…": turn the flag on or off, or apply the targeting as edited, at a time the
 * person picks in their own time zone (sent as UTC). Where the environment requires approval the
 * scheduled change waits for reviewers too.
 */
export function ScheduleChange(props: {
  flag: { id: string; key: string };
  environment: { id: string; name: string };
  version: number;
  /** The edited targeting, when there are unsaved edits to schedule. */
  draft: StateInput | null;
}) {
  const [open, setOpen] = useState(false);
  const [what, setWhat] = useState<'on' | 'off' | 'draft'>('on');
  const [at, setAt] = useState(() => toLocalInput(new Date(Date.now() + 3_600_000)));
  const [comment, setComment] = useState('');
  const request = useAction(RequestFlagChange);
  const applyAt = fromLocalInput(at);
  const submit = async (event: Event) => {
    event.preventDefault();
    if (!applyAt) return;
    const input = what === 'draft' && props.draft ? props.draft : { on: what === 'on' };
    const done = await request.run({
      flagId: props.flag.id,
      environmentId: props.environment.id,
      expectedVersion: props.version,
      input,
      comment: comment.trim() || null,
      applyAt: applyAt.toISOString(),
    });
    if (done) {
      announcePending(done.requestFlagChange);
      setOpen(false);
      setComment('');
    }
  };
  return (
    <>
      <button type="button" onClick={() => setOpen(true)}>
        Schedule a change…
      </button>
      <Dialog
        open={open}
        title={`Schedule a change to ${props.flag.key} in ${props.environment.name}`}
        onClose={() => setOpen(false)}
      >
        <form class="stack" onSubmit={submit}>
          <fieldset>
            <legend>Change</legend>
            <label class="check">
              <input type="radio" name="what" checked={what === 'on'} onChange={() => setWhat('on')} /> Turn on
            </label>
            <label class="check">
              <input type="radio" name="what" checked={what === 'off'} onChange={() => setWhat('off')} /> Turn off
            </label>
            {props.draft && (
              <label class="check">
                <input type="radio" name="what" checked={what === 'draft'} onChange={() => setWhat('draft')} /> Apply
                the targeting as edited (the unsaved edits)
              </label>
            )}
          </fieldset>
          <LocalTimeInput label="At" value={at} onInput={setAt} />
          <label>
            Comment (optional)
            <textarea rows={2} value={comment} maxLength={2000} onInput={(e) => setComment(e.currentTarget.value)} />
          </label>
          <ErrorNote error={request.error} />
          <div class="actions">
            <button type="button" onClick={() => setOpen(false)}>
              Cancel
            </button>
            <button type="submit" class="primary" disabled={request.fetching || !applyAt}>
              Schedule
            </button>
          </div>
        </form>
      </Dialog>
    </>
  );
}

const FlagScheduledQuery = graphql(
  `
  query FlagScheduled($slug: String!, $key: String!) {
    project(slug: $slug) { id flag(key: $key) { id scheduledChanges { ...PendingRow } } }
  }
`,
  [PendingRow],
);

/** A flag's changes waiting for their time, soonest first, each cancellable by its author or a reviewer. */
export function FlagScheduled({ slug, flagKey }: { slug: string; flagKey: string }) {
  const can = useCan();
  const viewer = useViewer();
  const [result, reexecute] = useQuery({ query: FlagScheduledQuery, variables: { slug, key: flagKey } });
  const refetch = () => reexecute({ requestPolicy: 'network-only' });
  useApprovalChanges(result.data?.project.id, refetch, refetch);
  const cancel = useAction(CancelPendingChange, { notifyErrors: true, success: 'Scheduled change cancelled.' });
  const changes = result.data?.project.flag.scheduledChanges ?? [];
  return (
    <section class="card" aria-labelledby="scheduled-title">
      <h3 id="scheduled-title">Scheduled changes</h3>
      <ErrorNote error={result.error} />
      {changes.length === 0 ? (
        <p class="muted">Nothing scheduled for this flag.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Scheduled changes of {flagKey}</caption>
            <thead>
              <tr>
                <th scope="col">Applies at</th>
                <th scope="col">Environment</th>
                <th scope="col">Change</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {changes.map((c) => {
                const mayCancel = c.author?.id === viewer.me.user?.id || can('approval:review');
                return (
                  <tr key={c.id} data-scheduled={c.id}>
                    <th scope="row">
                      <a href={requestPath(slug, c.id)}>
                        <When iso={c.applyAt} />
                      </a>
                      <div class="muted">{c.applyAt && `${utc(new Date(c.applyAt))} UTC`}</div>
                    </th>
                    <td>{c.environment?.name}</td>
                    <td>{c.changes.join('; ') || 'no difference'}</td>
                    <td>
                      <span class={`badge ${stateTone(c.state)}`}>{STATE_LABEL[c.state]}</span>
                    </td>
                    <td>
                      {mayCancel && (
                        <button
                          type="button"
                          class="small danger"
                          disabled={cancel.fetching}
                          onClick={async () => {
                            if (await cancel.run({ id: c.id })) refetch();
                          }}
                        >
                          Cancel
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
