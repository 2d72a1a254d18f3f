// The same-run baseline of the propagation bench: how fast can ONE core put one small frame on
// each of N idle TCP connections at all? A bare node:net server (pinned to the server's core)
// holds N connections from a client process (pinned to the clients' core); on "go" it writes one
// pre-built 150-byte buffer to every socket in a plain loop, no framing, no JSON, no pubsub.
// Latency = each connection's receipt - the moment the loop started, on this machine's clock.
// Nothing a server does per subscriber can beat this; propagation figures are read against it.
//
// Modes: `server <port>` / `client <port> <n>` (spawned by openWriteFloor).

import { connect, createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { freePort } from '../test/helpers/process.js';
import { pinned } from './pinned.js';

export interface FloorRow {
  connections: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Server time for the write loop alone, per socket. */
  usPerWrite: number;
}

const FRAME = Buffer.from(
  `id: 2\nevent: patch\ndata: ${JSON.stringify({ key: 'bench-flag', version: 2, definition: { key: 'bench-flag', kind: 'boolean' }, state: { on: true } })}\n\n`,
);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export interface FloorRound {
  p50: number;
  p99: number;
  max: number;
  usPerWrite: number;
}

/** The floor's server (CPU 0) and client (CPU 1), holding `n` connections, measured a round at a time. */
export interface WriteFloor {
  round(): Promise<FloorRound>;
  close(): void;
}

export async function openWriteFloor(n: number): Promise<WriteFloor> {
  const port = await freePort();
  const self = pathToFileURL(new URL(import.meta.url).pathname).pathname;
  const server = pinned(0, [process.execPath, '--import', 'tsx', self, 'server', String(port)]);
  const serverLines = createInterface({ input: server.stdout! });
  const onServer = new Promise<void>((resolve) => serverLines.once('line', () => resolve()));
  await onServer;
  const client = pinned(1, [process.execPath, '--import', 'tsx', self, 'client', String(port), String(n)]);
  const clientLines = createInterface({ input: client.stdout! });
  const next = (lines: ReturnType<typeof createInterface>) =>
    new Promise<string>((resolve) => lines.once('line', resolve));
  const close = () => {
    client.kill('SIGKILL');
    server.kill('SIGKILL');
  };
  try {
    const ready = JSON.parse(await next(clientLines)) as { connected: number };
    if (ready.connected !== n) throw new Error(`write floor: only ${ready.connected} of ${n} connections opened`);
  } catch (e) {
    close();
    throw e;
  }
  await new Promise((r) => setTimeout(r, 1_000));
  return {
    async round() {
      const receipts = next(clientLines);
      const done = next(serverLines);
      server.stdin!.write('go\n');
      const wrote = JSON.parse(await done) as { started: number; usPerWrite: number };
      const result = JSON.parse(await receipts) as { receipts: number[] };
      await new Promise((r) => setTimeout(r, 500));
      const latencies = result.receipts.map((t) => Math.max(0, t - wrote.started)).sort((a, b) => a - b);
      return {
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        max: latencies[latencies.length - 1]!,
        usPerWrite: wrote.usPerWrite,
      };
    },
    close,
  };
}

/** The floor for `n` connections on its own: a warm-up round, then the median of `rounds`. */
export async function measureWriteFloor(n: number, rounds = 1): Promise<FloorRow> {
  const floor = await openWriteFloor(n);
  try {
    await floor.round();
    const measured: FloorRound[] = [];
    for (let round = 0; round < rounds; round++) measured.push(await floor.round());
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    return {
      connections: n,
      p50Ms: median(measured.map((m) => m.p50)),
      p99Ms: median(measured.map((m) => m.p99)),
      maxMs: median(measured.map((m) => m.max)),
      usPerWrite: median(measured.map((m) => m.usPerWrite)),
    };
  } finally {
    floor.close();
  }
}

function runServer(port: number) {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    sockets.push(socket);
    socket.on('error', () => undefined);
  });
  server.listen(port, '127.0.0.1', () => console.log('listening'));
  createInterface({ input: process.stdin }).on('line', () => {
    const started = Date.now();
    const t0 = process.hrtime.bigint();
    for (const socket of sockets) socket.write(FRAME);
    const us = Number(process.hrtime.bigint() - t0) / 1e3;
    console.log(JSON.stringify({ started, usPerWrite: us / sockets.length }));
  });
}

async function runClient(port: number, n: number) {
  let receipts: number[] = [];
  let connected = 0;
  const BATCH = 250;
  for (let i = 0; i < n; i += BATCH) {
    await Promise.all(
      Array.from(
        { length: Math.min(BATCH, n - i) },
        () =>
          new Promise<void>((resolve) => {
            const socket = connect(port, '127.0.0.1', () => {
              connected++;
              resolve();
            });
            socket.on('error', () => resolve());
            socket.on('data', () => {
              receipts.push(Date.now());
              if (receipts.length === n) {
                console.log(JSON.stringify({ receipts }));
                receipts = [];
              }
            });
          }),
      ),
    );
  }
  console.log(JSON.stringify({ connected }));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [mode, port, n] = process.argv.slice(2);
  if (mode === 'server') runServer(Number(port));
  else if (mode === 'client') void runClient(Number(port), Number(n));
  else console.log(await measureWriteFloor(Number(mode ?? 10_000)));
}
