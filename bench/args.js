'use strict';
// What the bench scripts share of their command lines: options parsed by
// node:util's parseArgs (strict; values stay strings), numeric ones checked
// one way, and a bad one reported as `<script>: <why>` with exit status 2.
const util = require('node:util');

/** A usage(msg) for `script`: the message on stderr, then exit 2. */
function usageOf(script) {
  return (msg) => {
    process.stderr.write(`${script}: ${msg}\n`);
    process.exit(2);
  };
}

/** The values of `argv` parsed against `options` (strict); a bad option goes to usage(). */
function parseOptions(argv, options, usage) {
  try {
    return util.parseArgs({ args: argv, strict: true, options }).values;
  } catch (err) {
    return usage(err.message);
  }
}

/**
 * The number in `values[name]`, within [min, max] (and whole with
 * `integer`); otherwise `usage()` is called with why (it exits).
 */
function numberOption(values, name, { min, max, integer = false }, usage) {
  const n = Number(values[name]);
  if (values[name] === undefined || String(values[name]).trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    usage(`bad --${name}: ${values[name]}`);
  }
  return n;
}

module.exports = { numberOption, parseOptions, usageOf };
