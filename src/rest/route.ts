import { type Static, type TObject, type TSchema, Type } from 'typebox';
import type { Permission } from '../auth/permissions.js';
import { DEFAULT_LIMIT, MAX_LIMIT } from '../common/pagination.js';

/**
 * One route of the REST management API: its method and path, the TypeBox schemas fastify
 * validates its input with (and serializes its answer with), the GraphQL operation it runs
 * against the same schema as /graphql, and the mapping both ways: path, query and body to the
 * operation's variables, the operation's data to the REST body. Authorization, input checks and
 * rate limits are the operation's (graphql/): a route decides nothing itself.
 *
 * To add a route (approvals, invitations, metrics, webhooks…): give the module its GraphQL field
 * first, then declare the route in the module's routes.ts with `defineRoute` and list it in
 * src/routes.ts. fastify, /docs and schema/openapi.json pick it up from there (`npm run openapi`).
 */
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
}

// biome-ignore lint/complexity/noBannedTypes: the schema of "no input"
type None = TObject<{}>;

export interface RestRoute<P extends TSchema = None, Q extends TSchema = None, B extends TSchema = None> {
  /** What it does, as an identifier: the OpenAPI operationId (`listFlags`, `updateFlagState`). */
  name: string;
  method: Method;
  /** A fastify path: `/v1/projects/:id/flags/:key`. */
  url: string;
  /** The group it is listed under in /docs. */
  tag: string;
  summary: string;
  description?: string;
  /**
   * What the operation requires, for the documentation and the role tables of the tests: the
   * permission (or any one of several). The GraphQL schema decides; this only says what it decides.
   */
  permission: Permission | readonly Permission[];
  params?: P;
  query?: Q;
  body?: B;
  /**
   * A path parameter naming a project by id or by slug: a slug is looked up first
   * (`project(slug)`), so the operation always gets the id.
   */
  projectParam?: keyof Static<P> & string;
  /** The success status; 204 answers no body. */
  status: 200 | 201 | 204;
  /** The success body's schema (required unless 204). */
  response?: TSchema;
  /**
   * A change that may wait for approval: where the data says it became a pending change (`from`
   * answers it, else null), the route answers 202 Accepted with it, in `response`'s shape.
   */
  accepted?: {
    response: TSchema;
    // biome-ignore lint/suspicious/noExplicitAny: the operation's data, shaped by its selection
    from(data: any): unknown;
  };
  /** One GraphQL document with one operation (and the fragments it spreads). */
  operation: string;
  variables(input: RouteInput<Static<P>, Static<Q>, Static<B>>): Record<string, unknown>;
  // biome-ignore lint/suspicious/noExplicitAny: the operation's data, shaped by its selection
  result?(data: any): unknown;
}

/** A route, typed from its schemas (the mapping functions see the validated input). */
export function defineRoute<P extends TSchema = None, Q extends TSchema = None, B extends TSchema = None>(
  route: RestRoute<P, Q, B>,
): RestRoute<P, Q, B> {
  return route;
}

/** A route of any input, as the table holds it. */
// biome-ignore lint/suspicious/noExplicitAny: a table of routes of different inputs
export type AnyRoute = RestRoute<any, any, any>;

// ---- Shapes every resource uses ----------------------------------------------------------------

/** Object schemas that refuse properties they do not declare (every REST body and answer). */
export const strict = { additionalProperties: false } as const;

export const Uuid = Type.String({ format: 'uuid' });
/** RFC 3339, UTC. */
export const Timestamp = Type.String({ format: 'date-time' });
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
/** Any JSON value (a variation's value, a clause's values, audit details). */
export const Json = Type.Unknown();
/** GraphQL's Int: 32-bit, so a larger number is refused here rather than by the operation. */
export const Int32 = (options: { minimum?: number; maximum?: number; default?: number; description?: string } = {}) =>
  Type.Integer({ minimum: -2_147_483_648, maximum: 2_147_483_647, ...options });

/** `limit` and `offset` of every list. */
export const PageQuery = {
  limit: Type.Optional(
    Int32({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT, description: `Items per page, 1-${MAX_LIMIT}.` }),
  ),
  offset: Type.Optional(Int32({ minimum: 0, default: 0, description: 'Items to skip.' })),
};

/** The page envelope of the API reference. */
export const Page = <T extends TSchema>(item: T) =>
  Type.Object({
    data: Type.Array(item),
    total: Type.Integer(),
    limit: Type.Integer(),
    offset: Type.Integer(),
    has_more: Type.Boolean(),
  });

/** The page envelope's fields as GraphQL selects them. */
export const PAGE_FIELDS = 'total limit offset has_more: hasMore';

/** A project path parameter: its id, or its slug. */
export const ProjectRef = Type.String({
  minLength: 1,
  maxLength: 63,
  description: "The project's id or its slug.",
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string) => UUID.test(value);

/** GraphQL enum values are upper case where REST's are lower case (SdkKeyKind, AccessTokenKind). */
export const lower = (value: string) => value.toLowerCase();
export const upper = (value: string) => value.toUpperCase();
