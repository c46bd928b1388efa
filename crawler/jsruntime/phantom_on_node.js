// PhantomJS's script runner, on Node.js: the part of PhantomJS that yt-dlp's
// PhantomJSwrapper.execute() uses (Douyu's request signing): run a script file with a
// `phantom` global (onError, exit), console.log to stdout, `-v` for the version check.
// Pages (require('webpage')) are not supported: they fail loudly, never silently.
'use strict';
const fs = require('fs');
const vm = require('vm');

const argv = process.argv.slice(2);
if (argv.includes('-v') || argv.includes('--version')) {
  process.stdout.write('2.1.1\n');   // the PhantomJS release whose script API this follows
  process.exit(0);
}
const script = argv.find((a) => !a.startsWith('--'));
if (!script) {
  process.stderr.write('usage: phantomjs [--ssl-protocol=any] SCRIPT.js\n');
  process.exit(2);
}

const phantom = {
  onError: null,
  cookies: [],
  addCookie(c) { this.cookies.push(c); return true; },
  exit(code) { process.exit(code || 0); },
};
const sandbox = {
  phantom,
  console: { log: (...a) => process.stdout.write(a.join(' ') + '\n'),
             error: (...a) => process.stderr.write(a.join(' ') + '\n') },
  require(name) {
    if (name === 'fs') return { read: (p) => fs.readFileSync(p, 'utf8'), write: (p, s) => fs.writeFileSync(p, s) };
    throw new Error(`phantom_on_node: module '${name}' is not supported (only script execution is)`);
  },
  setTimeout, clearTimeout,
};
sandbox.window = sandbox;
try {
  vm.runInNewContext(fs.readFileSync(script, 'utf8'), sandbox, { filename: script, timeout: 30000 });
} catch (err) {
  if (typeof phantom.onError === 'function') {
    phantom.onError(String(err && err.message || err), []);
  }
  process.stderr.write(`PHANTOM ERROR: ${err && err.stack || err}\n`);
  process.exit(1);
}
