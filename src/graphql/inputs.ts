import {
  type DocumentNode,
  GraphQLError,
  type GraphQLInputType,
  type GraphQLSchema,
  getNullableType,
  getOperationAST,
  isEnumType,
  isInputObjectType,
  isListType,
  Kind,
  TypeInfo,
  valueFromAST,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { type JsonLimits, jsonValueProblem, REQUEST_JSON_LIMITS, SDK_JSON_LIMITS } from '../common/json.js';

/**
 * Every argument an operation passes, checked before anything runs, whatever the transport and
 * whether written in the document or given as a variable: ids are UUIDs, strings hold no NUL
 * byte and have a bounded length, lists a bounded number of items, JSON values the bounds of
 * common/json.ts. A value that breaks one of these would otherwise reach PostgreSQL (which
 * refuses it with an error) or a loop over a caller-chosen size; here it is a VALIDATION error
 * naming the argument, and nothing has been read or written.
 */
export const INPUT_LIMITS = {
  /** Items of one list argument (the engine's largest list, a target's keys, fits). */
  listItems: 10_000,
  /** Characters of one string. */
  stringLength: 100_000,
} as const;

/** JSON arguments (variation values, clause values, contexts) nest no deeper than an SDK context may. */
const JSON_LIMITS: JsonLimits = { ...REQUEST_JSON_LIMITS, depth: SDK_JSON_LIMITS.depth };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Why `value`, given for an input of `type` at `at`, is refused, or null when it is acceptable. */
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
    for (const [name, field] of Object.entries(nullable.getFields())) {
      const problem = inputProblem((value as Record<string, unknown>)[name], field.type, `${at}.${name}`);
      if (problem) return problem;
    }
    return null;
  }
  if (isEnumType(nullable)) return null;
  if (nullable.name === 'JSON') return jsonValueProblem(value, at, JSON_LIMITS);
  if (typeof value !== 'string') return null;
  if (nullable.name === 'ID' && !UUID.test(value)) return `${at} must be a UUID`;
  if (value.length > INPUT_LIMITS.stringLength) return `${at} is longer than ${INPUT_LIMITS.stringLength} characters`;
  if (value.includes('\u0000')) return `${at} contains a NUL character`;
  return null;
}

/** The first problem with the arguments of the operation (and of the fragments it may spread). */
export function operationInputProblem(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): string | null {
  const operation = getOperationAST(document, operationName);
  if (!operation) return null;
  const typeInfo = new TypeInfo(schema);
  const selected = {
    ...document,
    definitions: document.definitions.filter((d) => d === operation || d.kind === Kind.FRAGMENT_DEFINITION),
  };
  let problem: string | null = null;
  visit(
    selected,
    visitWithTypeInfo(typeInfo, {
      Argument(node) {
        if (problem) return false;
        const argument = typeInfo.getArgument();
        if (!argument) return false;
        const value =
          node.value.kind === Kind.VARIABLE
            ? variables?.[node.value.name.value]
            : valueFromAST(node.value, argument.type, variables ?? undefined);
        problem = inputProblem(value, argument.type, node.name.value);
        // Literal lists are measured as written too (valueFromAST refuses what does not coerce).
        if (!problem && node.value.kind === Kind.LIST && node.value.values.length > INPUT_LIMITS.listItems) {
          problem = `${node.name.value} has more than ${INPUT_LIMITS.listItems} items`;
        }
        return false;
      },
    }),
  );
  return problem;
}

const invalid = (message: string) =>
  new GraphQLError(message, { extensions: { code: 'VALIDATION', http: { status: 400 } } });

interface CheckPayload {
  args: {
    schema: GraphQLSchema;
    document: DocumentNode;
    operationName?: string | null;
    variableValues?: Record<string, unknown> | null;
  };
  setResultAndStopExecution(result: { errors: GraphQLError[] }): void;
}

/**
 * Errors graphql-js raises about the request itself (a variable that does not coerce, say) come
 * without a code: they get VALIDATION, so that every error a caller sees has a typed code.
 */
function withCodes<T extends { errors?: readonly GraphQLError[] }>(result: T): T {
  if (!result.errors?.some((e) => e.extensions?.code === undefined)) return result;
  return {
    ...result,
    errors: result.errors.map((e) =>
      e.extensions?.code === undefined
        ? new GraphQLError(e.message, {
            nodes: e.nodes,
            source: e.source,
            positions: e.positions,
            path: e.path,
            originalError: e.originalError,
            extensions: { ...e.extensions, code: 'VALIDATION' },
          })
        : e,
    ),
  };
}

/** Typed codes on every error of an operation's results (queries, mutations and each subscription event). */
export function useTypedErrors(): Plugin {
  return {
    onExecute: () => ({
      onExecuteDone: ({ result, setResult }) => {
        if (!(Symbol.asyncIterator in (result as object))) setResult(withCodes(result as ExecutionResultLike) as never);
      },
    }),
    onSubscribe: () => ({
      onSubscribeResult: ({ result, setResult }) => {
        if (!(Symbol.asyncIterator in (result as object))) setResult(withCodes(result as ExecutionResultLike) as never);
        return {
          onNext: ({ result: event, setResult: setEvent }) =>
            setEvent(withCodes(event as ExecutionResultLike) as never),
        };
      },
    }),
  };
}

type ExecutionResultLike = { errors?: readonly GraphQLError[] };

/** The envelop plugin: every operation (query, mutation, subscription; any door) is checked first. */
export function useInputChecks(): Plugin {
  const check = ({ args, setResultAndStopExecution }: CheckPayload) => {
    const problem = operationInputProblem(args.schema, args.document, args.operationName, args.variableValues);
    if (problem) setResultAndStopExecution({ errors: [invalid(problem)] });
  };
  return { onExecute: check as never, onSubscribe: check as never };
}
