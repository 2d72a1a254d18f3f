// The subscriber side of bench/propagation.ts, run as its own process (pinned to another CPU):
// opens N live connections to one server, half SSE (/v1/stream, configuration mode) and half
// graphql-ws (flagValues with an SDK key), and reports when each one received each change.
//
// Protocol: the configuration comes in argv[2] as JSON; stdout carries JSON lines
//   {"type":"ready","connected":n,"failed":n}        all initial states received
//   {"type":"round","round":r,"receipts":[epochMs…],"missing":n}   one change, every receipt
// and the parent writes "next\n" on stdin before each change it makes.

import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

interface Config {
  url: string;
  subscribers: number;
  serverKey: string;
  clientSideId: string;
  timeoutMs: number;
}

const config = JSON.parse(process.argv[2]!) as Config;
const now = () => Date.now();
const say = (message: unknown) => process.stdout.write(`${JSON.stringify(message)}\n`);

let round = 0;
let receipts: number[] = [];
/** Per subscriber: how many changes it has seen (its initial state excluded). */
const seen: number[] = [];
let connected = 0;
let failed = 0;
let ready = 0;

const kinds: string[] = [];
function received(index: number): void {
  seen[index] = (seen[index] ?? 0) + 1;
  if (seen[index] === round) {
    receipts.push(now());
    kinds.push(index < Math.floor(config.subscribers / 2) ? 'sse' : 'ws');
  }
  if (receipts.length === config.subscribers) finishRound();
}

function openSse(index: number): Promise<void> {
  return new Promise((resolve) => {
    const url = new URL(`${config.url}/v1/stream/${config.clientSideId}`);
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        headers: { 'x-api-key': config.serverKey, accept: 'text/event-stream' },
        agent: false,
      },
      (res) => {
        if (res.statusCode !== 200) {
          failed++;
          res.resume();
          return resolve();
        }
        connected++;
        res.setEncoding('utf8');
        let initial = true;
        res.on('data', (chunk: string) => {
          if (initial && chunk.includes('event: put')) {
            initial = false;
            ready++;
            resolve();
            return;
          }
          let at = chunk.indexOf('event: patch');
          while (at >= 0) {
            received(index);
            at = chunk.indexOf('event: patch', at + 1);
          }
        });
      },
    );
    req.on('error', () => {
      failed++;
      resolve();
    });
    req.end();
  });
}

const QUERY = 'subscription($c: JSON!) { flagValues(context: $c) { key value variation reason } }';

function openWs(index: number): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${config.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    let initial = true;
    ws.on('open', () =>
      ws.send(JSON.stringify({ type: 'connection_init', payload: { 'x-api-key': config.serverKey } })),
    );
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.includes('"connection_ack"')) {
        connected++;
        // A UUID per operation, as graphql-ws' own client generates them: the `next` message
        // differs per subscriber by its id.
        ws.send(
          JSON.stringify({
            id: randomUUID(),
            type: 'subscribe',
            payload: { query: QUERY, variables: { c: { key: `user-${index}` } } },
          }),
        );
        return;
      }
      if (!text.includes('"next"')) return;
      if (initial) {
        initial = false;
        ready++;
        resolve();
        return;
      }
      received(index);
    });
    ws.on('error', () => {
      failed++;
      resolve();
    });
    ws.on('close', () => {
      if (initial) {
        failed++;
        resolve();
      }
    });
  });
}

let roundTimer: NodeJS.Timeout | null = null;
let roundDone = true;
let roundCpu = process.cpuUsage();
function finishRound(): void {
  if (roundDone) return;
  roundDone = true;
  if (roundTimer) clearTimeout(roundTimer);
  const cpu = process.cpuUsage(roundCpu);
  say({
    type: 'round',
    round,
    receipts,
    kinds,
    missing: config.subscribers - receipts.length,
    cpuMs: (cpu.user + cpu.system) / 1000,
  });
}

async function main() {
  const half = Math.floor(config.subscribers / 2);
  const opening: Promise<void>[] = [];
  // Connect in bounded batches: a burst of 10,000 handshakes would overflow the accept backlog.
  const BATCH = 250;
  for (let i = 0; i < config.subscribers; i += BATCH) {
    const batch: Promise<void>[] = [];
    for (let j = i; j < Math.min(i + BATCH, config.subscribers); j++) batch.push(j < half ? openSse(j) : openWs(j));
    opening.push(...batch);
    await Promise.all(batch);
  }
  await Promise.all(opening);
  say({ type: 'ready', connected, failed, ready });
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === 'next') {
      round++;
      receipts = [];
      kinds.length = 0;
      roundDone = false;
      roundCpu = process.cpuUsage();
      roundTimer = setTimeout(finishRound, config.timeoutMs);
    } else if (line.trim() === 'exit') {
      process.exit(0);
    }
  });
}

void main();
