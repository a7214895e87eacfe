'use strict';

// PouchDB Server with a cap on the databases it keeps open: Roost's embedded store.
//
//   node pouchdb-server.js --package DIR [--open-databases N] [pouchdb-server options…]
//
// DIR is the installed `pouchdb-server` package; every other option is PouchDB Server's
// own (--port, --host, --dir, --config, --no-stdout-logs …), read by its own command line.
// This file replaces express-pouchdb's database cache (which never closes a database) with
// `OpenDatabases` before PouchDB Server builds its app, then starts PouchDB Server as its
// own executable does. Nothing changes on the HTTP API.
//
// It reaches into express-pouchdb's modules, so it runs only with the versions it was
// written against (package-lock.json pins them); any other refuses to start.

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');
const { OpenDatabases } = require('./open-databases');
const { ValidationFunctions } = require('./validation-functions');

const PINNED = {
  'express-pouchdb': '4.2.0',
  'pouchdb-adapter-leveldb-core': '7.3.1',
};
// Descriptors budgeted per open LevelDB: about 4 of its own, as many again left for
// connections and LevelDB's table files.
const DESCRIPTORS_PER_DATABASE = 10;
const RESERVED_DESCRIPTORS = 256;
const MAX_DEFAULT_OPEN_DATABASES = 500; // Apache CouchDB's max_dbs_open

function fail(message) {
  process.stderr.write('roost pouchdb-server: ' + message + '\n');
  process.exit(2);
}

// Take this launcher's own options out of argv, leaving PouchDB Server's.
function takeOptions(argv, names) {
  const own = {};
  const rest = [];
  for (let i = 0; i < argv.length; i += 1) {
    if (names.includes(argv[i])) {
      if (i + 1 >= argv.length) {
        fail(argv[i] + ' needs a value');
      }
      own[argv[i]] = argv[i + 1];
      i += 1;
    } else {
      rest.push(argv[i]);
    }
  }
  return { own, rest };
}

function openFilesLimit() {
  try {
    const limits = fs.readFileSync('/proc/self/limits', 'utf8');
    const line = limits.split('\n').find((l) => l.startsWith('Max open files'));
    const soft = Number(line.split(/\s{2,}/)[1]);
    return Number.isFinite(soft) ? soft : null;
  } catch (err) {
    return null;
  }
}

function defaultCap() {
  const limit = openFilesLimit() || 1024;
  const sized = Math.floor((limit - RESERVED_DESCRIPTORS) / DESCRIPTORS_PER_DATABASE);
  return Math.max(16, Math.min(MAX_DEFAULT_OPEN_DATABASES, sized));
}

// `requires` maps each pinned package to the require function that finds it.
function checkVersions(requires) {
  for (const [name, version] of Object.entries(PINNED)) {
    let found;
    try {
      found = requires[name](name + '/package.json').version;
    } catch (err) {
      fail('cannot find ' + name + ' beside pouchdb-server: ' + err.message);
    }
    if (found !== version) {
      fail(name + ' ' + found + ' is installed; this launcher supports ' + version +
        ' only (run `npm ci` at the repository root)');
    }
  }
}

// The cache of one PouchDB constructor (express-pouchdb swaps it if `--dir` changes).
function cacheOf(PouchDB, cap, log) {
  if (!PouchDB.__roostOpenDatabases) {
    PouchDB.__roostOpenDatabases = new OpenDatabases(PouchDB, cap, log);
  }
  return PouchDB.__roostOpenDatabases;
}

// A request under `/{db}/…` that may read or build a view index (Mango indexes, design
// document views, shows, lists, updates, rewrites, index maintenance). Anything not known
// to stay away from views counts as one: it only waits for a trim to finish.
const PLAIN_SEGMENTS = new Set([
  '_all_docs', '_bulk_docs', '_bulk_get', '_changes', '_revs_diff', '_missing_revs',
  '_local', '_security', '_ensure_full_commit', '_purge', '_revs_limit',
]);

function mayUseViews(req) {
  const segments = req.path.split('/').filter((s) => s);
  if (segments.length < 2) {
    return false;
  }
  const first = decodeURIComponent(segments[1]);
  if (first === '_design') {
    return segments.length > 3; // `_design/{name}/…` beyond the document itself
  }
  if (first === '_changes') {
    return req.query.filter === '_view';
  }
  return first.startsWith('_') && !PLAIN_SEGMENTS.has(first);
}

// What a request holds (its database, its place in the view gate), let go when its
// response closes: `hold(release)` keeps `release` for then, or calls it at once (and
// answers false) if the response is already closed — a client gone while its request
// waited must not keep anything.
function holder(res) {
  let held = res.__roostHeld;
  if (held === undefined) {
    held = res.__roostHeld = { closed: false, releases: [] };
    const close = function () {
      held.closed = true;
      held.releases.splice(0).forEach((release) => release());
    };
    res.once('close', close);
    res.once('finish', close);
  }
  return function (release) {
    if (held.closed || res.destroyed || res.writableFinished) {
      held.closed = true;
      release();
      return false;
    }
    held.releases.push(release);
    return true;
  };
}

// How long a database's measured size is reused (`disk_size` in `GET /{db}`).
const DISK_SIZE_TTL_MS = 2000;

// pouchdb-size answers `disk_size` by walking the database's folder (an lstat per file) on
// every `db.info()`, and pouchdb-validation calls `db.info()` before every write only to
// learn the database's name: a folder walk per write. A size measured less than
// `DISK_SIZE_TTL_MS` ago is reused (Apache CouchDB's own sizes also trail the writes).
function cacheDiskSizes(sizePlugin) {
  const walk = sizePlugin.getDiskSize;
  const measured = new Map(); // database name -> { at, promise }
  sizePlugin.getDiskSize = function (callback) {
    const now = Date.now();
    let entry = measured.get(this.name);
    if (entry === undefined || now - entry.at > DISK_SIZE_TTL_MS) {
      entry = { at: now, promise: Promise.resolve(walk.call(this)) };
      measured.set(this.name, entry);
      entry.promise.catch(() => measured.delete(this.name));
      if (measured.size > 4096) {
        measured.delete(measured.keys().next().value); // the oldest: the map stays small
      }
    }
    if (typeof callback === 'function') {
      entry.promise.then((size) => callback(null, size), callback);
    }
    return entry.promise;
  };
}

function install(expressRequire, cap, log, validationFunctions) {
  cacheDiskSizes(expressRequire('pouchdb-size'));
  const utils = expressRequire('./utils');
  const cleanFilename = expressRequire('./clean-filename');
  const createOrDelete = expressRequire('./create-or-delete-dbs');
  const mkdirp = expressRequire('mkdirp');

  // Before express-pouchdb's modules load: they keep references to these two.
  createOrDelete.deleteDB = function (PouchDB, dbName, opts) {
    validationFunctions.changed(dbName);
    return cacheOf(PouchDB, cap, log).destroy(dbName, opts)
      .finally(() => validationFunctions.changed(dbName));
  };
  // The replicator daemon's `_replicator` database: held for as long as the daemon runs.
  createOrDelete.getOrCreateDB = function (PouchDB, dbName) {
    return cacheOf(PouchDB, cap, log).acquire(dbName).then((handle) => handle.db);
  };

  // express-pouchdb's own setDBOnReq, with the database held until the response closes.
  utils.setDBOnReq = function (dbName, dbWrapper, req, res, next) {
    dbName = cleanFilename(dbName);
    req.PouchDB.allDbs(function (err, dbs) {
      if (err) {
        return utils.sendError(res, err);
      }
      if (dbs.indexOf(dbName) === -1) {
        return utils.sendJSON(res, 404, { error: 'not_found', reason: 'no_db_file' });
      }
      const cache = cacheOf(req.PouchDB, cap, log);
      const hold = holder(res);
      // Once per request: a rewrite looks its database up again, and a second entry
      // behind a waiting trim would wait for itself.
      const viewUser = mayUseViews(req) && !req.__roostViewGate;
      if (viewUser) {
        req.__roostViewGate = true;
      }
      const entered = viewUser ? cache.gate.enter() : Promise.resolve();
      entered.then(function () {
        if (viewUser) {
          hold(() => cache.gate.leave());
        }
        return cache.acquire(dbName);
      }).then(function (handle) {
        if (!hold(handle.release)) {
          return; // the client is gone: nothing to answer
        }
        const db = handle.db;
        validationFunctions.install(db);
        // express-pouchdb's workaround for https://github.com/pouchdb/pouchdb/issues/5668
        if (/\//.test(dbName)) {
          const dir = db.__opts.prefix ? db.__opts.prefix + dbName : dbName;
          mkdirp.sync(path.resolve(dir));
        }
        return dbWrapper.wrap(dbName, db).then(function () {
          req.db = db;
          next();
        });
      }).catch(function (error) {
        if (!res.headersSent) {
          utils.sendError(res, error);
        }
      });
    });
  };

  // A database created by PUT /{db} is opened by express-pouchdb outside any cache: open it
  // through this one too (the adapter shares the handle), so it is closed in its turn.
  const dbRoutesPath = expressRequire.resolve('./routes/db');
  const dbRoutes = expressRequire(dbRoutesPath);
  require.cache[dbRoutesPath].exports = function (app) {
    app.put('/:db', function (req, res, next) {
      res.once('finish', function () {
        if (res.statusCode === 201) {
          cacheOf(req.PouchDB, cap, log).adopt(cleanFilename(req.params.db))
            .catch((err) => log('opening ' + req.params.db + ': ' + err));
        }
      });
      next();
    });
    dbRoutes(app);
  };
}

function main() {
  const { own, rest } = takeOptions(process.argv.slice(2), ['--package', '--open-databases']);
  const packageDir = own['--package'];
  if (!packageDir) {
    fail('--package (the pouchdb-server package directory) is required');
  }
  let cap = defaultCap();
  if (own['--open-databases'] !== undefined) {
    cap = Number(own['--open-databases']);
    if (!Number.isInteger(cap) || cap < 1) {
      fail('--open-databases must be a positive integer, not ' + own['--open-databases']);
    }
  }
  const serverMain = path.join(path.resolve(packageDir), 'lib', 'index.js');
  if (!fs.existsSync(serverMain)) {
    fail(packageDir + ' is not the pouchdb-server package (no lib/index.js)');
  }
  const serverRequire = createRequire(serverMain);
  const leveldbRequire = createRequire(serverRequire.resolve('pouchdb-adapter-leveldb'));
  checkVersions({
    'express-pouchdb': serverRequire,
    'pouchdb-adapter-leveldb-core': leveldbRequire,
  });
  const expressRequire = createRequire(serverRequire.resolve('express-pouchdb'));
  const log = (message) => process.stderr.write('roost open databases: ' + message + '\n');
  const validationFunctions = new ValidationFunctions();
  validationFunctions.watch(serverRequire('pouchdb-core'));
  install(expressRequire, cap, log, validationFunctions);
  // PouchDB Server reads its options from process.argv when it is loaded.
  process.argv = [process.argv[0], process.argv[1], ...rest];
  process.stdout.write('keeping at most ' + cap + ' databases open\n');
  require(serverMain);
}

main();
