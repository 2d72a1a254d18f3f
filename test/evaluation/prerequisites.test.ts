import { describe, expect, it } from 'vitest';
import type { FlagConfig } from '../../src/evaluation/index.js';
import { evaluate, MAX_PREREQUISITE_DEPTH } from '../../src/evaluation/index.js';
import { givenEnv, givenFlag } from './builders.js';

// `base` serves true (variation 0) to pro users and false otherwise.
const base = givenFlag('base', {
  state: {
    rules: [{ id: 'pro', clauses: [{ attribute: 'plan', op: 'in', values: ['pro'] }], serve: { variation: 0 } }],
  },
});
const dependent = (key: string, on: string, variation = 0): FlagConfig =>
  givenFlag(key, { state: { fallthrough: { variation: 0 }, prerequisites: [{ key: on, variation }] } });

describe('prerequisites', () => {
  it('pass: the prerequisite serves the required variation', () => {
    const env = givenEnv([base, dependent('child', 'base')]);
    expect(evaluate(env, 'child', { key: 'u', plan: 'pro' })).toMatchObject({ value: true, reason: 'DEFAULT' });
  });

  it('fail: another variation serves the off variation, DISABLED, naming the prerequisite', () => {
    const env = givenEnv([base, dependent('child', 'base')]);
    expect(evaluate(env, 'child', { key: 'u', plan: 'free' })).toEqual({
      key: 'child',
      value: false,
      variation: 1,
      variationName: 'off',
      reason: 'DISABLED',
      prerequisiteKey: 'base',
      version: 1,
    });
  });

  it('fail: the prerequisite is off, even if its off variation is the required one', () => {
    const off = givenFlag('base', { state: { on: false, offVariation: 0 } });
    const env = givenEnv([off, dependent('child', 'base')]);
    expect(evaluate(env, 'child', { key: 'u' })).toMatchObject({ reason: 'DISABLED', prerequisiteKey: 'base' });
  });

  it('fail: the prerequisite flag does not exist', () => {
    const env = givenEnv([dependent('child', 'ghost')]);
    expect(evaluate(env, 'child', { key: 'u' })).toMatchObject({
      reason: 'DISABLED',
      prerequisiteKey: 'ghost',
      value: false,
    });
  });

  it('fail: the prerequisite evaluates to an error', () => {
    const rollout = givenFlag('base', {
      state: {
        fallthrough: {
          rollout: {
            variations: [
              { variation: 0, weight: 100000 },
              { variation: 1, weight: 0 },
            ],
          },
        },
      },
    });
    const env = givenEnv([rollout, dependent('child', 'base')]);
    expect(evaluate(env, 'child', { key: 'u' })).toMatchObject({ value: true });
    expect(evaluate(env, 'child', {})).toMatchObject({ reason: 'DISABLED', prerequisiteKey: 'base' });
  });

  it('prerequisites are checked in order, the first failing one is reported', () => {
    const yes = givenFlag('yes', { state: { fallthrough: { variation: 0 } } });
    const no = givenFlag('no', { state: { fallthrough: { variation: 1 } } });
    const child = givenFlag('child', {
      state: {
        fallthrough: { variation: 0 },
        prerequisites: [
          { key: 'yes', variation: 0 },
          { key: 'no', variation: 0 },
          { key: 'ghost', variation: 0 },
        ],
      },
    });
    expect(evaluate(givenEnv([yes, no, child]), 'child', {})).toMatchObject({ prerequisiteKey: 'no' });
  });

  it('a chain of 3: grandchild → child → base', () => {
    const env = givenEnv([base, dependent('child', 'base'), dependent('grandchild', 'child')]);
    expect(evaluate(env, 'grandchild', { key: 'u', plan: 'pro' })).toMatchObject({ value: true, reason: 'DEFAULT' });
    // base fails → child DISABLED → grandchild DISABLED naming its direct prerequisite
    expect(evaluate(env, 'grandchild', { key: 'u', plan: 'free' })).toMatchObject({
      value: false,
      reason: 'DISABLED',
      prerequisiteKey: 'child',
    });
  });

  it('a cycle (refused by validation) ends in ERROR/GENERAL instead of recursing forever', () => {
    const env = givenEnv([dependent('a', 'b'), dependent('b', 'a')]);
    expect(evaluate(env, 'a', { key: 'u' })).toMatchObject({ reason: 'ERROR', errorCode: 'GENERAL', value: false });
    const self = givenEnv([dependent('s', 's')]);
    expect(evaluate(self, 's', {})).toMatchObject({ reason: 'ERROR', errorCode: 'GENERAL' });
  });

  it(`a legitimate chain of ${MAX_PREREQUISITE_DEPTH} prerequisites still evaluates`, () => {
    const flags: FlagConfig[] = [givenFlag('f0', { state: { fallthrough: { variation: 0 } } })];
    for (let i = 1; i <= MAX_PREREQUISITE_DEPTH; i++) flags.push(dependent(`f${i}`, `f${i - 1}`));
    expect(evaluate(givenEnv(flags), `f${MAX_PREREQUISITE_DEPTH}`, {})).toMatchObject({
      value: true,
      reason: 'DEFAULT',
    });
  });
});
