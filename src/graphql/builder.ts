import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { GraphQLError, getNamedType } from 'graphql';
import type { Permission } from '../auth/permissions.js';
import { hasPermission } from '../auth/principal.js';
import { DEFAULT_LIMIT } from '../common/pagination.js';
import type { GraphQLContext } from './context.js';
import MutationScopesPlugin from './mutation-scopes.js';

/**
 * The one place management authorization is decided: every query, mutation and sensitive field
 * names the scopes it needs; the scopes are lookups in the principal's permission set. A mutation
 * is authorized whole before it runs, including what its selection reads (mutation-scopes.ts).
 */
export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  AuthScopes: {
    authenticated: boolean;
    permission: Permission;
    /** Any one of these permissions. */
    anyPermission: readonly Permission[];
    /** A permission that, for environment-narrowed tokens, must also cover this environment. */
    environmentPermission: { permission: Permission; environmentId: string };
    /** The permission in every one of these environments (a change that reaches all of them). */
    everyEnvironmentPermission: { permission: Permission; environmentIds: readonly string[] };
  };
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
  };
  DefaultFieldNullability: false;
}>({
  // Order matters: scope-auth wraps outermost, so a mutation's own scopes are checked first.
  plugins: [ScopeAuthPlugin, MutationScopesPlugin, ComplexityPlugin],
  // What a field costs, for the operation limits (graphql/limits.ts): one, and a page multiplies
  // what it selects by its `limit`. Lists of stored JSON (rules, clauses, values) do not multiply;
  // fields that read a list from the database declare their own multiplier where they are defined.
  complexity: {
    fieldComplexity: (args, _ctx, field) =>
      getNamedType(field.type).name.endsWith('Page')
        ? { field: 1, multiplier: typeof args['limit'] === 'number' ? args['limit'] : DEFAULT_LIMIT }
        : { field: 1, multiplier: 1 },
  },
  defaultFieldNullability: false,
  scopeAuth: {
    authorizeOnSubscribe: true,
    cacheKey: (value) => JSON.stringify(value),
    authScopes: (ctx) => ({
      authenticated: !!ctx.principal,
      permission: (permission) => hasPermission(ctx.principal, permission),
      anyPermission: (permissions) => permissions.some((p) => hasPermission(ctx.principal, p)),
      environmentPermission: ({ permission, environmentId }) => hasPermission(ctx.principal, permission, environmentId),
      everyEnvironmentPermission: ({ permission, environmentIds }) =>
        hasPermission(ctx.principal, permission) &&
        environmentIds.every((environmentId) => hasPermission(ctx.principal, permission, environmentId)),
    }),
    unauthorizedError: (_parent, ctx) =>
      ctx.principal
        ? new GraphQLError('Insufficient permissions', { extensions: { code: 'FORBIDDEN' } })
        : new GraphQLError('authentication required', { extensions: { code: 'UNAUTHENTICATED' } }),
  },
});

builder.scalarType('DateTime', {
  description: 'An ISO-8601 timestamp in UTC.',
  serialize: (value) => (value instanceof Date ? value.toISOString() : String(value)),
  parseValue: (value) => {
    const date = new Date(String(value));
    if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO-8601 timestamp');
    return date;
  },
});

builder.scalarType('JSON', {
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
