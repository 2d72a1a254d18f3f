/**
 * Writing buffered rows (tracked events, evaluation counts) in batches so that one row the
 * database refuses can never block the others: a refused batch is split in halves until the
 * rows at fault stand alone, and those are dropped and counted. Rows are never logged, nor is a
 * driver's error message (it quotes the statement with its parameters): only the SQLSTATE.
 */

// SQLSTATE classes of failures caused by the rows themselves: data exceptions (22, e.g. 22P05
// for a NUL in text), integrity constraint violations (23), program limits (54, e.g. a jsonb
// nested too deep). Anything else (no connection, shutdown, a timeout) is the database's state.
const REFUSED_ROWS = /^(22|23|54)/;

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether `error` is about the rows written (so retrying them later cannot help). */
export function refusedRows(error: unknown): boolean {
  // JSON.stringify of a batch: nesting beyond the call stack, or a value it cannot encode.
  if (error instanceof RangeError || error instanceof TypeError) return true;
  const code = codeOf(error);
  return code !== undefined && REFUSED_ROWS.test(code);
}

/** What went wrong, without anything of the rows or the statement. */
export function failureCode(error: unknown): string {
  const code = codeOf(error);
  if (code !== undefined) return /^[0-9A-Z]{5}$/.test(code) ? `SQLSTATE ${code}` : code.slice(0, 40);
  return error instanceof Error ? error.name : 'unknown error';
}

export interface WriteOutcome<R> {
  /** Rows the database refused, now dropped. */
  dropped: number;
  /** The failure code of the last refused row. */
  refusal?: string;
  /** Rows not written because the database failed for another reason (to try again later), in order. */
  unwritten: R[];
  /** That failure, when there was one. */
  error?: unknown;
}

/**
 * Writes `rows` in batches of `size`, in order. A batch refused for its rows is split until the
 * refused ones are found and dropped; any other failure stops the run and hands back every row
 * not written yet.
 */
export async function writeInBatches<R>(
  rows: readonly R[],
  size: number,
  write: (batch: readonly R[]) => Promise<unknown>,
): Promise<WriteOutcome<R>> {
  const outcome: WriteOutcome<R> = { dropped: 0, unwritten: [] };
  // Ranges still to write, the next one last.
  const ranges: [number, number][] = [];
  for (let end = rows.length; end > 0; end -= size) ranges.push([Math.max(0, end - size), end]);
  for (let range = ranges.pop(); range !== undefined; range = ranges.pop()) {
    const [start, end] = range;
    try {
      await write(rows.slice(start, end));
    } catch (error) {
      if (!refusedRows(error)) {
        outcome.error = error;
        outcome.unwritten = rows.slice(start);
        return outcome;
      }
      if (end - start === 1) {
        outcome.dropped++;
        outcome.refusal = failureCode(error);
        continue;
      }
      const middle = (start + end) >> 1;
      ranges.push([middle, end], [start, middle]);
    }
  }
  return outcome;
}

/** A flush that did not write everything; its message names counts and codes only. */
export class MetricsFlushError extends Error {
  override name = 'MetricsFlushError';
}

/** One line for the log about what a flush of `what` did not write, or null when it wrote everything. */
export function flushProblem(what: string, outcome: WriteOutcome<unknown>): string | null {
  const parts: string[] = [];
  if (outcome.dropped > 0)
    parts.push(`${outcome.dropped} refused by the database and dropped (${outcome.refusal ?? 'unknown error'})`);
  if (outcome.error !== undefined)
    parts.push(`${outcome.unwritten.length} kept for the next flush (${failureCode(outcome.error)})`);
  return parts.length === 0 ? null : `${what}: ${parts.join('; ')}`;
}
