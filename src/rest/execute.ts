import type { FastifyReply, FastifyRequest } from 'fastify';
import { type ExecutionResult, type GraphQLError, getOperationAST } from 'graphql';
import { DomainError, type ErrorCode, HTTP_STATUS, ServiceUnavailableError, ValidationError } from '../errors.js';
import type { GraphQLContext } from '../graphql/context.js';
import type { Yoga } from '../graphql/yoga.js';
import { headerValue } from '../http/headers.js';

/**
 * Runs a REST route's GraphQL operation the way /graphql runs one: yoga's envelop with every
 * plugin (operation limits and the shared rate-limit budget, input checks, error masking), the
 * same context factory, so authorization is decided by the schema alone. GraphQL's typed errors
 * become the REST envelope's statuses.
 */

/** The management credentials of a REST request, as /graphql reads them. */
export function restCredentials(req: FastifyRequest) {
  return {
    authorization: headerValue(req.headers.authorization),
    'api-key': headerValue(req.headers['api-key']),
    sdkKey: null,
    origin: null,
  };
}

/** Why a route's own document does not run: a fault of ours, found by the tests and at start. */
export class RouteDocumentError extends Error {}

export type RunOperation = (document: string, variables: Record<string, unknown>) => Promise<Record<string, unknown>>;

/** An operation runner for one request: every operation it runs shares the request's context. */
export function operationRunner(
  yoga: Yoga,
  ctx: GraphQLContext,
  req: FastifyRequest,
  reply: FastifyReply,
): RunOperation {
  return async (source, variables) => {
    const { parse, validate, contextFactory, execute, schema } = yoga.getEnveloped({ req, reply, ctx });
    const document = parse(source);
    const invalid = validate(schema, document);
    if (invalid.length > 0 || !getOperationAST(document)) {
      throw new RouteDocumentError(
        `a REST route's operation does not validate: ${invalid[0]?.message ?? 'no operation'}`,
      );
    }
    const result = (await execute({
      schema,
      document,
      variableValues: variables,
      contextValue: await contextFactory(),
    })) as ExecutionResult;
    const error = result.errors?.[0];
    if (error) throw restError(error, reply);
    return result.data as Record<string, unknown>;
  };
}

/**
 * The REST error for a GraphQL error: its code gives the status (QUERY_TOO_COMPLEX is a bad
 * request), its `http.headers` (Retry-After, X-RateLimit-*) go on the answer. An error without a
 * code that yoga did not mask is the schema refusing a variable: a bad request too. A masked
 * error stays a 500 that says nothing more.
 */
export function restError(error: GraphQLError, reply: FastifyReply): Error {
  const extensions = error.extensions ?? {};
  const headers = (extensions.http as { headers?: Record<string, string> } | undefined)?.headers;
  if (headers) reply.headers(headers);
  const code = extensions.code as string | undefined;
  const details = extensions.details as Record<string, unknown> | undefined;
  if (code === 'SERVICE_UNAVAILABLE')
    return new ServiceUnavailableError(error.message, Number(headers?.['retry-after'] ?? 1));
  if (code === 'QUERY_TOO_COMPLEX') return new ValidationError(error.message);
  if (code && code in HTTP_STATUS && code !== 'INTERNAL')
    return new DomainError(code as ErrorCode, error.message, details);
  if (code === undefined && !extensions.unexpected) return new ValidationError(error.message);
  return new Error(`GraphQL error ${code ?? ''}`.trim());
}
