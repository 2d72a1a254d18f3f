import { describe, expect, it } from 'vitest';
import { evenWeights, percent, setWeight, TOTAL } from '../../web/src/views/flags/weights.js';

const sum = (w: number[]) => w.reduce((a, b) => a + b, 0);

describe("the console's rollout weight editor", () => {
  it('splits evenly, the remainder to the first variations', () => {
    expect(evenWeights(3)).toEqual([33334, 33333, 33333]);
    expect(sum(evenWeights(7))).toBe(TOTAL);
  });

  it('keeps the total at 100% whatever is typed: the difference comes from the following variations first', () => {
    expect(setWeight([50000, 50000], 0, 80000)).toEqual([80000, 20000]);
    expect(setWeight([20000, 30000, 50000], 0, 70000)).toEqual([70000, 0, 30000]);
    expect(setWeight([20000, 30000, 50000], 2, 10000)).toEqual([60000, 30000, 10000]);
    expect(setWeight([50000, 50000], 1, 250000)).toEqual([0, 100000]);
    expect(setWeight([50000, 50000], 1, -5)).toEqual([100000, 0]);
  });

  it('never leaves 100% or goes negative over many edits', () => {
    let weights = evenWeights(4);
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 500; i++) {
      weights = setWeight(weights, next() % 4, (next() % 120000) - 10000);
      expect(sum(weights)).toBe(TOTAL);
      expect(weights.every((w) => w >= 0 && Number.isInteger(w))).toBe(true);
    }
  });

  it('shows thousandths of a percent without trailing zeros', () => {
    expect(percent(100000)).toBe('100%');
    expect(percent(33333)).toBe('33.333%');
    expect(percent(12500)).toBe('12.5%');
  });
});
