import type { RuleInput } from './RuleEditor.tsx';
import type { ServeInput } from './ServeEditor.tsx';

/**
 * A flag's targeting in one environment as the editors hold it and FlagStateInput takes it, made
 * from either shape a state arrives in: the API's FlagState, or the JSON a pending change stores
 * (`before`, `proposed`: absent where the API says null). Both go through `draftOf`, so two
 * drafts compare equal exactly when the states do.
 */
export interface Draft {
  offVariation: number;
  targets: { variation: number; values: string[] }[];
  rules: RuleInput[];
  fallthrough: ServeInput;
  prerequisites: { key: string; variation: number }[];
}

interface ServeLike {
  variation?: number | null;
  rollout?: {
    bucketBy?: string | null;
    salt?: string | null;
    variations: { variation: number; weight: number }[];
  } | null;
}

export interface StateLike {
  on?: boolean;
  offVariation: number;
  targets: { variation: number; values: string[] }[];
  rules: {
    id?: string | null;
    description?: string | null;
    clauses: { attribute?: string | null; op: string; negate?: boolean | null; values: unknown[] }[];
    serve: ServeLike;
  }[];
  fallthrough: ServeLike;
  prerequisites: { key: string; variation: number }[];
}

type Operator = RuleInput['clauses'][number]['op'];

const serveInput = (s: ServeLike): ServeInput =>
  s.rollout
    ? {
        rollout: {
          bucketBy: s.rollout.bucketBy ?? null,
          salt: s.rollout.salt ?? null,
          variations: s.rollout.variations.map((w) => ({ variation: w.variation, weight: w.weight })),
        },
      }
    : { variation: s.variation ?? 0 };

export function draftOf(state: StateLike): Draft {
  return {
    offVariation: state.offVariation,
    targets: state.targets.map((t) => ({ variation: t.variation, values: [...t.values] })),
    rules: state.rules.map((r) => ({
      id: r.id,
      description: r.description ?? null,
      clauses: r.clauses.map((c) => ({
        attribute: c.op === 'segmentMatch' ? null : (c.attribute ?? null),
        op: c.op as Operator,
        negate: c.negate ?? false,
        values: c.values,
      })),
      serve: serveInput(r.serve),
    })),
    fallthrough: serveInput(state.fallthrough),
    prerequisites: state.prerequisites.map((p) => ({ key: p.key, variation: p.variation })),
  };
}

/** A stored state (a pending change's JSON) as a whole FlagStateInput, `on` included. */
export const stateInputOf = (json: unknown) => {
  const state = json as StateLike;
  return { on: state.on ?? false, ...draftOf(state) };
};

export const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
