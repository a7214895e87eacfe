// A light HTTP load generator, so a benchmark measures the servers and not its client:
// Python's httpx spends about 2 ms of CPU per request, as much as the store itself.
// stdin: {"urls" (request i goes to urls[i % length]), "method", "headers",
// "bodies_base64" (optional: request i sends bodies[i % length]), "expect_sha256"
// (optional: response i's body must hash to expect[i % length]), "concurrency", "count"}
// stdout: {"seconds", "latencies_ms": [...], "statuses": {"201": n, ...},
// "mismatches" (bodies that did not hash as expected), "cpu_ms"}
'use strict';
const crypto = require('crypto');
const http = require('http');

function readStdin() {
  return new Promise((resolve) => {
    const parts = [];
    process.stdin.on('data', (chunk) => parts.push(chunk));
    process.stdin.on('end', () => resolve(JSON.parse(Buffer.concat(parts).toString())));
  });
}

// Resolves to [status, sha256 hex of the body or null].
function once(agent, target, spec, body, hashing) {
  const headers = body ? { ...spec.headers, 'Content-Length': String(body.length) } : spec.headers;
  return new Promise((resolve, reject) => {
    const request = http.request(target, {
      agent, method: spec.method || 'GET', headers: headers || {},
    }, (response) => {
      const hash = hashing ? crypto.createHash('sha256') : null;
      response.on('data', (chunk) => { if (hash) hash.update(chunk); });
      response.on('end', () => resolve([response.statusCode, hash ? hash.digest('hex') : null]));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

async function main() {
  const spec = await readStdin();
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency });
  const urls = spec.urls;
  const bodies = spec.bodies_base64
    ? spec.bodies_base64.map((b) => Buffer.from(b, 'base64'))
    : [undefined];
  const expect = spec.expect_sha256 || null;
  const latencies = [];
  const statuses = {};
  let mismatches = 0;
  let next = 0;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  async function worker() {
    while (next < spec.count) {
      const index = next++;
      const begin = process.hrtime.bigint();
      const body = bodies[index % bodies.length];
      const [status, digest] = await once(agent, urls[index % urls.length], spec, body, expect);
      latencies.push(Number(process.hrtime.bigint() - begin) / 1e6);
      statuses[status] = (statuses[status] || 0) + 1;
      if (expect && digest !== expect[index % expect.length]) mismatches += 1;
    }
  }
  await Promise.all(Array.from({ length: spec.concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  agent.destroy();
  process.stdout.write(JSON.stringify({
    seconds, latencies_ms: latencies, statuses, mismatches, cpu_ms: (used.user + used.system) / 1000,
  }));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack || error) + '\n');
  process.exit(1);
});
