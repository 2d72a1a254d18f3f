import { useEffect, useState } from 'preact/hooks';
import { errorCode } from '../../graphql/client.ts';
import { graphql, type ResultOf } from '../../graphql/index.ts';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { ListInput } from '../../ui/ListInput.tsx';
import { useAction } from '../../ui/mutation.ts';
import { notify } from '../../ui/notices.tsx';
import { Switch } from '../../ui/Switch.tsx';
import { PendingAnswer } from '../approvals/documents.ts';
import { announcePending, PendingBadges, useOpenChanges } from '../approvals/pending.tsx';
import { ScheduleChange } from '../approvals/Schedule.tsx';
import type { FlagDetailQuery } from './FlagDetail.tsx';
import { RuleEditor, type RuleInput } from './RuleEditor.tsx';
import { ServeEditor, type ServeInput, variationLabel } from './ServeEditor.tsx';

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
type Serve = State['fallthrough'];

interface Draft {
  offVariation: number;
  targets: { variation: number; values: string[] }[];
  rules: RuleInput[];
  fallthrough: ServeInput;
  prerequisites: { key: string; variation: number }[];
}

const serveInput = (s: Serve): ServeInput =>
  s.rollout
    ? {
        rollout: {
          bucketBy: s.rollout.bucketBy,
          salt: s.rollout.salt,
          variations: s.rollout.variations.map((w) => ({ variation: w.variation, weight: w.weight })),
        },
      }
    : { variation: s.variation ?? 0 };

function draftOf(state: State): Draft {
  return {
    offVariation: state.offVariation,
    targets: state.targets.map((t) => ({ variation: t.variation, values: [...t.values] })),
    rules: state.rules.map((r) => ({
      id: r.id,
      description: r.description ?? null,
      clauses: r.clauses.map((c) => ({
        attribute: c.op === 'segmentMatch' ? null : c.attribute,
        op: c.op,
        negate: c.negate,
        values: c.values,
      })),
      serve: serveInput(r.serve),
    })),
    fallthrough: serveInput(state.fallthrough),
    prerequisites: state.prerequisites.map((p) => ({ key: p.key, variation: p.variation })),
  };
}

const same = (a: Draft, b: Draft) => JSON.stringify(a) === JSON.stringify(b);

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

  const set = (patch: Partial<Draft>) => setDraft({ ...draft, ...patch });
  const variations = flag.variations;
  const setTargets = (i: number, values: string[]) => {
    const others = draft.targets.filter((t) => t.variation !== i);
    set({
      targets: [...others, ...(values.length ? [{ variation: i, values }] : [])].sort(
        (a, b) => a.variation - b.variation,
      ),
    });
  };
  const moveRule = (i: number, delta: -1 | 1) => {
    const rules = [...draft.rules];
    const [rule] = rules.splice(i, 1);
    rules.splice(i + delta, 0, rule!);
    set({ rules });
  };

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

      <section aria-labelledby={`prereq-${environment.key}`}>
        <h3 id={`prereq-${environment.key}`}>Prerequisites</h3>
        {draft.prerequisites.length === 0 && <p class="muted">None: the flag does not depend on another.</p>}
        {draft.prerequisites.map((p, i) => {
          const other = props.otherFlags.find((f) => f.key === p.key);
          return (
            <div class="row" key={i}>
              <label>
                <span class="visually-hidden">Prerequisite flag {i + 1}</span>
                <select
                  value={p.key}
                  disabled={readOnly}
                  onChange={(e) =>
                    set({
                      prerequisites: draft.prerequisites.map((x, j) =>
                        j === i ? { key: e.currentTarget.value, variation: 0 } : x,
                      ),
                    })
                  }
                >
                  {props.otherFlags.map((f) => (
                    <option key={f.key} value={f.key}>
                      {f.name} ({f.key})
                    </option>
                  ))}
                </select>
              </label>
              <label>
                <span>must serve</span>
                <select
                  value={String(p.variation)}
                  disabled={readOnly}
                  onChange={(e) =>
                    set({
                      prerequisites: draft.prerequisites.map((x, j) =>
                        j === i ? { ...x, variation: Number(e.currentTarget.value) } : x,
                      ),
                    })
                  }
                >
                  {(other?.variations ?? []).map((_, vi) => (
                    <option key={vi} value={String(vi)}>
                      {variationLabel(other?.variations ?? [], vi)}
                    </option>
                  ))}
                </select>
              </label>
              {!readOnly && (
                <button
                  type="button"
                  class="small"
                  onClick={() => set({ prerequisites: draft.prerequisites.filter((_, j) => j !== i) })}
                >
                  Remove
                </button>
              )}
            </div>
          );
        })}
        {!readOnly && props.otherFlags.length > 0 && (
          <button
            type="button"
            class="small"
            onClick={() =>
              set({ prerequisites: [...draft.prerequisites, { key: props.otherFlags[0]!.key, variation: 0 }] })
            }
          >
            Add prerequisite
          </button>
        )}
      </section>

      <section aria-labelledby={`targets-${environment.key}`}>
        <h3 id={`targets-${environment.key}`}>Individual targets</h3>
        <div class="grid-2">
          {variations.map((_, i) => (
            <label key={i}>
              <span>Context keys served {variationLabel(variations, i)}</span>
              <ListInput
                values={draft.targets.find((t) => t.variation === i)?.values ?? []}
                split={/[\s,]+/}
                join=", "
                disabled={readOnly}
                onCommit={(values) => setTargets(i, values)}
              />
            </label>
          ))}
        </div>
      </section>

      <section aria-labelledby={`rules-${environment.key}`}>
        <h3 id={`rules-${environment.key}`}>Rules</h3>
        <p class="muted">Checked in order; the first rule whose conditions all hold decides.</p>
        <ol class="rules">
          {draft.rules.map((rule, i) => (
            <RuleEditor
              key={rule.id ?? `new-${i}`}
              rule={rule}
              index={i}
              count={draft.rules.length}
              variations={variations}
              segments={props.segments}
              readOnly={readOnly}
              onChange={(next) => set({ rules: draft.rules.map((r, j) => (j === i ? next : r)) })}
              onMove={(delta) => moveRule(i, delta)}
              onRemove={() => set({ rules: draft.rules.filter((_, j) => j !== i) })}
            />
          ))}
        </ol>
        {!readOnly && (
          <button
            type="button"
            onClick={() =>
              set({
                rules: [
                  ...draft.rules,
                  { clauses: [{ attribute: '', op: 'in', negate: false, values: [] }], serve: { variation: 0 } },
                ],
              })
            }
          >
            Add rule
          </button>
        )}
      </section>

      <section aria-labelledby={`default-${environment.key}`}>
        <h3 id={`default-${environment.key}`}>Default</h3>
        <ServeEditor
          label="When no target or rule matches, serve"
          serve={draft.fallthrough}
          variations={variations}
          readOnly={readOnly}
          onChange={(fallthrough) => set({ fallthrough })}
        />
        <label>
          While off, serve
          <select
            value={String(draft.offVariation)}
            disabled={readOnly}
            onChange={(e) => set({ offVariation: Number(e.currentTarget.value) })}
          >
            {variations.map((_, i) => (
              <option key={i} value={String(i)}>
                {variationLabel(variations, i)}
              </option>
            ))}
          </select>
        </label>
      </section>

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
