/**
 * What every long-lived stream (SSE, graphql-ws) shares: a client this far behind in reading is
 * disconnected (it reconnects and gets a fresh start) rather than buffered without bound.
 */
export const MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * What a stream runs when it ends: a function, or an object that knows how to let go (a key
 * watch, a follower of the hub), which costs no closure per stream.
 */
export type Cleanup = (() => void) | { dispose(): void };

export function runCleanup(cleanup: Cleanup): void {
  if (typeof cleanup === 'function') cleanup();
  else cleanup.dispose();
}
