import { useDisableIntrospection } from '@envelop/disable-introspection';
import { EnvelopArmor } from '@escape.tech/graphql-armor';
import { createComplexityRule } from '@pothos/plugin-complexity';
import {
  type DocumentNode,
  type FieldNode,
  GraphQLError,
  type GraphQLObjectType,
  type GraphQLSchema,
  getOperationAST,
  Kind,
  type SelectionSetNode,
  validate,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Principal } from '../auth/principal.js';
import { RateLimitedError } from '../errors.js';
import { ipBudget, type RateLimit, type RateLimitVerdict, rateLimitHeaders } from '../http/rate-limit.js';
import type { GraphQLContext } from './context.js';

/**
 * What one GraphQL operation may cost, whatever door it came through (POST, GET, GraphQL over
 * SSE, graphql-ws), decided before anything runs:
 *
 * - its shape, by GraphQL Armor (tokens, depth, aliases, directives) at parse and validation, and
 *   by its cost: each field declares what it costs next to its definition (@pothos/plugin-complexity;
 *   a page multiplies what it selects by its `limit`), and an operation over `maxCost` is refused;
 * - its rate: each executed root field spends one point of a budget, and the operation's cost
 *   adds a point per COST_PER_POINT. Root fields spend the caller's management budget (per token
 *   or member; anonymous callers: per client IP, on the auth budget) unless they declare another
 *   one: the auth mutations spend the auth budget per IP that the REST auth routes spend too, SDK
 *   subscriptions an SDK client's evaluation budget. Sensitive fields (credentials minted, secrets
 *   rotated) also spend a budget of their own per field and caller (SENSITIVE_RATE_LIMIT).
 *
 * Refusals carry a typed code: QUERY_TOO_COMPLEX naming the limit, RATE_LIMITED (HTTP 429 with
 * Retry-After and the X-RateLimit-* headers).
 */
export const QUERY_LIMITS = {
  maxTokens: 10_000,
  maxDepth: 20,
  /** Braces, brackets and parentheses, checked before parsing (see nestingOf). */
  maxNesting: 64,
  maxAliases: 50,
  maxDirectives: 50,
  // The console's heaviest view, a project's flag list of 100 with every state, costs about 6,300.
  maxCost: 50_000,
} as const;

/** One more point of the budget per this much cost: the console's views cost 0 to 6 points more. */
export const COST_PER_POINT = 1_000;

/** How a root field is counted; declared on the field as `extensions: { rateLimit }`. */
export interface FieldRateLimit {
  /** The budget the field spends instead of the caller's management budget. */
  budget?: 'auth' | 'evaluation';
  /** The key within that budget; default: the caller's IP. */
  key?: (ctx: GraphQLContext) => string;
  /** A budget of the field's own as well, per caller: SENSITIVE_RATE_LIMIT calls a minute. */
  sensitive?: boolean;
}

/** `extensions` for a root field counted as `limit` says. */
export const rateLimited = (limit: FieldRateLimit) => ({ rateLimit: limit });

export interface OperationBudgets {
  management: RateLimit;
  auth: RateLimit;
  evaluation: RateLimit;
  /** The budget of a sensitive field (created once per field). */
  field(name: string): RateLimit;
}

const tooComplex = (limit: string, message: string) =>
  new GraphQLError(message, { extensions: { code: 'QUERY_TOO_COMPLEX', limit, http: { status: 400 } } });

/**
 * The deepest nesting of braces, brackets and parentheses in a document, outside strings and
 * comments: graphql-js parses (and validates) recursively, so a document nested thousands deep
 * would overflow the stack before any other limit looks at it.
 */
export function nestingOf(source: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i);
    if (c === 0x23 /* # */) {
      while (i < source.length && source.charCodeAt(i) !== 0x0a) i++;
    } else if (c === 0x22 /* " */) {
      const block = source.startsWith('"""', i);
      const end = block ? '"""' : '"';
      i += block ? 3 : 1;
      while (i < source.length && !source.startsWith(end, i)) i += source.charCodeAt(i) === 0x5c /* \ */ ? 2 : 1;
      i += end.length - 1;
    } else if (c === 0x7b || c === 0x5b || c === 0x28 /* { [ ( */) {
      if (++depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d || c === 0x29 /* } ] ) */) {
      depth--;
    }
  }
  return max;
}

/**
 * Armor's refusals keep their message and gain the code, the name of the limit and HTTP 400, as
 * the cost limit answers: every QUERY_TOO_COMPLEX is the same kind of refusal, whichever limit.
 */
function armorRejection(limit: string) {
  return [
    (_ctx: unknown, error: GraphQLError) =>
      Object.assign(error.extensions, { code: 'QUERY_TOO_COMPLEX', limit, http: { status: 400 } }),
  ];
}

/** The root fields an operation executes, fragments at the root level included. */
function rootFields(document: DocumentNode, selectionSet: SelectionSetNode, out: FieldNode[] = []): FieldNode[] {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) out.push(selection);
    else if (selection.kind === Kind.INLINE_FRAGMENT) rootFields(document, selection.selectionSet, out);
    else {
      const fragment = document.definitions.find(
        (d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value,
      );
      if (fragment?.kind === Kind.FRAGMENT_DEFINITION) rootFields(document, fragment.selectionSet, out);
    }
  }
  return out;
}

interface ExecutePayload {
  args: {
    schema: GraphQLSchema;
    document: DocumentNode;
    operationName?: string | null;
    variableValues?: Record<string, unknown> | null;
    contextValue: unknown;
  };
  setResultAndStopExecution(result: { errors: GraphQLError[] }): void;
}

/** The caller's own management budget key; anonymous callers are counted by IP. */
const callerKey = (principal: Principal, ip: string) =>
  principal ? `p:${principal.tokenId ?? principal.userId}` : ipBudget(ip);

export function useOperationLimits(budgets: OperationBudgets): Plugin[] {
  const armor = new EnvelopArmor({
    maxTokens: { n: QUERY_LIMITS.maxTokens, onReject: armorRejection('tokens') },
    maxDepth: {
      n: QUERY_LIMITS.maxDepth,
      flattenFragments: true,
      ignoreIntrospection: false,
      onReject: armorRejection('depth'),
    },
    // Every alias counts, `__typename` too (Armor lets those through by default): each one is an
    // entry of the answer and, at the root, a field the rate limit counts.
    maxAliases: { n: QUERY_LIMITS.maxAliases, allowList: [], onReject: armorRejection('aliases') },
    maxDirectives: { n: QUERY_LIMITS.maxDirectives, onReject: armorRejection('directives') },
    // Cost is the schema's own (below); suggestions are hidden from anonymous callers only.
    costLimit: { enabled: false },
    blockFieldSuggestion: { enabled: false },
  });

  const limit = async ({ args, setResultAndStopExecution }: ExecutePayload) => {
    const ctx = args.contextValue as GraphQLContext & { reply?: { headers(h: Record<string, string>): unknown } };
    const operation = getOperationAST(args.document, args.operationName);
    if (!operation) return;
    let cost = 0;
    const errors = validate(args.schema, args.document, [
      createComplexityRule({
        context: ctx,
        variableValues: args.variableValues ?? {},
        operationName: args.operationName,
        maxComplexity: QUERY_LIMITS.maxCost,
        onResult: (result) => {
          cost = result.complexity;
        },
      }),
    ]);
    // The rule also reports variables that do not coerce: those are the execution's to refuse,
    // with its own code; only a cost over the limit is QUERY_TOO_COMPLEX.
    if (errors.length > 0 && cost > QUERY_LIMITS.maxCost) {
      return setResultAndStopExecution({
        errors: [
          tooComplex(
            'cost',
            `the operation costs ${cost}, over the limit of ${QUERY_LIMITS.maxCost}: select less or page`,
          ),
        ],
      });
    }

    const root = args.schema.getRootType(operation.operation) as GraphQLObjectType;
    const fields = root.getFields();
    const spend = new Map<RateLimit, Map<string, number>>();
    const add = (budget: RateLimit, key: string, points: number) => {
      const keys = spend.get(budget) ?? new Map<string, number>();
      keys.set(key, (keys.get(key) ?? 0) + points);
      spend.set(budget, keys);
    };
    const own = ctx.principal ? budgets.management : budgets.auth;
    const ownKey = callerKey(ctx.principal, ctx.clientIp);
    let ownPoints = Math.floor(cost / COST_PER_POINT);
    for (const node of rootFields(args.document, operation.selectionSet)) {
      const declared = fields[node.name.value]?.extensions?.rateLimit as FieldRateLimit | undefined;
      if (declared?.budget) {
        const budget = declared.budget === 'auth' ? budgets.auth : budgets.evaluation;
        add(budget, declared.key?.(ctx) ?? ipBudget(ctx.clientIp), 1);
      } else {
        ownPoints += 1;
      }
      if (declared?.sensitive) add(budgets.field(node.name.value), ownKey, 1);
    }
    if (ownPoints > 0) add(own, ownKey, ownPoints);

    let shown: RateLimitVerdict | undefined;
    for (const [budget, keys] of spend) {
      for (const [key, points] of keys) {
        const verdict = await budget.consume(key, points);
        if (budget === own || !shown) shown = verdict;
        if (!verdict.allowed) {
          const headers = rateLimitHeaders(verdict);
          return setResultAndStopExecution({
            errors: [
              new GraphQLError(new RateLimitedError().message, {
                extensions: { code: 'RATE_LIMITED', http: { status: 429, headers } },
              }),
            ],
          });
        }
      }
    }
    if (shown) ctx.reply?.headers(rateLimitHeaders(shown));
  };

  const nesting: Plugin = {
    onParse({ params }) {
      const source = typeof params.source === 'string' ? params.source : params.source.body;
      if (nestingOf(source) > QUERY_LIMITS.maxNesting) {
        throw tooComplex('depth', `the document nests deeper than ${QUERY_LIMITS.maxNesting} levels`);
      }
    },
  };

  /** "Did you mean …" would spell out the schema to a caller who may not read it. */
  const hideSuggestions: Plugin = {
    onValidate({ context }) {
      const principal = (context as { ctx?: GraphQLContext }).ctx?.principal;
      if (principal) return;
      return ({ valid, result, setResult }) => {
        if (valid) return;
        setResult(
          result.map((error) => {
            error.message = error.message.replace(/ ?Did you mean .+\?/g, '').trim();
            return error;
          }),
        );
      };
    },
  };

  // Yoga marks every error raised while parsing as a GraphQL-over-HTTP request error, which an
  // application/json answer sends with 200; a limit raised by the parser (the token limit) is
  // answered 400 as every other limit is.
  const limitsAre400: Plugin = {
    onResultProcess({ result }) {
      for (const one of Array.isArray(result) ? result : [result]) {
        if (!('errors' in one) || !one.errors) continue;
        for (const error of one.errors) {
          const http = error.extensions?.http as { spec?: boolean } | undefined;
          if (error.extensions?.code === 'QUERY_TOO_COMPLEX' && http) delete http.spec;
        }
      }
    },
  };

  const budgetsPlugin: Plugin = { onExecute: limit as never, onSubscribe: limit as never };
  return [
    nesting,
    limitsAre400,
    ...(armor.protect().plugins as Plugin[]),
    hideSuggestions,
    // Integrators read the schema through introspection once signed in; anonymous callers do not.
    useDisableIntrospection({
      disableIf: ({ context }) => !(context as { ctx?: GraphQLContext }).ctx?.principal,
    }) as Plugin,
    budgetsPlugin,
  ];
}
