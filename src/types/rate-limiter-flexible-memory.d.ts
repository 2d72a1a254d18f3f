// rate-limiter-flexible's in-memory store (the one RateLimiterMemory wraps), which ships no
// declaration of its own. Only what src/http/rate-limit.ts uses.
declare module 'rate-limiter-flexible/lib/component/MemoryStorage/MemoryStorage.js' {
  import type { RateLimiterRes } from 'rate-limiter-flexible';

  export default class MemoryStorage {
    /** Adds `value` to the key's count, starting a `durationSec` window when there is none. */
    incrby(key: string, value: number, durationSec: number): RateLimiterRes;
  }
}
