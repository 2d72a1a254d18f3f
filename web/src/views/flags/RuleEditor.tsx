import type { VariablesOf } from '../../graphql/index.ts';
import { ClauseEditor } from './ClauseEditor.tsx';
import { ServeEditor, type VariationOption } from './ServeEditor.tsx';
import type { UpdateFlagStateMutation } from './Targeting.tsx';

export type RuleInput = NonNullable<VariablesOf<typeof UpdateFlagStateMutation>['input']['rules']>[number];

/** One rule: its conditions (all must hold), what it serves, and its place in the order. */
export function RuleEditor(props: {
  rule: RuleInput;
  index: number;
  count: number;
  variations: VariationOption[];
  segments: { key: string; name: string }[];
  readOnly: boolean;
  onChange: (rule: RuleInput) => void;
  onMove: (delta: -1 | 1) => void;
  onRemove: () => void;
}) {
  const { rule } = props;
  const n = props.index + 1;
  return (
    <li class="rule" aria-label={`Rule ${n}`}>
      <header class="rule-header">
        <h4>Rule {n}</h4>
        <label class="grow">
          <span class="visually-hidden">Description of rule {n}</span>
          <input
            value={rule.description ?? ''}
            placeholder="Description"
            disabled={props.readOnly}
            onInput={(e) => props.onChange({ ...rule, description: e.currentTarget.value || null })}
          />
        </label>
        {!props.readOnly && (
          <div class="actions">
            <button
              type="button"
              class="small"
              disabled={props.index === 0}
              onClick={() => props.onMove(-1)}
              aria-label={`Move rule ${n} up`}
            >
              ↑
            </button>
            <button
              type="button"
              class="small"
              disabled={props.index === props.count - 1}
              onClick={() => props.onMove(1)}
              aria-label={`Move rule ${n} down`}
            >
              ↓
            </button>
            <button type="button" class="small danger" onClick={props.onRemove} aria-label={`Delete rule ${n}`}>
              Delete
            </button>
          </div>
        )}
      </header>
      <p class="muted">If all of these hold:</p>
      {rule.clauses.map((clause, i) => (
        <ClauseEditor
          key={i}
          clause={clause}
          index={i}
          segments={props.segments}
          readOnly={props.readOnly}
          onChange={(next) => props.onChange({ ...rule, clauses: rule.clauses.map((c, j) => (j === i ? next : c)) })}
          onRemove={() => props.onChange({ ...rule, clauses: rule.clauses.filter((_, j) => j !== i) })}
        />
      ))}
      {!props.readOnly && (
        <button
          type="button"
          class="small"
          onClick={() =>
            props.onChange({
              ...rule,
              clauses: [...rule.clauses, { attribute: '', op: 'in', negate: false, values: [] }],
            })
          }
        >
          Add condition
        </button>
      )}
      <ServeEditor
        label={`Rule ${n} serves`}
        serve={rule.serve}
        variations={props.variations}
        readOnly={props.readOnly}
        onChange={(serve) => props.onChange({ ...rule, serve })}
      />
    </li>
  );
}
