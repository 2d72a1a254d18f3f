import { type Static, Type } from 'typebox';
import { OPERATORS } from '../../evaluation/index.js';
import { Int32, Json, Nullable, strict } from '../../rest/route.js';

/**
 * The targeting vocabulary of flag states and segments over REST: the GraphQL types' fields in
 * snake_case (a clause's `op` is the reference's `operator`), selected by the fragments below and
 * mapped back to GraphQL's input types by the functions at the end.
 */

export const CLAUSE = 'fragment RestClause on Clause { attribute operator: op values negate }';
export const SERVE =
  'fragment RestServe on Serve { variation rollout { variations { variation weight } bucket_by: bucketBy salt } }';

const Operator = Type.Enum([...OPERATORS]);
const Weighted = Type.Object({ variation: Int32({ minimum: 0 }), weight: Int32({ minimum: 0 }) }, strict);

export const Clause = Type.Object({
  attribute: Type.String({ description: 'Ignored by segmentMatch.' }),
  operator: Operator,
  values: Type.Array(Json),
  negate: Type.Boolean(),
});
export const Serve = Type.Object({
  variation: Nullable(Type.Integer()),
  rollout: Nullable(
    Type.Object({
      variations: Type.Array(
        Type.Object({
          variation: Type.Integer(),
          weight: Type.Integer({ description: 'In thousandths of a percent; a rollout sums to 100000.' }),
        }),
      ),
      bucket_by: Nullable(Type.String()),
      salt: Nullable(Type.String()),
    }),
  ),
});

export const ClauseInput = Type.Object(
  {
    attribute: Type.Optional(Type.String({ description: 'Required except for segmentMatch.' })),
    operator: Operator,
    values: Type.Array(Json, { description: 'Strings, numbers or booleans, as the operator needs.' }),
    negate: Type.Optional(Type.Boolean()),
  },
  strict,
);
export const ServeInput = Type.Object(
  {
    variation: Type.Optional(Int32({ minimum: 0 })),
    rollout: Type.Optional(
      Type.Object(
        {
          variations: Type.Array(Weighted),
          bucket_by: Type.Optional(Type.String()),
          salt: Type.Optional(Type.String()),
        },
        strict,
      ),
    ),
  },
  { ...strict, description: 'Exactly one of variation or rollout.' },
);

export const toClause = (c: Static<typeof ClauseInput>) => ({
  attribute: c.attribute,
  op: c.operator,
  values: c.values,
  negate: c.negate,
});

export const toServe = (s: Static<typeof ServeInput>) => ({
  variation: s.variation,
  rollout: s.rollout && { variations: s.rollout.variations, bucketBy: s.rollout.bucket_by, salt: s.rollout.salt },
});
