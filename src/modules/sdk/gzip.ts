import { constants, gzipSync } from 'node:zlib';
import type { FastifyReply } from 'fastify';

/**
 * gzip for the SDK doors' large answers (bulk evaluations, the datafile), on fastify and on the
 * fast lane alike: a body above GZIP_THRESHOLD bytes is compressed when the request accepts
 * gzip. Small answers stay plain (the gzip header and the CPU cost more than they save).
 *
 * Answers whose body depends only on what their key names (the datafile of a snapshot version,
 * an OFREP bulk answer by its ETag, which covers version, visibility and context) are kept,
 * serialized and compressed, in a small cache bounded by bytes, so a fleet of SDKs that poll or
 * re-fetch after a change costs one serialization and one compression per node and version.
 */
export const GZIP_THRESHOLD = 1024;
const CACHE_BYTES = 32 * 1024 * 1024;

/** Whether an Accept-Encoding header accepts gzip (an explicit `q=0` refuses it). */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  const value = Array.isArray(header) ? header.join(',') : header;
  for (const part of value.split(',')) {
    const [name, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (name !== 'gzip' && name !== 'x-gzip' && name !== '*') continue;
    const q = params.find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

interface Entry {
  /** The JSON, UTF-8 encoded once: each answer writes these bytes as they are. */
  body: Buffer;
  gzip?: Buffer;
  bytes: number;
}

export class CompressedBodies {
  private entries = new Map<string, Entry>();
  private bytes = 0;

  get(key: string): Entry | undefined {
    return this.entries.get(key);
  }

  set(key: string, entry: Entry): void {
    const old = this.entries.get(key);
    if (old) this.bytes -= old.bytes;
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.bytes += entry.bytes;
    // Oldest first: keys carry their snapshot version, so what goes is what aged.
    for (const [k, e] of this.entries) {
      if (this.bytes <= CACHE_BYTES) break;
      this.entries.delete(k);
      this.bytes -= e.bytes;
    }
  }
}

export interface EncodedBody {
  payload: string | Buffer;
  encoding?: 'gzip';
}

const gzip = (json: string | Buffer) => gzipSync(json, { level: constants.Z_DEFAULT_COMPRESSION });

/**
 * The body for `key` (built by `build` on a miss), gzipped when accepted and large enough.
 * With `cache` null the body is neither looked up nor kept (it depends on more than `key`).
 */
export function compressedReply(
  cache: CompressedBodies | null,
  key: string,
  acceptEncoding: string | string[] | undefined,
  build: () => string,
): EncodedBody {
  const wantsGzip = acceptsGzip(acceptEncoding);
  if (cache === null) {
    const json = build();
    return wantsGzip && json.length > GZIP_THRESHOLD ? { payload: gzip(json), encoding: 'gzip' } : { payload: json };
  }
  let entry = cache.get(key);
  if (entry === undefined) {
    const body = Buffer.from(build(), 'utf8');
    entry = { body, bytes: body.length };
    cache.set(key, entry);
  }
  if (!wantsGzip || entry.body.length <= GZIP_THRESHOLD) return { payload: entry.body };
  if (entry.gzip === undefined) {
    entry.gzip = gzip(entry.body);
    cache.set(key, { ...entry, gzip: entry.gzip, bytes: entry.body.length + entry.gzip.length });
  }
  return { payload: entry.gzip, encoding: 'gzip' };
}

/** Adds Accept-Encoding to the reply's Vary, keeping what is there (Origin, for CORS answers). */
export function varyOnEncoding(reply: FastifyReply): FastifyReply {
  const vary = reply.getHeader('vary');
  const now = Array.isArray(vary) ? vary.join(', ') : vary === undefined ? '' : String(vary);
  if (/(^|,)\s*accept-encoding\s*(,|$)/i.test(now)) return reply;
  return reply.header('vary', now ? `${now}, accept-encoding` : 'accept-encoding');
}
