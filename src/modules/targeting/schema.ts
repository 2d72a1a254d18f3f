import { ValidationError } from '../../errors.js';
import {
  type Clause,
  type ClauseValue,
  OPERATORS,
  type Prerequisite,
  type Rollout,
  type Rule,
  type SegmentRule,
  type Serve,
  type Target,
  type WeightedVariation,
} from '../../evaluation/index.js';
import { builder } from '../../graphql/builder.js';

// The targeting vocabulary shared by flag states and segments, as GraphQL output and input types.
// Variation values and clause values are the only JSON-typed leaves.

export const ClauseOperatorEnum = builder.enumType('ClauseOperator', { values: OPERATORS });

export const ClauseType = builder.objectRef<Clause>('Clause').implement({
  description: 'A condition on one context attribute; the clauses of a rule are AND-ed.',
  fields: (t) => ({
    attribute: t.exposeString('attribute', { description: 'Ignored by segmentMatch.' }),
    op: t.field({ type: ClauseOperatorEnum, resolve: (c) => c.op }),
    values: t.field({ type: ['JSON'], resolve: (c) => c.values }),
    negate: t.boolean({ resolve: (c) => c.negate ?? false }),
  }),
});

const WeightedVariationType = builder.objectRef<WeightedVariation>('WeightedVariation').implement({
  fields: (t) => ({
    variation: t.exposeInt('variation'),
    weight: t.exposeInt('weight', {
      description: 'In thousandths of a percent; the weights of a rollout sum to 100000.',
    }),
  }),
});

const RolloutType = builder.objectRef<Rollout>('Rollout').implement({
  fields: (t) => ({
    variations: t.field({ type: [WeightedVariationType], resolve: (r) => r.variations }),
    bucketBy: t.string({ nullable: true, resolve: (r) => r.bucketBy ?? null }),
    salt: t.string({ nullable: true, resolve: (r) => r.salt ?? null }),
  }),
});

export const ServeType = builder.objectRef<Serve>('Serve').implement({
  description: 'What a rule or the fallthrough serves: exactly one of a variation index or a rollout.',
  fields: (t) => ({
    variation: t.int({ nullable: true, resolve: (s) => ('variation' in s ? s.variation : null) }),
    rollout: t.field({ type: RolloutType, nullable: true, resolve: (s) => ('rollout' in s ? s.rollout : null) }),
  }),
});

export const FlagRuleType = builder.objectRef<Rule>('FlagRule').implement({
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Stable across edits; evaluation results name the rule that matched by it.' }),
    description: t.string({ nullable: true, resolve: (r) => r.description ?? null }),
    clauses: t.field({ type: [ClauseType], resolve: (r) => r.clauses }),
    serve: t.field({ type: ServeType, resolve: (r) => r.serve }),
  }),
});

export const FlagTargetType = builder.objectRef<Target>('FlagTarget').implement({
  description: 'Context keys that get one variation.',
  fields: (t) => ({
    variation: t.exposeInt('variation'),
    values: t.exposeStringList('values'),
  }),
});

export const PrerequisiteType = builder.objectRef<Prerequisite>('FlagPrerequisite').implement({
  fields: (t) => ({
    key: t.exposeString('key'),
    variation: t.exposeInt('variation'),
  }),
});

export const SegmentRuleType = builder.objectRef<SegmentRule>('SegmentRule').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    clauses: t.field({ type: [ClauseType], resolve: (r) => r.clauses }),
  }),
});

export const ClauseInput = builder.inputType('ClauseInput', {
  fields: (t) => ({
    attribute: t.string({ required: false, description: 'Required except for segmentMatch.' }),
    op: t.field({ type: ClauseOperatorEnum, required: true }),
    values: t.field({
      type: ['JSON'],
      required: true,
      description: 'Strings, numbers or booleans, as the operator needs.',
    }),
    negate: t.boolean({ required: false }),
  }),
});
const WeightedVariationInput = builder.inputType('WeightedVariationInput', {
  fields: (t) => ({ variation: t.int({ required: true }), weight: t.int({ required: true }) }),
});
const RolloutInput = builder.inputType('RolloutInput', {
  fields: (t) => ({
    variations: t.field({ type: [WeightedVariationInput], required: true }),
    bucketBy: t.string({ required: false }),
    salt: t.string({ required: false }),
  }),
});
export const ServeInput = builder.inputType('ServeInput', {
  description: 'Exactly one of variation or rollout.',
  fields: (t) => ({ variation: t.int({ required: false }), rollout: t.field({ type: RolloutInput, required: false }) }),
});
export const FlagRuleInput = builder.inputType('FlagRuleInput', {
  fields: (t) => ({
    id: t.string({
      required: false,
      description: "Keep an existing rule's id; omitted for a new rule, one is generated.",
    }),
    description: t.string({ required: false }),
    clauses: t.field({ type: [ClauseInput], required: true }),
    serve: t.field({ type: ServeInput, required: true }),
  }),
});
export const FlagTargetInput = builder.inputType('FlagTargetInput', {
  fields: (t) => ({ variation: t.int({ required: true }), values: t.stringList({ required: true }) }),
});
export const PrerequisiteInput = builder.inputType('FlagPrerequisiteInput', {
  fields: (t) => ({ key: t.string({ required: true }), variation: t.int({ required: true }) }),
});
export const SegmentRuleInput = builder.inputType('SegmentRuleInput', {
  fields: (t) => ({
    id: t.string({
      required: false,
      description: "Keep an existing rule's id; omitted for a new rule, one is generated.",
    }),
    clauses: t.field({ type: [ClauseInput], required: true }),
  }),
});

// From GraphQL input shapes (null for "absent") to the engine's types (absent for "absent").

type ClauseArg = { attribute?: string | null; op: Clause['op']; values: unknown[]; negate?: boolean | null };
type ServeArg = {
  variation?: number | null;
  rollout?: { variations: WeightedVariation[]; bucketBy?: string | null; salt?: string | null } | null;
};

export function toClause(input: ClauseArg): Clause {
  return {
    attribute: input.attribute ?? '',
    op: input.op,
    values: input.values as ClauseValue[],
    ...(input.negate != null ? { negate: input.negate } : {}),
  };
}

export function toServe(input: ServeArg, path: string): Serve {
  if ((input.variation == null) === (input.rollout == null)) {
    const message = 'serve exactly one of variation or rollout';
    throw new ValidationError(`${path}: ${message}`, { problems: [{ path, message }] });
  }
  if (input.variation != null) return { variation: input.variation };
  const rollout = input.rollout!;
  return {
    rollout: {
      variations: rollout.variations.map((v) => ({ variation: v.variation, weight: v.weight })),
      ...(rollout.bucketBy != null ? { bucketBy: rollout.bucketBy } : {}),
      ...(rollout.salt != null ? { salt: rollout.salt } : {}),
    },
  };
}

export function toRule(
  input: { id?: string | null; description?: string | null; clauses: ClauseArg[]; serve: ServeArg },
  path: string,
) {
  return {
    id: input.id ?? null,
    clauses: input.clauses.map(toClause),
    serve: toServe(input.serve, `${path}.serve`),
    ...(input.description != null ? { description: input.description } : {}),
  };
}
