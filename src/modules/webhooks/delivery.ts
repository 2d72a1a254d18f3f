import { randomBytes } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { openSecret, sealSecret } from '../../auth/sso-secret.js';
import { type ResolvedTarget, resolveTarget, UnsafeTargetError } from './targets.js';

/**
 * One attempt to deliver one event: resolve and check the target (targets.ts), connect to the
 * address that was checked, POST the body signed per the Standard Webhooks specification, and
 * read what the receiver answers, its status and at most its first KB. Redirects are answers
 * like any other (a failure: they are not followed), every phase is bounded in time, and
 * nothing of the answer beyond its first KB is read.
 */
export const RESPONSE_BODY_LIMIT = 1024;
const CONNECT_TIMEOUT_MS = 5_000;
const SECRET_PURPOSE = 'webhook-secret-sealing';

/** A new signing secret: `whsec_` and 32 random bytes in base64, as the specification has it. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export const sealWebhookSecret = (secret: string, serverSecret: string) =>
  sealSecret(secret, serverSecret, SECRET_PURPOSE);
export const openWebhookSecret = (sealed: string, serverSecret: string) =>
  openSecret(sealed, serverSecret, SECRET_PURPOSE);

/**
 * The three Standard Webhooks headers. Each secret in force signs (during a rotation's overlap
 * the new and the previous one), space-separated, so receivers holding either verify.
 */
export function signedHeaders(messageId: string, at: Date, body: string, secrets: readonly string[]) {
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': secrets.map((s) => new StandardWebhook(s).sign(messageId, at, body)).join(' '),
  };
}

export type AttemptOutcome = 'delivered' | 'failed' | 'timeout' | 'refused';

export interface AttemptResult {
  outcome: AttemptOutcome;
  statusCode: number | null;
  latencyMs: number;
  /** Why it failed, in a line (never the body sent). */
  error: string | null;
  /** The first KB of the answer, as text. */
  responseBody: string | null;
}

export interface AttemptRequest {
  url: string;
  messageId: string;
  body: string;
  secrets: readonly string[];
  allowPrivate: boolean;
  timeoutMs: number;
}

/** A lookup that answers with the one address already checked, whatever net asks for. */
function pinnedLookup(target: ResolvedTarget): LookupFunction {
  return (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) {
      (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [
        { address: target.address, family: target.family },
      ]);
    } else callback(null, target.address, target.family);
  };
}

const printable = (text: string) => text.replace(/\0/g, '\uFFFD');

function send(url: URL, target: ResolvedTarget, headers: Record<string, string>, body: string, timeoutMs: number) {
  return new Promise<{ statusCode: number; body: string; location?: string }>((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    const req = client.request(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      lookup: pinnedLookup(target),
      // A connection of its own: no pooled socket to an address resolved for an earlier attempt.
      agent: false,
    });
    const deadline = setTimeout(
      () => req.destroy(new AttemptTimeout(`no complete answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const connectDeadline = setTimeout(
      () => req.destroy(new AttemptTimeout(`could not connect within ${Math.min(CONNECT_TIMEOUT_MS, timeoutMs)} ms`)),
      Math.min(CONNECT_TIMEOUT_MS, timeoutMs),
    );
    const done = () => {
      clearTimeout(deadline);
      clearTimeout(connectDeadline);
    };
    req.on('socket', (socket) => {
      socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(connectDeadline));
    });
    req.on('error', (error) => {
      done();
      reject(error);
    });
    req.on('response', (res: IncomingMessage) => {
      clearTimeout(connectDeadline);
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = () => {
        done();
        const location = res.headers.location;
        resolve({
          statusCode: res.statusCode ?? 0,
          body: printable(Buffer.concat(chunks).subarray(0, RESPONSE_BODY_LIMIT).toString('utf8')),
          ...(typeof location === 'string' ? { location: location.slice(0, 200) } : {}),
        });
      };
      res.on('data', (chunk: Buffer) => {
        if (size >= RESPONSE_BODY_LIMIT) return;
        chunks.push(chunk);
        size += chunk.length;
        // Enough read: the rest of the answer is never read, nor kept.
        if (size >= RESPONSE_BODY_LIMIT) {
          finish();
          res.destroy();
        }
      });
      res.on('end', finish);
      res.on('error', () => finish());
    });
    req.end(body);
  });
}

class AttemptTimeout extends Error {}

/** Makes one attempt; never throws (every failure is an outcome). */
export async function attemptDelivery(request: AttemptRequest): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const url = new URL(request.url);
  let target: ResolvedTarget;
  try {
    target = await resolveTarget(url, request.allowPrivate);
  } catch (error) {
    const message = error instanceof UnsafeTargetError ? error.message : 'the target could not be resolved';
    return { outcome: 'refused', statusCode: null, latencyMs: elapsed(), error: message, responseBody: null };
  }
  const at = new Date();
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'Vexil-Webhooks/1',
    ...signedHeaders(request.messageId, at, request.body, request.secrets),
  };
  try {
    const answer = await send(url, target, headers, request.body, request.timeoutMs);
    const ok = answer.statusCode >= 200 && answer.statusCode < 300;
    let error: string | null = null;
    if (!ok) {
      error =
        answer.statusCode >= 300 && answer.statusCode < 400
          ? `answered ${answer.statusCode}: redirects are not followed${answer.location ? ` (to ${answer.location})` : ''}`
          : `answered ${answer.statusCode}`;
    }
    return {
      outcome: ok ? 'delivered' : 'failed',
      statusCode: answer.statusCode,
      latencyMs: elapsed(),
      error,
      responseBody: answer.body,
    };
  } catch (error) {
    const timedOut = error instanceof AttemptTimeout;
    const code = (error as { code?: unknown }).code;
    const reason = timedOut
      ? (error as Error).message
      : typeof code === 'string'
        ? `${code} connecting to ${target.address}`
        : (error as Error).message.slice(0, 200);
    return {
      outcome: timedOut ? 'timeout' : 'failed',
      statusCode: null,
      latencyMs: elapsed(),
      error: reason,
      responseBody: null,
    };
  }
}
