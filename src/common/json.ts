/**
 * The limits on a JSON value a caller sends, checked in one pass at the door, so nothing beyond
 * them reaches the engine, a buffer or the database: PostgreSQL stores neither a NUL character nor
 * a lone surrogate in text or jsonb (one such row would fail every batch it is written in), and
 * what walks a value later (JSON.stringify, a driver) may not survive unbounded nesting.
 * JSON.parse itself builds values of any depth.
 */
export interface JsonLimits {
  /** Nesting of objects and arrays, counting the value itself as level 1. */
  depth: number;
  /** UTF-16 code units of one string or member name. */
  string: number;
  /** Values in all (each string, number, object, array...). */
  values: number;
  /** Code units of all strings and member names together. */
  characters: number;
}

/**
 * What an SDK door accepts: the evaluation contexts of /v1/evaluate, /v1/evaluate/bulk,
 * /v1/client and SSE query contexts, OFREP bodies and graphql-ws `flagValues`, and each event of
 * /v1/track (docs/evaluation.md, "Limits on what SDKs send").
 */
export const SDK_JSON_LIMITS: JsonLimits = { depth: 32, string: 8192, values: 10_000, characters: 65_536 };
export const MAX_JSON_DEPTH = SDK_JSON_LIMITS.depth;
export const MAX_JSON_STRING = SDK_JSON_LIMITS.string;
export const MAX_JSON_VALUES = SDK_JSON_LIMITS.values;
export const MAX_JSON_CHARACTERS = SDK_JSON_LIMITS.characters;

/** What any other request may carry (management bodies hold lists of 10,000 keys; the body limit bounds the rest). */
export const REQUEST_JSON_LIMITS: JsonLimits = {
  depth: 64,
  string: 1_048_576,
  values: 1_048_576,
  characters: 1_048_576 * 4,
};

// With the `u` flag a surrogate pair is one code point, so the range only finds lone surrogates.
const UNSTORABLE = /[\0\uD800-\uDFFF]/u;
const SHOWN_NAME = 64;

interface Found {
  /** Path from the checked value to the offending one (`.a[2]`); unset for a limit on the whole. */
  at?: string;
  message: string;
}

// Budgets of the value being checked. The walk is synchronous and calls nothing outside this
// module, so one set of counters serves every call.
let values = 0;
let characters = 0;
let limits: JsonLimits = SDK_JSON_LIMITS;

function textProblem(text: string): Found | null {
  if (text.length > limits.string) return { at: '', message: `is longer than ${limits.string} characters` };
  characters += text.length;
  if (characters > limits.characters)
    return { message: `has more than ${limits.characters} characters of strings and member names` };
  if (!UNSTORABLE.test(text)) return null;
  return { at: '', message: text.includes('\0') ? 'contains a NUL character' : 'contains a lone UTF-16 surrogate' };
}

function under(found: Found, step: string): Found {
  return found.at === undefined ? found : { at: step + found.at, message: found.message };
}

function memberStep(name: string): string {
  return `.${name.length > SHOWN_NAME ? `${name.slice(0, SHOWN_NAME)}…` : name}`;
}

function check(value: unknown, level: number): Found | null {
  if (++values > limits.values) return { message: `has more than ${limits.values} values` };
  switch (typeof value) {
    case 'string':
      return textProblem(value);
    case 'boolean':
      return null;
    case 'number':
      // JSON has no Infinity, but 1e999 parses as one.
      return Number.isFinite(value) ? null : { at: '', message: 'is not a finite number' };
    case 'object': {
      if (value === null) return null;
      if (level > limits.depth) return { at: '', message: `nests objects and arrays deeper than ${limits.depth}` };
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const found = check(value[i], level + 1);
          if (found !== null) return under(found, `[${i}]`);
        }
        return null;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) return { at: '', message: 'is not a JSON value' };
      const members = value as Record<string, unknown>;
      for (const name in members) {
        const badName = textProblem(name);
        if (badName !== null)
          return badName.at === undefined ? badName : { at: '', message: `has a member name that ${badName.message}` };
        const found = check(members[name], level + 1);
        if (found !== null) return under(found, memberStep(name));
      }
      return null;
    }
    default:
      return { at: '', message: 'is not a JSON value' };
  }
}

/**
 * Why `value` is beyond the limits, as a message that starts with `name` and the path inside it
 * (`context.tags[2] contains a NUL character`), or null when it is within them. Nesting counts
 * from `value` itself (level 1); strings are measured in UTF-16 code units.
 */
export function jsonValueProblem(value: unknown, name: string, within: JsonLimits = SDK_JSON_LIMITS): string | null {
  values = 0;
  characters = 0;
  limits = within;
  const found = check(value, 1);
  if (found === null) return null;
  return `${name}${found.at ?? ''} ${found.message}`;
}

/** A request body that does not parse as JSON. */
export const NOT_JSON = 'request body is not valid JSON';

/** A request body secure-json-parse refuses: a member that could reach a prototype. */
export const FORBIDDEN_MEMBER =
  'request body may not hold a "__proto__" member, nor a "constructor" object with a "prototype" member';

/** Why a request body was refused by secure-json-parse (or JSON.parse): which of the two above. */
export function bodyParseProblem(thrown: unknown): string {
  return thrown instanceof SyntaxError && thrown.message === 'Object contains forbidden prototype property'
    ? FORBIDDEN_MEMBER
    : NOT_JSON;
}
