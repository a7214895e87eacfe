// One pull replication into a fresh LevelDB, timed: what a phone does on first sync.
// argv: url dir [token] [host]  →  stdout: {"ms", "docs_written", "docs_read", "ok"}
'use strict';
const path = require('path');
const PouchDB = require(path.resolve(__dirname, '..', 'node_modules', 'pouchdb'));

const [url, dir, token, host] = process.argv.slice(2);
const remote = new PouchDB(url, {
  fetch(target, opts) {
    if (token) opts.headers.set('Authorization', 'Bearer ' + token);
    if (host) opts.headers.set('Host', host);
    return PouchDB.fetch(target, opts);
  },
});
const local = new PouchDB(dir);
const started = process.hrtime.bigint();
PouchDB.replicate(remote, local).then(async (result) => {
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  await local.close();
  process.stdout.write(JSON.stringify({
    ms, ok: result.ok, docs_read: result.docs_read, docs_written: result.docs_written,
  }));
}, (error) => {
  process.stderr.write(String(error && error.stack || error) + '\n');
  process.exit(1);
});
