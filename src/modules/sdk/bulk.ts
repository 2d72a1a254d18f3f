import { createHash } from 'node:crypto';
import { clientSideOnly, type EvaluationContext, type EvaluationResult, evaluateAll } from '../../evaluation/index.js';
import type { Snapshot } from '../../realtime/snapshots.js';

/**
 * What a bulk evaluation of one context came to on one snapshot, for the two bulk doors
 * (`/v1/evaluate/bulk` without `flag_keys`, OFREP bulk): an SDK polls with the same context again
 * and again, and a repeat costs a lookup instead of an evaluation of every flag. Only contexts
 * of at most BULK_MEMO_CHARS characters; at most BULK_MEMO_ENTRIES across every environment of
 * this node (about 15 MB at worst), all let go when full, and a replaced snapshot's with it.
 *
 * Kept per snapshot and visibility, keyed by the context's JSON alone, and each entry keeps what
 * the doors made of it last (a serialized answer, the strings of an ETag and a cache key):
 * building and hashing long keys anew was about 2.5% of a repeated OFREP bulk request.
 */
export interface BulkEvaluation {
  json: string;
  results: EvaluationResult[];
  /** The context's hash (for the OFREP ETag), made when first asked for. */
  hash?: string;
  /** OFREP: the last answer's ETag and body cache key, for the stream token and window they name. */
  made?: { window: number; requestUri: string; etag: string; cacheKey: string };
  /** REST: the `/v1/evaluate/bulk` answer as JSON. */
  restJson?: string;
}

let memos = new WeakMap<Snapshot, { all: Map<string, BulkEvaluation>; client: Map<string, BulkEvaluation> }>();
let entries = 0;
const BULK_MEMO_CHARS = 1_024;
const BULK_MEMO_ENTRIES = 10_000;

export function bulkEvaluation(snapshot: Snapshot, context: EvaluationContext, clientSide: boolean): BulkEvaluation {
  const json = JSON.stringify(context);
  let forSnapshot = memos.get(snapshot);
  if (forSnapshot === undefined) {
    forSnapshot = { all: new Map(), client: new Map() };
    memos.set(snapshot, forSnapshot);
  }
  const memo = clientSide ? forSnapshot.client : forSnapshot.all;
  const known = memo.get(json);
  if (known) return known;
  const evaluated: BulkEvaluation = {
    json,
    results: evaluateAll(snapshot.compiled, context, clientSide ? clientSideOnly : undefined),
  };
  if (json.length <= BULK_MEMO_CHARS) {
    if (entries >= BULK_MEMO_ENTRIES) {
      memos = new WeakMap();
      entries = 0;
    } else {
      memo.set(json, evaluated);
      entries++;
    }
  }
  return evaluated;
}

/** The context's SHA-256, 22 base64url characters (what the OFREP bulk ETag names it by). */
export function contextHash(evaluated: BulkEvaluation): string {
  evaluated.hash ??= createHash('sha256').update(evaluated.json).digest('base64url').slice(0, 22);
  return evaluated.hash;
}
