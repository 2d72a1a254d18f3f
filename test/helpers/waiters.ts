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

/**
 * Polls `attempt` until it settles the wait; on timeout rethrows the last error the check threw
 * (so an assertion shows its own diff), else reports that the condition was never met.
 */
async function poll<T>(attempt: () => Promise<{ value: T } | null>, timeoutMs: number, intervalMs: number, last: { error?: unknown }): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const settled = await attempt();
    if (settled) return settled.value;
    if (Date.now() > deadline) {
      if (last.error !== undefined) throw last.error;
      throw new Error(`condition not met within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Waits until `check` returns a truthy value (a throw counts as not yet), and returns it. */
export function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5_000, intervalMs = 20): Promise<T> {
  const last: { error?: unknown } = {};
  return poll(
    async () => {
      try {
        const value = await check();
        return value ? { value } : null;
      } catch (error) {
        last.error = error;
        return null;
      }
    },
    timeoutMs,
    intervalMs,
    last,
  );
}

/** Waits until `check` runs without throwing (its assertions pass), and returns its result. */
export function eventuallyPasses<T>(check: () => Promise<T>, timeoutMs = 5_000, intervalMs = 20): Promise<T> {
  const last: { error?: unknown } = {};
  return poll(
    async () => {
      try {
        return { value: await check() };
      } catch (error) {
        last.error = error;
        return null;
      }
    },
    timeoutMs,
    intervalMs,
    last,
  );
}
