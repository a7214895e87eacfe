'use strict';

// The design documents pouchdb-validation reads before every write, read once per change.
//
// pouchdb-validation (express-pouchdb's `validate_doc_update` support) reads every design
// document of the database — a range read with the documents — before *each* document it
// lets through: eight such reads for a `_bulk_docs` of eight documents, about a sixth of
// the store's work on small writes. The answer only changes when a design document is
// written, so it is kept per database and read again after any write of a design document
// (a `bulkDocs` through any PouchDB object: PUT, POST, DELETE, `_bulk_docs` and replication
// all end there), or when the database is deleted.
//
// Only pouchdb-validation's own call is answered from here: no callback and exactly its
// three options. The `_all_docs` route always passes a callback and more options, so a
// client's request is read from the database as before (its `total_rows` stays current).

const DESIGN_RANGE = { startkey: '_design/', endkey: '_design0', include_docs: true };
const MAX_DATABASES = 4096;

class ValidationFunctions {
  constructor() {
    // Database name -> a counter bumped before and after each write of a design document.
    this.generations = new Map();
    // Database name -> { generation, answer } (the answer a settled promise).
    this.answers = new Map();
  }

  changed(name) {
    this.generations.set(name, (this.generations.get(name) || 0) + 1);
    this.answers.delete(name);
  }

  // Watch the writes of every PouchDB object made by `PouchDB` (or a constructor derived
  // from it): before any database is opened, since express-pouchdb's wrappers keep the
  // `bulkDocs` they found when a database was first wrapped.
  watch(PouchDB) {
    let owner = PouchDB.prototype;
    while (owner && !Object.prototype.hasOwnProperty.call(owner, 'bulkDocs')) {
      owner = Object.getPrototypeOf(owner);
    }
    if (!owner || owner.__roostDesignWatch) {
      return;
    }
    owner.__roostDesignWatch = true;
    const bulkDocs = owner.bulkDocs;
    const cache = this;
    owner.bulkDocs = function (req, opts, callback) {
      const docs = Array.isArray(req) ? req : (req && req.docs) || [];
      const design = docs.some((doc) => doc && typeof doc._id === 'string' &&
        doc._id.startsWith('_design/'));
      if (!design) {
        return bulkDocs.apply(this, arguments);
      }
      const name = this.name;
      cache.changed(name);
      const args = Array.from(arguments);
      const last = args.length - 1;
      if (typeof args[last] === 'function') {
        const done = args[last];
        args[last] = function () {
          cache.changed(name);
          return done.apply(this, arguments);
        };
      }
      const result = bulkDocs.apply(this, args);
      if (result && typeof result.then === 'function') {
        result.then(() => cache.changed(name), () => cache.changed(name));
      }
      return result;
    };
  }

  // Answer pouchdb-validation's reads of `db` from the cache.
  install(db) {
    if (db.__roostValidationFunctions) {
      return;
    }
    db.__roostValidationFunctions = true;
    const allDocs = db.allDocs;
    const cache = this;
    db.allDocs = function (opts, callback) {
      if (arguments.length !== 1 || !isDesignRange(opts)) {
        return allDocs.apply(this, arguments);
      }
      const name = this.name;
      const generation = cache.generations.get(name) || 0;
      const known = cache.answers.get(name);
      if (known !== undefined && known.generation === generation) {
        return known.answer;
      }
      const answer = allDocs.call(this, Object.assign({}, DESIGN_RANGE));
      // Kept once it is read, and only if no design document was written meanwhile. A read
      // still on its way is never shared: one that never ends (PouchDB Server leaves a
      // request hanging now and then) must hold up its own write only, not every later one.
      answer.then((read) => {
        if ((cache.generations.get(name) || 0) === generation) {
          cache.answers.set(name, { generation, answer: Promise.resolve(read) });
          if (cache.answers.size > MAX_DATABASES) {
            cache.answers.delete(cache.answers.keys().next().value);
          }
        }
      }, () => {});
      return answer;
    };
  }
}

function isDesignRange(opts) {
  if (!opts || typeof opts !== 'object') {
    return false;
  }
  const keys = Object.keys(opts);
  return keys.length === 3 && keys.every((key) => opts[key] === DESIGN_RANGE[key]);
}

module.exports = { ValidationFunctions };
