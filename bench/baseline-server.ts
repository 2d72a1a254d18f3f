// The same-run baseline for the HTTP benches: a bare node:http server that reads and JSON-parses
// a POST body and answers a fixed small JSON body. Everything Vexil adds (routing, validation,
// key auth, rate limiting, evaluation, serialization) shows as the distance from this.
// Run: node --import tsx bench/baseline-server.ts <port> [file]; with a file, that file's content
// is the answer (the GraphQL bench serves a real response from a precomputed string).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 8090);
const file = process.argv[3];
const answer = file
  ? readFileSync(file, 'utf8')
  : JSON.stringify({
      flag_key: 'new-checkout',
      value: true,
      variation: 0,
      reason: 'TARGETING_MATCH',
      rule_id: 'countries',
      version: 2,
    });

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    try {
      if (chunks.length > 0) JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad json"}');
      return;
    }
    res
      .writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(answer),
      })
      .end(answer);
  });
});
server.listen(port, '127.0.0.1', () => console.log(`baseline listening on ${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
