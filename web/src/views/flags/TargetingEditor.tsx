import { ListInput } from '../../ui/ListInput.tsx';
import type { Draft } from './draft.ts';
import { RuleEditor } from './RuleEditor.tsx';
import { ServeEditor, type VariationOption, variationLabel } from './ServeEditor.tsx';

/**
 * The parts of a flag's targeting that are edited together (prerequisites, individual targets,
 * rules, the default): the flag page's editor, and the one that edits a pending request.
 */
export function TargetingEditor(props: {
  draft: Draft;
  onChange: (draft: Draft) => void;
  variations: VariationOption[];
  segments: { key: string; name: string }[];
  otherFlags: { key: string; name: string; variations: VariationOption[] }[];
  readOnly: boolean;
  /** Makes the section headings' ids unique on the page (an environment's key). */
  idPrefix: string;
}) {
  const { draft, variations, segments, otherFlags, readOnly } = props;
  const set = (patch: Partial<Draft>) => props.onChange({ ...draft, ...patch });
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
    <>
      <section aria-labelledby={`prereq-${props.idPrefix}`}>
        <h3 id={`prereq-${props.idPrefix}`}>Prerequisites</h3>
        {draft.prerequisites.length === 0 && <p class="muted">None: the flag does not depend on another.</p>}
        {draft.prerequisites.map((p, i) => {
          const other = otherFlags.find((f) => f.key === p.key);
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
                  {otherFlags.map((f) => (
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
        {!readOnly && otherFlags.length > 0 && (
          <button
            type="button"
            class="small"
            onClick={() => set({ prerequisites: [...draft.prerequisites, { key: otherFlags[0]!.key, variation: 0 }] })}
          >
            Add prerequisite
          </button>
        )}
      </section>

      <section aria-labelledby={`targets-${props.idPrefix}`}>
        <h3 id={`targets-${props.idPrefix}`}>Individual targets</h3>
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

      <section aria-labelledby={`rules-${props.idPrefix}`}>
        <h3 id={`rules-${props.idPrefix}`}>Rules</h3>
        <p class="muted">Checked in order; the first rule whose conditions all hold decides.</p>
        <ol class="rules">
          {draft.rules.map((rule, i) => (
            <RuleEditor
              key={rule.id ?? `new-${i}`}
              rule={rule}
              index={i}
              count={draft.rules.length}
              variations={variations}
              segments={segments}
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

      <section aria-labelledby={`default-${props.idPrefix}`}>
        <h3 id={`default-${props.idPrefix}`}>Default</h3>
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
    </>
  );
}
