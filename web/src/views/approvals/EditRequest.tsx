import { useEffect, useRef, useState } from 'preact/hooks';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { notify } from '../../ui/notices.tsx';
import { Loading } from '../../ui/Page.tsx';
import { Switch } from '../../ui/Switch.tsx';
import { When } from '../../ui/time.tsx';
import { same, stateInputOf } from '../flags/draft.ts';
import { TargetingEditor } from '../flags/TargetingEditor.tsx';
import { EditPendingChange, type PendingChangeDetailData } from './documents.ts';
import { useFlagNow } from './flagNow.ts';

/** What saving an edit does to the request's approvals, said before the person saves. */
function ResetNote({ change }: { change: PendingChangeDetailData }) {
  if (change.requiredApprovals === 0) {
    return (
      <p class="muted" data-note="edit">
        It stays scheduled for <When iso={change.applyAt} />; nobody needs to approve it.
      </p>
    );
  }
  const given = change.approvals;
  return (
    <p class="warning" role="note" data-note="edit-resets">
      Saving resets its approvals:{' '}
      {given === 0
        ? 'none were given yet, and'
        : `the ${given} approval${given === 1 ? '' : 's'} given so far no longer count${given === 1 ? 's' : ''}, and`}{' '}
      reviewers review the edited change from the start ({change.requiredApprovals} needed).
    </p>
  );
}

/**
 * Its author edits what an open flag-state request proposes, in the flag page's editor (no form: Enter in a list of keys commits it, never saves), against
 * the flag as it is now (so an edit also takes in what changed meanwhile).
 */
export function EditRequest(props: { slug: string; change: PendingChangeDetailData; onClose: () => void }) {
  const { change } = props;
  const now = useFlagNow(props.slug, change);
  const proposed = stateInputOf(change.proposed);
  const [draft, setDraft] = useState(proposed);
  const [comment, setComment] = useState(change.comment ?? '');
  const edit = useAction(EditPendingChange);
  const env = change.environment!;
  // The button that opened the editor is gone: focus goes to the editor, not to the page's start.
  const heading = useRef<HTMLHeadingElement>(null);
  const ready = now.flag !== undefined && now.state !== undefined;
  useEffect(() => {
    if (ready) heading.current?.focus();
  }, [ready]);
  if (!now.flag || !now.state) return now.error ? <ErrorNote error={now.error} /> : <Loading />;
  const dirty = !same(draft, proposed) || comment.trim() !== (change.comment ?? '');

  const save = async () => {
    const data = await edit.run({
      id: change.id,
      expectedVersion: now.state!.version,
      input: { ...draft, targets: draft.targets.filter((t) => t.values.length > 0) },
      // An empty comment keeps the one it had (the API replaces a comment, never clears it).
      comment: comment.trim() || null,
    });
    if (data) {
      notify.ok(
        change.requiredApprovals > 0
          ? 'Request updated: its approvals were reset, reviewers review it again.'
          : 'Scheduled change updated.',
      );
      props.onClose();
    }
  };

  return (
    <section class="card stack" aria-labelledby="edit-title" data-edit-request>
      <h2 id="edit-title" ref={heading} tabIndex={-1}>
        Edit the request
      </h2>
      <ResetNote change={change} />
      <p class="muted">
        Made against the flag in {env.name} as it is now (version {now.state.version}).
      </p>
      <div class="row">
        <Switch
          checked={draft.on}
          label={`Proposed: ${change.flagKey} in ${env.name}`}
          onChange={(on) => setDraft({ ...draft, on })}
        />
        <span class="muted">{draft.on ? 'The flag is to be on' : 'The flag is to be off'}</span>
      </div>
      <TargetingEditor
        draft={draft}
        onChange={(next) => setDraft({ ...draft, ...next })}
        variations={now.flag.variations}
        segments={now.segments}
        otherFlags={now.otherFlags}
        readOnly={false}
        idPrefix="edit"
      />
      <label>
        {change.requiredApprovals > 0 ? 'Comment for the reviewers' : 'Comment'}
        <textarea rows={2} value={comment} maxLength={2000} onInput={(e) => setComment(e.currentTarget.value)} />
      </label>
      <ErrorNote error={edit.error} />
      <div class="actions">
        <button type="button" onClick={props.onClose}>
          {dirty ? 'Discard edits' : 'Close'}
        </button>
        <button
          type="button"
          class="primary"
          disabled={!dirty || edit.fetching || !now.fresh}
          onClick={() => void save()}
        >
          Save the request
        </button>
      </div>
    </section>
  );
}
