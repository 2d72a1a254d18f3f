import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterAll } from 'vitest';
import { eventually } from './waiters.js';

/** One request a receiver got, with whether its signature verified (standardwebhooks, the receivers' library). */
export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  payload: any;
  /** The secrets (of those the receiver knows) that verified it. */
  verifiedBy: string[];
  answeredStatus: number;
}

export type Answer = (
  request: Received,
  n: number,
) => { status: number; body?: string; headers?: Record<string, string> } | 'hang';

/**
 * A real HTTP webhook receiver on 127.0.0.1: it verifies every request with the standardwebhooks
 * library against the secrets it is given, records it, and answers as `answer` says (200 by
 * default; `hang` never answers).
 */
export class WebhookReceiver {
  readonly received: Received[] = [];
  secrets: string[] = [];
  answer: Answer = () => ({ status: 200, body: 'ok' });
  private server: Server | undefined;
  private hanging = new Set<ServerResponse>();
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  /** The deliveries that verified, in the order they arrived. */
  get verified(): Received[] {
    return this.received.filter((r) => r.verifiedBy.length > 0 && r.answeredStatus >= 200 && r.answeredStatus < 300);
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    afterAll(() => this.stop());
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = {
        'webhook-id': String(req.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
      };
      const verifiedBy = this.secrets.filter((secret) => {
        try {
          new Webhook(secret).verify(body, headers);
          return true;
        } catch {
          return false;
        }
      });
      let payload: unknown;
      try {
        payload = JSON.parse(body);
      } catch {
        payload = undefined;
      }
      const record: Received = {
        id: headers['webhook-id'],
        timestamp: headers['webhook-timestamp'],
        signature: headers['webhook-signature'],
        body,
        payload,
        verifiedBy,
        answeredStatus: 0,
      };
      const answer = this.answer(record, this.received.length + 1);
      this.received.push(record);
      if (answer === 'hang') {
        this.hanging.add(res);
        return;
      }
      record.answeredStatus = answer.status;
      res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers }).end(answer.body ?? '');
    });
  }

  /** Waits until `count` verified deliveries arrived, and returns them. */
  async waitForVerified(count: number, timeoutMs = 15_000): Promise<Received[]> {
    await eventually(() => this.verified.length >= count, timeoutMs);
    return this.verified;
  }
}

export async function givenReceiver(port = 0): Promise<WebhookReceiver> {
  return new WebhookReceiver().start(port);
}
