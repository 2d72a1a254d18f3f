import { describe, expect, it } from 'vitest';
import type { Clause, FlagDefinition, FlagEnvState, Problem, Rule, Segment } from '../../src/evaluation/index.js';
import {
  findPrerequisiteCycle,
  MAX_CLAUSES_PER_RULE,
  MAX_REGEX_LENGTH,
  MAX_RULES,
  MAX_TARGET_KEYS,
  MAX_VALUES_PER_CLAUSE,
  validateEnvironment,
  validateFlagDefinition,
  validateFlagState,
  validateSegment,
} from '../../src/evaluation/index.js';
import { givenFlag } from './builders.js';

const flag = givenFlag('f');
const ctx = {
  segmentKeys: new Set(['beta']),
  flags: new Map([
    ['f', { variationsCount: 2 }],
    ['g', { variationsCount: 3 }],
    ['h', { variationsCount: 2 }],
  ]),
  prerequisiteGraph: new Map([
    ['g', ['h']],
    ['h', ['f']],
  ]),
};

function stateProblems(state: Partial<FlagEnvState>): Problem[] {
  return validateFlagState(flag.definition, { ...flag.state, ...state }, ctx);
}
function defProblems(def: Partial<FlagDefinition>): Problem[] {
  return validateFlagDefinition({ ...flag.definition, ...def });
}
const rule = (clauses: Clause[], id = 'r'): Rule => ({ id, clauses, serve: { variation: 0 } });
const clauseProblems = (clause: Clause) => stateProblems({ rules: [rule([clause])] });

function expectProblem(problems: Problem[], path: string, message: RegExp): void {
  expect(problems).toContainEqual({ path, message: expect.stringMatching(message) as unknown as string });
}

describe('validateFlagDefinition', () => {
  it('accepts a valid definition of each kind', () => {
    expect(validateFlagDefinition(flag.definition)).toEqual([]);
    expect(defProblems({ kind: 'string', variations: [{ value: 'a' }] })).toEqual([]);
    expect(defProblems({ kind: 'number', variations: [{ value: 1.5 }, { value: -2 }] })).toEqual([]);
    expect(defProblems({ kind: 'json', variations: [{ value: { a: [1, null, 'x'] } }, { value: null }] })).toEqual([]);
  });

  it('refuses an empty key and unknown kind', () => {
    expectProblem(defProblems({ key: '' }), 'key', /non-empty/);
    expectProblem(defProblems({ kind: 'date' as never }), 'kind', /one of/);
  });

  it('needs at least one variation; a boolean exactly two', () => {
    expectProblem(defProblems({ kind: 'string', variations: [] }), 'variations', /at least one/);
    expectProblem(defProblems({ variations: [{ value: true }] }), 'variations', /exactly 2/);
  });

  it.each([
    ['boolean', 'yes'],
    ['string', 1],
    ['number', '1'],
    ['number', Number.NaN],
    ['number', Number.POSITIVE_INFINITY],
    ['json', undefined],
    ['json', new Date(0)],
    ['json', { nested: () => 1 }],
  ])('a %s flag refuses the value %s', (kind, value) => {
    const variations = kind === 'boolean' ? [{ value: true }, { value }] : [{ value }];
    expectProblem(
      defProblems({ kind: kind as FlagDefinition['kind'], variations }),
      `variations[${variations.length - 1}].value`,
      /not a valid/,
    );
  });

  it('checks clientSideAvailable, tags and salt types', () => {
    const problems = defProblems({ clientSideAvailable: 'yes' as never, tags: [1] as never, salt: 3 as never });
    expect(problems.map((p) => p.path)).toEqual(['clientSideAvailable', 'tags', 'salt']);
  });
});

describe('validateFlagState', () => {
  it('accepts a valid state', () => {
    const state: FlagEnvState = {
      ...flag.state,
      targets: [{ variation: 0, values: ['a'] }],
      rules: [
        rule([
          { attribute: 'email', op: 'matches', values: ['@vexil\\.dev$'] },
          { attribute: '', op: 'segmentMatch', values: ['beta'] },
        ]),
      ],
      fallthrough: {
        rollout: {
          variations: [
            { variation: 0, weight: 30000 },
            { variation: 1, weight: 70000 },
          ],
        },
      },
      prerequisites: [{ key: 'g', variation: 2 }],
    };
    expect(validateFlagState(flag.definition, state, { ...ctx, prerequisiteGraph: new Map() })).toEqual([]);
  });

  it('variation indexes must be in range everywhere', () => {
    expectProblem(stateProblems({ offVariation: 2 }), 'offVariation', /out of range/);
    expectProblem(stateProblems({ fallthrough: { variation: -1 } }), 'fallthrough.variation', /out of range/);
    expectProblem(
      stateProblems({ targets: [{ variation: 5, values: ['a'] }] }),
      'targets[0].variation',
      /out of range/,
    );
    expectProblem(
      stateProblems({ rules: [{ id: 'r', clauses: [], serve: { variation: 1.5 } }] }),
      'rules[0].serve.variation',
      /out of range/,
    );
    expectProblem(
      stateProblems({ fallthrough: { rollout: { variations: [{ variation: 9, weight: 100000 }] } } }),
      'fallthrough.rollout.variations[0].variation',
      /out of range/,
    );
  });

  it('rollout weights are integers ≥ 0 summing to exactly 100000', () => {
    const weights = (...ws: number[]) =>
      stateProblems({
        fallthrough: { rollout: { variations: ws.map((weight, i) => ({ variation: i % 2, weight })) } },
      });
    expectProblem(weights(50000, 49999), 'fallthrough.rollout.variations', /sum to 99999/);
    expectProblem(weights(50000.5, 49999.5), 'fallthrough.rollout.variations[0].weight', /integer/);
    expectProblem(weights(-1, 100001), 'fallthrough.rollout.variations[0].weight', /≥ 0/);
    expect(weights(100000, 0)).toEqual([]);
  });

  it('unknown segment keys in segmentMatch', () => {
    expectProblem(
      clauseProblems({ attribute: '', op: 'segmentMatch', values: ['beta', 'ghost'] }),
      'rules[0].clauses[0].values[1]',
      /unknown segment "ghost"/,
    );
  });

  it('prerequisites: unknown flag, variation out of range, self, duplicate', () => {
    expectProblem(
      stateProblems({ prerequisites: [{ key: 'ghost', variation: 0 }] }),
      'prerequisites[0].key',
      /unknown flag/,
    );
    expectProblem(
      stateProblems({ prerequisites: [{ key: 'h', variation: 2 }] }),
      'prerequisites[0].variation',
      /out of range/,
    );
    expectProblem(
      stateProblems({ prerequisites: [{ key: 'f', variation: 0 }] }),
      'prerequisites[0].key',
      /its own prerequisite/,
    );
    expectProblem(
      stateProblems({
        prerequisites: [
          { key: 'h', variation: 0 },
          { key: 'h', variation: 1 },
        ],
      }),
      'prerequisites[1].key',
      /duplicate/,
    );
  });

  it('prerequisite cycles through other flags', () => {
    expectProblem(
      stateProblems({ prerequisites: [{ key: 'g', variation: 0 }] }),
      'prerequisites',
      /cycle: f → g → h → f/,
    );
  });

  it.each([
    ['too long', 'a'.repeat(MAX_REGEX_LENGTH + 1), /longer than/],
    ['JavaScript-only', '^\\u0061dmin$', /invalid regular expression \(RE2 syntax\): invalid escape sequence/],
    ['too large', 'a{1000}', /too large: compiles to more than 1000 instructions/],
    ['invalid', '(unclosed', /invalid regular expression/],
    ['backreference', '(a)\\1', /backreferences/],
    ['lookahead', 'a(?=b)', /lookaround/],
  ])('refuses a %s regular expression', (_name, pattern, message) => {
    expectProblem(
      clauseProblems({ attribute: 'a', op: 'matches', values: [pattern] }),
      'rules[0].clauses[0].values[0]',
      message,
    );
  });

  it('accepts a regular expression of exactly the maximum length', () => {
    expect(clauseProblems({ attribute: 'a', op: 'matches', values: ['a'.repeat(MAX_REGEX_LENGTH)] })).toEqual([]);
  });

  it('operand types per operator', () => {
    expectProblem(
      clauseProblems({ attribute: 'a', op: 'lt', values: ['10'] }),
      'rules[0].clauses[0].values[0]',
      /finite number/,
    );
    expectProblem(
      clauseProblems({ attribute: 'a', op: 'semverGt', values: ['1.2'] }),
      'rules[0].clauses[0].values[0]',
      /semantic version/,
    );
    expectProblem(
      clauseProblems({ attribute: 'a', op: 'before', values: ['2024-02-30'] }),
      'rules[0].clauses[0].values[0]',
      /RFC 3339/,
    );
    expectProblem(
      clauseProblems({ attribute: 'a', op: 'contains', values: [1] }),
      'rules[0].clauses[0].values[0]',
      /string/,
    );
  });

  it('unknown operators, empty attributes and empty values', () => {
    expectProblem(
      clauseProblems({ attribute: 'a', op: 'like' as never, values: ['x'] }),
      'rules[0].clauses[0].op',
      /unknown operator "like"/,
    );
    expectProblem(
      clauseProblems({ attribute: '', op: 'in', values: ['x'] }),
      'rules[0].clauses[0].attribute',
      /non-empty/,
    );
    expectProblem(
      clauseProblems({ attribute: 'a', op: 'in', values: [] }),
      'rules[0].clauses[0].values',
      /at least one/,
    );
  });

  it('rule ids are non-empty and unique', () => {
    expectProblem(stateProblems({ rules: [rule([], '')] }), 'rules[0].id', /non-empty/);
    expectProblem(
      stateProblems({ rules: [rule([], 'x'), rule([], 'y'), rule([], 'x')] }),
      'rules[2].id',
      /duplicate rule id "x"/,
    );
  });

  it('limits: rules, clauses, values, target keys', () => {
    const rules = Array.from({ length: MAX_RULES + 1 }, (_, i) => rule([], `r${i}`));
    expectProblem(stateProblems({ rules }), 'rules', new RegExp(`at most ${MAX_RULES} rules`));
    expect(stateProblems({ rules: rules.slice(0, MAX_RULES) })).toEqual([]);

    const clauses = Array.from(
      { length: MAX_CLAUSES_PER_RULE + 1 },
      (): Clause => ({ attribute: 'a', op: 'in', values: ['x'] }),
    );
    expectProblem(stateProblems({ rules: [rule(clauses)] }), 'rules[0].clauses', /at most 30 clauses/);

    const values = Array.from({ length: MAX_VALUES_PER_CLAUSE + 1 }, (_, i) => `v${i}`);
    expectProblem(
      clauseProblems({ attribute: 'a', op: 'in', values }),
      'rules[0].clauses[0].values',
      /at most 1000 values/,
    );

    const keys = Array.from({ length: MAX_TARGET_KEYS / 2 + 1 }, (_, i) => `k${i}`);
    expectProblem(
      stateProblems({
        targets: [
          { variation: 0, values: keys },
          { variation: 1, values: keys },
        ],
      }),
      'targets',
      /at most 10000 target keys/,
    );
  });
});

describe('validateSegment', () => {
  const segment: Segment = {
    key: 'beta',
    included: ['a'],
    excluded: ['b'],
    rules: [{ id: 's', clauses: [{ attribute: 'plan', op: 'in', values: ['pro'] }] }],
  };

  it('accepts a valid segment', () => {
    expect(validateSegment(segment)).toEqual([]);
  });

  it('refuses segmentMatch inside a segment, bad key lists and duplicate rule ids', () => {
    const problems = validateSegment({
      key: '',
      included: [1] as never,
      excluded: ['x'],
      rules: [
        { id: 's', clauses: [{ attribute: '', op: 'segmentMatch', values: ['beta'] }] },
        { id: 's', clauses: [{ attribute: 'a', op: 'matches', values: ['(?<=x)y'] }] },
      ],
    });
    expectProblem(problems, 'key', /non-empty/);
    expectProblem(problems, 'included', /array of strings/);
    expectProblem(problems, 'rules[0].clauses[0].op', /not allowed inside a segment/);
    expectProblem(problems, 'rules[1].id', /duplicate/);
    expectProblem(problems, 'rules[1].clauses[0].values[0]', /lookaround/);
  });
});

describe('findPrerequisiteCycle', () => {
  it('finds self loops and longer cycles, and nothing in a DAG', () => {
    expect(findPrerequisiteCycle(new Map([['a', ['a']]]))).toEqual(['a', 'a']);
    expect(
      findPrerequisiteCycle(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', ['a']],
        ]),
        'a',
      ),
    ).toEqual(['a', 'b', 'c', 'a']);
    expect(
      findPrerequisiteCycle(
        new Map([
          ['a', ['b', 'c']],
          ['b', ['c']],
          ['c', []],
        ]),
      ),
    ).toBeNull();
  });
});

describe('validateEnvironment', () => {
  it('prefixes paths and finds cross-flag problems', () => {
    const problems = validateEnvironment({
      version: 1,
      segments: [],
      flags: [
        givenFlag('a', { state: { prerequisites: [{ key: 'b', variation: 0 }] } }),
        givenFlag('b', { state: { prerequisites: [{ key: 'a', variation: 0 }] } }),
        givenFlag('a'),
      ],
    });
    expectProblem(problems, 'flags[2].definition.key', /duplicate flag "a"/);
    expectProblem(problems, 'flags[0].state.prerequisites', /cycle: a → b → a/);
  });

  it('a valid environment has no problems', () => {
    expect(
      validateEnvironment({
        version: 1,
        segments: [],
        flags: [givenFlag('a'), givenFlag('b', { state: { prerequisites: [{ key: 'a', variation: 1 }] } })],
      }),
    ).toEqual([]);
  });
});
