/**
 * A small Server-Sent Events client over fetch (no `eventsource` package): it parses the stream
 * as the HTML spec says (fields, comments, blank-line dispatch) and lets tests wait for events
 * with a bounded timeout instead of sleeping.
 */
import { type Waiters, waitOn, wakeAll } from './waiters.js';

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
  /** `data` parsed as JSON (undefined when it is not JSON). */
  json: any;
}

export interface SseStream {
  status: number;
  headers: Headers;
  /** The body of a non-stream answer (an error envelope), parsed when JSON. */
  body: any;
  events: SseEvent[];
  comments: string[];
  /** `retry:` values the server sent. */
  retries: number[];
  /** Resolves when the server ends the stream (or the connection drops). */
  closed: Promise<void>;
  isClosed(): boolean;
  /** The next event not yet taken by next(), waiting at most `timeoutMs`. */
  next(timeoutMs?: number): Promise<SseEvent>;
  /** Asserts that no event arrives within `ms` (a bounded wait, for "nothing is replayed"). */
  expectNothing(ms: number): Promise<void>;
  /** Waits until a comment matching `pattern` arrives. */
  comment(pattern: RegExp, timeoutMs?: number): Promise<string>;
  close(): void;
}

export async function openSse(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<SseStream> {
  const abort = new AbortController();
  const res = await fetch(url, {
    method: options.method ?? 'GET',
    headers: { accept: 'text/event-stream', ...options.headers },
    body: options.body,
    signal: abort.signal,
  });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  let cursor = 0;
  let ended = false;
  const waiters: Waiters = new Set();
  const wake = () => wakeAll(waiters);

  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* keep text */
    }
    return stub(res, body);
  }

  const closed = (async () => {
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let id: string | undefined;
    let event = '';
    let data: string[] = [];
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let newline: number;
        while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
          if (line === '') {
            if (data.length > 0) {
              const text = data.join('\n');
              let json: unknown;
              try {
                json = JSON.parse(text);
              } catch {
                json = undefined;
              }
              events.push({ id, event: event || 'message', data: text, json });
            }
            event = '';
            data = [];
            wake();
            continue;
          }
          if (line.startsWith(':')) {
            comments.push(line.slice(1).trim());
            wake();
            continue;
          }
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'data') data.push(val);
          else if (field === 'event') event = val;
          else if (field === 'id') id = val;
          else if (field === 'retry') retries.push(Number(val));
        }
      }
    } catch {
      /* aborted or reset: the stream is over either way */
    } finally {
      ended = true;
      wake();
    }
  })();

  const waitFor = <T>(take: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
    waitOn(waiters, take, {
      ended: () => ended,
      timeoutMs,
      endedMessage: `stream ended while waiting for ${what}`,
      timeoutMessage: () =>
        `no ${what} within ${timeoutMs} ms (events so far: ${JSON.stringify(events.map((e) => e.event))})`,
    });

  return {
    status: res.status,
    headers: res.headers,
    body: undefined,
    events,
    comments,
    retries,
    closed,
    isClosed: () => ended,
    next: (timeoutMs = 5_000) =>
      waitFor(() => (cursor < events.length ? events[cursor++] : undefined), timeoutMs, 'event'),
    async expectNothing(ms) {
      const before = events.length;
      await new Promise((r) => setTimeout(r, ms));
      if (events.length !== before) throw new Error(`expected no event, got ${JSON.stringify(events.slice(before))}`);
    },
    comment: (pattern, timeoutMs = 5_000) =>
      waitFor(() => comments.find((c) => pattern.test(c)), timeoutMs, `comment ${pattern}`),
    close: () => abort.abort(),
  };
}

function stub(res: Response, body: unknown): SseStream {
  const fail = () => Promise.reject(new Error(`not an event stream (status ${res.status})`));
  return {
    status: res.status,
    headers: res.headers,
    body,
    events: [],
    comments: [],
    retries: [],
    closed: Promise.resolve(),
    isClosed: () => true,
    next: fail,
    expectNothing: () => Promise.resolve(),
    comment: fail,
    close: () => undefined,
  };
}
