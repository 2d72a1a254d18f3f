import {
  type DocumentNode,
  GraphQLError,
  type GraphQLInputType,
  type GraphQLSchema,
  getNamedType,
  getNullableType,
  getOperationAST,
  isEnumType,
  isInputObjectType,
  isListType,
  Kind,
  type OperationDefinitionNode,
  TypeInfo,
  typeFromAST,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Every value an operation brings, checked before anything runs, whatever the transport:
 * ids are UUIDs, strings hold no NUL byte and have a bounded length, lists a bounded number of
 * items, JSON values a bounded depth. A value that breaks one of these would otherwise reach
 * PostgreSQL (which refuses it with an error) or a loop over a caller-chosen size; here it is a
 * VALIDATION error naming the argument, and nothing has been read or written.
 */
export const INPUT_LIMITS = {
  /** Items of one list argument (the engine's largest list, a target's keys, fits). */
  listItems: 10_000,
  /** Characters of one string. */
  stringLength: 100_000,
  /** Nesting of one JSON value (variation values, clause values). */
  jsonDepth: 32,
} as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Why `value`, given for an input of `type`, is refused, or null when it is acceptable. */
function inputProblem(value: unknown, type: GraphQLInputType, at: string): string | null {
  if (value === null || value === undefined) return null;
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    if (!Array.isArray(value)) return inputProblem(value, nullable.ofType, at);
    if (value.length > INPUT_LIMITS.listItems) return `${at} has more than ${INPUT_LIMITS.listItems} items`;
    for (let i = 0; i < value.length; i++) {
      const problem = inputProblem(value[i], nullable.ofType, `${at}[${i}]`);
      if (problem) return problem;
    }
    return null;
  }
  if (isInputObjectType(nullable)) {
    if (typeof value !== 'object' || Array.isArray(value)) return null;
    const fields = nullable.getFields();
    for (const [name, field] of Object.entries(fields)) {
      const problem = inputProblem((value as Record<string, unknown>)[name], field.type, `${at}.${name}`);
      if (problem) return problem;
    }
    return null;
  }
  if (isEnumType(nullable)) return null;
  switch (nullable.name) {
    case 'ID':
      return typeof value === 'string' && !UUID.test(value) ? `${at} must be a UUID` : null;
    case 'String':
      return typeof value === 'string' ? stringProblem(value, at) : null;
    case 'JSON':
      return jsonProblem(value, at, 0);
    default:
      return typeof value === 'string' ? stringProblem(value, at) : null;
  }
}

function stringProblem(value: string, at: string): string | null {
  if (value.length > INPUT_LIMITS.stringLength) return `${at} is longer than ${INPUT_LIMITS.stringLength} characters`;
  if (value.includes('\u0000')) return `${at} must not contain NUL characters`;
  return null;
}

function jsonProblem(value: unknown, at: string, depth: number): string | null {
  if (typeof value === 'string') return stringProblem(value, at);
  if (typeof value !== 'object' || value === null) return null;
  if (depth >= INPUT_LIMITS.jsonDepth) return `${at} is nested deeper than ${INPUT_LIMITS.jsonDepth} levels`;
  if (Array.isArray(value)) {
    if (value.length > INPUT_LIMITS.listItems) return `${at} has more than ${INPUT_LIMITS.listItems} items`;
    for (let i = 0; i < value.length; i++) {
      const problem = jsonProblem(value[i], `${at}[${i}]`, depth + 1);
      if (problem) return problem;
    }
    return null;
  }
  for (const [key, item] of Object.entries(value)) {
    const problem = stringProblem(key, `${at} key`) ?? jsonProblem(item, `${at}.${key}`, depth + 1);
    if (problem) return problem;
  }
  return null;
}

/** The problem with the operation's literals (checked against the type each stands for) or variables. */
export function operationInputProblem(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): string | null {
  const operation = getOperationAST(document, operationName);
  if (!operation) return null;
  for (const definition of operation.variableDefinitions ?? []) {
    const type = typeFromAST(schema, definition.type) as GraphQLInputType | undefined;
    if (!type) continue;
    const name = definition.variable.name.value;
    const problem = inputProblem(variables?.[name], type, `$${name}`);
    if (problem) return problem;
  }
  return literalProblem(schema, document, operation);
}

function literalProblem(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode) {
  const typeInfo = new TypeInfo(schema);
  let problem: string | null = null;
  const check = (found: string | null) => {
    problem ??= found;
  };
  // Fragments are visited too: their literals are as much the caller's input.
  const nodes = {
    ...document,
    definitions: document.definitions.filter((d) => d === operation || d.kind === Kind.FRAGMENT_DEFINITION),
  };
  visit(
    nodes,
    visitWithTypeInfo(typeInfo, {
      StringValue(node) {
        const type = typeInfo.getInputType();
        const named = type ? getNamedType(type).name : 'String';
        if (named === 'ID') check(UUID.test(node.value) ? null : `"${node.value.slice(0, 40)}" must be a UUID`);
        else check(stringProblem(node.value, 'a string argument'));
      },
      ListValue(node) {
        if (node.values.length > INPUT_LIMITS.listItems)
          check(`a list argument has more than ${INPUT_LIMITS.listItems} items`);
      },
    }),
  );
  return problem;
}

const invalid = (message: string) =>
  new GraphQLError(message, { extensions: { code: 'VALIDATION', http: { status: 400 } } });

/** The envelop plugin: every operation (query, mutation, subscription; any door) is checked first. */
export function useInputChecks(): Plugin {
  const check = ({ args, setResultAndStopExecution }: CheckPayload) => {
    const problem = operationInputProblem(args.schema, args.document, args.operationName, args.variableValues);
    if (problem) setResultAndStopExecution({ errors: [invalid(problem)] });
  };
  return { onExecute: check, onSubscribe: check as never };
}

interface CheckPayload {
  args: {
    schema: GraphQLSchema;
    document: DocumentNode;
    operationName?: string | null;
    variableValues?: Record<string, unknown> | null;
  };
  setResultAndStopExecution(result: { errors: GraphQLError[] }): void;
}
