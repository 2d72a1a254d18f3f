import { createHash, randomInt } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * Credential format: `vx_<kind>_<30 random base62><6-char base62 CRC32 of everything before>`.
 * The prefix tells a leaked key's kind at a glance; the checksum lets a secret scanner tell a
 * real key from noise offline, without asking any server.
 */
export const KEY_KINDS = {
  server: 'srv',
  mobile: 'mob',
  client: 'cs',
  personal: 'pat',
  service: 'sat',
  invitation: 'inv',
} as const;
export type KeyKind = keyof typeof KEY_KINDS;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 30;
const CHECKSUM_LENGTH = 6;
const FORMAT = /^vx_(srv|mob|cs|pat|sat|inv)_([0-9A-Za-z]{36})$/;

function base62(value: number, width: number): string {
  let out = '';
  for (let v = value; v > 0; v = Math.floor(v / 62)) out = BASE62[v % 62] + out;
  return out.padStart(width, '0');
}

function checksum(body: string): string {
  return base62(crc32(body) >>> 0, CHECKSUM_LENGTH);
}

export function generateKey(kind: KeyKind): string {
  let random = '';
  for (let i = 0; i < RANDOM_LENGTH; i++) random += BASE62[randomInt(62)];
  const body = `vx_${KEY_KINDS[kind]}_${random}`;
  return body + checksum(body);
}

/** The kind of a well-formed key whose checksum matches, else null. Pure and offline. */
export function parseKey(value: string): KeyKind | null {
  const match = FORMAT.exec(value);
  if (!match) return null;
  const body = value.slice(0, -CHECKSUM_LENGTH);
  if (checksum(body) !== value.slice(-CHECKSUM_LENGTH)) return null;
  const prefix = match[1];
  return (Object.keys(KEY_KINDS) as KeyKind[]).find((k) => KEY_KINDS[k] === prefix) ?? null;
}

export function hashKey(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** What the API shows after creation: the prefix and the last four characters. */
export function maskKey(value: string): string {
  const prefix = value.slice(0, value.indexOf('_', 3) + 1);
  return `${prefix}…${value.slice(-4)}`;
}
