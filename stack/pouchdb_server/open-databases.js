'use strict';

// The databases PouchDB Server keeps open, capped: the least recently used idle ones are
// closed and reopened on their next request.
//
// express-pouchdb caches every database it opened and never closes one; each open LevelDB
// holds about four descriptors (LOCK, LOG, MANIFEST, the write-ahead log), so a store with
// many instances grows until RLIMIT_NOFILE. This cache replaces express-pouchdb's
// (`pouchdb-server.js` installs it) and keeps at most `cap` LevelDB databases open,
// counting the view indexes (`-mrview-` databases) of each.
//
// What makes closing safe:
// - a request holds its database from the moment it is looked up until its response
//   closes, so nothing closes under a write, a read or an open `_changes` feed;
// - a database being closed is reopened only once its close is complete (LevelDB refuses
//   a second open of one directory, and PouchDB's LevelDB adapter shares one handle per name);
// - LevelDB keeps every write; PouchDB's adapter reads its update sequence, document count
//   and instance id back from the database on open, so sequences continue unchanged.
// - Closing *any* database with pouchdb-adapter-leveldb-core 7.3.1 also closes *every* open
//   view index of every database (its `_close` sweeps all `-mrview-` handles). So closing
//   is exclusive with every request that may use a view (`ViewGate`), and the views each
//   database cached are forgotten and closed with it; they reopen on their next query,
//   their index intact on disk.

// Requests that may use a view index share the gate; the trim holds it alone. A waiting
// trim stops new view requests from entering, so a steady stream of them cannot starve it.
class ViewGate {
  constructor() {
    this.readers = 0;
    this.trimWaiting = false;
    this.trimming = false;
    this.queued = [];
    this.drained = null;
  }

  async enter() {
    while (this.trimWaiting || this.trimming) {
      await new Promise((resolve) => this.queued.push(resolve));
    }
    this.readers += 1;
  }

  leave() {
    this.readers -= 1;
    if (this.readers === 0 && this.drained !== null) {
      const drained = this.drained;
      this.drained = null;
      drained();
    }
  }

  async exclusive(work) {
    this.trimWaiting = true;
    if (this.readers > 0) {
      await new Promise((resolve) => { this.drained = resolve; });
    }
    this.trimWaiting = false;
    this.trimming = true;
    try {
      return await work();
    } finally {
      this.trimming = false;
      const queued = this.queued;
      this.queued = [];
      queued.forEach((resolve) => resolve());
    }
  }
}

class Entry {
  constructor(name, db) {
    this.name = name;
    this.db = db;
    this.refs = 0;
    // System databases (`_users`, `_replicator`) are also opened by express-pouchdb's own
    // code outside this cache, sharing the adapter's handle: never close them under it.
    this.pinned = name.startsWith('_');
  }
}

class OpenDatabases {
  constructor(PouchDB, cap, log) {
    this.PouchDB = PouchDB;
    this.cap = cap;
    // Trim a tenth below the cap, so a store at the cap does not close one database per
    // request (each trim also closes every view index).
    this.lowWater = Math.max(1, cap - Math.ceil(cap / 10));
    this.log = log;
    this.entries = new Map(); // name -> Entry, least recently used first
    this.closing = new Map(); // name -> promise of the close in progress
    this.gate = new ViewGate();
    this.trimScheduled = false;
  }

  // The open database `name`, held until the returned release is called.
  async acquire(name) {
    for (;;) {
      let entry = this.entries.get(name);
      if (entry === undefined) {
        const closing = this.closing.get(name);
        if (closing !== undefined) {
          await closing;
          continue;
        }
        entry = new Entry(name, new this.PouchDB(name));
        this.entries.set(name, entry);
      }
      this._touch(entry);
      entry.refs += 1;
      this.scheduleTrim();
      let released = false;
      return {
        db: entry.db,
        release: () => {
          if (released) {
            return;
          }
          released = true;
          entry.refs -= 1;
          if (this.entries.get(name) === entry) {
            this._touch(entry);
          }
          this.scheduleTrim();
        },
      };
    }
  }

  // Open `name` and let it go at once: it joins the cache, to be closed in its turn.
  adopt(name) {
    return this.acquire(name).then((handle) => handle.release());
  }

  // Destroy `name` (DELETE /db): forget it here, then destroy it, open or not.
  async destroy(name, opts) {
    await this.gate.enter(); // destroying also opens and destroys the view indexes
    try {
      const closing = this.closing.get(name);
      if (closing !== undefined) {
        await closing;
      }
      const entry = this.entries.get(name);
      if (entry === undefined) {
        return await this.PouchDB.destroy(name, opts);
      }
      this.entries.delete(name);
      return await entry.db.destroy(opts);
    } finally {
      this.gate.leave();
    }
  }

  // Whether more LevelDB databases are open than the cap (each database and its views).
  overCap() {
    if (this.entries.size > this.cap) {
      return true;
    }
    let total = 0;
    for (const entry of this.entries.values()) {
      total += 1;
      for (const signature in entry.db._cachedViews) {
        total += 1;
      }
      if (total > this.cap) {
        return true;
      }
    }
    return false;
  }

  scheduleTrim() {
    if (this.trimScheduled || !this.overCap()) {
      return;
    }
    this.trimScheduled = true;
    // Later, not inside the request that crossed the cap: that request goes on at once.
    setImmediate(() => {
      this.gate.exclusive(() => this._trim())
        .catch((err) => {
          this.log('closing idle databases failed: ' + (err && err.stack));
          return [];
        })
        .then((closed) => {
          this.trimScheduled = false;
          // Databases opened while this trim ran may have crossed the cap again; if it
          // closed none, everything is held and the next release tries again.
          if (closed.length > 0) {
            this.scheduleTrim();
          }
        });
    });
  }

  _touch(entry) {
    this.entries.delete(entry.name);
    this.entries.set(entry.name, entry);
  }

  // Close idle databases down to the low-water mark, and every view index; the names closed.
  async _trim() {
    if (!this.overCap()) {
      return [];
    }
    const victims = [];
    let remaining = this.entries.size;
    for (const entry of this.entries.values()) {
      if (remaining <= this.lowWater) {
        break;
      }
      if (entry.refs === 0 && !entry.pinned) {
        victims.push(entry);
        remaining -= 1;
      }
    }
    // Every view index is closed by the first close below: forget them all now, so the
    // next query opens its index again instead of using a closed handle.
    const views = [];
    for (const entry of this.entries.values()) {
      if (entry.db._cachedViews) {
        views.push(...Object.values(entry.db._cachedViews));
        delete entry.db._cachedViews;
      }
    }
    // Out of the cache at once, all of them, so no request takes one about to close; a
    // request for one waits for its close, then opens it again.
    const finished = new Map();
    for (const entry of victims) {
      this.entries.delete(entry.name);
      let resolve;
      this.closing.set(entry.name, new Promise((r) => { resolve = r; }));
      finished.set(entry.name, resolve);
    }
    // One at a time: each close sweeps the adapter's shared table of handles.
    for (const entry of victims) {
      await entry.db.close().catch((err) => this.log('closing ' + entry.name + ': ' + err));
      this.closing.delete(entry.name);
      finished.get(entry.name)();
    }
    for (const pending of views) {
      const view = await pending.catch(() => null);
      if (view && view.db && !view.db._closed) {
        // Its handle is closed already (or is closed now, with every other view index);
        // closing the object lets PouchDB forget it.
        await view.db.close().catch(() => null);
      }
    }
    return victims.map((entry) => entry.name);
  }
}

exports.OpenDatabases = OpenDatabases;
exports.ViewGate = ViewGate;
