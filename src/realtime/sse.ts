import type { FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import type { Hub, OpenStream } from './hub.js';
import { type Cleanup, MAX_BUFFERED_BYTES, runCleanup } from './streams.js';

/**
 * Server-sent event streams, the transport (ARCHITECTURE.md, step 4): what every SSE door
 * shares, whatever it streams. A stream takes over the response, writes its head at once, gets
 * a `: ping` comment every heartbeat (proxies commonly drop connections idle for 30 s), is ended
 * when its client stops reading, and is ended by shutdown with a `retry:` hint.
 */

const CRLF = Buffer.from('\r\n');

/**
 * SSE text encoded once and written, as is, to every stream that sends it: with 10,000 streams
 * a change costs 10,000 socket writes, so each one is a single pre-built buffer (HTTP/1.1
 * chunk framing included) instead of a string encoded, framed and corked per stream.
 */
export class Frame {
  private chunked: Buffer | undefined;
  private plain: Buffer | undefined;

  constructor(readonly text: string) {}

  bytes(chunked: boolean): Buffer {
    if (!chunked) return (this.plain ??= Buffer.from(this.text, 'utf8'));
    if (this.chunked === undefined) {
      const body = Buffer.from(this.text, 'utf8');
      this.chunked = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`, 'latin1'), body, CRLF]);
    }
    return this.chunked;
  }
}

/** One SSE event: `id:` (here always an environment version), `event:` and JSON `data:`. */
export const sseEvent = (id: number, event: string, data: unknown) =>
  `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/**
 * The `Last-Event-ID` a reconnecting client sent, when it is an id these streams write (an
 * environment version: decimal digits); null for none or anything else (`0x10`, `1e5`, ` 3`),
 * which the streams treat as a client that knows nothing yet.
 */
export function lastEventIdOf(header: string | string[] | undefined): number | null {
  return typeof header === 'string' && /^\d{1,15}$/.test(header) ? Number(header) : null;
}

const PING = new Frame(': ping\n\n');

export interface EventStream {
  /** Writes an event (or several); an empty string writes nothing. */
  write(chunk: string | Frame): void;
  /** Ends the stream, after `final` (a comment saying why) when given. */
  end(final?: string): void;
  /** Runs when the stream ends, for whatever reason. */
  onClose(cleanup: Cleanup): void;
}

export interface EventStreamOptions {
  /** Comment interval. */
  heartbeatMs: number;
  /** Reconnection delay suggested to clients when the server shuts down. */
  retryMs: number;
}

/**
 * One open stream: writes go straight to the socket, framed as the response's body (chunked for
 * HTTP/1.1, as is for HTTP/1.0), behind the head; a HEAD request (no socket) writes nothing.
 * A class, so that an idle stream is one object and one listener rather than a set of closures.
 */
class SocketEventStream implements EventStream, OpenStream {
  private closed = false;
  private cleanups: Cleanup[] = [];

  constructor(
    private readonly streams: EventStreams,
    private readonly res: FastifyReply['raw'],
    private readonly socket: FastifyReply['raw']['socket'],
    private readonly chunked: boolean,
  ) {}

  write(chunk: string | Frame): void {
    if (this.closed) return;
    const frame = typeof chunk === 'string' ? (chunk.length === 0 ? null : new Frame(chunk)) : chunk;
    const socket = this.socket;
    if (frame === null || socket === null || socket.destroyed) return;
    socket.write(frame.bytes(this.chunked));
    // A client that stopped reading reconnects later and gets a fresh start.
    if (socket.writableLength > MAX_BUFFERED_BYTES) this.res.destroy();
  }

  end(final?: string): void {
    if (this.closed) return;
    if (final) this.res.write(final);
    this.res.end();
    this.close();
  }

  onClose(cleanup: Cleanup): void {
    if (this.closed) runCleanup(cleanup);
    else this.cleanups.push(cleanup);
  }

  shutdown(): void {
    this.end(this.streams.goingAway);
  }

  readonly close = (): void => {
    if (this.closed) return;
    this.closed = true;
    this.streams.closed(this);
    for (const cleanup of this.cleanups.splice(0)) runCleanup(cleanup);
  };
}

/** Every open event stream of this node, behind one heartbeat timer. */
export class EventStreams {
  private readonly streams = new Set<SocketEventStream>();
  private readonly heartbeat: NodeJS.Timeout;
  /** What shutdown writes to every stream before ending it. */
  readonly goingAway: string;

  constructor(
    private readonly hub: Hub,
    options: EventStreamOptions,
  ) {
    // One timer for every stream: an idle subscriber costs its socket and a few closures.
    this.heartbeat = setInterval(() => {
      for (const stream of this.streams) stream.write(PING);
    }, options.heartbeatMs);
    this.heartbeat.unref();
    this.goingAway = `retry: ${options.retryMs}\n: the server is shutting down; reconnect\n\n`;
  }

  get size(): number {
    return this.streams.size;
  }

  stop(): void {
    clearInterval(this.heartbeat);
  }

  /** Takes over the reply and answers 200 with `text/event-stream`; later writes go to the socket. */
  open(reply: FastifyReply): EventStream {
    const req = reply.request;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    res.socket?.setNoDelay(true);
    res.socket?.setKeepAlive(true, 60_000);
    res.flushHeaders();
    const stream = new SocketEventStream(this, res, req.method === 'GET' ? res.socket : null, res.chunkedEncoding);
    res.on('close', stream.close);
    this.hub.hold(stream);
    this.streams.add(stream);
    return stream;
  }

  /** A stream of this node ended. */
  closed(stream: SocketEventStream): void {
    this.streams.delete(stream);
    this.hub.release(stream);
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    eventStreams: EventStreams;
  }
}

export const eventStreamsPlugin = fp(
  async (app: FastifyInstance, options: Partial<EventStreamOptions>) => {
    const streams = new EventStreams(app.hub, { heartbeatMs: 25_000, retryMs: 1_000, ...options });
    app.decorate('eventStreams', streams);
    app.addHook('onClose', async () => streams.stop());
  },
  { name: 'event-streams', dependencies: ['hub'] },
);
