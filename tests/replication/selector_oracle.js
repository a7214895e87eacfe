// Evaluates Mango selectors with PouchDB's own matcher (pouchdb-selector-core), as an
// independent oracle for Roost's Python implementation.
// stdin: [[selector, doc], ...]  stdout: [true|false|null, ...] (null: PouchDB 7 lacks the operator)
'use strict';
const path = require('path');
const root = path.resolve(__dirname, '..', '..', 'node_modules');
const { matchesSelector } = require(path.join(root, 'pouchdb-selector-core'));

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const cases = JSON.parse(input);
  const answers = cases.map(([selector, doc]) => {
    try {
      return matchesSelector(doc, selector);
    } catch (error) {
      return null;
    }
  });
  process.stdout.write(JSON.stringify(answers));
});
