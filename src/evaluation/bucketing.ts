// Rollout bucketing: bucket = murmur3_x86_32(UTF-8 of `${flagKey}.${salt}.${value}`, 0) mod 100000.
// See docs/evaluation.md ("Rollouts") for the byte-for-byte contract other SDKs implement.

import { murmur3_x86_32 } from './murmur3.js';
import type { WeightedVariation } from './types.js';

export const BUCKET_COUNT = 100000;

const encoder = new TextEncoder();

/**
 * The string form of a bucketBy attribute value, or null when the value cannot be bucketed
 * (absent, empty string, non-finite number, or any other type).
 */
export function bucketableValue(value: unknown): string | null {
  if (typeof value === 'string') return value.length === 0 ? null : value;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : null;
  return null;
}

/** The exact string that is hashed. */
export function bucketInput(flagKey: string, salt: string, value: string): string {
  return `${flagKey}.${salt}.${value}`;
}

/** Bucket in [0, 100000) for a flag key, salt and bucketBy value (already in string form). */
export function bucketOf(flagKey: string, salt: string, value: string): number {
  return murmur3_x86_32(encoder.encode(bucketInput(flagKey, salt, value))) % BUCKET_COUNT;
}

/**
 * Index into `variations` served for `bucket`: the first whose cumulative weight exceeds the
 * bucket. If the weights sum to less than 100000 (invalid data), the last entry absorbs the rest.
 */
export function pickWeighted(variations: readonly WeightedVariation[], bucket: number): number {
  let sum = 0;
  for (let i = 0; i < variations.length; i++) {
    sum += (variations[i] as WeightedVariation).weight;
    if (bucket < sum) return i;
  }
  return variations.length - 1;
}

// Scratch space reused by every bucketing call: evaluation is synchronous, so one buffer is safe.
let scratch = new Uint8Array(256);

/**
 * Bucket for a precomputed UTF-8 prefix (`${flagKey}.${salt}.`) and a value, without building the
 * concatenated string. ASCII values are copied byte by byte; others go through TextEncoder.
 */
export function bucketWithPrefix(prefix: Uint8Array, value: string): number {
  const prefixLength = prefix.length;
  const maxLength = prefixLength + value.length * 3;
  if (scratch.length < maxLength) scratch = new Uint8Array(Math.max(maxLength, scratch.length * 2));
  scratch.set(prefix, 0);
  let length = prefixLength;
  let ascii = true;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0x80) {
      ascii = false;
      break;
    }
    scratch[length++] = c;
  }
  if (!ascii) length = prefixLength + encoder.encodeInto(value, scratch.subarray(prefixLength)).written;
  return murmur3_x86_32(scratch, 0, length) % BUCKET_COUNT;
}

export function encodePrefix(flagKey: string, salt: string): Uint8Array {
  return encoder.encode(`${flagKey}.${salt}.`);
}
