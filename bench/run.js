#!/usr/bin/env node
'use strict';
// Benchmark runner (npm run bench). Plain CommonJS, no dependencies.
//
//   node bench/run.js [--rounds 3] [--duration 5] [--warmup 1] [--clients N]
//                     [--workloads a,b] [--servers a,b] [--out FILE]
//
// For every workload, runs ROUNDS interleaved rounds (A B A B ...): each
// server is started fresh as a child process, warmed up, measured with
// bench/loadgen (which verifies every reply), sampled (CPU from
// /proc/<pid>/stat, peak RSS from /proc/<pid>/status) and stopped.
// Prints a table and writes bench/results/latest.json.
// Exit status: 0 ok; 1 if any reply mismatched or any run failed; 2 usage.
//
// To add a workload: an entry in WORKLOADS.  To add a server: an entry in
// SERVERS with an `args` function for each "transport/mode" it supports.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const LOADGEN_SRC = path.join(ROOT, 'bench', 'loadgen.c');
const LOADGEN_BIN = path.join(ROOT, 'build', 'bench', 'loadgen');
const DIST_INDEX = path.join(ROOT, 'dist', 'index.js');
const DEFAULT_OUT = path.join(ROOT, 'bench', 'results', 'latest.json');

const READY_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 5000; // SIGTERM -> SIGKILL
const REQUEST_TIMEOUT_S = 5; // loadgen --timeout

// ---------------------------------------------------------------------------
// Servers. `args[transport/mode](ctx)` returns the command-line arguments for
// that workload; `command` (optional) the executable + leading args (default:
// node <script>). The server must print "READY <port or path>" on stdout and
// exit on SIGTERM.

const SERVERS = {
  native: {
    label: 'native TCPServer',
    script: 'bench/servers/native-tcp.js',
    check() {
      if (!fs.existsSync(DIST_INDEX)) return `${rel(DIST_INDEX)} not found: run \`npm run build\``;
      return null;
    },
    warn() {
      const newest = newestMtime(path.join(ROOT, 'lib'));
      if (newest > fs.statSync(DIST_INDEX).mtimeMs) return 'lib/ is newer than dist/: consider `npm run build:ts`';
      return null;
    },
    args: {
      'tcp/conn': () => ['--host', '127.0.0.1', '--port', '0'],
    },
  },
  net: {
    label: 'node:net',
    script: 'bench/servers/net-tcp.js',
    args: {
      'tcp/conn': () => ['--host', '127.0.0.1', '--port', '0', '--mode', 'conn'],
      'tcp/keepalive': () => ['--host', '127.0.0.1', '--port', '0', '--mode', 'keepalive'],
      'unix/conn': (ctx) => ['--unix', ctx.socketPath, '--mode', 'conn'],
      'unix/keepalive': (ctx) => ['--unix', ctx.socketPath, '--mode', 'keepalive'],
    },
  },
  // Later: js transport, CPython socketserver (command: () => ['python3', ...]),
  // a C epoll server, ...
};

// ---------------------------------------------------------------------------
// Workloads. transport: tcp | unix | udp | unix-dgram (loadgen target);
// mode: conn | keepalive | dgram (loadgen --mode). `baseline` is the server
// the others are compared with. `default: false` = only with --workloads.

const WORKLOADS = [
  {
    name: 'tcp-conn-upper',
    title: 'uppercase echo, TCP, connection per request',
    transport: 'tcp',
    mode: 'conn',
    clients: 32,
    servers: ['native', 'net'],
    baseline: 'net',
  },
  {
    name: 'tcp-keepalive-upper',
    title: 'uppercase echo, TCP, keep-alive (many lines per connection)',
    transport: 'tcp',
    mode: 'keepalive',
    clients: 32,
    servers: ['net'],
    baseline: 'net',
    default: false,
  },
  {
    name: 'unix-conn-upper',
    title: 'uppercase echo, Unix stream, connection per request',
    transport: 'unix',
    mode: 'conn',
    clients: 32,
    servers: ['net'],
    baseline: 'net',
    default: false,
  },
];

function loadgenTarget(transport, ready) {
  switch (transport) {
    case 'tcp': return ['--tcp', `127.0.0.1:${ready}`];
    case 'udp': return ['--udp', `127.0.0.1:${ready}`];
    case 'unix': return ['--unix', ready];
    case 'unix-dgram': return ['--unix-dgram', ready];
    default: throw new Error(`unknown transport ${transport}`);
  }
}

// ---------------------------------------------------------------------------
// options

function usage(msg) {
  if (msg) process.stderr.write(`bench: ${msg}\n`);
  (msg ? process.stderr : process.stdout).write(
    'usage: node bench/run.js [--rounds N] [--duration S] [--warmup S] [--clients N]\n' +
      '                         [--workloads a,b] [--servers a,b] [--out FILE]\n' +
      `workloads: ${WORKLOADS.map((w) => w.name + (w.default === false ? ' (opt-in)' : '')).join(', ')}\n` +
      `servers:   ${Object.keys(SERVERS).join(', ')}\n`,
  );
  process.exit(msg ? 2 : 0);
}

function parseArgs(argv) {
  const o = { rounds: 3, duration: 5, warmup: 1, clients: null, workloads: null, servers: null, out: DEFAULT_OUT };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') usage();
    const v = argv[++i];
    if (v === undefined) usage(`missing value for ${a}`);
    const num = (min, int) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < min || (int && !Number.isInteger(n))) usage(`bad value for ${a}: ${v}`);
      return n;
    };
    if (a === '--rounds') o.rounds = num(1, true);
    else if (a === '--duration') o.duration = num(0.1, false);
    else if (a === '--warmup') o.warmup = num(0, false);
    else if (a === '--clients') o.clients = num(1, true);
    else if (a === '--workloads') o.workloads = v.split(',').filter(Boolean);
    else if (a === '--servers') o.servers = v.split(',').filter(Boolean);
    else if (a === '--out') o.out = path.resolve(v);
    else usage(`unknown option ${a}`);
  }
  for (const w of o.workloads || []) if (!WORKLOADS.some((x) => x.name === w)) usage(`unknown workload ${w}`);
  for (const s of o.servers || []) if (!SERVERS[s]) usage(`unknown server ${s}`);
  return o;
}

// ---------------------------------------------------------------------------
// helpers

function rel(p) {
  return path.relative(process.cwd(), p) || '.';
}

function newestMtime(dir) {
  let newest = 0;
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let CLK_TCK = 100;
try {
  CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {}

/** utime+stime of a live process (all threads), in microseconds. */
function cpuMicros(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  return ((Number(f[11]) + Number(f[12])) * 1e6) / CLK_TCK;
}

/** Busy CPU time of the whole machine (all cores), in microseconds. */
function machineBusyMicros() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is included in user)
  const busy = f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] || 0);
  return (busy * 1e6) / CLK_TCK;
}

/** VmHWM (peak resident set size) of a live process, in KiB. */
function peakRssKiB(pid) {
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : null;
}

// Every child we start is tracked here and killed if we exit early.
const children = new Set();
function killAllChildren() {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {}
  }
}
process.on('exit', killAllChildren);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    process.stderr.write(`\nbench: ${sig}, stopping children\n`);
    killAllChildren();
    cleanupTmp();
    process.exit(130);
  });
}

function track(child) {
  children.add(child);
  child.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
    child.on('error', (err) => {
      children.delete(child);
      resolve({ code: null, signal: null, error: err });
    });
  });
  return child;
}

let tmpDir = null;
function getTmpDir() {
  if (!tmpDir) tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'socketserver-bench-'));
  return tmpDir;
}
function cleanupTmp() {
  if (tmpDir) {
    try {
      fs.rmSync(tmpDir, { recursive: true, force: true });
    } catch {}
    tmpDir = null;
  }
}

class Tail {
  constructor(max = 4096) {
    this.max = max;
    this.buf = '';
    this.bytes = 0;
  }
  push(chunk) {
    this.bytes += chunk.length;
    this.buf = (this.buf + chunk.toString('utf8')).slice(-this.max);
  }
}

// ---------------------------------------------------------------------------
// loadgen

function ensureLoadgen() {
  let stale = true;
  try {
    stale = fs.statSync(LOADGEN_SRC).mtimeMs > fs.statSync(LOADGEN_BIN).mtimeMs;
  } catch {}
  if (!stale) return;
  fs.mkdirSync(path.dirname(LOADGEN_BIN), { recursive: true });
  const args = ['-O2', '-Wall', '-o', rel(LOADGEN_BIN), rel(LOADGEN_SRC)];
  process.stderr.write(`bench: cc ${args.join(' ')}\n`);
  execFileSync('cc', args, { stdio: 'inherit' });
}

const loadgenStderr = []; // diagnostics (first mismatches), printed after each run

async function runLoadgen(args, timeoutMs) {
  const child = track(spawn(LOADGEN_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  const err = new Tail();
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => err.push(c)); // mismatch diagnostics
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const { code, signal, error } = await child.exited;
  clearTimeout(timer);
  if (error) throw new Error(`loadgen: ${error.message}`);
  if (code !== 0) throw new Error(`loadgen exited with ${code ?? signal}: ${err.buf.trim()}`);
  const line = out.trim().split('\n').pop();
  let res;
  try {
    res = JSON.parse(line);
  } catch {
    throw new Error(`loadgen printed no JSON: ${JSON.stringify(out)}`);
  }
  if (err.bytes) loadgenStderr.push(err.buf.trim());
  return res;
}

// ---------------------------------------------------------------------------
// server processes

async function startServer(key, workload, ctx) {
  const def = SERVERS[key];
  const argsFn = def.args[`${workload.transport}/${workload.mode}`];
  const cmd = def.command ? def.command(ctx) : [process.execPath, path.join(ROOT, def.script)];
  const child = track(
    spawn(cmd[0], [...cmd.slice(1), ...argsFn(ctx)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  const stderr = new Tail();
  const stdout = new Tail();
  child.stderr.on('data', (c) => stderr.push(c));
  const srv = { key, child, stderr, stdout, ready: null };
  let lineBuf = '';
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no READY line within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    child.stdout.on('data', (c) => {
      stdout.push(c);
      if (srv.ready !== null) return;
      lineBuf += c.toString('utf8');
      let i;
      while ((i = lineBuf.indexOf('\n')) >= 0) {
        const line = lineBuf.slice(0, i).trim();
        lineBuf = lineBuf.slice(i + 1);
        const m = /^READY (\S+)$/.exec(line);
        if (m) {
          srv.ready = m[1];
          clearTimeout(timer);
          resolve();
          return;
        }
      }
    });
    child.exited.then(({ code, signal, error }) => {
      clearTimeout(timer);
      reject(new Error(error ? error.message : `exited with ${code ?? signal} before READY`));
    });
  });
  try {
    await ready;
  } catch (err) {
    await stopServer(srv);
    err.message = `${def.label}: ${err.message}${stderr.buf ? `\n--- server stderr (tail) ---\n${stderr.buf.trim()}` : ''}`;
    throw err;
  }
  return srv;
}

/** SIGTERM, then SIGKILL after STOP_TIMEOUT_MS. Resolves with how it ended. */
async function stopServer(srv) {
  const { child } = srv;
  if (child.exitCode !== null || child.signalCode !== null) return await child.exited;
  child.kill('SIGTERM');
  const res = await Promise.race([child.exited, sleep(STOP_TIMEOUT_MS).then(() => null)]);
  if (res) return { ...res, killed: false };
  child.kill('SIGKILL');
  return { ...(await child.exited), killed: true };
}

function alive(srv) {
  return srv.child.exitCode === null && srv.child.signalCode === null;
}

// ---------------------------------------------------------------------------
// one measurement

async function runOne(workload, key, round, opts) {
  const clients = opts.clients || workload.clients;
  const ctx = { socketPath: path.join(getTmpDir(), `${key}-${workload.name}-${round}.sock`) };
  const rec = { round, ok: false };
  let srv;
  try {
    srv = await startServer(key, workload, ctx);
    rec.pid = srv.child.pid;
    const target = loadgenTarget(workload.transport, srv.ready);
    const common = [...target, '--mode', workload.mode, '--clients', String(clients), '--timeout', String(REQUEST_TIMEOUT_S)];
    const budget = (s) => (s + REQUEST_TIMEOUT_S + 30) * 1000;
    if (opts.warmup > 0) {
      const w = await runLoadgen([...common, '--duration', String(opts.warmup), '--warmup', '0'], budget(opts.warmup));
      rec.warmup = { requests: w.requests, errors: w.errors, mismatches: w.mismatches };
    }
    if (!alive(srv)) throw new Error('server died during warm-up');
    const cpu0 = cpuMicros(srv.child.pid);
    const busy0 = machineBusyMicros();
    const r = await runLoadgen([...common, '--duration', String(opts.duration), '--warmup', '0'], budget(opts.duration));
    if (!alive(srv)) throw new Error('server died during the measurement');
    const cpu = cpuMicros(srv.child.pid) - cpu0;
    const busy = machineBusyMicros() - busy0;
    rec.loadgen = r;
    rec.cpu_us = cpu;
    rec.cpu_us_per_request = r.requests > 0 ? cpu / r.requests : null;
    rec.cpu_util = r.seconds > 0 ? cpu / 1e6 / r.seconds : null; // 1.0 = one core busy
    rec.peak_rss_kib = peakRssKiB(srv.child.pid);
    // CPU used by everything else on the machine during the measurement
    // (not the server, not the loadgen): a noise indicator.
    rec.other_cpu_util = r.seconds > 0 ? Math.max(0, (busy - cpu) / 1e6 - r.loadgen_cpu_s) / r.seconds : null;
    rec.mismatches = r.mismatches + (rec.warmup ? rec.warmup.mismatches : 0);
    rec.ok = true;
  } catch (err) {
    rec.error = err.message;
  } finally {
    if (srv) {
      const end = await stopServer(srv);
      rec.server_exit = { code: end.code, signal: end.signal, killed: !!end.killed };
      rec.server_stderr_bytes = srv.stderr.bytes;
      if (srv.stderr.bytes) rec.server_stderr_tail = srv.stderr.buf.slice(-1000);
    }
    try {
      fs.rmSync(ctx.socketPath, { force: true });
    } catch {}
  }
  return rec;
}

// ---------------------------------------------------------------------------
// reporting

function fmtInt(x) {
  return x == null ? '-' : Math.round(x).toLocaleString('en-US');
}
function fmt(x, digits) {
  return x == null ? '-' : x.toFixed(digits);
}

function summarize(runs) {
  const ok = runs.filter((r) => r.ok);
  return {
    rounds_ok: ok.length,
    median_rps: median(ok.map((r) => r.loadgen.rps)),
    p50_us: median(ok.map((r) => r.loadgen.p50_us)),
    p99_us: median(ok.map((r) => r.loadgen.p99_us)),
    cpu_us_per_request: median(ok.map((r) => r.cpu_us_per_request)),
    cpu_util: median(ok.map((r) => r.cpu_util)),
    peak_rss_kib: median(ok.map((r) => r.peak_rss_kib)),
    loadgen_cpu_util: median(ok.map((r) => r.loadgen.loadgen_cpu_s / r.loadgen.seconds)),
    other_cpu_util_max: ok.length ? Math.max(...ok.map((r) => r.other_cpu_util || 0)) : null,
    errors: ok.reduce((a, r) => a + r.loadgen.errors + (r.warmup ? r.warmup.errors : 0), 0),
    mismatches: ok.reduce((a, r) => a + r.mismatches, 0),
  };
}

function printTable(w, res, opts) {
  const keys = Object.keys(res.servers);
  const labels = keys.map((k) => SERVERS[k].label);
  const width = Math.max(14, ...labels.map((l) => l.length)) + 2;
  const first = 26;
  const row = (name, cells) => console.log(name.padEnd(first) + cells.map((c) => String(c).padStart(width)).join(''));
  const clients = opts.clients || w.clients;
  console.log(`\n== ${w.name}: ${w.title}, ${clients} clients (${opts.rounds} rounds x ${opts.duration} s, warm-up ${opts.warmup} s)`);
  row('', labels);
  for (let i = 0; i < opts.rounds; i++) {
    row(`round ${i + 1} req/s`, keys.map((k) => {
      const r = res.servers[k].runs[i];
      return !r ? '-' : r.ok ? fmtInt(r.loadgen.rps) : 'FAILED';
    }));
  }
  const s = keys.map((k) => res.servers[k].summary);
  row('median req/s', s.map((x) => fmtInt(x.median_rps)));
  row('p50 latency (us)', s.map((x) => fmt(x.p50_us, 0)));
  row('p99 latency (us)', s.map((x) => fmt(x.p99_us, 0)));
  row('server CPU (us/request)', s.map((x) => fmt(x.cpu_us_per_request, 1)));
  row('server CPU (cores)', s.map((x) => fmt(x.cpu_util, 2)));
  row('server peak RSS (MiB)', s.map((x) => (x.peak_rss_kib == null ? '-' : fmt(x.peak_rss_kib / 1024, 1))));
  row('loadgen CPU (cores)', s.map((x) => fmt(x.loadgen_cpu_util, 2)));
  row('other processes CPU (max)', s.map((x) => fmt(x.other_cpu_util_max, 2)));
  row('errors / mismatches', s.map((x) => `${x.errors} / ${x.mismatches}`));
  for (const [k, r] of Object.entries(res.ratios)) {
    console.log(
      `ratio ${SERVERS[k].label} / ${SERVERS[w.baseline].label} req/s: median of per-round ratios ` +
        `${fmt(r.median_of_ratios, 3)}, ratio of medians ${fmt(r.ratio_of_medians, 3)}`,
    );
  }
}

// ---------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.platform !== 'linux') usage('Linux only (/proc, epoll)');
  ensureLoadgen();

  const workloads = WORKLOADS.filter((w) => (opts.workloads ? opts.workloads.includes(w.name) : w.default !== false));
  const problems = [];
  const warnings = [];
  const results = [];

  for (const w of workloads) {
    const keys = w.servers.filter((k) => !opts.servers || opts.servers.includes(k));
    if (!keys.length) continue;
    const res = { name: w.name, title: w.title, transport: w.transport, mode: w.mode, clients: opts.clients || w.clients, baseline: w.baseline, servers: {}, ratios: {} };
    const skip = {};
    for (const k of keys) {
      res.servers[k] = { label: SERVERS[k].label, runs: [] };
      const def = SERVERS[k];
      if (!def.args[`${w.transport}/${w.mode}`]) skip[k] = `does not support ${w.transport}/${w.mode}`;
      else if (def.check && def.check()) skip[k] = def.check();
      else if (def.warn && def.warn()) warnings.push(`${def.label}: ${def.warn()}`);
      if (skip[k]) {
        res.servers[k].error = skip[k];
        problems.push(`${w.name} / ${def.label}: ${skip[k]}`);
      }
    }
    for (let round = 1; round <= opts.rounds; round++) {
      for (const k of keys) {
        if (skip[k]) continue;
        process.stderr.write(`bench: ${w.name} round ${round}/${opts.rounds}: ${SERVERS[k].label} ... `);
        const rec = await runOne(w, k, round, opts);
        res.servers[k].runs.push(rec);
        if (loadgenStderr.length) rec.loadgen_stderr = loadgenStderr.splice(0).join('\n');
        const diag = rec.loadgen_stderr ? `${rec.loadgen_stderr.replace(/^/gm, '    ')}\n` : '';
        if (!rec.ok) {
          process.stderr.write(`FAILED\n${diag}`);
          problems.push(`${w.name} / ${SERVERS[k].label} round ${round}: ${rec.error}`);
          continue;
        }
        const l = rec.loadgen;
        process.stderr.write(`${fmtInt(l.rps)} req/s, p99 ${fmt(l.p99_us, 0)} us, errors ${l.errors}, mismatches ${rec.mismatches}\n${diag}`);
        if (rec.mismatches) problems.push(`${w.name} / ${SERVERS[k].label} round ${round}: ${rec.mismatches} MISMATCHED replies`);
        if (l.errors || (rec.warmup && rec.warmup.errors))
          warnings.push(`${w.name} / ${SERVERS[k].label} round ${round}: ${l.errors} errors ${JSON.stringify(l.error_kinds)}`);
        if (rec.server_exit && (rec.server_exit.code !== 0 || rec.server_exit.killed))
          warnings.push(`${w.name} / ${SERVERS[k].label} round ${round}: server did not exit cleanly on SIGTERM (${JSON.stringify(rec.server_exit)})`);
        if (rec.server_stderr_bytes)
          warnings.push(`${w.name} / ${SERVERS[k].label} round ${round}: server wrote ${rec.server_stderr_bytes} bytes to stderr, tail: ${JSON.stringify(rec.server_stderr_tail.slice(-300))}`);
      }
    }
    for (const k of keys) res.servers[k].summary = summarize(res.servers[k].runs);
    const base = res.servers[w.baseline];
    if (base) {
      for (const k of keys) {
        if (k === w.baseline) continue;
        const per = [];
        for (let i = 0; i < opts.rounds; i++) {
          const a = res.servers[k].runs[i];
          const b = base.runs[i];
          if (a && b && a.ok && b.ok && b.loadgen.rps > 0) per.push(a.loadgen.rps / b.loadgen.rps);
        }
        const ma = res.servers[k].summary.median_rps;
        const mb = base.summary.median_rps;
        res.ratios[k] = { per_round: per, median_of_ratios: median(per), ratio_of_medians: ma != null && mb ? ma / mb : null };
      }
    }
    results.push(res);
    printTable(w, res, opts);
  }

  let commit = null;
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {}
  const out = {
    date: new Date().toISOString(),
    ok: problems.length === 0,
    options: { rounds: opts.rounds, duration_s: opts.duration, warmup_s: opts.warmup, clients: opts.clients, request_timeout_s: REQUEST_TIMEOUT_S },
    env: {
      node: process.version,
      kernel: os.release(),
      cpus: os.cpus().length,
      cpu_model: (os.cpus()[0] || {}).model,
      git_commit: commit,
    },
    workloads: results,
    problems,
    warnings,
  };
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(`${opts.out}.tmp`, JSON.stringify(out, null, 2) + '\n');
  fs.renameSync(`${opts.out}.tmp`, opts.out);
  console.log(`\nresults: ${rel(opts.out)}`);
  for (const x of warnings) console.log(`WARNING: ${x}`);
  if (problems.length) {
    console.error('');
    for (const p of problems) console.error(`FAIL: ${p}`);
    process.exitCode = 1;
  }
  cleanupTmp();
}

main().catch((err) => {
  console.error(`bench: ${err.stack || err}`);
  killAllChildren();
  cleanupTmp();
  process.exit(1);
});
