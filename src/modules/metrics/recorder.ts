import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../clock.js';
import { EvaluationCounter } from './counts.js';
import { EventBuffer } from './events.js';

/**
 * What the SDK doors record off the request path: evaluation counts and tracked events. The app
 * flushes both every few seconds and on close; `flush()` is also what tests call instead of
 * waiting. Flushes never overlap: a call waits for the one in flight, then writes what is left.
 */
export class SdkMetrics {
  readonly evaluations: EvaluationCounter;
  readonly events = new EventBuffer();
  private flushing: Promise<void> = Promise.resolve();
  private early = false;

  constructor(
    private readonly em: () => EntityManager,
    clock: Clock,
  ) {
    this.evaluations = new EvaluationCounter(clock);
  }

  flush(): Promise<void> {
    const next = this.flushing.then(async () => {
      const em = this.em();
      const results = await Promise.allSettled([this.evaluations.flush(em), this.events.flush(em)]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    });
    this.flushing = next.catch(() => undefined);
    return next;
  }

  /** Starts a flush now unless an early one is already running (the event buffer filling up between ticks). */
  flushSoon(onError: (error: Error) => void): void {
    if (this.early) return;
    this.early = true;
    this.flush()
      .catch(onError)
      .finally(() => (this.early = false));
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    sdkMetrics: SdkMetrics;
  }
}
