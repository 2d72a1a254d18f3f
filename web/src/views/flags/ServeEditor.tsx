import type { VariablesOf } from '../../graphql/index.ts';
import type { UpdateFlagStateMutation } from './Targeting.tsx';
import { evenWeights, percent, setWeight, TOTAL } from './weights.ts';

export type ServeInput = NonNullable<VariablesOf<typeof UpdateFlagStateMutation>['input']['fallthrough']>;
export interface VariationOption {
  name?: string | null;
  value?: unknown;
}

export const variationLabel = (variations: VariationOption[], index: number) => {
  const v = variations[index];
  if (!v) return `#${index}`;
  const value = typeof v.value === 'string' ? v.value : JSON.stringify(v.value);
  return v.name ? `${v.name} (${value})` : value;
};

/** What a rule or the fallthrough serves: one variation, or a percentage rollout over all of them. */
export function ServeEditor(props: {
  label: string;
  serve: ServeInput;
  variations: VariationOption[];
  readOnly: boolean;
  onChange: (serve: ServeInput) => void;
}) {
  const { serve, variations } = props;
  const rollout = serve.rollout ?? null;
  const weights = variations.map((_, i) => rollout?.variations.find((w) => w.variation === i)?.weight ?? 0);
  const sum = weights.reduce((a, b) => a + b, 0);
  const choose = (value: string) => {
    if (value === 'rollout') {
      props.onChange({
        rollout: {
          bucketBy: null,
          variations: evenWeights(variations.length).map((weight, variation) => ({ variation, weight })),
        },
      });
    } else props.onChange({ variation: Number(value) });
  };
  const withWeights = (next: number[]) =>
    props.onChange({
      rollout: { ...rollout, variations: next.map((weight, variation) => ({ variation, weight })) },
    });
  return (
    <div class="serve">
      <label>
        {props.label}
        <select
          value={rollout ? 'rollout' : String(serve.variation ?? 0)}
          disabled={props.readOnly}
          onChange={(e) => choose(e.currentTarget.value)}
        >
          {variations.map((_, i) => (
            <option key={i} value={String(i)}>
              {variationLabel(variations, i)}
            </option>
          ))}
          <option value="rollout">A percentage rollout</option>
        </select>
      </label>
      {rollout && (
        <fieldset class="rollout">
          <legend>Rollout weights</legend>
          {variations.map((_, i) => (
            <div class="weight" key={i}>
              <label>
                <span>{variationLabel(variations, i)}</span>
                <input
                  type="number"
                  min={0}
                  max={100}
                  step={0.001}
                  value={(weights[i] ?? 0) / 1000}
                  disabled={props.readOnly}
                  onChange={(e) => withWeights(setWeight(weights, i, Number(e.currentTarget.value) * 1000))}
                />
                <span aria-hidden="true">%</span>
              </label>
              <meter min={0} max={TOTAL} value={weights[i] ?? 0} aria-hidden="true" />
            </div>
          ))}
          <p class={`muted ${sum === TOTAL ? '' : 'error-note'}`} role="status">
            Total {percent(sum)}
          </p>
          <label>
            Bucket by attribute
            <input
              value={rollout.bucketBy ?? ''}
              placeholder="key"
              disabled={props.readOnly}
              onChange={(e) =>
                props.onChange({ rollout: { ...rollout, bucketBy: e.currentTarget.value.trim() || null } })
              }
            />
          </label>
        </fieldset>
      )}
    </div>
  );
}
