'use strict';
// The bench scripts' numeric options, checked one way (their options are
// parsed by node:util's parseArgs, which leaves values as strings).

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

module.exports = { numberOption };
