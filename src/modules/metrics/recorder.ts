import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../clock.js';
import { failureCode, flushProblem, MetricsFlushError, type WriteOutcome } from './batches.js';
import { EvaluationCounter } from './counts.js';
import { EventBuffer } from './events.js';

function problemOf(what: string, settled: PromiseSettledResult<WriteOutcome<unknown>>): string | null {
  return settled.status === 'fulfilled'
    ? flushProblem(what, settled.value)
    : `${what}: flush failed (${failureCode(settled.reason)})`;
}

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

  /**
   * Resolves when everything was written. Otherwise rejects with a MetricsFlushError that says
   * how many rows were dropped (refused by the database) or kept for the next flush, and why, in
   * codes only: its message is safe to log.
   */
  flush(): Promise<void> {
    const next = this.flushing.then(async () => {
      const em = this.em();
      const [counts, events] = await Promise.allSettled([this.evaluations.flush(em), this.events.flush(em)]);
      const said = [problemOf('evaluation counts', counts), problemOf('tracked events', events)].filter(
        (p): p is string => p !== null,
      );
      if (said.length > 0) throw new MetricsFlushError(said.join('; '));
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
