#!/usr/bin/env node
'use strict';
// The client of the "mixed" workloads (issue 10): heavy requests in a loop
// beside light requests at a fixed rate; measures the light requests'
// latency (does a long handler hold up the others?).
//
//   node bench/mixed-client.js (--tcp HOST:PORT | --unix PATH)
//                              [--heavy-clients 1] [--interval-ms 20]
//                              [--duration 5] [--warmup 1] [--timeout 10]
//
// Heavy: --heavy-clients connections, kept alive; each sends
//   "heavy <seq>\n", waits for "HEAVY <SEQ>\n", and sends the next at once
//   (the server's handler computes ~200 ms on a line starting with "heavy").
// Light: every --interval-ms, on a fixed schedule (not waiting for earlier
//   replies), a NEW connection sends "light <seq>\n", waits for
//   "LIGHT <SEQ>\n" (the keep-alive handler's reply: the line upper-cased
//   with its newline), then closes. Its latency runs from the connect to
//   the whole reply. A connection per light request means each one is a
//   new request for the server to place (with workerThreads: on the
//   least-busy worker at that moment), as "a light request every 20 ms"
//   arriving while a heavy one runs.
// Every reply is checked byte for byte (a wrong one is a mismatch).
//
// Phases: --warmup seconds (heavy loops and light requests run, nothing is
// recorded), then --duration seconds measured: light requests started in it
// are recorded, waited for after it (at most --timeout); heavy replies that
// arrive in it are counted. Prints "MEASURE" when the measured window opens
// and "END" when it closes (bench/run.js samples the server's CPU there),
// then one line of JSON. Bounded: at most ceil(duration / interval) + 1
// light requests are recorded, every request times out after --timeout,
// and the process gives up at warmup + duration + timeout + 5 s.
// Exit status: 0 when it ran (even with errors or mismatches), 2 on usage.

const net = require('node:net');
const args = require('./args.js');

const usage = args.usageOf('mixed-client');


function parseOptions(argv) {
  const values = args.parseOptions(
    argv,
    {
      tcp: { type: 'string' },
      unix: { type: 'string' },
      'heavy-clients': { type: 'string', default: '1' },
      'interval-ms': { type: 'string', default: '20' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      timeout: { type: 'string', default: '10' },
    },
    usage,
  );
  const num = (name, min, max, integer) => args.numberOption(values, name, { min, max, integer }, usage);
  const o = {
    heavyClients: num('heavy-clients', 0, 1000, true),
    intervalMs: num('interval-ms', 1, 60000, false),
    duration: num('duration', 0.1, 3600, false),
    warmup: num('warmup', 0, 3600, false),
    timeout: num('timeout', 0.1, 600, false),
  };
  if (!!values.tcp === !!values.unix) usage('give exactly one of --tcp HOST:PORT and --unix PATH');
  if (values.tcp) {
    const m = /^(.*):(\d+)$/.exec(values.tcp);
    if (!m) usage(`bad --tcp: ${values.tcp}`);
    o.connect = { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  } else {
    o.connect = { path: values.unix };
  }
  return o;
}

const opts = parseOptions(process.argv.slice(2));
const nowNs = () => process.hrtime.bigint();
const T0 = nowNs();
const msSince = (t) => Number(nowNs() - t) / 1e6;
const WARM_END = T0 + BigInt(Math.round(opts.warmup * 1e9));
const END = WARM_END + BigInt(Math.round(opts.duration * 1e9));
const MAX_LIGHT = Math.ceil((opts.duration * 1000) / opts.intervalMs) + 1;
const TIMEOUT_MS = opts.timeout * 1000;

const light = { sent: 0, ok: 0, errors: 0, mismatches: 0, latUs: [], lagMs: [], errorKinds: {} };
const heavy = { ok: 0, errors: 0, mismatches: 0, latUs: [], warmupOk: 0, errorKinds: {} };
const mismatchSamples = [];
let stopping = false;
const openSockets = new Set();

function countError(rec, kind) {
  rec.errors++;
  rec.errorKinds[kind] = (rec.errorKinds[kind] || 0) + 1;
}

function noteMismatch(what, expected, got) {
  if (mismatchSamples.length < 5) mismatchSamples.push(`${what}: expected ${JSON.stringify(expected)} got ${JSON.stringify(got)}`);
}

/**
 * One exchange on `sock`: writes `line`, resolves with the reply once
 * `expected.length` bytes came (or the connection ended / failed / timed out).
 */
function exchange(sock, line, expected) {
  return new Promise((resolve) => {
    const chunks = [];
    let len = 0;
    let done = false;
    const finish = (outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('error', onError);
      sock.off('end', onEnd);
      resolve({ outcome, reply: Buffer.concat(chunks).toString('latin1') });
    };
    const onData = (c) => {
      chunks.push(c);
      len += c.length;
      if (len >= expected.length) finish('reply');
    };
    const onError = (e) => finish(e.code === 'ECONNREFUSED' ? 'refused' : e.code === 'ECONNRESET' || e.code === 'EPIPE' ? 'reset' : 'other');
    const onEnd = () => finish('eof');
    const timer = setTimeout(() => finish('timeout'), TIMEOUT_MS);
    sock.on('data', onData);
    sock.on('error', onError);
    sock.on('end', onEnd);
    sock.write(line);
  });
}

function connect() {
  return new Promise((resolve) => {
    const sock = net.connect(opts.connect);
    openSockets.add(sock);
    sock.once('close', () => openSockets.delete(sock));
    const timer = setTimeout(() => fail('timeout'), TIMEOUT_MS);
    const fail = (kind) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ sock: null, kind });
    };
    sock.once('error', (e) => fail(e.code === 'ECONNREFUSED' ? 'refused' : 'other'));
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      sock.on('error', () => {}); // reported by exchange()
      sock.setNoDelay(true);
      resolve({ sock, kind: null });
    });
  });
}

let seq = 0;

async function heavyLoop() {
  let sock = null;
  while (!stopping && nowNs() < END) {
    if (sock === null) {
      const c = await connect();
      if (c.sock === null) {
        if (nowNs() >= WARM_END) countError(heavy, c.kind);
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      sock = c.sock;
    }
    const n = ++seq;
    const line = `heavy ${n}\n`;
    const expected = line.toUpperCase();
    const t = nowNs();
    const { outcome, reply } = await exchange(sock, line, expected);
    const end = nowNs();
    const measured = end > WARM_END && end <= END;
    if (outcome === 'reply' && reply === expected) {
      if (measured) {
        heavy.ok++;
        heavy.latUs.push(Number(end - t) / 1000);
      } else if (end <= WARM_END) heavy.warmupOk++;
      continue;
    }
    if (outcome === 'reply') {
      heavy.mismatches++; // in any phase
      noteMismatch('heavy', expected, reply);
    } else if (measured) countError(heavy, outcome);
    sock.destroy();
    sock = null;
  }
  if (sock !== null) sock.end();
}

async function lightRequest(scheduledNs, record) {
  const t = nowNs();
  const lagMs = Number(t - scheduledNs) / 1e6;
  const n = ++seq;
  const line = `light ${n}\n`;
  const expected = line.toUpperCase();
  if (record) {
    light.sent++;
    light.lagMs.push(lagMs);
  }
  const c = await connect();
  if (c.sock === null) {
    if (record) countError(light, c.kind);
    return;
  }
  const { outcome, reply } = await exchange(c.sock, line, expected);
  const us = Number(nowNs() - t) / 1000;
  c.sock.end();
  if (outcome === 'reply' && reply === expected) {
    if (record) {
      light.ok++;
      light.latUs.push(us);
    }
  } else if (outcome === 'reply') {
    light.mismatches++;
    noteMismatch('light', expected, reply);
  } else if (record) countError(light, outcome);
}

/**
 * Light requests on a fixed schedule: the k-th at T0 + k x interval (a late
 * timer catches up: none is skipped). Resolves when the last one is over.
 */
function lightLoop() {
  return new Promise((resolve) => {
    const pending = [];
    const intervalNs = BigInt(Math.round(opts.intervalMs * 1e6));
    let k = 0;
    const tick = () => {
      const now = nowNs();
      for (;;) {
        const at = T0 + BigInt(k) * intervalNs;
        if (stopping || at >= END || (at >= WARM_END && light.sent >= MAX_LIGHT)) {
          Promise.all(pending).then(resolve);
          return;
        }
        if (at > now) break;
        pending.push(lightRequest(at, at >= WARM_END));
        k++;
      }
      setTimeout(tick, Math.max(0, Number(T0 + BigInt(k) * intervalNs - nowNs()) / 1e6));
    };
    tick();
  });
}

function pct(sorted, p) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function summary(latUs) {
  const s = [...latUs].sort((a, b) => a - b);
  const r = (x) => (x == null ? null : Math.round(x * 10) / 10);
  return { p50_us: r(pct(s, 50)), p90_us: r(pct(s, 90)), p99_us: r(pct(s, 99)), max_us: r(s.length ? s[s.length - 1] : null), mean_us: r(s.length ? s.reduce((a, b) => a + b, 0) / s.length : null) };
}

async function main() {
  // Hard bound: give up (and say so) if something hangs.
  const hardMs = (opts.warmup + opts.duration + opts.timeout + 5) * 1000;
  const hard = setTimeout(() => {
    stopping = true;
    process.stderr.write(`mixed-client: still running after ${hardMs / 1000} s: giving up\n`);
    report(true);
    process.exit(1);
  }, hardMs);
  hard.unref();
  const cpu0 = process.cpuUsage();
  // "MEASURE" / "END": when the window opens and closes (run.js samples the server's CPU then).
  const marks = [
    setTimeout(() => process.stdout.write('MEASURE\n'), Math.max(0, Number(WARM_END - nowNs()) / 1e6)),
    setTimeout(() => process.stdout.write('END\n'), Math.max(0, Number(END - nowNs()) / 1e6)),
  ];
  const heavies = Array.from({ length: opts.heavyClients }, () => heavyLoop());
  await Promise.all([lightLoop(), ...heavies]);
  for (const m of marks) clearTimeout(m);
  clearTimeout(hard);
  const cpu = process.cpuUsage(cpu0);
  report(false, (cpu.user + cpu.system) / 1e6);
  for (const s of openSockets) s.destroy();
}

let reported = false;
function report(interrupted, cpuS = null) {
  if (reported) return;
  reported = true;
  const seconds = opts.duration;
  const lag = [...light.lagMs].sort((a, b) => a - b);
  const out = {
    seconds,
    interval_ms: opts.intervalMs,
    heavy_clients: opts.heavyClients,
    light: { sent: light.sent, ok: light.ok, errors: light.errors, mismatches: light.mismatches, error_kinds: light.errorKinds, ...summary(light.latUs),
      schedule_lag_p99_ms: lag.length ? Math.round(pct(lag, 99) * 100) / 100 : null, schedule_lag_max_ms: lag.length ? Math.round(lag[lag.length - 1] * 100) / 100 : null },
    heavy: { ok: heavy.ok, rps: Math.round((heavy.ok / seconds) * 100) / 100, errors: heavy.errors, mismatches: heavy.mismatches, error_kinds: heavy.errorKinds, warmup_ok: heavy.warmupOk, ...summary(heavy.latUs) },
    mismatch_samples: mismatchSamples,
    client_cpu_s: cpuS,
    elapsed_s: Math.round(msSince(T0)) / 1000,
    interrupted,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err) => {
  process.stderr.write(`mixed-client: ${err.stack || err}\n`);
  process.exit(1);
});
