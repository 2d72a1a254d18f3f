import { createHash } from 'node:crypto';
import { clientSideOnly, type EvaluationContext, type EvaluationResult, evaluateAll } from '../../evaluation/index.js';
import type { Snapshot } from '../../realtime/snapshots.js';

/**
 * What a bulk evaluation of one context came to on one snapshot, for the two bulk doors
 * (`/v1/evaluate/bulk` without `flag_keys`, OFREP bulk): an SDK polls with the same context again
 * and again, and a repeat costs a lookup instead of an evaluation of every flag. Only contexts
 * of at most BULK_MEMO_CHARS characters; at most BULK_MEMO_ENTRIES entries, BULK_MEMO_RESULTS
 * results and BULK_MEMO_ANSWER_CHARS of kept answers across every environment of this node (so
 * about 60 MB at worst, whatever the environments' sizes), all let go when one bound is passed;
 * a replaced snapshot's entries go with it.
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
  /** REST: the `/v1/evaluate/bulk` answer as JSON (see restAnswer). */
  restJson?: string;
  /** The entry is in the memo (its context was short enough). */
  kept: boolean;
}

let memos = new WeakMap<Snapshot, { all: Map<string, BulkEvaluation>; client: Map<string, BulkEvaluation> }>();
let entries = 0;
/** Results and characters of answers kept with entries since the memo was last let go. */
let heldResults = 0;
let heldChars = 0;
const BULK_MEMO_CHARS = 1_024;
const BULK_MEMO_ENTRIES = 10_000;
/** At most this much answer JSON is kept (an answer grows with the flags: 10,000 of them are ~700 KB). */
const BULK_MEMO_ANSWER_CHARS = 16 * 1024 * 1024;
/** Result references held (8 bytes each; the results themselves belong to the snapshots). */
const BULK_MEMO_RESULTS = 2_000_000;

function forget(): void {
  memos = new WeakMap();
  entries = 0;
  heldResults = 0;
  heldChars = 0;
}

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
    kept: false,
  };
  if (json.length <= BULK_MEMO_CHARS) {
    if (entries >= BULK_MEMO_ENTRIES || heldResults + evaluated.results.length > BULK_MEMO_RESULTS) forget();
    else {
      heldResults += evaluated.results.length;
      memo.set(json, evaluated);
      evaluated.kept = true;
      entries++;
    }
  }
  return evaluated;
}

/**
 * The REST bulk answer of an entry, built by `build` once and kept with it while the memo holds
 * less than BULK_MEMO_ANSWER_CHARS of answers; past that the whole memo is let go (as when it
 * holds too many entries), so what it keeps stays bounded whatever the environments' sizes.
 */
export function restAnswer(evaluated: BulkEvaluation, build: () => string): string {
  if (evaluated.restJson !== undefined) return evaluated.restJson;
  const json = build();
  if (!evaluated.kept) return json;
  heldChars += json.length;
  if (heldChars > BULK_MEMO_ANSWER_CHARS) forget();
  else evaluated.restJson = json;
  return json;
}

/** The context's SHA-256, 22 base64url characters (what the OFREP bulk ETag names it by). */
export function contextHash(evaluated: BulkEvaluation): string {
  evaluated.hash ??= createHash('sha256').update(evaluated.json).digest('base64url').slice(0, 22);
  return evaluated.hash;
}
