// Small builders for engine tests: a flag is built from a few overrides, an environment from flags.

import type {
  Clause,
  CompiledEnvironment,
  FlagConfig,
  FlagDefinition,
  FlagEnvState,
  Segment,
} from '../../src/evaluation/index.js';
import { compileEnvironment } from '../../src/evaluation/index.js';

export interface FlagOverrides {
  definition?: Partial<FlagDefinition>;
  state?: Partial<FlagEnvState>;
}

/** A boolean flag `key`: variations [true, false] named on/off, on, off variation 1, fallthrough 0. */
export function givenFlag(key: string, overrides: FlagOverrides = {}): FlagConfig {
  return {
    definition: {
      key,
      kind: 'boolean',
      variations: [
        { value: true, name: 'on' },
        { value: false, name: 'off' },
      ],
      clientSideAvailable: false,
      ...overrides.definition,
    },
    state: {
      on: true,
      offVariation: 1,
      targets: [],
      rules: [],
      fallthrough: { variation: 1 },
      prerequisites: [],
      version: 1,
      ...overrides.state,
    },
  };
}

export function givenEnv(flags: FlagConfig[], segments: Segment[] = []): CompiledEnvironment {
  return compileEnvironment({ version: 1, flags, segments });
}

/** An environment with one flag "f" whose single rule "r1" (the clause) serves true, else false. */
export function envWithClause(clause: Clause, segments: Segment[] = []): CompiledEnvironment {
  return givenEnv(
    [givenFlag('f', { state: { rules: [{ id: 'r1', clauses: [clause], serve: { variation: 0 } }] } })],
    segments,
  );
}
