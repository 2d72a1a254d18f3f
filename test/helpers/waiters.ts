/** Promises that settle when a stream (SSE or graphql-ws) has produced what a test waits for. */
export type Waiters = Set<() => void>;

export function wakeAll(waiters: Waiters): void {
  for (const w of [...waiters]) w();
}

/**
 * Resolves with the first value `take` yields, re-checked each time the waiters are woken;
 * rejects once the stream has ended without one, or after `timeoutMs`.
 */
export function waitOn<T>(
  waiters: Waiters,
  take: () => T | undefined,
  options: { ended: () => boolean; timeoutMs: number; endedMessage: string; timeoutMessage: () => string },
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const check = () => {
      const value = take();
      if (value !== undefined) {
        done();
        resolve(value);
      } else if (options.ended()) {
        done();
        reject(new Error(options.endedMessage));
      }
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(options.timeoutMessage()));
    }, options.timeoutMs);
    const done = () => {
      clearTimeout(timer);
      waiters.delete(check);
    };
    waiters.add(check);
    check();
  });
}

/** Waits until `check` runs without throwing (its assertions pass), and returns its result; on timeout, rethrows its last error. */
export async function eventuallyPasses<T>(check: () => Promise<T>, timeoutMs = 5_000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}

/** Waits until `check` returns a truthy value (a throw counts as not yet), and returns it. */
export function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5_000, intervalMs = 20): Promise<T> {
  return eventuallyPasses(
    async () => {
      const value = await check();
      if (!value) throw new Error(`condition not met within ${timeoutMs} ms`);
      return value;
    },
    timeoutMs,
    intervalMs,
  );
}
