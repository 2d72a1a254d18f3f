import type { VariablesOf } from '../../graphql/index.ts';
import { ListInput } from '../../ui/ListInput.tsx';
import type { UpdateFlagStateMutation } from './Targeting.tsx';
import { formatValue, parseClauseValue } from './values.ts';

type RuleInput = NonNullable<VariablesOf<typeof UpdateFlagStateMutation>['input']['rules']>[number];
export type ClauseInput = RuleInput['clauses'][number];
export type Operator = ClauseInput['op'];

/** Every clause operator of the evaluation engine, in the words a person reads them in. */
export const OPERATORS: { op: Operator; label: string; hint?: string }[] = [
  { op: 'in', label: 'is one of' },
  { op: 'notIn', label: 'is not one of' },
  { op: 'contains', label: 'contains' },
  { op: 'startsWith', label: 'starts with' },
  { op: 'endsWith', label: 'ends with' },
  { op: 'matches', label: 'matches the pattern', hint: 'RE2 regular expressions' },
  { op: 'lt', label: '<' },
  { op: 'lte', label: '≤' },
  { op: 'gt', label: '>' },
  { op: 'gte', label: '≥' },
  { op: 'semverEq', label: 'is version', hint: 'semantic versions such as 2.1.0' },
  { op: 'semverLt', label: 'is a version before' },
  { op: 'semverGt', label: 'is a version after' },
  { op: 'before', label: 'is a date before', hint: 'ISO 8601 dates or Unix milliseconds' },
  { op: 'after', label: 'is a date after', hint: 'ISO 8601 dates or Unix milliseconds' },
  { op: 'segmentMatch', label: 'is in segment' },
];

export function ClauseEditor(props: {
  clause: ClauseInput;
  index: number;
  segments: { key: string; name: string }[];
  readOnly: boolean;
  onChange: (clause: ClauseInput) => void;
  onRemove: () => void;
}) {
  const { clause } = props;
  const id = `clause-${props.index}`;
  const isSegment = clause.op === 'segmentMatch';
  const hint = OPERATORS.find((o) => o.op === clause.op)?.hint;
  const values = (clause.values ?? []) as unknown[];
  return (
    <fieldset class="clause">
      <legend class="visually-hidden">Condition {props.index + 1}</legend>
      {!isSegment && (
        <label>
          <span>Attribute</span>
          <input
            value={clause.attribute ?? ''}
            placeholder="email"
            required
            disabled={props.readOnly}
            onInput={(e) => props.onChange({ ...clause, attribute: e.currentTarget.value.trim() })}
          />
        </label>
      )}
      <label class="check">
        <input
          type="checkbox"
          checked={clause.negate ?? false}
          disabled={props.readOnly}
          onChange={(e) => props.onChange({ ...clause, negate: e.currentTarget.checked })}
        />
        not
      </label>
      <label>
        <span>Operator</span>
        <select
          value={clause.op}
          disabled={props.readOnly}
          onChange={(e) => {
            const op = e.currentTarget.value as Operator;
            props.onChange({
              ...clause,
              op,
              attribute: op === 'segmentMatch' ? null : (clause.attribute ?? ''),
              values:
                op === 'segmentMatch' || clause.op === 'segmentMatch'
                  ? []
                  : values.map((v) => parseClauseValue(op, formatValue(v))),
            });
          }}
        >
          {OPERATORS.map((o) => (
            <option key={o.op} value={o.op}>
              {o.label}
            </option>
          ))}
        </select>
      </label>
      {isSegment ? (
        <label class="grow">
          <span>Segments</span>
          <select
            multiple
            disabled={props.readOnly}
            onChange={(e) =>
              props.onChange({ ...clause, values: [...e.currentTarget.selectedOptions].map((o) => o.value) })
            }
          >
            {props.segments.map((s) => (
              <option key={s.key} value={s.key} selected={values.includes(s.key)}>
                {s.name} ({s.key})
              </option>
            ))}
          </select>
        </label>
      ) : (
        <label class="grow">
          <span>Values, one per line</span>
          <ListInput
            id={`${id}-values`}
            rows={Math.min(4, Math.max(1, values.length))}
            values={values.map(formatValue)}
            split={/\n/}
            join={'\n'}
            disabled={props.readOnly}
            onCommit={(lines) =>
              props.onChange({ ...clause, values: lines.map((v) => parseClauseValue(clause.op, v)) })
            }
          />
          {hint && <small class="muted">{hint}</small>}
        </label>
      )}
      {!props.readOnly && (
        <button type="button" class="small" onClick={props.onRemove} aria-label={`Remove condition ${props.index + 1}`}>
          Remove
        </button>
      )}
    </fieldset>
  );
}
