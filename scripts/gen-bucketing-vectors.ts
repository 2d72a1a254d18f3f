// Writes test/fixtures/bucketing-vectors.json: rollout bucketing vectors that SDKs in other
// languages run to prove they bucket exactly like the engine (see docs/evaluation.md).
// Usage: npx tsx scripts/gen-bucketing-vectors.ts
// The engine's murmur3 is itself checked against independently published vectors in
// test/evaluation/murmur3.test.ts, so this file is not circular.

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WeightedVariation } from '../src/evaluation/index.js';
import { bucketInput, bucketOf, murmur3String, pickWeighted } from '../src/evaluation/index.js';

interface Case {
  flagKey: string;
  flagSalt?: string;
  rolloutSalt?: string;
  value: string | number;
  weights: number[];
}

const SPLITS: number[][] = [
  [50000, 50000],
  [10000, 90000],
  [20000, 30000, 50000],
  [33333, 33333, 33334],
  [0, 100000],
  [100000, 0],
  [25000, 25000, 25000, 25000],
];

const VALUES: (string | number)[] = [
  'user-1',
  'user-2',
  'user-42',
  'alice@example.com',
  'bob',
  'a',
  'Z',
  '550e8400-e29b-41d4-a716-446655440000',
  'org:acme/team:core',
  'with space',
  'dot.in.key',
  'café',
  'naïve-user',
  'Ελληνικά',
  'пользователь',
  '用户-7',
  'ユーザー',
  '😀-emoji',
  '🇫🇷',
  'מִשְׁתַּמֵּשׁ',
  'x'.repeat(100),
  '  padded  ',
  '0',
  '12345',
  0,
  1,
  42,
  -7,
  1234567890,
  9007199254740991,
  3.5,
  -0.25,
];

const cases: Case[] = [];
VALUES.forEach((value, i) => {
  cases.push({
    flagKey: i % 2 === 0 ? 'new-checkout' : 'dark-mode',
    value,
    weights: SPLITS[i % SPLITS.length] as number[],
  });
});
const extra: Case[] = [
  { flagKey: 'new-checkout', flagSalt: 'salt-1', value: 'user-1', weights: [50000, 50000] },
  { flagKey: 'new-checkout', flagSalt: 'salt-1', rolloutSalt: 'rule-salt', value: 'user-1', weights: [50000, 50000] },
  { flagKey: 'new-checkout', rolloutSalt: 'rule-salt', value: 'user-2', weights: [20000, 30000, 50000] },
  { flagKey: 'flag.with.dots', value: 'user-1', weights: [10000, 90000] },
  { flagKey: 'drapeau-é', value: 'utilisateur-é', weights: [50000, 50000] },
  { flagKey: 'k', flagSalt: '', value: 'v', weights: [50000, 50000] },
  { flagKey: 'pricing', flagSalt: 'spring-2025', value: 'team-9', weights: [33333, 33333, 33334] },
  { flagKey: 'pricing', flagSalt: 'spring-2025', value: 'team-10', weights: [33333, 33333, 33334] },
  { flagKey: 'onboarding-v2', value: 'device-ab12', weights: [1000, 99000] },
  { flagKey: 'onboarding-v2', value: 'device-ab13', weights: [99000, 1000] },
  { flagKey: 'search', value: '日本', weights: [25000, 25000, 25000, 25000] },
  { flagKey: 'search', value: 'Ünïcödé', weights: [25000, 25000, 25000, 25000] },
  { flagKey: 'search', value: 100000, weights: [50000, 50000] },
  { flagKey: 'search', value: 1e21, weights: [50000, 50000] },
  { flagKey: 'search', value: 'user-99999', weights: [50000, 50000] },
  { flagKey: 'search', value: 'user-100000', weights: [50000, 50000] },
  { flagKey: 'search', value: 'user-100001', weights: [50000, 50000] },
  { flagKey: 'search', value: 'user-100002', weights: [50000, 50000] },
];
cases.push(...extra);

const vectors = cases.map((c) => {
  const salt = c.rolloutSalt ?? c.flagSalt ?? c.flagKey;
  const valueString = String(c.value);
  const input = bucketInput(c.flagKey, salt, valueString);
  const hash = murmur3String(input);
  const bucket = bucketOf(c.flagKey, salt, valueString);
  const rollout: WeightedVariation[] = c.weights.map((weight, variation) => ({ variation, weight }));
  return {
    ...c,
    input,
    inputUtf8Hex: Buffer.from(input, 'utf8').toString('hex'),
    hash,
    bucket,
    expectedVariation: pickWeighted(rollout, bucket),
  };
});

const file = {
  description:
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the description shows the template literal itself
    'Rollout bucketing vectors. salt = rolloutSalt ?? flagSalt ?? flagKey; input = `${flagKey}.${salt}.${value}` ' +
    '(numbers in ECMAScript String() form; inputUtf8Hex shows the exact bytes); hash = murmur3_x86_32(UTF-8(input), seed 0) as unsigned 32-bit; ' +
    'bucket = hash mod 100000; weights are the rollout variations in order (variation i has weights[i]); ' +
    'expectedVariation = first i whose cumulative weight > bucket.',
  vectors,
};

const target = fileURLToPath(new URL('../test/fixtures/bucketing-vectors.json', import.meta.url));
writeFileSync(target, `${JSON.stringify(file, null, 2)}\n`);
console.log(`wrote ${vectors.length} vectors to ${target}`);
