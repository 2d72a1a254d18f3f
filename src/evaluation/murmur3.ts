// MurmurHash3 x86 32-bit over bytes.
//
// Hand-written on purpose: the JavaScript murmur packages (imurmurhash and friends) hash UTF-16
// char codes truncated to bytes, not the UTF-8 bytes of the string, so their hashes of non-ASCII
// keys differ from every other language's murmur3. Rollout buckets must be identical in all SDKs.

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** murmur3_x86_32 of `bytes[0..length)` with `seed`; returns an unsigned 32-bit integer. */
export function murmur3_x86_32(bytes: Uint8Array, seed = 0, length = bytes.length): number {
  let h = seed >>> 0;
  const blocks = length & ~3;
  let i = 0;
  for (; i < blocks; i += 4) {
    let k =
      (bytes[i] as number) |
      ((bytes[i + 1] as number) << 8) |
      ((bytes[i + 2] as number) << 16) |
      ((bytes[i + 3] as number) << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail !== 0) {
    let k = 0;
    if (tail === 3) k ^= (bytes[i + 2] as number) << 16;
    if (tail >= 2) k ^= (bytes[i + 1] as number) << 8;
    k ^= bytes[i] as number;
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const encoder = new TextEncoder();

/** murmur3_x86_32 of the UTF-8 encoding of `text`. */
export function murmur3String(text: string, seed = 0): number {
  return murmur3_x86_32(encoder.encode(text), seed);
}
