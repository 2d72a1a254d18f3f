/**
 * Rollout weights are thousandths of a percent and always sum to 100000. Changing one weight
 * takes the difference from (or gives it to) the others, the following ones first, so the total
 * never leaves 100% while the person edits.
 */
export const TOTAL = 100_000;

export function setWeight(weights: number[], index: number, wanted: number): number[] {
  const next = [...weights];
  const value = Math.max(0, Math.min(TOTAL, Math.round(wanted)));
  let diff = value - (next[index] ?? 0);
  next[index] = value;
  const order = [...next.keys()].filter((i) => i !== index);
  const rotated = [...order.filter((i) => i > index), ...order.filter((i) => i < index)];
  for (const i of rotated) {
    if (diff === 0) break;
    const current = next[i] ?? 0;
    // Positive diff: take from i (down to 0); negative: give it all to the first other one.
    const change = diff > 0 ? Math.min(current, diff) : diff;
    next[i] = current - change;
    diff -= change;
  }
  return next;
}

/** An even split (the remainder to the first ones), for a new rollout. */
export function evenWeights(count: number): number[] {
  if (count <= 0) return [];
  const base = Math.floor(TOTAL / count);
  return Array.from({ length: count }, (_, i) => base + (i < TOTAL - base * count ? 1 : 0));
}

export const percent = (weight: number) => `${(weight / 1000).toFixed(3).replace(/\.?0+$/, '')}%`;
