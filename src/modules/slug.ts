import { ValidationError } from '../errors.js';

/** Lower-case, ASCII, dash-separated; what a URL and a human both read. */
export function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  return slug || 'org';
}

const KEY = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** Keys (environment keys, flag keys, project slugs) given by people. */
export function assertKey(value: string, what: string): string {
  if (!KEY.test(value)) {
    throw new ValidationError(
      `${what} must be 1-63 characters of lower-case letters, digits, "-" or "_", starting with a letter or digit`,
    );
  }
  return value;
}

export function assertName(value: string, what: string, max = 200): string {
  const trimmed = value.trim();
  if (!trimmed) throw new ValidationError(`${what} must not be empty`);
  if (trimmed.length > max) throw new ValidationError(`${what} must be at most ${max} characters`);
  return trimmed;
}
