// The same-run memory baseline of the propagation bench: what does an idle connection cost a bare
// server at all? A node:http server that answers GET with an open `text/event-stream` response
// (kept, as any SSE server keeps it) and, on the same port, a bare `ws` server (the library
// graphql-ws runs on) that answers each message with one; N connections from a client process,
// half SSE and half WebSocket as in the propagation bench. Memory = the server's VmRSS after
// connecting minus before, divided by N, read as the propagation bench reads Vexil's.
//
// Modes: `server <port>` / `client <port> <n>` (spawned by measureMemoryFloor).

import { readFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';
import { freePort } from '../test/helpers/process.js';
import { pinned } from './pinned.js';

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
}

/** KB of server RSS per idle connection (half SSE, half WebSocket) for `n` connections. */
export async function measureMemoryFloor(n: number): Promise<number> {
  const port = await freePort();
  const self = pathToFileURL(new URL(import.meta.url).pathname).pathname;
  const server = pinned(0, [process.execPath, '--import', 'tsx', self, 'server', String(port)]);
  const serverLines = createInterface({ input: server.stdout! });
  await new Promise<void>((resolve) => serverLines.once('line', () => resolve()));
  const client = pinned(1, [process.execPath, '--import', 'tsx', self, 'client', String(port), String(n)]);
  const clientLines = createInterface({ input: client.stdout! });
  const next = () => new Promise<string>((resolve) => clientLines.once('line', resolve));
  try {
    // The client warms both paths with a few connections first, then says when to read.
    await next();
    await new Promise((r) => setTimeout(r, 1_000));
    const before = await rssKb(server.pid!);
    client.stdin!.write('go\n');
    const ready = JSON.parse(await next()) as { connected: number };
    if (ready.connected !== n) throw new Error(`memory floor: only ${ready.connected} of ${n} connections opened`);
    // As long as the propagation bench waits before reading Vexil's RSS.
    await new Promise((r) => setTimeout(r, 2_000));
    return ((await rssKb(server.pid!)) - before) / n;
  } finally {
    client.kill('SIGKILL');
    server.kill('SIGKILL');
  }
}

function runServer(port: number) {
  const streams: unknown[] = [];
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.write('event: put\ndata: {}\n\n');
    streams.push(res);
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', () => ws.send('{"type":"next"}'));
    }),
  );
  server.listen(port, '127.0.0.1', () => console.log('listening'));
}

async function runClient(port: number, n: number) {
  const open = (i: number) =>
    new Promise<boolean>((resolve) => {
      if (i % 2 === 0) {
        const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) =>
          res.once('data', () => resolve(true)),
        );
        req.on('error', () => resolve(false));
        req.end();
      } else {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
        ws.on('open', () => ws.send('{"type":"subscribe"}'));
        ws.once('message', () => resolve(true));
        ws.on('error', () => resolve(false));
      }
    });
  for (let i = 0; i < 50; i++) await open(i);
  console.log('warm');
  await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once('line', () => resolve()));
  let connected = 0;
  const BATCH = 250;
  for (let i = 0; i < n; i += BATCH) {
    const opened = await Promise.all(Array.from({ length: Math.min(BATCH, n - i) }, (_, j) => open(i + j)));
    connected += opened.filter(Boolean).length;
  }
  console.log(JSON.stringify({ connected }));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [mode, port, n] = process.argv.slice(2);
  if (mode === 'server') runServer(Number(port));
  else if (mode === 'client') void runClient(Number(port), Number(n));
  else console.log(`${(await measureMemoryFloor(Number(mode ?? 10_000))).toFixed(1)} KB per idle connection`);
}
