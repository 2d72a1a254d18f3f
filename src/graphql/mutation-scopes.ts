import SchemaBuilder, {
  BasePlugin,
  type PothosOutputFieldConfig,
  PothosSchemaError,
  type SchemaTypes,
} from '@pothos/core';
import { type AuthFailure, RequestCache } from '@pothos/plugin-scope-auth';
import {
  type FieldNode,
  type GraphQLFieldResolver,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  getNamedType,
  isAbstractType,
  isInterfaceType,
  isObjectType,
} from 'graphql';
// The function graphql-js's own executor uses to find the fields it will resolve (fragments,
// @skip/@include, type conditions), so this check sees exactly the selection execution will run.
import { collectSubfields } from 'graphql/execution/collectFields.js';

/**
 * scope-auth checks a type's `authScopes` when the first field of an object of that type
 * resolves, that is after its parent field's resolver has run. For a query that is fine; for a
 * mutation it means the write has committed before the answer is refused (deleteAccessToken
 * selecting `{ id }` without token:list deleted the token, then answered FORBIDDEN).
 *
 * This plugin decides a mutation's whole authorization before its resolver runs: the mutation
 * field's own scopes (scope-auth, which wraps outside this plugin), then the scopes of every type
 * and field its selection reaches, evaluated with scope-auth's own per-request cache. So nested
 * scopes must not depend on the parent object (there is none yet): `afterBuild` refuses a schema
 * in which a type or field reachable from a mutation has function `authScopes`.
 */
/** A static scope map as written in a type's or field's options (checked by scope-auth's types there). */
type ScopeMap = object;

interface ScopeOptions {
  authScopes?: unknown;
  skipTypeScopes?: boolean;
  skipInterfaceScopes?: boolean;
}

const optionsOf = (thing: { extensions?: unknown }): ScopeOptions =>
  ((thing.extensions as { pothosOptions?: ScopeOptions } | undefined)?.pothosOptions ?? {}) as ScopeOptions;

function objectTypesOf(schema: GraphQLSchema, type: GraphQLNamedType): readonly GraphQLObjectType[] {
  if (isAbstractType(type)) return schema.getPossibleTypes(type);
  return isObjectType(type) ? [type] : [];
}

/** The scope maps a selection of `type` asks for: each selected field's, and each type's it reads fields of. */
function collectScopeMaps(
  info: GraphQLResolveInfo,
  type: GraphQLOutputType,
  fieldNodes: readonly FieldNode[],
  maps: Set<ScopeMap>,
): void {
  for (const object of objectTypesOf(info.schema, getNamedType(type))) {
    const selected = collectSubfields(info.schema, info.fragments, info.variableValues, object, fieldNodes);
    let readsTypeFields = false;
    for (const nodes of selected.values()) {
      const name = nodes[0]!.name.value;
      const field = object.getFields()[name];
      if (!field) continue; // __typename: no resolver, no scopes
      const options = optionsOf(field);
      if (!options.skipTypeScopes) readsTypeFields = true;
      if (options.authScopes) maps.add(options.authScopes as ScopeMap);
      collectScopeMaps(info, field.type, nodes, maps);
    }
    if (!readsTypeFields) continue;
    const typeOptions = optionsOf(object);
    if (typeOptions.authScopes) maps.add(typeOptions.authScopes as ScopeMap);
    if (typeOptions.skipInterfaceScopes) continue;
    for (const iface of object.getInterfaces()) {
      const scopes = optionsOf(iface).authScopes;
      if (scopes) maps.add(scopes as ScopeMap);
    }
  }
}

/** Every `Type` and `Type.field` reachable from a mutation's result whose authScopes is a function. */
function dynamicScopesBelowMutations(schema: GraphQLSchema): string[] {
  const offenders: string[] = [];
  const seen = new Set<string>();
  const queue: GraphQLNamedType[] = Object.values(schema.getMutationType()?.getFields() ?? {}).map((f) =>
    getNamedType(f.type),
  );
  while (queue.length > 0) {
    const type = queue.pop()!;
    if (seen.has(type.name)) continue;
    seen.add(type.name);
    if (isAbstractType(type)) queue.push(...schema.getPossibleTypes(type));
    if (!isObjectType(type) && !isInterfaceType(type)) continue;
    if (typeof optionsOf(type).authScopes === 'function') offenders.push(type.name);
    for (const field of Object.values(type.getFields())) {
      if (typeof optionsOf(field).authScopes === 'function') offenders.push(`${type.name}.${field.name}`);
      queue.push(getNamedType(field.type));
    }
  }
  return offenders;
}

export class MutationScopesPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override afterBuild(schema: GraphQLSchema): GraphQLSchema {
    const offenders = dynamicScopesBelowMutations(schema);
    if (offenders.length > 0) {
      throw new PothosSchemaError(
        `authScopes reachable from a mutation's result must be scope maps, not functions of the parent (a mutation is authorized before it has one): ${offenders.join(', ')}`,
      );
    }
    return schema;
  }

  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    if (this.buildCache.getTypeConfig(fieldConfig.parentType).kind !== 'Mutation') return resolver;
    return async (parent, args, context, info) => {
      const maps = new Set<ScopeMap>();
      collectScopeMaps(info, info.returnType, info.fieldNodes, maps);
      const cache = RequestCache.fromContext(context, this.builder);
      for (const map of maps) {
        const failure = await cache.evaluateScopeMap(map as never, info);
        if (failure) throw this.unauthorized(parent, context, info, failure);
      }
      return resolver(parent, args, context, info);
    };
  }

  private unauthorized(parent: unknown, context: Types['Context'], info: GraphQLResolveInfo, failure: AuthFailure) {
    const message = `Not authorized to read the result of ${info.parentType.name}.${info.fieldName}`;
    const error = this.builder.options.scopeAuth?.unauthorizedError?.(parent as never, context, info, {
      message,
      failure,
    });
    return error instanceof Error ? error : new Error(error ?? message);
  }
}

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      mutationScopes: MutationScopesPlugin<Types>;
    }
  }
}

SchemaBuilder.registerPlugin('mutationScopes', MutationScopesPlugin);

export default 'mutationScopes' as const;
