import { useState } from 'preact/hooks';
import { Dialog } from '../../ui/Dialog.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { fromLocalInput, LocalTimeInput, toLocalInput } from '../../ui/time.tsx';
import { ReschedulePendingChange } from './documents.ts';

/** A new time for a scheduled change; where it needs approval, its approvals start over. */
export function Reschedule(props: { id: string; applyAt: string; needsApproval: boolean }) {
  const [open, setOpen] = useState(false);
  const [at, setAt] = useState(() => toLocalInput(new Date(props.applyAt)));
  const reschedule = useAction(ReschedulePendingChange, { success: 'Rescheduled.' });
  const submit = async (event: Event) => {
    event.preventDefault();
    const applyAt = fromLocalInput(at);
    if (applyAt && (await reschedule.run({ id: props.id, applyAt: applyAt.toISOString() }))) setOpen(false);
  };
  return (
    <>
      <button type="button" onClick={() => setOpen(true)}>
        Reschedule…
      </button>
      <Dialog open={open} title="Reschedule the change" onClose={() => setOpen(false)}>
        <form class="stack" onSubmit={submit}>
          <LocalTimeInput label="Apply at" value={at} onInput={setAt} />
          {props.needsApproval && <p class="muted">Its approvals start over: reviewers approve it for the new time.</p>}
          <ErrorNote error={reschedule.error} />
          <div class="actions">
            <button type="button" onClick={() => setOpen(false)}>
              Cancel
            </button>
            <button type="submit" class="primary" disabled={reschedule.fetching}>
              Reschedule
            </button>
          </div>
        </form>
      </Dialog>
    </>
  );
}
