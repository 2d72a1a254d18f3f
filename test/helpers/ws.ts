import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { wakeAll, waitOn, type Waiters } from './waiters.js';

/** A graphql-ws subscription seen from a real client: messages in order, and how it ended. */
export interface LiveSubscription {
  results: { data?: any; errors?: { message: string; extensions?: { code?: string } }[] }[];
  /** The next result not yet taken, waiting at most `timeoutMs`. */
  next(timeoutMs?: number): Promise<LiveSubscription['results'][number]>;
  /** Resolves with how the subscription ended: completed, errored, or the socket closed. */
  ended: Promise<{ how: 'complete' | 'error'; error?: unknown }>;
  /** Resolves with the socket's close code once it closes. */
  closeCode: Promise<number>;
  dispose(): Promise<void>;
  client: Client;
}

const wsUrl = (httpUrl: string) => `${httpUrl.replace(/^http/, 'ws')}/graphql`;

export function subscribeWs(
  baseUrl: string,
  connectionParams: Record<string, unknown>,
  query: string,
  variables: Record<string, unknown> = {},
  options: { headers?: Record<string, string> } = {},
): LiveSubscription {
  let resolveClose!: (code: number) => void;
  const closeCode = new Promise<number>((r) => (resolveClose = r));
  const client = createClient({
    url: wsUrl(baseUrl),
    webSocketImpl: options.headers
      ? class extends WebSocket {
          constructor(address: string, protocols?: string | string[]) {
            super(address, protocols, { headers: options.headers });
          }
        }
      : WebSocket,
    connectionParams,
    lazy: false,
    retryAttempts: 0,
    on: { closed: (event) => resolveClose((event as { code: number }).code) },
    onNonLazyError: () => undefined,
  });
  const results: LiveSubscription['results'] = [];
  let cursor = 0;
  const waiters: Waiters = new Set();
  const wake = () => wakeAll(waiters);
  let finished = false;
  const ended = new Promise<{ how: 'complete' | 'error'; error?: unknown }>((resolve) => {
    client.subscribe(
      { query, variables },
      {
        next: (value) => {
          results.push(value as LiveSubscription['results'][number]);
          wake();
        },
        error: (error) => {
          finished = true;
          resolve({ how: 'error', error });
          wake();
        },
        complete: () => {
          finished = true;
          resolve({ how: 'complete' });
          wake();
        },
      },
    );
  });
  return {
    results,
    ended,
    closeCode,
    client,
    next: (timeoutMs = 5_000) =>
      waitOn(waiters, () => (cursor < results.length ? results[cursor++] : undefined), {
        ended: () => finished,
        timeoutMs,
        endedMessage: 'subscription ended while waiting for a result',
        timeoutMessage: () => `no result within ${timeoutMs} ms (${results.length} so far)`,
      }),
    dispose: () => client.dispose() as Promise<void>,
  };
}
