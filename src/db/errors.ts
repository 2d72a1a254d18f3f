import { DriverException } from '@mikro-orm/core';
import { DomainError, ServiceUnavailableError, ValidationError } from '../errors.js';

/**
 * What a database failure means to the caller, as a DomainError, or null when it is a fault of
 * ours (a 500). The driver's own message carries the SQL and its parameters, so it is never
 * shown to a caller nor logged (http/logging.ts).
 */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EPIPE',
]);

export function fromDatabaseError(error: unknown): DomainError | null {
  if (!(error instanceof Error)) return null;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    // Class 22, data exception: a value the caller sent that the column cannot take (a malformed
    // uuid, a NUL byte, a string or number out of range).
    if (/^22[0-9A-Z]{3}$/.test(code)) return new ValidationError('a value is malformed or out of range');
    // A NUL byte the doors let through breaks the wire protocol itself: still the caller's value.
    if (code === '08P01') return new ValidationError('a value holds a character the database cannot store');
    // Serialization failures and deadlocks that outlived the retries (db/orm.ts).
    if (code === '40001' || code === '40P01') return new ServiceUnavailableError('the database is busy; retry');
    // A statement over its timeout, too many connections, a server shutting down, a lost connection.
    if (code === '57014' || code === '53300' || /^57P0[123]$/.test(code) || /^08/.test(code) || UNREACHABLE.has(code)) {
      return new ServiceUnavailableError('the database is not reachable; retry shortly', 2);
    }
  }
  // The pool waited for a connection in vain, or the connection went away under a query.
  if (
    /Timeout acquiring a connection|Connection terminated|connection timeout|Connection ended|Query read timeout/i.test(
      error.message,
    )
  ) {
    return new ServiceUnavailableError('the database is not reachable; retry shortly', 2);
  }
  return null;
}

/** Whether a transaction failed only because it raced another one (PostgreSQL asks to retry it). */
export function isRetryableTransactionError(error: unknown): boolean {
  const code = error instanceof DriverException ? error.code : undefined;
  return code === '40001' || code === '40P01';
}

/** The DomainError an error stands for: itself, or what a database failure means; null for our own faults. */
export function asDomainError(error: unknown): DomainError | null {
  return error instanceof DomainError ? error : fromDatabaseError(error);
}
