import { expect } from 'vitest';
import type { CompiledEnvironment } from '../../src/evaluation/index.js';

/** Everything a compiled environment says, with its links checked to point into the environment itself. */
export function compiledShape(env: CompiledEnvironment) {
  expect([...env.flags.keys()].sort()).toEqual(env.flagList.map((f) => f.key).sort());
  expect(env.flags.size).toBe(env.flagList.length);
  for (const [key, flag] of env.flags) expect(env.flags.has(key) && flag.key === key).toBe(true);
  return {
    version: env.version,
    segments: [...env.segments.keys()].sort(),
    flags: env.flagList.map((flag) => {
      expect(env.flags.get(flag.key)).toBe(flag);
      for (const p of flag.prerequisites) expect(p.flag).toBe(env.flags.get(p.key) ?? null);
      for (const rule of flag.rules)
        for (const clause of rule.clauses)
          for (const segment of clause.segments) expect(segment).toBe(env.segments.get(segment.key));
      return {
        key: flag.key,
        config: JSON.stringify({ definition: flag.definition, state: flag.state }),
        rules: flag.rules.map((rule) => rule.clauses.map((c) => c.segments.map((s) => s.key))),
        prerequisites: flag.prerequisites.map((p) => [p.key, p.flag?.key ?? null]),
      };
    }),
  };
}
