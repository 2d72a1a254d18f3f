import { Client, type CombinedError, cacheExchange, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient } from 'graphql-ws';
import { session } from '../session/session.ts';

/**
 * The one GraphQL client of the console: queries and mutations over HTTP, subscriptions over
 * graphql-ws on the same /graphql path. Every request carries a fresh access token; an answer of
 * 401 gets one refresh and one retry. After a refresh the WebSocket is restarted so the server
 * sees the new token (it checks the credential again on every subscription and event).
 */

async function authorizedFetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
  const send = (token: string | null) => {
    const headers = new Headers(init.headers);
    if (token) headers.set('authorization', `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
  const first = await send(await session.accessToken());
  if (first.status !== 401 || !session.current) return first;
  const refreshed = await session.refresh();
  return refreshed ? send(refreshed.accessToken) : first;
}

let activeSocket: WebSocket | null = null;
/** Reconnects (after a token refresh); graphql-ws resubscribes every live operation. */
const CLIENT_RESTART = 4205;

const wsUrl = () => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;

const listeners = new Set<() => void>();
/** Called after the live connection came back: views refetch what they may have missed. */
export function onReconnected(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

let connectedOnce = false;
const ws = createWsClient({
  url: wsUrl,
  lazy: true,
  retryAttempts: Number.POSITIVE_INFINITY,
  shouldRetry: () => session.current !== null,
  connectionParams: async () => {
    const token = await session.accessToken();
    return token ? { authorization: `Bearer ${token}` } : {};
  },
  on: {
    connected: (socket) => {
      activeSocket = socket as WebSocket;
      if (connectedOnce) for (const listener of listeners) listener();
      connectedOnce = true;
    },
    closed: () => {
      activeSocket = null;
    },
  },
});

let lastAccess = session.current?.accessToken;
session.onChange((tokens) => {
  if (tokens?.accessToken === lastAccess) return;
  lastAccess = tokens?.accessToken;
  if (activeSocket?.readyState === WebSocket.OPEN) activeSocket.close(CLIENT_RESTART, 'Client Restart');
});

/** A client with an empty cache: one per signed-in person, so nothing cached outlives a sign-out. */
export const createGraphQLClient = () =>
  new Client({
    url: '/graphql',
    fetch: authorizedFetch,
    preferGetMethod: false,
    requestPolicy: 'cache-and-network',
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? '' };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });

/** What to tell the person about a failed operation: the server's own words. */
export function errorMessage(error: CombinedError | Error | unknown): string {
  if (error && typeof error === 'object' && 'graphQLErrors' in error) {
    const combined = error as CombinedError;
    if (combined.graphQLErrors.length > 0) return combined.graphQLErrors.map((e) => e.message).join(' · ');
    if (combined.networkError) return `The server cannot be reached (${combined.networkError.message}).`;
  }
  if (error instanceof Error) return error.message;
  return 'Something went wrong.';
}

/** The `extensions.code` of the first GraphQL error (CONFLICT, FORBIDDEN, …). */
export function errorCode(error: CombinedError | undefined): string | undefined {
  return error?.graphQLErrors[0]?.extensions?.code as string | undefined;
}
