// The baseline for bench/ingest.ts: a bare node:http server that reads the body, parses the JSON and
// answers 202 — no validation, no storage. Prints "ready <port>" when listening.
import http from 'node:http';

const server = http.createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200).end('ok');
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      res
        .writeHead(202, { 'content-type': 'application/json' })
        .end(JSON.stringify({ id: event.id, duplicate: false }));
    } catch {
      res.writeHead(400).end();
    }
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => console.log(`ready ${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
