// A light HTTP load generator, so a benchmark measures the servers and not its client:
// Python's httpx spends about 2 ms of CPU per request, as much as the store itself.
// stdin: {"url", "method", "headers", "body" (a string, or absent), "urls" (optional
// list cycled through instead of "url"), "concurrency", "count"}
// stdout: {"seconds", "latencies_ms": [...], "statuses": {"201": n, ...}, "cpu_ms"}
'use strict';
const http = require('http');

function readStdin() {
  return new Promise((resolve) => {
    const parts = [];
    process.stdin.on('data', (chunk) => parts.push(chunk));
    process.stdin.on('end', () => resolve(JSON.parse(Buffer.concat(parts).toString())));
  });
}

const seen = new WeakSet();
let sockets = 0;

function once(agent, target, spec, body) {
  return new Promise((resolve, reject) => {
    const request = http.request(target, {
      agent, method: spec.method || 'GET', headers: spec.headers || {},
    }, (response) => {
      response.on('data', () => {});
      response.on('end', () => resolve(response.statusCode));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.on('socket', (socket) => { if (!seen.has(socket)) { seen.add(socket); sockets += 1; } });
    request.end(body);
  });
}

async function main() {
  const spec = await readStdin();
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency });
  const urls = spec.urls || [spec.url];
  const body = spec.body === undefined ? undefined : Buffer.from(spec.body);
  if (body) spec.headers = { ...spec.headers, 'Content-Length': String(body.length) };
  const latencies = [];
  const statuses = {};
  let next = 0;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  async function worker() {
    while (next < spec.count) {
      const index = next++;
      const begin = process.hrtime.bigint();
      const status = await once(agent, urls[index % urls.length], spec, body);
      latencies.push(Number(process.hrtime.bigint() - begin) / 1e6);
      statuses[status] = (statuses[status] || 0) + 1;
    }
  }
  await Promise.all(Array.from({ length: spec.concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  agent.destroy();
  process.stdout.write(JSON.stringify({
    seconds, latencies_ms: latencies, statuses, sockets, cpu_ms: (used.user + used.system) / 1000,
  }));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack || error) + '\n');
  process.exit(1);
});
