import type { DomainError } from '../errors.js';
import { type Cleanup, runCleanup } from './streams.js';

/**
 * The source stream of a subscription: the hub's listeners push events in, the transport
 * (graphql-ws, GraphQL over SSE) pulls them out as an async iterator. `return()` takes effect at
 * once even while a `next()` waits (an async generator would wait for the next event first), so
 * an idle unsubscribed stream is released immediately.
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  private buffer: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | null = null;
  private peeking: (() => void) | null = null;
  private waker: { wake(): void } | null = null;
  private finished = false;
  private closed = false;
  private cleanups: Cleanup[] = [];

  constructor(private readonly prepare?: (item: T) => Promise<T>) {}

  /** Takes items that bypass the buffer (while it is empty): `divert` answers true when it consumed the item. */
  direct: { divert(item: T): boolean } | null = null;

  push(item: T): void {
    if (this.finished) return;
    if (this.direct !== null && this.buffer.length === 0 && this.direct.divert(item)) return;
    this.buffer.push(item);
    this.drain();
    this.wakePeek();
  }

  /** No more items: the stream completes after those already queued. */
  end(): void {
    this.finished = true;
    this.drain();
    this.wakePeek();
  }

  /**
   * The next item without taking it, once there is one; undefined once the stream is over. For
   * a reader that takes some items itself (`take()`) and leaves the others to `next()`.
   */
  peek(): Promise<T | undefined> {
    if (this.buffer.length > 0) return Promise.resolve(this.buffer[0]);
    if (this.finished || this.closed) return Promise.resolve(undefined);
    return new Promise<void>((resolve) => (this.peeking = resolve)).then(() => this.peek());
  }

  /** Takes the next queued item, if any (after `peek()`). */
  take(): T | undefined {
    return this.buffer.shift();
  }

  /** Nothing is queued and nothing more will be. */
  get over(): boolean {
    return this.buffer.length === 0 && (this.finished || this.closed);
  }

  /**
   * Calls `reader.wake()` once an item is queued or the stream is over (at once if it already
   * is): for a reader that takes items itself, without a promise per wait.
   */
  whenReadable(reader: { wake(): void }): void {
    if (this.buffer.length > 0 || this.finished || this.closed) reader.wake();
    else this.waker = reader;
  }

  onClose(cleanup: Cleanup): void {
    if (this.closed) runCleanup(cleanup);
    else this.cleanups.push(cleanup);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer.length === 0 && (this.finished || this.closed)) return this.return();
    const item = new Promise<IteratorResult<T>>((resolve) => {
      this.waiting = resolve;
      this.drain();
    });
    return item.then(async (result) => {
      if (result.done || !this.prepare) return result;
      return { done: false, value: await this.prepare(result.value) };
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.finished = true;
    this.buffer = [];
    if (!this.closed) {
      this.closed = true;
      for (const cleanup of this.cleanups.splice(0)) runCleanup(cleanup);
    }
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.({ done: true, value: undefined });
    this.wakePeek();
    return Promise.resolve({ done: true, value: undefined });
  }

  throw(): Promise<IteratorResult<T>> {
    return this.return();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private wakePeek(): void {
    const peeking = this.peeking;
    this.peeking = null;
    peeking?.();
    const waker = this.waker;
    this.waker = null;
    waker?.wake();
  }

  private drain(): void {
    if (!this.waiting) return;
    const waiting = this.waiting;
    if (this.buffer.length > 0) {
      this.waiting = null;
      waiting({ done: false, value: this.buffer.shift()! });
    } else if (this.finished) {
      void this.return();
    }
  }
}

/** Marks the end of a stream whose subscriber lost its right to it; resolved into this error. */
export class StreamEnded {
  constructor(readonly error: DomainError) {}
}
