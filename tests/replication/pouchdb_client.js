// A device: an unmodified PouchDB (npm `pouchdb`, LevelDB on disk) replicating with Roost.
//
// stdin: {"dir": local LevelDB folder (kept between runs, like a phone's storage),
//         "remote": {"url", "token", "host"?}, "steps": [{"op", ...}, ...]}
// stdout: one JSON list, the result of each step.
//
// The token travels as `Authorization: Bearer`, added by PouchDB's `fetch` option; `host`
// (optional) sets the Host header, which is how Roost tells instances apart.
'use strict';
const path = require('path');
const crypto = require('crypto');
const root = path.resolve(__dirname, '..', '..', 'node_modules');
const PouchDB = require(path.join(root, 'pouchdb'));

function remoteDb(remote, token) {
  return new PouchDB(remote.url, {
    fetch(url, opts) {
      if (token) {
        opts.headers.set('Authorization', 'Bearer ' + token);
      }
      if (remote.host) {
        opts.headers.set('Host', remote.host);
      }
      return PouchDB.fetch(url, opts);
    },
  });
}

function summary(result) {
  return {
    ok: result.ok,
    status: result.status,
    docs_read: result.docs_read,
    docs_written: result.docs_written,
    doc_write_failures: result.doc_write_failures,
    errors: (result.errors || []).map(String),
  };
}

async function replicate(from, to, options, denied) {
  const replication = PouchDB.replicate(from, to, options || {});
  replication.on('denied', (error) => denied.push({ id: error.id, reason: error.reason }));
  return summary(await replication);
}

// Replicate, then cancel once `after_docs` documents are written: the device goes away
// mid-sync (checkpoints of finished batches stay).
function interrupted(from, to, step) {
  return new Promise((resolve, reject) => {
    const replication = PouchDB.replicate(from, to, {
      batch_size: step.batch_size || 50,
      batches_limit: 1,
    });
    replication.on('change', (info) => {
      if (info.docs_written >= step.after_docs) {
        replication.cancel();
      }
    });
    replication.on('complete', (info) => resolve(summary(info)));
    replication.on('error', reject);
  });
}

// A live (continuous) pull, as a phone app keeps open: long-polls with heartbeats. Resolves
// once `until_id` has arrived locally.
function livePull(from, to, step) {
  return new Promise((resolve, reject) => {
    const replication = PouchDB.replicate(from, to, { live: true, retry: false });
    const timer = setTimeout(() => {
      replication.cancel();
      reject(new Error('live pull: ' + step.until_id + ' never arrived'));
    }, step.timeout_ms || 60000);
    replication.on('change', (info) => {
      if (info.docs.some((doc) => doc._id === step.until_id)) {
        clearTimeout(timer);
        replication.cancel();
      }
    });
    replication.on('complete', (info) => resolve(summary(info)));
    replication.on('error', (error) => { clearTimeout(timer); reject(error); });
  });
}

// JSON with object keys sorted at every depth: Apache CouchDB returns a document's keys in
// its own order, PouchDB in insertion order; the content is the same.
function canonical(value) {
  if (Array.isArray(value)) {
    return `[${value.map(canonical).join(',')}]`;
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function digest(rows) {
  const docs = rows.map((row) => row.doc).sort((a, b) => (a._id < b._id ? -1 : 1));
  const hash = crypto.createHash('sha256');
  for (const doc of docs) {
    const { _rev, ...content } = doc;
    hash.update(canonical([doc._id, _rev, content]));
    hash.update('\n');
  }
  return { count: docs.length, sha256: hash.digest('hex') };
}

async function run(plan) {
  const local = new PouchDB(plan.dir);
  let remote = plan.remote ? remoteDb(plan.remote, plan.remote.token) : null;
  const results = [];
  try {
    for (const step of plan.steps) {
      const denied = [];
      switch (step.op) {
        case 'token':
          remote = remoteDb(plan.remote, step.token);
          results.push(null);
          break;
        case 'pull':
          results.push({ ...(await replicate(remote, local, step.options, denied)), denied });
          break;
        case 'push':
          results.push({ ...(await replicate(local, remote, step.options, denied)), denied });
          break;
        case 'live_pull':
          results.push(await livePull(remote, local, step));
          break;
        case 'pull_interrupted':
          results.push(await interrupted(remote, local, step));
          break;
        case 'put':
          results.push(await local.put(step.doc));
          break;
        case 'bulk':
          results.push((await local.bulkDocs(step.docs)).length);
          break;
        case 'generate': {
          let written = 0;
          for (let start = 0; start < step.count; start += 1000) {
            const docs = [];
            for (let i = start; i < Math.min(step.count, start + 1000); i++) {
              docs.push({
                _id: `${step.prefix}${String(i).padStart(6, '0')}`,
                fullname: `Person ${i}`,
                groups: [i % 2 ? 'work' : 'family'],
                email: [{ address: `person${i}@example.org`, type: 'home' }],
                note: 'é☃ '.repeat(i % 7),
              });
            }
            written += (await local.bulkDocs(docs)).length;
          }
          results.push(written);
          break;
        }
        case 'get':
          try {
            results.push(await local.get(step.id, step.options || {}));
          } catch (error) {
            results.push({ error: error.name, status: error.status });
          }
          break;
        case 'remove':
          results.push(await local.remove(step.id, step.rev));
          break;
        case 'all_docs': {
          const all = await local.allDocs({ include_docs: true });
          results.push(all.rows.map((row) => row.doc));
          break;
        }
        case 'digest':
          results.push(digest((await local.allDocs({ include_docs: true })).rows));
          break;
        case 'remote_digest':
          results.push(digest((await remote.allDocs({ include_docs: true })).rows));
          break;
        case 'remote_info':
          results.push(await remote.info());
          break;
        default:
          throw new Error('unknown step ' + step.op);
      }
    }
  } finally {
    await local.close();
  }
  return results;
}

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  run(JSON.parse(input)).then(
    (results) => { process.stdout.write(JSON.stringify(results)); },
    (error) => {
      process.stderr.write(String(error && error.stack ? error.stack : error) + '\n');
      process.stderr.write(JSON.stringify(error) + '\n');
      process.exit(1);
    },
  );
});
