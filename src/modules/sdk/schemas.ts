import { Type } from 'typebox';
import { strict } from '../../rest/route.js';

/**
 * Request schemas of the SDK doors. Unknown fields are refused (400 naming the field); contexts
 * are open objects checked by context.ts, since every member but `key` and `kind` is an attribute.
 */
const FlagKey = Type.String({ minLength: 1, maxLength: 100 });
const Context = Type.Unknown();

export const MAX_BULK_KEYS = 1000;
export const MAX_TRACK_EVENTS = 1000;

export const EvaluateBody = Type.Object({ flag_key: FlagKey, context: Type.Optional(Context) }, strict);

export const BulkBody = Type.Object(
  { flag_keys: Type.Optional(Type.Array(FlagKey, { maxItems: MAX_BULK_KEYS })), context: Type.Optional(Context) },
  strict,
);

export const ClientQuery = Type.Object({
  context: Type.Optional(Type.String()),
  key: Type.Optional(Type.String({ maxLength: 256 })),
});

/** The largest magnitude of a custom event's `value` (a quadrillion). */
export const MAX_EVENT_VALUE = 1e15;

/** One event; which fields a kind requires (and forbids) is checked in track.ts. */
export const TrackEvent = Type.Object(
  {
    kind: Type.Union([Type.Literal('impression'), Type.Literal('custom')]),
    flag_key: Type.Optional(FlagKey),
    // An index into a flag's variations, stored as a 32-bit integer.
    variation: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_147_483_647 })),
    key: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    context_key: Type.String({ minLength: 1, maxLength: 256 }),
    // Bounded so that no sum of them can overflow a double in the rollups and metrics reads
    // (two 1e308 values would make every read of the project's event metrics fail).
    value: Type.Optional(Type.Number({ minimum: -MAX_EVENT_VALUE, maximum: MAX_EVENT_VALUE })),
    data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /** Epoch milliseconds or an RFC 3339 date-time; default: when the server received it. */
    timestamp: Type.Optional(Type.Union([Type.Number(), Type.String({ maxLength: 40 })])),
  },
  strict,
);

export const TrackBody = Type.Object(
  { events: Type.Array(TrackEvent, { minItems: 1, maxItems: MAX_TRACK_EVENTS }) },
  strict,
);

/** OFREP `evaluationRequest` / `bulkEvaluationRequest`: only `context`. */
export const OfrepBody = Type.Object({ context: Type.Optional(Context) }, strict);
