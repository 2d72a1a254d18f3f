/** Small HTTP clients for the REST and GraphQL doors, over real fetch. */
export interface HttpResult<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export async function request<T = any>(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON: keep the text */
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}

export interface GraphQLResult<T = any> {
  status: number;
  data: T | null | undefined;
  errors?: { message: string; path?: string[]; extensions?: { code?: string; [k: string]: unknown } }[];
}

export async function graphql<T = any>(
  base: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<GraphQLResult<T>> {
  const res = await request(base, 'POST', '/graphql', { body: { query, variables }, headers });
  return { status: res.status, data: res.body?.data, errors: res.body?.errors };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The `extensions.code` of the first GraphQL error. */
export const errorCode = (r: GraphQLResult) => r.errors?.[0]?.extensions?.code;
