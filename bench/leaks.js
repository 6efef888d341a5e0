#!/usr/bin/env node
'use strict';
// Leak check (issue 5, "Reliability"): for every server class and transport,
// N uppercase-echo requests, then the server process's own descriptors,
// threads, children and RSS after GC, against a baseline taken after a
// warm-up (V8 and libuv allocate lazily: the first requests grow the
// process for good, and that is not a leak).
//
//   npm run leaks [-- --requests 100000] [--fork-requests 2000] [--warmup 1000]
//                    [--fork-warmup 100] [--clients 32] [--rss-limit-mib 5]
//                    [--transports native,js] [--classes TCPServer,UDPServer,..]
//                    [--out bench/results/leaks] [--no-write] [--v8-defaults]
//
// Each run: the server is a child `node --expose-gc bench/leaks.js --server
// ...` (the handlers of bench/servers/socketserver.js: connection per
// request for stream classes, one datagram per request otherwise); the load
// is bench/loadgen (a separate process, which verifies every reply byte for
// byte). The server answers commands on stdin with JSON lines on stdout:
// "measure" waits (bounded) until nothing is in flight and the counts are
// stable, runs global.gc() a few rounds, and reports
//   fds      entries of /proc/self/fd
//   threads  entries of /proc/self/task
//   children pids in /proc/self/task/*/children
//   rss      VmRSS of /proc/self/status, after GC
// "measure" with a target also waits (bounded) for fds/threads/children to
// come back to it, so that a slow close is not mistaken for a leak, while a
// real leak still fails after the bound.
//
// PASS for a run: every request answered and verified (loadgen: requests ==
// N, 0 errors, 0 mismatches), fds, threads and children exactly back to the
// baseline, anonymous RSS (RssAnon: heaps, malloc, V8) growth after GC
// < --rss-limit-mib (5 MiB). Total VmRSS is shown too; its file-backed part
// grows as the node binary's code is paged in (2 000 forks: +3.6 MiB of
// RssFile, RssAnon +0.1 to +1.1 MiB whether 500 or 6 000 forks), which is
// not memory the server keeps.
//
// The servers run with --max-semi-space-size=1 (see SERVER_NODE_FLAGS: V8's
// young generation would otherwise grow RSS by up to ~30 MiB, bounded, with
// nothing retained); --v8-defaults leaves V8's defaults.
//
// Forking classes fork a process per request (~450/s here): they run
// --fork-requests (2000 by default) instead of --requests.
//
// Writes <out>.json and <out>.md (bench/results/leaks.*); exit status 0 when
// every run passed, 1 otherwise, 2 on usage errors.
//
// Also a module: require('bench/leaks.js').runClass({...}) is what
// test/76-leaks.test.ts uses for its short form.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const LOADGEN_SRC = path.join(ROOT, 'bench', 'loadgen.c');
const LOADGEN_BIN = path.join(ROOT, 'build', 'bench', 'loadgen');

const CLASSES = [
  'TCPServer', 'UDPServer', 'UnixStreamServer', 'UnixDatagramServer',
  'ThreadingTCPServer', 'ThreadingUDPServer', 'ThreadingUnixStreamServer', 'ThreadingUnixDatagramServer',
  'ForkingTCPServer', 'ForkingUDPServer', 'ForkingUnixStreamServer', 'ForkingUnixDatagramServer',
];
const MiB = 1024 * 1024;
// V8 grows its young generation (two semi-spaces, up to 16 MiB each) with
// the allocation rate and never gives it back: 20 000 requests of the js
// TCPServer grow RSS by ~23 MiB while heapUsed after GC stays at 4 MiB.
// That growth is bounded and is not retention, but it would drown a real
// leak; with semi-spaces of 1 MiB RSS measures what is retained. --v8-defaults
// runs the servers without this flag (the RSS figure is then informative).
const SERVER_NODE_FLAGS = ['--max-semi-space-size=1'];

function kindOf(cls) {
  const unix = cls.includes('Unix');
  const dgram = cls.includes('UDP') || cls.includes('Datagram');
  return { unix, dgram, forking: cls.startsWith('Forking'), threading: cls.startsWith('Threading') };
}

// ===========================================================================
// The server process.

function serverMain(argv) {
  const opt = {};
  for (let i = 0; i < argv.length; i += 2) opt[argv[i].replace(/^--/, '')] = argv[i + 1];
  if (typeof global.gc !== 'function') {
    process.stderr.write('leaks server: needs --expose-gc\n');
    process.exit(2);
  }
  const lib = require(opt.impl === 'js' ? '../dist/js.js' : '../dist/index.js');
  const { unix, dgram, forking } = kindOf(opt.class);
  const PARENT_PID = process.pid;

  const upperTrim = (buf) => Buffer.from(buf.toString('latin1').trim().toUpperCase(), 'latin1');
  // Self-test of the check (test/76-leaks.test.ts): a server that leaks on purpose.
  const leakFdEvery = Number(opt['leak-fd-every'] || 0);
  const leakBytes = Number(opt['leak-bytes'] || 0);
  const leaked = [];
  let served = 0;
  const leak = () => {
    served++;
    if (leakFdEvery && served % leakFdEvery === 0) leaked.push(fs.openSync('/dev/null', 'r'));
    if (leakBytes) leaked.push(Buffer.alloc(leakBytes, 1));
  };
  const Handler = dgram
    ? class extends lib.BaseRequestHandler {
        async handle() {
          const [data, socket] = this.request;
          leak();
          await socket.sendTo(upperTrim(data), this.clientAddress);
        }
      }
    : class extends lib.StreamRequestHandler {
        async handle() {
          const line = await this.rfile.readline();
          leak();
          await this.wfile.write(upperTrim(line));
        }
      };

  let inFlight = 0;
  let errors = 0;
  const errorCodes = {};
  const Base = lib[opt.class];
  class Server extends Base {
    static requestQueueSize = 1024;
    static allowReuseAddress = true;
    async processRequest(request, address) {
      inFlight++;
      try {
        await super.processRequest(request, address);
      } finally {
        inFlight--;
      }
    }
    handleError(request, address, error) {
      // Counted, not printed: a client of loadgen resets a connection after
      // its reply (SO_LINGER 0), which a handler may meet in finish().
      errors++;
      const code = (error && error.code) || (error && error.name) || 'unknown';
      errorCodes[code] = (errorCodes[code] || 0) + 1;
    }
  }

  let server;
  try {
    server = new Server(unix ? opt.path : ['127.0.0.1', 0], Handler);
  } catch (err) {
    if (err && err.code === 'ERR_SOCKETSERVER_UNSUPPORTED') {
      process.stdout.write(`${JSON.stringify({ type: 'unsupported', message: err.message })}\n`);
      process.exit(0);
    }
    throw err;
  }
  if (forking) {
    server.maxChildren = 40;
  }
  const serving = server.serveForever(0.05);

  function busy() {
    const threads = server._threads ? server._threads.size : 0;
    const kids = server.activeChildren ? server.activeChildren.size : 0;
    return inFlight + threads + kids;
  }
  function counts() {
    let children = 0;
    for (const t of fs.readdirSync('/proc/self/task')) {
      try {
        const c = fs.readFileSync(`/proc/self/task/${t}/children`, 'utf8').trim();
        if (c) children += c.split(/\s+/).length;
      } catch {}
    }
    return {
      fds: fs.readdirSync('/proc/self/fd').length,
      threads: fs.readdirSync('/proc/self/task').length,
      children,
    };
  }
  function statusKiB(field) {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : 0;
  }
  function rss() {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return Number(m[1]) * 1024;
  }
  const turn = () => new Promise((r) => setImmediate(r));
  const tick = (ms) => new Promise((r) => setTimeout(r, ms));
  const same = (a, b) => a.fds === b.fds && a.threads === b.threads && a.children === b.children;

  async function gcRounds() {
    for (let i = 0; i < 4; i++) {
      global.gc();
      await turn(); // finalizers and weak callbacks run between rounds
    }
  }

  async function measure(target, settleMs) {
    // Bounded settle: nothing in flight and the counts stable (baseline), or
    // back to the target (end). At most SETTLE_MS; polled on a short timer.
    const SETTLE_MS = settleMs || (target ? 10000 : 5000);
    const start = Date.now();
    let prev = null;
    let c = counts();
    let polls = 0;
    for (; polls < 2000; polls++) {
      c = counts();
      if (busy() === 0 && (target ? same(c, target) : prev !== null && same(c, prev))) break;
      if (Date.now() - start > SETTLE_MS) break;
      prev = c;
      await tick(5);
    }
    const beforeGc = c;
    await gcRounds();
    // V8 gives freed pages back from its background sweeper threads, after
    // gc() returns: sample until the anonymous RSS stops falling (at most 10
    // rounds, 20 ms apart), the same way for the baseline and the end, so
    // that what is measured is what stays, not what is still being freed.
    let rssAnon = statusKiB('RssAnon') * 1024;
    for (let i = 0; i < 10; i++) {
      await tick(20);
      global.gc();
      const next = statusKiB('RssAnon') * 1024;
      const fell = rssAnon - next;
      rssAnon = Math.min(rssAnon, next);
      if (fell < 64 * 1024) break;
    }
    const after = counts();
    const mem = process.memoryUsage();
    return {
      ...after,
      rss: rss(),
      heapUsed: mem.heapUsed,
      heapTotal: mem.heapTotal,
      rssAnon,
      rssFile: statusKiB('RssFile') * 1024,
      external: mem.external,
      arrayBuffers: mem.arrayBuffers,
      beforeGc,
      busy: busy(),
      settledInMs: Date.now() - start,
      errors,
      errorCodes: { ...errorCodes },
    };
  }

  const reply = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
  let buf = '';
  let queue = Promise.resolve();
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    if (process.pid !== PARENT_PID) return; // a forked copy never answers
    buf += chunk;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const cmd = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      queue = queue.then(async () => {
        if (cmd.cmd === 'measure') reply({ type: 'metrics', ...(await measure(cmd.target, cmd.settleMs)) });
        else if (cmd.cmd === 'stop') {
          await server.shutdown();
          await serving;
          await server.serverClose();
          reply({ type: 'stopped' });
          process.exit(0);
        }
      });
    }
  });
  process.stdin.on('end', () => {
    if (process.pid === PARENT_PID) process.exit(3); // our parent went away
  });
  const a = server.serverAddress;
  reply({ type: 'ready', address: a });
}

// ===========================================================================
// The driver.

function ensureLoadgen() {
  let stale = true;
  try {
    stale = fs.statSync(LOADGEN_SRC).mtimeMs > fs.statSync(LOADGEN_BIN).mtimeMs;
  } catch {}
  if (stale) {
    fs.mkdirSync(path.dirname(LOADGEN_BIN), { recursive: true });
    // Built to a temp name and renamed: two runs building at once never see a half-written binary.
    const tmp = `${LOADGEN_BIN}.${process.pid}.tmp`;
    execFileSync('cc', ['-O2', '-Wall', '-o', tmp, LOADGEN_SRC], { stdio: 'inherit' });
    fs.renameSync(tmp, LOADGEN_BIN);
  }
  return LOADGEN_BIN;
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A server child process, driven by JSON lines. */
class ServerProc {
  constructor(impl, cls, sockPath, nodeFlags, extra) {
    this.lines = [];
    this.waiters = [];
    this.stderr = '';
    this.exited = false;
    this.proc = spawn(
      process.execPath,
      [...nodeFlags, '--expose-gc', __filename, '--server', '--impl', impl, '--class', cls, '--path', sockPath || '', ...extra],
      { stdio: ['pipe', 'pipe', 'pipe'], detached: true }, // own process group: forked children die with it
    );
    let out = '';
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (c) => {
      out += c;
      for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
        const line = out.slice(0, i);
        out = out.slice(i + 1);
        let msg;
        try {
          msg = JSON.parse(line);
        } catch {
          this.stderr += `stdout: ${line}\n`;
          continue;
        }
        const w = this.waiters.shift();
        if (w) w.resolve(msg);
        else this.lines.push(msg);
      }
    });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (c) => {
      if (this.stderr.length < 20000) this.stderr += c;
    });
    this.proc.stdin.on('error', () => {});
    this.exit = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exited = true;
        for (const w of this.waiters.splice(0)) w.reject(new Error(`server exited (${code}, ${signal}): ${this.stderr}`));
        resolve([code, signal]);
      });
    });
  }
  next(ms, what) {
    if (this.lines.length) return Promise.resolve(this.lines.shift());
    if (this.exited) return Promise.reject(new Error(`server has exited: ${this.stderr}`));
    return withTimeout(new Promise((resolve, reject) => this.waiters.push({ resolve, reject })), ms, `server: ${what}`);
  }
  async call(cmd, ms) {
    this.proc.stdin.write(`${JSON.stringify(cmd)}\n`);
    return this.next(ms, cmd.cmd);
  }
  kill() {
    if (this.exited) return;
    try {
      process.kill(-this.proc.pid, 'SIGKILL');
    } catch {}
  }
}

function runLoadgen(args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(LOADGEN_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => {
      if (stderr.length < 4000) stderr += c;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`loadgen exited with ${code ?? signal}: ${stderr.trim()}`));
      try {
        const res = JSON.parse(stdout.trim().split('\n').pop());
        if (stderr) res.stderr = stderr.trim();
        resolve(res);
      } catch {
        reject(new Error(`loadgen printed no JSON: ${stdout}`));
      }
    });
  });
}

/**
 * One class on one transport: warm-up, baseline, N requests, end. Resolves
 * with a record ({ unsupported } when the transport refuses the class).
 */
async function runClass({ impl, cls, requests, warmup, clients = 32, rssLimitMiB = 5, nodeFlags = SERVER_NODE_FLAGS, log = () => {}, selfTest = {}, settleMs = 10000 }) {
  ensureLoadgen();
  const { unix, dgram, forking } = kindOf(cls);
  const tmp = unix ? fs.mkdtempSync(path.join(os.tmpdir(), 'ss-leaks-')) : null;
  const sockPath = unix ? path.join(tmp, 'srv.sock') : '';
  const rec = { impl, cls, requests, warmup, nodeFlags };
  const extra = [];
  if (selfTest.leakFdEvery) extra.push('--leak-fd-every', String(selfTest.leakFdEvery));
  if (selfTest.leakBytes) extra.push('--leak-bytes', String(selfTest.leakBytes));
  const srv = new ServerProc(impl, cls, sockPath, nodeFlags, extra);
  const started = Date.now();
  try {
    const ready = await srv.next(15000, 'ready');
    if (ready.type === 'unsupported') {
      await srv.exit;
      return { ...rec, unsupported: ready.message, pass: null };
    }
    const target = unix ? [dgram ? '--unix-dgram' : '--unix', ready.address] : [dgram ? '--udp' : '--tcp', `127.0.0.1:${ready.address[1]}`];
    const c = forking ? Math.min(clients, 8) : clients;
    const load = (n) =>
      runLoadgen(
        [...target, '--mode', dgram ? 'dgram' : 'conn', '--clients', String(c), '--warmup', '0', '--duration', '3600',
          '--max-requests', String(n), '--timeout', '10'],
        Math.max(60000, n * (forking ? 20 : 2)),
      );
    const w = await load(warmup);
    rec.warmupResult = { requests: w.requests, errors: w.errors, mismatches: w.mismatches };
    rec.baseline = await srv.call({ cmd: 'measure' }, 30000);
    log(`${impl} ${cls}: baseline fds ${rec.baseline.fds}, threads ${rec.baseline.threads}, rss ${(rec.baseline.rss / MiB).toFixed(1)} MiB`);
    const t0 = Date.now();
    const r = await load(requests);
    rec.seconds = (Date.now() - t0) / 1000;
    rec.load = { requests: r.requests, errors: r.errors, mismatches: r.mismatches, error_kinds: r.error_kinds, rps: r.rps };
    if (r.stderr) rec.load.stderr = r.stderr;
    const { fds, threads, children } = rec.baseline;
    rec.end = await srv.call({ cmd: 'measure', target: { fds, threads, children }, settleMs }, 30000);
    rec.delta = {
      fds: rec.end.fds - fds,
      threads: rec.end.threads - threads,
      children: rec.end.children - children,
      rssMiB: +((rec.end.rss - rec.baseline.rss) / MiB).toFixed(2),
      rssAnonMiB: +((rec.end.rssAnon - rec.baseline.rssAnon) / MiB).toFixed(2),
      heapUsedMiB: +((rec.end.heapUsed - rec.baseline.heapUsed) / MiB).toFixed(2),
    };
    rec.problems = [];
    if (r.requests !== requests || r.errors || r.mismatches)
      rec.problems.push(`load: ${r.requests}/${requests} verified, ${r.errors} errors, ${r.mismatches} mismatches`);
    if (rec.delta.fds) rec.problems.push(`fds ${fds} -> ${rec.end.fds}`);
    if (rec.delta.threads) rec.problems.push(`threads ${threads} -> ${rec.end.threads}`);
    if (rec.delta.children) rec.problems.push(`children ${children} -> ${rec.end.children}`);
    if (rec.delta.rssAnonMiB >= rssLimitMiB) rec.problems.push(`anonymous RSS +${rec.delta.rssAnonMiB} MiB >= ${rssLimitMiB} MiB`);
    const stopped = await srv.call({ cmd: 'stop' }, 30000);
    if (stopped.type !== 'stopped') rec.problems.push(`stop: ${JSON.stringify(stopped)}`);
    const [code, signal] = await withTimeout(srv.exit, 10000, 'server exit');
    if (code !== 0) rec.problems.push(`server exited with ${code ?? signal}`);
    // Errors that escape handleError() (a request task's, an unhandled rejection) are written to stderr.
    if (srv.stderr.trim()) rec.problems.push(`the server wrote to stderr: ${srv.stderr.trim().slice(0, 2000)}`);
    rec.serverErrors = rec.end.errorCodes;
    rec.pass = rec.problems.length === 0;
    return rec;
  } catch (err) {
    return { ...rec, pass: false, problems: [`${err.message}${srv.stderr ? `\nserver stderr: ${srv.stderr}` : ''}`] };
  } finally {
    rec.totalSeconds = (Date.now() - started) / 1000;
    srv.kill();
    await withTimeout(srv.exit, 5000, 'server exit').catch(() => {});
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// ===========================================================================
// The command.

function usage(msg) {
  if (msg) process.stderr.write(`leaks: ${msg}\n`);
  (msg ? process.stderr : process.stdout).write(
    'usage: node bench/leaks.js [--requests N] [--fork-requests N] [--warmup N] [--fork-warmup N]\n' +
      '                           [--clients N] [--rss-limit-mib M] [--transports native,js]\n' +
      '                           [--classes A,B] [--out PATH_WITHOUT_EXT] [--no-write] [--v8-defaults]\n',
  );
  process.exit(msg ? 2 : 0);
}

function parseArgs(argv) {
  const o = {
    requests: 100000, forkRequests: 2000, warmup: 1000, forkWarmup: 100, clients: 32, rssLimitMiB: 5,
    transports: ['native', 'js'], classes: CLASSES, out: path.join(ROOT, 'bench', 'results', 'leaks'), write: true,
    nodeFlags: SERVER_NODE_FLAGS,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') usage();
    if (a === '--no-write') {
      o.write = false;
      continue;
    }
    if (a === '--v8-defaults') {
      o.nodeFlags = [];
      continue;
    }
    const v = argv[++i];
    if (v === undefined) usage(`missing value for ${a}`);
    const num = () => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) usage(`bad value for ${a}: ${v}`);
      return n;
    };
    if (a === '--requests') o.requests = Math.floor(num());
    else if (a === '--fork-requests') o.forkRequests = Math.floor(num());
    else if (a === '--warmup') o.warmup = Math.floor(num());
    else if (a === '--fork-warmup') o.forkWarmup = Math.floor(num());
    else if (a === '--clients') o.clients = Math.floor(num());
    else if (a === '--rss-limit-mib') o.rssLimitMiB = num();
    else if (a === '--transports') o.transports = v.split(',').filter(Boolean);
    else if (a === '--classes') o.classes = v.split(',').filter(Boolean);
    else if (a === '--out') o.out = path.resolve(v).replace(/\.(json|md)$/, '');
    else usage(`unknown option ${a}`);
  }
  for (const t of o.transports) if (!['native', 'js'].includes(t)) usage(`unknown transport ${t}`);
  for (const c of o.classes) if (!CLASSES.includes(c)) usage(`unknown class ${c}`);
  return o;
}

const fmtMiB = (b) => (b / MiB).toFixed(1);
const signed = (x) => (x >= 0 ? '+' : '') + x.toFixed(2);

function table(records) {
  const head = ['transport', 'class', 'requests', 'req/s', 'fds', 'threads', 'children', 'RSS MiB (after GC)', 'RSS Δ', 'anon RSS Δ', 'heap Δ', 'result'];
  const rows = records.map((r) => {
    if (r.unsupported) return [r.impl, r.cls, '—', '—', '—', '—', '—', '—', '—', '—', '—', 'unsupported'];
    if (!r.end) return [r.impl, r.cls, String(r.requests), '—', '—', '—', '—', '—', '—', '—', '—', 'FAIL'];
    const b = r.baseline;
    const e = r.end;
    return [
      r.impl, r.cls, `${r.load.requests}/${r.requests}`, String(Math.round(r.requests / r.seconds)),
      `${b.fds} → ${e.fds}`, `${b.threads} → ${e.threads}`, `${b.children} → ${e.children}`,
      `${fmtMiB(b.rss)} → ${fmtMiB(e.rss)}`, signed(r.delta.rssMiB), signed(r.delta.rssAnonMiB),
      signed(r.delta.heapUsedMiB), r.pass ? 'PASS' : 'FAIL',
    ];
  });
  return { head, rows };
}

function renderText({ head, rows }) {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => c.padEnd(w[i])).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

function renderMarkdown(report) {
  const { head, rows } = table(report.records);
  const o = report.options;
  const lines = [
    '# Leak check (`npm run leaks`)',
    '',
    `${report.date}, node ${report.node}, ${report.cpus} × ${report.cpu}. ` +
      `${o.requests} requests per class (forking classes: ${o.forkRequests}, one fork per request), ` +
      `after a warm-up of ${o.warmup} (forking: ${o.forkWarmup}); ${o.clients} clients in flight (forking: ${Math.min(o.clients, 8)}); ` +
      'every reply verified by bench/loadgen.',
    '',
    'Measured in the server process, baseline (after the warm-up) → end: open descriptors (`/proc/self/fd`), ' +
      'threads (`/proc/self/task`), child processes (`/proc/self/task/*/children`), RSS after `global.gc()` rounds ' +
      '(VmRSS, and its anonymous part RssAnon: heaps, malloc, V8; the rest is file-backed, the node binary\'s code paged in); ' +
      'Δ columns in MiB; heap Δ is V8\'s heapUsed after GC. ' +
      (o.serverNodeFlags.length ? `Servers run with \`${o.serverNodeFlags.join(' ')}\` (V8's young generation would otherwise grow RSS by up to ~30 MiB with nothing retained; see bench/leaks.js).` : 'Servers run with V8\'s default flags.'),
    '',
    `**Pass**: every request answered and verified; fds, threads and children exactly back to the baseline; ` +
      `anonymous RSS growth after GC < ${o.rssLimitMiB} MiB.`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i >= 2 && i <= 10 ? '--:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
  ];
  const failed = report.records.filter((r) => r.pass === false);
  if (failed.length) {
    lines.push('Failures:', '');
    for (const r of failed) lines.push(`- ${r.impl} ${r.cls}: ${r.problems.join('; ')}`);
    lines.push('');
  }
  lines.push(`Result: ${report.pass ? 'PASS' : 'FAIL'} (${report.elapsedSeconds.toFixed(0)} s).`, '');
  return lines.join('\n');
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  ensureLoadgen();
  const started = Date.now();
  const records = [];
  const log = (s) => process.stderr.write(`leaks: ${s}\n`);
  if (o.classes.some((c) => c.startsWith('Forking')))
    log(`forking classes: ${o.forkRequests} requests each (one fork per request; ${o.requests} would take too long)`);
  for (const impl of o.transports) {
    for (const cls of o.classes) {
      const forking = cls.startsWith('Forking');
      const requests = forking ? o.forkRequests : o.requests;
      const warmup = forking ? o.forkWarmup : o.warmup;
      log(`${impl} ${cls}: ${warmup} warm-up + ${requests} requests ...`);
      const rec = await runClass({ impl, cls, requests, warmup, clients: o.clients, rssLimitMiB: o.rssLimitMiB, nodeFlags: o.nodeFlags, log });
      records.push(rec);
      if (rec.unsupported) log(`${impl} ${cls}: unsupported by this transport`);
      else log(`${impl} ${cls}: ${rec.pass ? 'PASS' : `FAIL: ${rec.problems.join('; ')}`}`);
    }
  }
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpu: (os.cpus()[0] || {}).model || 'unknown',
    options: { requests: o.requests, forkRequests: o.forkRequests, warmup: o.warmup, forkWarmup: o.forkWarmup, clients: o.clients, rssLimitMiB: o.rssLimitMiB, serverNodeFlags: o.nodeFlags },
    elapsedSeconds: (Date.now() - started) / 1000,
    pass: records.every((r) => r.pass !== false),
    records,
  };
  process.stdout.write(`\n${renderText(table(records))}\n\n`);
  for (const r of records.filter((x) => x.pass === false)) process.stdout.write(`FAIL ${r.impl} ${r.cls}: ${r.problems.join('; ')}\n`);
  process.stdout.write(`${report.pass ? 'PASS' : 'FAIL'}: ${records.filter((r) => r.pass).length} passed, ` +
    `${records.filter((r) => r.pass === false).length} failed, ${records.filter((r) => r.unsupported).length} unsupported ` +
    `(${report.elapsedSeconds.toFixed(0)} s)\n`);
  if (o.write) {
    fs.mkdirSync(path.dirname(o.out), { recursive: true });
    fs.writeFileSync(`${o.out}.json`, `${JSON.stringify(report, null, 2)}\n`);
    fs.writeFileSync(`${o.out}.md`, renderMarkdown(report));
    process.stdout.write(`results: ${path.relative(process.cwd(), o.out)}.json, .md\n`);
  }
  process.exitCode = report.pass ? 0 : 1;
}

module.exports = { runClass, ensureLoadgen, CLASSES, LOADGEN_BIN };

if (require.main === module) {
  if (process.argv[2] === '--server') serverMain(process.argv.slice(3));
  else
    main().catch((err) => {
      process.stderr.write(`leaks: ${err.stack || err}\n`);
      process.exit(1);
    });
}
