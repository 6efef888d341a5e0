'use strict';
// The CPU work of the worker-thread workloads (issue 10: cpu, mixed):
// `rounds` steps of 32-bit FNV-1a over a line's bytes, taken cyclically
// (step r hashes byte r mod length). Plain JavaScript (no native hashing),
// so it runs on the JS cost profile. bench/servers/python-socketserver.py
// has the same function (same rounds, same 32-bit result); the socketserver
// handlers (work-handlers.js) and node:net (net-tcp.js) use this one.
//
// A line that starts with "heavy" gets `heavy` rounds, any other line
// `work` rounds (the mixed workload: heavy requests beside light ones).
// No dependencies: node:net's server loads nothing of this package.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** `rounds` FNV-1a steps over `line`'s bytes, cyclically; the 32-bit hash. */
function fnv1aRounds(line, rounds) {
  const n = line.length;
  let h = FNV_OFFSET;
  if (n === 0) return h;
  for (let r = 0, j = 0; r < rounds; r++) {
    h = Math.imul(h ^ line[j], FNV_PRIME);
    if (++j === n) j = 0;
  }
  return h >>> 0;
}

// Type feedback for every step of fnv1aRounds() before it gets hot. Without
// it, V8 optimizes the first call's loop on the fly (OSR), before that
// call has reached its end; the optimized code then bails out at
// `h >>> 0`, which never ran, and in a socketserver handler it did so on
// every request (hundreds of deopts a second). Each call then ran part of
// its loop unoptimized: ~2x the time of the same call in node:net.
for (const [line, rounds] of [['warm-up\n', 64], ['warm-up 2\n', 1000], ['w\n', 7]]) fnv1aRounds(Buffer.from(line), rounds);

/** What the hashes add up to: kept, so no engine may skip the loop. */
let sink = 0;

const HEAVY = Buffer.from('heavy');

// The loop is called through a Proxy, which V8 never inlines: inlined into
// the caller (an async handle() in a socketserver handler, optimized as a
// whole), the same loop ran 2-3x slower than called from node:net's 'data'
// callback, and the servers would not do "the same work". The Proxy costs
// well under a microsecond per request.
const fnv1aRoundsCall = new Proxy(fnv1aRounds, {});

/** Does a request's work: `heavy` rounds for a "heavy..." line, else `work`. */
function doWork(line, work, heavy) {
  const isHeavy = heavy > 0 && line.length >= HEAVY.length && line.compare(HEAVY, 0, HEAVY.length, 0, HEAVY.length) === 0;
  const rounds = isHeavy ? heavy : work;
  if (rounds > 0) sink = (sink + fnv1aRoundsCall(line, rounds)) | 0;
}

module.exports = { fnv1aRounds, doWork, sinkValue: () => sink };
