/**
 * What every long-lived stream (SSE, graphql-ws) shares: a client this far behind in reading is
 * disconnected (it reconnects and gets a fresh start) rather than buffered without bound.
 */
export const MAX_BUFFERED_BYTES = 1024 * 1024;
