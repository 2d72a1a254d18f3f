import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { type GraphQLSchema, parse, validate } from 'graphql';
import { ROLE_PERMISSIONS, ROLES } from '../auth/permissions.js';
import { UnauthenticatedError, ValidationError } from '../errors.js';
import type { GraphQLContext } from '../graphql/context.js';
import { operationRunner, RouteDocumentError, restCredentials } from './execute.js';
import { type AnyRoute, isUuid } from './route.js';

/**
 * The REST management API: every route of the table (src/routes.ts) registered on fastify, each
 * answered by its GraphQL operation (execute.ts). Query strings and path parameters arrive as
 * text, so their numbers and booleans are coerced (and their defaults applied); JSON bodies are
 * taken as sent, strictly (an unknown field is a 400 naming it).
 */
export interface RestPluginOptions {
  routes: readonly AnyRoute[];
  /** The schema /graphql serves: every route's document must validate against it. */
  schema: GraphQLSchema;
  /** The app's Ajv options (strict bodies); query strings get the same with coercion. */
  ajvOptions: Record<string, unknown>;
}

const PROJECT_ID = 'query RestProjectId($slug: String!) { project(slug: $slug) { id } }';

/** Who may call a route, for /docs: the roles whose permissions include what it needs. */
export function rolesFor(route: AnyRoute): string[] {
  const needed = typeof route.permission === 'string' ? [route.permission] : route.permission;
  return ROLES.filter((role) => needed.some((p) => ROLE_PERMISSIONS[role].has(p)));
}

function description(route: AnyRoute): string {
  const needed = typeof route.permission === 'string' ? route.permission : route.permission.join(' or ');
  const who = `Requires \`${needed}\` (roles: ${rolesFor(route).join(', ')}).`;
  return route.description ? `${route.description}\n\n${who}` : who;
}

function schemaOf(route: AnyRoute): FastifySchema {
  return {
    tags: [route.tag],
    summary: route.summary,
    description: description(route),
    operationId: route.name,
    security: [{ bearerAuth: [] }, { apiKey: [] }, { apiKey: [], bearerAuth: [] }],
    ...(route.params ? { params: route.params } : {}),
    ...(route.query ? { querystring: route.query } : {}),
    ...(route.body ? { body: route.body } : {}),
    response: {
      [route.status]: route.response
        ? { ...route.response, description: route.status === 201 ? 'Created' : 'OK' }
        : { description: 'Done; no body.', type: 'null' },
      ...(route.accepted
        ? {
            202: {
              ...route.accepted.response,
              description: 'Accepted: it waits for approval, as this pending change.',
            },
          }
        : {}),
    },
  };
}

/** Whether every route's document parses and validates against the schema (checked at start). */
export function routeDocumentProblems(routes: readonly AnyRoute[], schema: GraphQLSchema): string[] {
  const problems: string[] = [];
  for (const route of routes) {
    for (const error of validate(schema, parse(route.operation))) {
      problems.push(`${route.method} ${route.url}: ${error.message}`);
    }
  }
  return problems;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The GraphQL context of a REST management request, built once its credentials checked out. */
    restContext: GraphQLContext | null;
  }
}

/**
 * Who is calling, before the request is read: a credential that does not check out, or none,
 * is a 401 whatever the body (every management operation needs a principal; which principal may
 * do what stays the schema's to decide).
 */
async function authenticate(app: FastifyInstance, req: FastifyRequest) {
  const ctx = await app.graphqlContext(restCredentials(req), { requestId: req.id, clientIp: req.ip });
  if (!ctx.principal) throw new UnauthenticatedError();
  req.restContext = ctx;
}

/** A query parameter read as a number: decimal digits, as the reference writes them. */
const DECIMAL = { integer: /^-?[0-9]{1,16}$/, number: /^-?[0-9]{1,16}(\.[0-9]{1,16})?$/ } as const;

/**
 * The query parameters a route reads as numbers, with how each must be spelt. Ajv's coercion
 * takes whatever `Number()` takes (`0x10`, `1e1`, ` 16 `); the raw text is checked first.
 */
function numericQuery(route: AnyRoute): [string, RegExp][] {
  const properties = (route.query as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties;
  return Object.entries(properties ?? {}).flatMap(([name, schema]): [string, RegExp][] =>
    schema.type === 'integer' || schema.type === 'number' ? [[name, DECIMAL[schema.type]]] : [],
  );
}

export async function restPlugin(app: FastifyInstance, options: RestPluginOptions) {
  const problems = routeDocumentProblems(options.routes, options.schema);
  if (problems.length > 0) throw new RouteDocumentError(problems.join('\n'));
  const bodies = AjvCompiler()({}, { customOptions: options.ajvOptions });
  const texts = AjvCompiler()({}, { customOptions: { ...options.ajvOptions, coerceTypes: true } });
  app.setValidatorCompiler((route) => (route.httpPart === 'body' ? bodies(route) : texts(route)));
  app.decorateRequest('restContext', null);
  app.addHook('onRequest', (req) => authenticate(app, req));

  for (const route of options.routes) {
    const numeric = numericQuery(route);
    app.route({
      method: route.method,
      url: route.url,
      schema: schemaOf(route),
      ...(numeric.length > 0
        ? {
            preValidation: async (req: FastifyRequest) => {
              const query = req.query as Record<string, unknown>;
              for (const [name, spelling] of numeric) {
                const value = query[name];
                if (typeof value === 'string' && !spelling.test(value))
                  throw new ValidationError(`query parameter "${name}" must be written in decimal digits`);
              }
            },
          }
        : {}),
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        const run = operationRunner(app.yoga, req.restContext!, req, reply);
        const params = { ...(req.params as Record<string, string>) };
        if (route.projectParam) {
          const ref = params[route.projectParam]!;
          if (!isUuid(ref))
            params[route.projectParam] = ((await run(PROJECT_ID, { slug: ref })).project as { id: string }).id;
        }
        const input = { params, query: (req.query ?? {}) as object, body: (req.body ?? {}) as object };
        const data = await run(route.operation, route.variables(input as never));
        const pending = route.accepted?.from(data);
        if (pending) return reply.status(202).send(pending);
        reply.status(route.status);
        if (route.status === 204) return reply.send();
        if (!route.result) throw new RouteDocumentError(`${route.method} ${route.url} has no result mapping`);
        return route.result(data);
      },
    });
  }
}
