#!/usr/bin/env node
'use strict';
// Experiment (issue 10): SO_REUSEPORT per worker thread against the worker
// pool's handoff.
//
//   reuseport  N worker_threads in one process, each with a server of its
//              own (this package's native TCPServer / ThreadingTCPServer
//              with workerThreads 0 / UDPServer, allowReusePort: true) bound
//              to the same port: the kernel spreads the connections (or,
//              for UDP, the client sockets' datagrams) over the N sockets
//              by a hash of the 4-tuple, whatever each worker is doing
//   pool       ThreadingTCPServer with workerThreads N
//              (bench/servers/socketserver.js --workers N): the main thread
//              accepts and hands each connection to the least-busy worker
//
// Both serve the uppercase echo with the same handlers
// (bench/servers/work-handlers.js, and the mixed workload's heavy lines).
// Measured with bench/loadgen (every reply checked) and, for mixed, with
// bench/mixed-client.js: req/s, latency, and the server's CPU per request
// (utime + stime of the whole server process, all threads, from
// /proc/<pid>/stat, sampled around the measured window).
//
//   node bench/reuseport-experiment.js [--rounds 3] [--duration 3] [--warmup 1]
//        [--only keepalive,conn,mixed,udp] [--workers 2,4] [--json FILE]
//
// Groups:
//   keepalive  TCP keep-alive, 32 clients: pool 0 (the main thread: the
//              reference), pool N, reuseport N (ThreadingTCPServer per
//              worker: a plain TCPServer serves one connection at a time,
//              so it cannot serve 32 kept-alive clients)
//   conn       TCP connection per request, 32 clients: pool 0, pool N,
//              reuseport N with a plain TCPServer per worker, and with a
//              ThreadingTCPServer (workerThreads 0) per worker
//   mixed      1 keep-alive client looping ~200 ms heavy requests, a light
//              request on a new connection every 20 ms: the light ones'
//              p50/p99; pool 2 and reuseport 2 (ThreadingTCPServer per
//              worker: a plain one would never leave the heavy client)
//   udp        UDP, 32 in flight: a UDPServer on the main thread (the
//              reference), reuseport 1, 2, 4 (no pool for datagram servers
//              yet)
//
// Server role (started by the driver): node bench/reuseport-experiment.js
//   --serve reuseport --workers N --class TCPServer|ThreadingTCPServer|UDPServer
//   --mode conn|keepalive|dgram [--heavy ROUNDS]   prints READY <port>.
// Bounded: every run is bounded by loadgen's / mixed-client's own bounds
// plus a timeout; servers get SIGTERM, then SIGKILL after 5 s.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const args = require('./args.js');

const usage = args.usageOf('reuseport-experiment');

const ROOT = path.resolve(__dirname, '..');
const LOADGEN = path.join(ROOT, 'build', 'bench', 'loadgen');
const LOADGEN_SRC = path.join(ROOT, 'bench', 'loadgen.c');
const SERVER_SCRIPT = path.join(ROOT, 'bench', 'servers', 'socketserver.js');
const MIXED_CLIENT = path.join(ROOT, 'bench', 'mixed-client.js');
const HEAVY_ROUNDS_JS = 120000000; // ~200 ms of JS: as bench/run.js's mixed workload
const READY_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 5000;

// ---------------------------------------------------------------------------
// worker role: one server bound with SO_REUSEPORT

function workerMain() {
  const lib = require('../dist/index.js');
  const { WorkKeepalive, WorkConn } = require('./servers/work-handlers.js');
  const { cls, mode, port, heavy } = workerData;
  const upperTrim = (buf) => Buffer.from(buf.toString('latin1').trim().toUpperCase(), 'latin1');
  class Dgram extends lib.BaseRequestHandler {
    async handle() {
      const [data, socket] = this.request;
      await socket.sendTo(upperTrim(data), this.clientAddress);
    }
  }
  const Base = lib[cls];
  class Server extends Base {
    static requestQueueSize = 1024;
    static allowReuseAddress = true;
    static allowReusePort = true;

    handleError(request, clientAddress, error) {
      if (error && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) return;
      return super.handleError(request, clientAddress, error);
    }
  }
  const Handler = mode === 'dgram' ? Dgram : mode === 'conn' ? WorkConn : WorkKeepalive;
  const options = /^Threading/.test(cls) ? { workerThreads: 0, workerData: { work: 0, heavy } } : {};
  const server = new Server(['127.0.0.1', port], Handler, options);
  if (!/^Threading/.test(cls)) server.workerData = { work: 0, heavy }; // what work-handlers.js reads
  const serving = server.serveForever();
  parentPort.on('message', async (m) => {
    if (m.t !== 'stop') return;
    await server.shutdown();
    await server.serverClose();
    parentPort.postMessage({ t: 'stopped' });
  });
  parentPort.postMessage({ t: 'listening', port: server.serverAddress[1] });
  serving.catch((err) => {
    process.nextTick(() => {
      throw err;
    });
  });
}

// ---------------------------------------------------------------------------
// server role: N workers on one port

async function serveReuseport(o) {
  const workers = [];
  const start = (port) =>
    new Promise((resolve, reject) => {
      const w = new Worker(__filename, { workerData: { cls: o.cls, mode: o.mode, port, heavy: o.heavy } });
      workers.push(w);
      w.once('error', reject);
      w.on('message', (m) => {
        if (m.t === 'listening') resolve(m.port);
      });
      w.once('exit', (code) => reject(new Error(`worker exited (${code}) before listening`)));
    });
  // The first binds port 0; the others bind the port it got.
  const port = await start(0);
  await Promise.all(Array.from({ length: o.workers - 1 }, () => start(port)));
  process.stdout.write(`READY ${port}\n`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const stopped = workers.map((w) => new Promise((r) => {
      w.on('message', (m) => m.t === 'stopped' && r());
      w.once('exit', r);
    }));
    for (const w of workers) w.postMessage({ t: 'stop' });
    await Promise.race([Promise.all(stopped), new Promise((r) => setTimeout(r, 3000))]);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// ---------------------------------------------------------------------------
// driver

function parseOptions() {
  const values = args.parseOptions(
    process.argv.slice(2),
    {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      only: { type: 'string', default: 'keepalive,conn,mixed,udp' },
      workers: { type: 'string', default: '2,4' },
      json: { type: 'string' },
      // server role
      serve: { type: 'string' },
      class: { type: 'string', default: 'ThreadingTCPServer' },
      mode: { type: 'string', default: 'keepalive' },
      heavy: { type: 'string', default: '0' },
    },
    usage,
  );
  const num = (name, min, max, integer) => args.numberOption(values, name, { min, max, integer }, usage);
  const o = {
    rounds: num('rounds', 1, 100, true),
    duration: num('duration', 0.2, 600, false),
    warmup: num('warmup', 0, 60, false),
    only: new Set(values.only.split(',').filter(Boolean)),
    workerCounts: values.workers.split(',').filter(Boolean).map((x) => {
      const n = Number(x);
      if (!Number.isInteger(n) || n < 1 || n > 64) usage(`bad --workers: ${values.workers}`);
      return n;
    }),
    json: values.json ?? null,
    serve: values.serve ?? null,
    cls: values.class,
    mode: values.mode,
    heavy: num('heavy', 0, 2 ** 31 - 1, true),
  };
  for (const g of o.only) if (!['keepalive', 'conn', 'mixed', 'udp'].includes(g)) usage(`unknown group ${g}`);
  if (o.serve !== null && o.serve !== 'reuseport') usage('--serve reuseport is the only server role');
  return o;
}


let CLK_TCK = 100;
try {
  CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {}

function cpuMicros(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1e6) / CLK_TCK;
}

function machineBusyMicros() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  return ((f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] || 0)) * 1e6) / CLK_TCK;
}

function peakRssKiB(pid) {
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : null;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = new Set();
process.on('exit', () => {
  for (const c of children) {
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {}
  }
});

function spawnTracked(cmd, args, group) {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: group });
  if (group) children.add(child);
  child.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
    child.on('error', (error) => {
      children.delete(child);
      resolve({ code: null, signal: null, error });
    });
  });
  return child;
}

async function startServer(cmd) {
  const child = spawnTracked(cmd[0], cmd.slice(1), true);
  let stderr = '';
  child.stderr.on('data', (c) => (stderr = (stderr + c).slice(-4000)));
  const port = await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no READY within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    child.stdout.on('data', (c) => {
      buf += c;
      const m = /^READY (\d+)$/m.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before READY: ${stderr.trim().slice(-600)}`));
    });
  });
  return { child, port, stderr: () => stderr };
}

async function stopServer(srv) {
  try {
    srv.child.kill('SIGTERM');
  } catch {}
  const r = await Promise.race([srv.child.exited, sleep(STOP_TIMEOUT_MS).then(() => null)]);
  try {
    process.kill(-srv.child.pid, 'SIGKILL');
  } catch {}
  if (!r) await srv.child.exited;
  return r ? { ...r, killed: false } : { killed: true };
}

function runProcess(cmd, args, timeoutMs, onLine) {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(cmd, args, false);
    let out = '';
    let err = '';
    let buf = '';
    child.stdout.on('data', (c) => {
      out += c;
      buf += c;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (onLine) onLine(line);
      }
    });
    child.stderr.on('data', (c) => (err = (err + c).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.exited.then(({ code, signal, error }) => {
      clearTimeout(timer);
      if (error) return reject(error);
      if (code !== 0) return reject(new Error(`${path.basename(cmd)} ${path.basename(args[0] || '')} exited with ${code ?? signal}: ${err.trim().slice(-600)}`));
      const last = out.trim().split('\n').pop();
      try {
        resolve({ json: JSON.parse(last), stderr: err });
      } catch {
        reject(new Error(`no JSON from ${cmd}: ${JSON.stringify(out.slice(-300))}`));
      }
    });
  });
}

/** The configurations to run, per group. */
function configs(o) {
  const C = [];
  const pool = (n, mode, heavy = 0) => [process.execPath, SERVER_SCRIPT, '--class', 'ThreadingTCPServer', '--mode', mode, '--port', '0',
    '--workers', String(n), '--heavy', String(heavy)];
  const reuse = (n, cls, mode, heavy = 0) => [process.execPath, __filename, '--serve', 'reuseport', '--workers', String(n), '--class', cls, '--mode', mode,
    '--heavy', String(heavy)];
  const lg = (mode) => ({ kind: 'loadgen', transport: mode === 'dgram' ? 'udp' : 'tcp', mode });
  if (o.only.has('keepalive')) {
    C.push({ group: 'keepalive', name: 'pool 0 (main thread)', cmd: pool(0, 'keepalive'), load: lg('keepalive') });
    for (const n of o.workerCounts) {
      C.push({ group: 'keepalive', name: `pool ${n}`, cmd: pool(n, 'keepalive'), load: lg('keepalive') });
      C.push({ group: 'keepalive', name: `reuseport ${n} (ThreadingTCPServer each)`, cmd: reuse(n, 'ThreadingTCPServer', 'keepalive'), load: lg('keepalive') });
    }
  }
  if (o.only.has('conn')) {
    C.push({ group: 'conn', name: 'pool 0 (main thread)', cmd: pool(0, 'conn'), load: lg('conn') });
    for (const n of o.workerCounts) {
      C.push({ group: 'conn', name: `pool ${n}`, cmd: pool(n, 'conn'), load: lg('conn') });
      C.push({ group: 'conn', name: `reuseport ${n} (TCPServer each)`, cmd: reuse(n, 'TCPServer', 'conn'), load: lg('conn') });
      C.push({ group: 'conn', name: `reuseport ${n} (ThreadingTCPServer each)`, cmd: reuse(n, 'ThreadingTCPServer', 'conn'), load: lg('conn') });
    }
  }
  if (o.only.has('mixed')) {
    const mixed = { kind: 'mixed', heavyClients: 1 };
    C.push({ group: 'mixed', name: 'pool 2', cmd: pool(2, 'keepalive', HEAVY_ROUNDS_JS), load: mixed });
    C.push({ group: 'mixed', name: 'reuseport 2 (ThreadingTCPServer each)', cmd: reuse(2, 'ThreadingTCPServer', 'keepalive', HEAVY_ROUNDS_JS), load: mixed });
  }
  if (o.only.has('udp')) {
    C.push({ group: 'udp', name: 'UDPServer, main thread', cmd: [process.execPath, SERVER_SCRIPT, '--class', 'UDPServer', '--mode', 'dgram', '--port', '0'], load: lg('dgram') });
    for (const n of [1, 2, 4]) C.push({ group: 'udp', name: `reuseport ${n} (UDPServer each)`, cmd: reuse(n, 'UDPServer', 'dgram'), load: lg('dgram') });
  }
  return C;
}

async function runOne(cfg, o) {
  const rec = { group: cfg.group, name: cfg.name, ok: false };
  let srv;
  try {
    srv = await startServer(cfg.cmd);
    const pid = srv.child.pid;
    if (cfg.load.kind === 'loadgen') {
      const target = [cfg.load.transport === 'udp' ? '--udp' : '--tcp', `127.0.0.1:${srv.port}`];
      const common = [...target, '--mode', cfg.load.mode, '--clients', '32', '--timeout', '5', '--warmup', '0'];
      if (o.warmup > 0) await runProcess(LOADGEN, [...common, '--duration', String(o.warmup)], (o.warmup + 40) * 1000);
      const c0 = cpuMicros(pid);
      const b0 = machineBusyMicros();
      const { json: r, stderr } = await runProcess(LOADGEN, [...common, '--duration', String(o.duration)], (o.duration + 40) * 1000);
      const cpu = cpuMicros(pid) - c0;
      const busy = machineBusyMicros() - b0;
      Object.assign(rec, {
        rps: r.rps, p50_us: r.p50_us, p99_us: r.p99_us, errors: r.errors, mismatches: r.mismatches,
        cpu_us_per_request: r.requests ? cpu / r.requests : null, server_cores: cpu / 1e6 / r.seconds,
        other_cores: Math.max(0, (busy - cpu) / 1e6 - r.loadgen_cpu_s) / r.seconds,
      });
      if (stderr.trim()) rec.loadgen_stderr = stderr.trim().slice(-500);
      rec.ok = r.requests > 0 && r.mismatches === 0;
    } else {
      const samples = {};
      const args = [MIXED_CLIENT, '--tcp', `127.0.0.1:${srv.port}`, '--heavy-clients', String(cfg.load.heavyClients), '--interval-ms', '20',
        '--duration', String(o.duration), '--warmup', String(o.warmup), '--timeout', '10'];
      const { json: m } = await runProcess(process.execPath, args, (o.warmup + o.duration + 30) * 1000, (line) => {
        if (line === 'MEASURE' || line === 'END') samples[line] = { cpu: cpuMicros(pid), busy: machineBusyMicros() };
      });
      const cpu = samples.END && samples.MEASURE ? samples.END.cpu - samples.MEASURE.cpu : null;
      const busy = samples.END && samples.MEASURE ? samples.END.busy - samples.MEASURE.busy : null;
      Object.assign(rec, {
        light_p50_us: m.light.p50_us, light_p99_us: m.light.p99_us, light_max_us: m.light.max_us, light_ok: m.light.ok, light_sent: m.light.sent,
        heavy_rps: m.heavy.rps, heavy_p50_us: m.heavy.p50_us, errors: m.light.errors + m.heavy.errors, mismatches: m.light.mismatches + m.heavy.mismatches,
        server_cores: cpu == null ? null : cpu / 1e6 / m.seconds,
        other_cores: cpu == null ? null : Math.max(0, (busy - cpu) / 1e6 - (m.client_cpu_s || 0)) / m.seconds,
      });
      rec.ok = m.light.ok > 0 && rec.mismatches === 0;
    }
    rec.peak_rss_mib = peakRssKiB(pid) / 1024;
  } catch (err) {
    rec.error = err.message;
  } finally {
    if (srv) {
      const end = await stopServer(srv);
      if (end.killed || end.code !== 0) rec.server_exit = end;
      if (srv.stderr().trim()) rec.server_stderr = srv.stderr().trim().slice(-800);
    }
  }
  return rec;
}

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

const f0 = (x) => (x == null ? '—' : Math.round(x).toLocaleString('en-US'));
const f1 = (x) => (x == null ? '—' : x.toFixed(1));
const f2 = (x) => (x == null ? '—' : x.toFixed(2));

async function driver(o) {
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130)); // (the 'exit' hook kills the servers)
  if (!fs.existsSync(path.join(ROOT, 'dist', 'index.js'))) usage('dist/index.js not found: run `npm run build`');
  let stale = true;
  try {
    stale = fs.statSync(LOADGEN_SRC).mtimeMs > fs.statSync(LOADGEN).mtimeMs;
  } catch {}
  if (stale) {
    fs.mkdirSync(path.dirname(LOADGEN), { recursive: true });
    execFileSync('cc', ['-O2', '-Wall', '-o', LOADGEN, LOADGEN_SRC], { stdio: 'inherit' });
  }
  const C = configs(o);
  const t0 = Date.now();
  const runs = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const cfg of C) {
      process.stderr.write(`reuseport: round ${round}/${o.rounds} ${cfg.group}: ${cfg.name} ... `);
      const rec = await runOne(cfg, o);
      rec.round = round;
      runs.push(rec);
      if (!rec.ok) process.stderr.write(`FAILED ${rec.error || ''}${rec.server_stderr ? `\n  server stderr: ${rec.server_stderr}` : ''}\n`);
      else if (rec.rps != null) process.stderr.write(`${f0(rec.rps)} req/s, ${f1(rec.cpu_us_per_request)} us CPU/req, p99 ${f0(rec.p99_us)} us, other ${f2(rec.other_cores)} cores\n`);
      else process.stderr.write(`light p50 ${f2(rec.light_p50_us / 1000)} ms, p99 ${f2(rec.light_p99_us / 1000)} ms, heavy ${f2(rec.heavy_rps)} req/s, other ${f2(rec.other_cores)} cores\n`);
      if (rec.ok && rec.server_stderr) process.stderr.write(`  server stderr: ${rec.server_stderr}\n`);
    }
  }
  const L = [];
  for (const group of ['keepalive', 'conn', 'mixed', 'udp']) {
    const cs = C.filter((c) => c.group === group);
    if (!cs.length) continue;
    const title = {
      keepalive: 'TCP keep-alive, 32 clients (uppercase echo)',
      conn: 'TCP connection per request, 32 clients (uppercase echo)',
      mixed: 'mixed: 1 keep-alive client looping ~200 ms heavy requests + a light request on a new connection every 20 ms',
      udp: 'UDP, 32 in flight (uppercase echo)',
    }[group];
    L.push(`### ${title}`, '');
    const rowsOf = (c) => runs.filter((r) => r.name === c.name && r.group === group && r.ok);
    if (group === 'mixed') {
      L.push('| server | light p50 ms | light p99 ms | light max ms | heavy req/s | server CPU cores | other CPU cores (max) | errors / mismatches |', '|---|--:|--:|--:|--:|--:|--:|--:|');
      for (const c of cs) {
        const rs = rowsOf(c);
        const all = runs.filter((r) => r.name === c.name && r.group === group);
        L.push(`| ${c.name} | ${f2(median(rs.map((r) => r.light_p50_us / 1000)))} | ${f2(median(rs.map((r) => r.light_p99_us / 1000)))} | ${f2(median(rs.map((r) => r.light_max_us / 1000)))} | ${f2(median(rs.map((r) => r.heavy_rps)))} | ${f2(median(rs.map((r) => r.server_cores)))} | ${f2(Math.max(0, ...rs.map((r) => r.other_cores || 0)))} | ${all.reduce((a, r) => a + (r.errors || 0), 0)} / ${all.reduce((a, r) => a + (r.mismatches || 0), 0)}${all.length > rs.length ? `, ${all.length - rs.length} FAILED` : ''} |`);
      }
    } else {
      const ref = cs[0];
      L.push(`| server | req/s | vs ${ref.name} | CPU µs/req | p50 µs | p99 µs | server CPU cores | peak RSS MiB | other CPU cores (max) | errors / mismatches |`, '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
      for (const c of cs) {
        const rs = rowsOf(c);
        const all = runs.filter((r) => r.name === c.name && r.group === group);
        const ratios = [];
        for (let round = 1; round <= o.rounds; round++) {
          const a = runs.find((r) => r.name === c.name && r.group === group && r.round === round && r.ok);
          const b = runs.find((r) => r.name === ref.name && r.group === group && r.round === round && r.ok);
          if (a && b) ratios.push(a.rps / b.rps);
        }
        L.push(`| ${c.name} | ${f0(median(rs.map((r) => r.rps)))} | ${f2(median(ratios))} | ${f1(median(rs.map((r) => r.cpu_us_per_request)))} | ${f0(median(rs.map((r) => r.p50_us)))} | ${f0(median(rs.map((r) => r.p99_us)))} | ${f2(median(rs.map((r) => r.server_cores)))} | ${f1(median(rs.map((r) => r.peak_rss_mib)))} | ${f2(Math.max(0, ...rs.map((r) => r.other_cores || 0)))} | ${all.reduce((a, r) => a + (r.errors || 0), 0)} / ${all.reduce((a, r) => a + (r.mismatches || 0), 0)}${all.length > rs.length ? `, ${all.length - rs.length} FAILED` : ''} |`);
      }
    }
    L.push('');
  }
  L.push(`medians of ${o.rounds} interleaved round(s) × ${o.duration} s (warm-up ${o.warmup} s); node ${process.version}; ${require('node:os').cpus().length} cores; took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  process.stdout.write(`${L.join('\n')}\n`);
  if (o.json) fs.writeFileSync(o.json, `${JSON.stringify({ options: { ...o, only: [...o.only] }, node: process.version, runs }, null, 2)}\n`);
  if (runs.some((r) => !r.ok)) process.exitCode = 1;
}

if (!isMainThread) {
  workerMain();
} else {
  const o = parseOptions();
  const p = o.serve ? serveReuseport({ ...o, workers: o.workerCounts[0] }) : driver(o);
  p.catch((err) => {
    process.stderr.write(`reuseport-experiment: ${err.stack || err}\n`);
    process.exit(1);
  });
}
