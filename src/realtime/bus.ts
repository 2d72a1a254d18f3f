import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import pg from 'pg';
import { CHANGE_CHANNEL, type ChangePayload } from './changes.js';

export interface BusLogger {
  info(msg: string): void;
  warn(msg: string): void;
}

/**
 * Each node's one dedicated LISTEN connection (ARCHITECTURE.md, step 2). It reconnects with
 * exponential backoff; after a reconnect it emits `resync`, because notifications sent while it
 * was away are lost and every cache must reload.
 *
 * Events: `change` (ChangePayload), `resync` (), `connected` (), `disconnected` ().
 */
export class ChangeBus extends EventEmitter {
  private client: pg.Client | null = null;
  private stopped = false;
  private attempt = 0;
  private everConnected = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private keepAlive: NodeJS.Timeout | null = null;
  connected = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly log: BusLogger,
  ) {
    super();
    this.setMaxListeners(0);
  }

  /** Resolves once the first LISTEN is in place. */
  async start(): Promise<void> {
    await this.connect();
  }

  /** The backend pid of the LISTEN connection (tests terminate it to prove reconnection). */
  backendPid(): number | null {
    return (this.client as unknown as { processID?: number } | null)?.processID ?? null;
  }

  private async connect(): Promise<void> {
    // Bounded connects and keep-alive queries: a black-holed peer is noticed, not waited on forever.
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      keepAlive: true,
      connectionTimeoutMillis: 3_000,
      query_timeout: 5_000,
    });
    client.on('notification', (msg) => {
      if (msg.channel !== CHANGE_CHANNEL || !msg.payload) return;
      let payload: ChangePayload;
      try {
        payload = JSON.parse(msg.payload) as ChangePayload;
      } catch {
        this.log.warn('change bus: ignored a malformed notification');
        return;
      }
      // A time that does not parse is dropped: listeners then fall back to their own clock.
      if (payload.at !== undefined && (typeof payload.at !== 'string' || Number.isNaN(Date.parse(payload.at))))
        delete payload.at;
      this.emit('change', payload);
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    await client.connect();
    await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    this.client = client;
    this.connected = true;
    this.attempt = 0;
    // A dead TCP peer is noticed only when something is sent; a cheap query every 10 s does it.
    this.keepAlive = setInterval(() => void client.query('select 1').catch(() => this.lost(client)), 10_000);
    this.keepAlive.unref();
    this.emit('connected');
    if (this.everConnected) {
      this.log.info('change bus: reconnected, resynchronising caches');
      this.emit('resync');
    }
    this.everConnected = true;
  }

  private lost(client: pg.Client, err?: Error): void {
    if (this.client !== client && this.client !== null) return;
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.client = null;
    if (this.connected) {
      this.connected = false;
      this.emit('disconnected');
      this.log.warn(`change bus: LISTEN connection lost${err ? ` (${err.message})` : ''}`);
    }
    client.removeAllListeners('end');
    client.end().catch(() => undefined);
    if (!this.stopped) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.retryTimer) return;
    const delay = Math.min(5_000, 100 * 2 ** this.attempt++) * (0.75 + Math.random() * 0.5);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.stopped) return;
      this.connect().catch((err: Error) => {
        this.log.warn(`change bus: reconnect failed (${err.message})`);
        this.scheduleReconnect();
      });
    }, delay);
    this.retryTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.keepAlive) clearInterval(this.keepAlive);
    const client = this.client;
    this.client = null;
    this.connected = false;
    if (client) {
      client.removeAllListeners('end');
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    changeBus: ChangeBus;
  }
}

/** This node's LISTEN connection, open before any cache loads and closed with the server. */
export const changeBusPlugin = fp(
  async (app: FastifyInstance, options: { databaseUrl: string }) => {
    const bus = new ChangeBus(options.databaseUrl, {
      info: (m) => app.log.info(m),
      warn: (m) => app.log.warn(m),
    });
    await bus.start();
    app.decorate('changeBus', bus);
    app.addHook('onClose', () => bus.stop());
  },
  { name: 'change-bus' },
);
