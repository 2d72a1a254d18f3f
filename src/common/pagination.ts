import { ValidationError } from '../errors.js';

/** The page envelope of the API reference: limit default 50, max 100. */
export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 100;

export interface PageArgs {
  limit?: number | null;
  offset?: number | null;
}

export interface Page<T> {
  data: T[];
  total: number;
  limit: number;
  offset: number;
  hasMore: boolean;
}

export function pageWindow(args: PageArgs): { limit: number; offset: number } {
  const limit = args.limit ?? DEFAULT_LIMIT;
  const offset = args.offset ?? 0;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new ValidationError(`limit must be between 1 and ${MAX_LIMIT}`);
  }
  if (!Number.isInteger(offset) || offset < 0) throw new ValidationError('offset must be 0 or more');
  return { limit, offset };
}

export function toPage<T>(data: T[], total: number, window: { limit: number; offset: number }): Page<T> {
  return { data, total, ...window, hasMore: window.offset + data.length < total };
}
