import { ValidationError } from '../../errors.js';
import type { Problem } from '../../evaluation/index.js';

/** Throws the engine's problems as one ValidationError whose message names the first problem. */
export function assertValid(problems: Problem[], prefix = ''): void {
  const first = problems[0];
  if (!first) return;
  const at = (p: Problem) => ({ path: prefix ? `${prefix}.${p.path}` : p.path, message: p.message });
  const shown = at(first);
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  throw new ValidationError(`${shown.path}: ${shown.message}${more}`, { problems: problems.map(at) });
}
