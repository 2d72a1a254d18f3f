import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { type Waiters, waitOn, wakeAll } from './waiters.js';

/** A graphql-ws subscription seen from a real client: messages in order, and how it ended. */
export interface LiveSubscription {
  results: { data?: any; errors?: { message: string; extensions?: { code?: string } }[] }[];
  /** The next result not yet taken, waiting at most `timeoutMs`. */
  next(timeoutMs?: number): Promise<LiveSubscription['results'][number]>;
  /** Resolves with how the subscription ended: completed, errored, or the socket closed. */
  ended: Promise<{ how: 'complete' | 'error'; error?: unknown }>;
  /** Resolves with the socket's close code once it closes. */
  closeCode: Promise<number>;
  /** Resolves once the server acknowledged connection_init (the socket is open and accepted). */
  connected: Promise<void>;
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
  let resolveConnected!: () => void;
  const connected = new Promise<void>((r) => (resolveConnected = r));
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
    on: { closed: (event) => resolveClose((event as { code: number }).code), connected: () => resolveConnected() },
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
    connected,
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

/**
 * A bare WebSocket upgrade request to /graphql: the server's answer before any graphql-ws
 * message. A 101 socket is closed at once; any other answer comes with its (JSON) body.
 */
export function upgradeWs(
  baseUrl: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body?: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${baseUrl}/graphql`, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        'sec-websocket-protocol': 'graphql-transport-ws',
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode!, headers: res.headers });
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : undefined }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
