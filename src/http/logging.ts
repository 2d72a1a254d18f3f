import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';
import { GraphQLError } from 'graphql';
import { asDomainError } from '../db/errors.js';

/**
 * What reaches a log line, and what never does. Logged: method, path, status, timing, request
 * ids, error names, codes and stacks. Never: credentials (headers are redacted), query strings
 * (GET /graphql carries the operation and its variables there, /v1/client a context), request
 * bodies, GraphQL operation text or variables, SQL text or its parameters. Expected client errors
 * (a domain error: 4xx, rate limits, a database that is away) are not errors in the log.
 */

/** A path without its query string. */
const pathOf = (url: string | undefined) => (url ?? '').split('?')[0];

/** SQL states are five characters of digits and capitals; driver errors carry the SQL in their message. */
const SQLSTATE = /^[0-9A-Z]{5}$/;

/** An error as a log line may show it: type, code, a message that cannot hold SQL or a request, the stack. */
export function safeError(error: unknown): { type: string; message: string; stack: string; [key: string]: unknown } {
  if (!(error instanceof Error)) return { type: typeof error, message: '', stack: '' };
  const original = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  const code = (original as { code?: unknown }).code;
  const fromDriver = typeof code === 'string' && SQLSTATE.test(code);
  const stack = original.stack?.split('\n').filter((line) => line.trim().startsWith('at ')) ?? [];
  return {
    type: original.name,
    ...(typeof code === 'string' ? { code } : {}),
    // GraphQLError's own text would add the operation's source around its locations.
    message: fromDriver ? `database error ${code}` : (original.message.split('\n')[0] ?? ''),
    stack: stack.join('\n'),
  };
}

export function loggerOptions(options: {
  level: string;
  stream?: NodeJS.WritableStream;
}): NonNullable<FastifyServerOptions['logger']> {
  return {
    level: options.level,
    // Credentials never reach the logs, whatever a later serializer decides to include.
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers["api-key"]', 'req.headers.cookie'],
      censor: '[redacted]',
    },
    serializers: {
      req: (req: { method?: string; url?: string; ip?: string; id?: string }) => ({
        method: req.method,
        url: pathOf(req.url),
        remoteAddress: req.ip,
      }),
      err: safeError,
    },
    ...(options.stream ? { stream: options.stream } : {}),
  };
}

/**
 * yoga's logger, onto the app's. yoga logs every error it masks: domain errors are expected
 * answers (debug, code only); anything else is an error, logged safely (no operation text).
 */
export function yogaLogger(log: FastifyBaseLogger) {
  const text = (args: unknown[]) =>
    args
      .filter((a) => !(a instanceof Error))
      .map(String)
      .join(' ');
  const errors = (args: unknown[]) => args.filter((a): a is Error => a instanceof Error);
  return {
    debug: (...args: unknown[]) => log.debug(text(args)),
    info: (...args: unknown[]) => log.info(text(args)),
    warn: (...args: unknown[]) => log.warn(text(args)),
    error: (...args: unknown[]) => {
      for (const error of errors(args)) {
        const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
        const expected =
          asDomainError(original) ?? (error instanceof GraphQLError && !error.originalError ? error : null);
        if (expected) log.debug({ code: (expected as { code?: unknown }).code }, 'GraphQL error answered');
        else log.error({ err: error }, 'GraphQL operation failed');
      }
      const rest = text(args);
      if (rest) log.error(rest);
    },
  };
}
