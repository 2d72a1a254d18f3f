import { useEffect, useState } from 'preact/hooks';
import { errorCode } from '../../graphql/client.ts';
import { graphql, type ResultOf } from '../../graphql/index.ts';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { notify } from '../../ui/notices.tsx';
import { Switch } from '../../ui/Switch.tsx';
import { PendingAnswer } from '../approvals/documents.ts';
import { announcePending, PendingBadges, useOpenChanges } from '../approvals/pending.tsx';
import { ScheduleChange } from '../approvals/Schedule.tsx';
import { type Draft, draftOf, same } from './draft.ts';
import type { FlagDetailQuery } from './FlagDetail.tsx';
import { variationLabel } from './ServeEditor.tsx';
import { TargetingEditor } from './TargetingEditor.tsx';

export const UpdateFlagStateMutation = graphql(
  `
  mutation UpdateFlagState($environmentId: ID!, $flagId: ID!, $expectedVersion: Int!, $input: FlagStateInput!) {
    updateFlagState(environmentId: $environmentId, flagId: $flagId, expectedVersion: $expectedVersion, input: $input) {
      on version
      pendingChange { ...PendingAnswer }
    }
  }
`,
  [PendingAnswer],
);

type Flag = ResultOf<typeof FlagDetailQuery>['project']['flag'];
type State = Flag['environments'][number];
/** A flag's targeting in one environment: on/off at once, everything else saved together. */
export function Targeting(props: {
  flag: Flag;
  state: State;
  segments: { key: string; name: string }[];
  otherFlags: { key: string; name: string; variations: { name?: string | null; value?: unknown }[] }[];
  canWrite: boolean;
  /** The project, for the changes waiting for approval here. */
  project?: { id: string; slug: string };
}) {
  const { flag, state } = props;
  const open = useOpenChanges(props.project?.id);
  const environment = state.environment;
  const readOnly = !props.canWrite || flag.archived;
  // The state the draft started from: saving is refused if the environment moved on since.
  const [based, setBased] = useState<State>(state);
  const [draft, setDraft] = useState<Draft>(() => draftOf(state));
  const [saved, setSaved] = useState<number | null>(null);
  const dirty = !same(draft, draftOf(based));
  const save = useAction(UpdateFlagStateMutation);
  const toggle = useAction(UpdateFlagStateMutation, { notifyErrors: true });

  const follow = () => {
    setDraft(draftOf(state));
    setBased(state);
  };
  // A newer state arrived (someone else, or this page saving or switching): follow it unless the
  // person is mid-edit. On/off is not part of the draft, so a switch alone is always followed.
  useEffect(() => {
    if (state.version === based.version) return;
    if (!dirty || state.version === saved) follow();
    else if (same(draftOf(state), draftOf(based))) setBased(state);
  }, [state.version, environment.id]);
  const changedElsewhere = dirty && state.version !== based.version;

  const onToggle = async (on: boolean) => {
    const data = await toggle.run({
      environmentId: environment.id,
      flagId: flag.id,
      expectedVersion: state.version,
      input: { on },
    });
    if (announcePending(data?.updateFlagState.pendingChange)) open.refetch();
  };
  const draftInput = () => ({ ...draft, targets: draft.targets.filter((t) => t.values.length > 0) });

  const onSave = async () => {
    const data = await save.run({
      environmentId: environment.id,
      flagId: flag.id,
      expectedVersion: based.version,
      input: draftInput(),
    });
    // Waiting for approval: the request holds the edits; the page shows what is live.
    if (announcePending(data?.updateFlagState.pendingChange)) {
      open.refetch();
      follow();
    } else if (data) {
      setSaved(data.updateFlagState.version);
      notify.ok(`Saved the targeting of ${flag.key} in ${environment.name}.`);
    }
  };

  const variations = flag.variations;

  return (
    <div class="targeting" data-env={environment.key}>
      <div class="targeting-head">
        {props.canWrite && !flag.archived ? (
          <Switch
            checked={state.on}
            label={`${flag.key} in ${environment.name}`}
            busy={toggle.fetching}
            onChange={(on) => void onToggle(on)}
          />
        ) : (
          <span class={`state ${state.on ? 'on' : 'off'}`} data-state={state.on ? 'on' : 'off'}>
            {state.on ? 'On' : 'Off'}
          </span>
        )}
        <span class="muted">
          {state.on
            ? 'Serving the targeting below'
            : `Serving ${variationLabel(variations, state.offVariation)} to everyone`}{' '}
          · version {state.version} · updated {new Date(state.updatedAt).toLocaleString()}
        </span>
        {props.project && <PendingBadges slug={props.project.slug} changes={open.of(flag.key, environment.id)} />}
        {!readOnly && (
          <ScheduleChange
            flag={flag}
            environment={environment}
            version={state.version}
            draft={dirty ? draftInput() : null}
          />
        )}
      </div>

      {changedElsewhere && (
        <div class="notice notice-info" role="status">
          <span>
            This environment changed (version {state.version}) while you were editing version {based.version}. Saving
            now is refused so nothing is overwritten unseen.
          </span>
          <button type="button" onClick={follow}>
            Discard my edits
          </button>
          <button type="button" onClick={() => setBased(state)}>
            Keep mine, replace theirs
          </button>
        </div>
      )}

      <TargetingEditor
        draft={draft}
        onChange={setDraft}
        variations={flag.variations}
        segments={props.segments}
        otherFlags={props.otherFlags}
        readOnly={readOnly}
        idPrefix={environment.key}
      />

      {!readOnly && (
        <div class="savebar" data-dirty={dirty}>
          <ErrorNote error={save.error} />
          {errorCode(save.error) === 'CONFLICT' && (
            <p class="muted">Someone changed this environment first: review their change, then save again.</p>
          )}
          <button type="button" disabled={!dirty} onClick={follow}>
            Discard changes
          </button>
          <button type="button" class="primary" disabled={!dirty || save.fetching} onClick={() => void onSave()}>
            Save targeting in {environment.name}
          </button>
        </div>
      )}
    </div>
  );
}
