#!/usr/bin/env node
'use strict';
// Benchmark suite (npm run bench). Plain CommonJS, no dependencies.
//
//   node bench/run.js [--rounds 3] [--duration 5] [--warmup 1] [--quick]
//                     [--only WORKLOAD[,..]] [--servers a,b] [--clients N]
//                     [--fork-stress N] [--no-install] [--out FILE]
//
// For every workload, runs ROUNDS interleaved rounds (A B C A B C ...): each
// server is started fresh as a child process, warmed up, measured with
// bench/loadgen (which verifies every reply) or, for the protocol workloads
// of issue 13, with a client nobody here wrote (wrk, redis-benchmark,
// dnsperf, logger: installed from Debian's packages when missing and we are
// root), sampled (CPU from /proc/<pid>/stat, peak RSS from
// /proc/<pid>/status) and stopped.
// The worker-thread workloads of issue 10 (cpu, mixed, mixed-4,
// echo-workers) run the native ThreadingTCPServer with workerThreads 0, 1, 2
// or 4 beside CPython's ThreadingTCPServer and node:net doing the same
// work: cpu with one loadgen call whose warm-up runs on the same
// connections (its window_rps: the steady-state rate), mixed with
// bench/mixed-client.js (light requests' latency beside heavy ones).
// Writes bench/results/latest.{json,md,svg}; prints a table per workload and
// the targets of issues 3, 4, 10 and 13 (MET / MISSED).
// Exit status: 0 ok; 1 if any reply mismatched or any run failed; 2 usage.
// Targets MISSED do not change the exit status.
//
// To add a workload: an entry in WORKLOADS (and FAMILIES).  To add a server:
// an entry in SERVERS with an `args` function per family it supports.

const { spawn, spawnSync, execFileSync } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const BUILD = path.join(ROOT, 'build', 'bench');
const DIST_INDEX = path.join(ROOT, 'dist', 'index.js');
const DIST_JS = path.join(ROOT, 'dist', 'js.js');
const RESULTS = path.join(ROOT, 'bench', 'results');
const DEFAULT_OUT = path.join(RESULTS, 'latest.json');
const SERVER_SCRIPT = path.join(ROOT, 'bench', 'servers', 'socketserver.js');
const PYTHON_PROTOCOLS = path.join(ROOT, 'bench', 'servers', 'python-protocols.py');
const protoScript = (proto) => path.join(ROOT, 'bench', 'servers', `${proto}.js`);

const READY_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 5000; // SIGTERM -> SIGKILL
const REQUEST_TIMEOUT_S = 5; // loadgen --timeout
const LATENCY_DURATION_SCALE = 0.6; // 1-client workloads run 0.6 x --duration
const RUN_OVERHEAD_S = 0.6; // start + stop of one run, for the time estimate

// The protocol workloads' clients (issue 13).
const DNSPERF_CLIENTS = 4; // dnsperf -c
const DNSPERF_OUTSTANDING = 64; // dnsperf -q
const DNS_QUERY_NAMES = 1000; // lines of the query file: a<i>.example.com A
const BURST_MESSAGES = 2000; // datagrams per logger call
const REDIS_PROBE_REQUESTS = 2000; // first warm-up call, x pipeline (the rate estimate)

// The worker-thread workloads (issue 10). The work of a request: ROUNDS
// steps of 32-bit FNV-1a over the line's bytes (bench/servers/work.js; the
// same function in python-socketserver.py), plain JS, not crypto.
// Calibrated on the 2-core bench machine (node 20, CPython 3.11): a round
// is ~1.7 ns in JS and ~110 ns in CPython.
const CPU_ROUNDS = 600000; // cpu: per request, ~1 ms of JS (~65 ms in CPython: the same rounds)
const HEAVY_MS = 200; // mixed: a heavy request computes ~200 ms...
const HEAVY_ROUNDS_JS = HEAVY_MS * CPU_ROUNDS; // ...in JS: 120 M rounds
const HEAVY_ROUNDS_PY = 1800000; // ...and in CPython: its own ~200 ms (the issue's measurement), not the JS rounds
const MIXED_INTERVAL_MS = 20; // mixed: a light request every 20 ms
const MIXED_TIMEOUT_S = 10; // mixed-client --timeout
const CPU_TIMEOUT_S = 30; // cpu: loadgen --timeout (CPython takes seconds per request with 32 clients)
const WORKER_COUNTS = [1, 2, 4]; // the servers workers-1, workers-2, workers-4
const MIXED_CLIENT = path.join(ROOT, 'bench', 'mixed-client.js');

// C programs compiled on demand (when the source is newer than the binary).
const BINARIES = {
  loadgen: { src: path.join(ROOT, 'bench', 'loadgen.c'), bin: path.join(BUILD, 'loadgen') },
  'c-epoll': { src: path.join(ROOT, 'bench', 'servers', 'c-epoll.c'), bin: path.join(BUILD, 'c-epoll') },
};

// ---------------------------------------------------------------------------
// Workload families: the transport (loadgen target), loadgen mode, and the
// class the socketserver-style servers use.

const FAMILIES = {
  'tcp-conn': { transport: 'tcp', mode: 'conn', title: 'TCP, connection per request', cls: 'TCPServer' },
  'tcp-keepalive': { transport: 'tcp', mode: 'keepalive', title: 'TCP, keep-alive', cls: 'ThreadingTCPServer' },
  udp: { transport: 'udp', mode: 'dgram', title: 'UDP', cls: 'UDPServer' },
  'unix-conn': { transport: 'unix', mode: 'conn', title: 'Unix stream, connection per request', cls: 'UnixStreamServer' },
  'unix-keepalive': { transport: 'unix', mode: 'keepalive', title: 'Unix stream, keep-alive', cls: 'ThreadingUnixStreamServer' },
  'unix-dgram': { transport: 'unix-dgram', mode: 'dgram', title: 'Unix datagram', cls: 'UnixDatagramServer' },
  'fork-tcp-conn': { transport: 'tcp', mode: 'conn', title: 'Forking, TCP, connection per request', cls: 'ForkingTCPServer' },
};

// Protocol workloads (issue 13): a server of bench/servers/<proto>.js (or
// python-protocols.py --proto <proto>) driven by a client of CLIENTS.
// `inflight`: how the client's concurrency is described in tables.
const PROTO_FAMILIES = {
  'http-wrk': { proto: 'http', client: 'wrk', transport: 'tcp', mode: 'http', title: 'HTTP/1.1 keep-alive (wrk)', cls: 'ThreadingTCPServer' },
  'resp-set': { proto: 'resp', client: 'redis-benchmark', test: 'set', pipeline: 1, transport: 'tcp', mode: 'resp', title: 'RESP SET (redis-benchmark)', cls: 'ThreadingTCPServer' },
  'resp-get': { proto: 'resp', client: 'redis-benchmark', test: 'get', pipeline: 1, transport: 'tcp', mode: 'resp', title: 'RESP GET (redis-benchmark)', cls: 'ThreadingTCPServer' },
  'resp-set-p16': { proto: 'resp', client: 'redis-benchmark', test: 'set', pipeline: 16, transport: 'tcp', mode: 'resp', title: 'RESP SET, -P 16 (redis-benchmark)', cls: 'ThreadingTCPServer' },
  'resp-get-p16': { proto: 'resp', client: 'redis-benchmark', test: 'get', pipeline: 16, transport: 'tcp', mode: 'resp', title: 'RESP GET, -P 16 (redis-benchmark)', cls: 'ThreadingTCPServer' },
  dns: { proto: 'dns', client: 'dnsperf', transport: 'udp', mode: 'dgram', title: 'DNS A queries (dnsperf)', cls: 'UDPServer', inflight: `${DNSPERF_CLIENTS} sockets, up to ${DNSPERF_OUTSTANDING} queries in flight` },
  'udp-burst': { proto: 'burst', client: 'logger', transport: 'udp', mode: 'dgram', title: `Syslog datagram bursts of ${BURST_MESSAGES} (logger)`, cls: 'UDPServer', inflight: `bursts of ${BURST_MESSAGES} datagrams from one logger call` },
};
Object.assign(FAMILIES, PROTO_FAMILIES);

// Worker-thread workloads (issue 10). `workers`: served by the native
// ThreadingTCPServer with --workers N (the server `native` is N = 0, the
// servers workers-1/2/4 the others); `work`/`heavy`: rounds of the JS work
// per line / per "heavy" line; `driver`: who measures (DRIVERS; default
// bench/loadgen); `refs`: the servers the ratios are shown against.
const WORKER_FAMILIES = {
  cpu: {
    transport: 'tcp', mode: 'keepalive', cls: 'ThreadingTCPServer', workers: true, work: CPU_ROUNDS, driver: 'steady', timeout: CPU_TIMEOUT_S,
    refs: ['native', 'python'],
    title: `TCP keep-alive, ${CPU_ROUNDS / 1000}k FNV-1a rounds (~1 ms of JS) per request`,
  },
  mixed: {
    transport: 'tcp', mode: 'keepalive', cls: 'ThreadingTCPServer', workers: true, heavy: true, driver: 'mixed', heavyClients: 1, refs: ['native'],
    title: `Heavy requests (~${HEAVY_MS} ms) beside a light one every ${MIXED_INTERVAL_MS} ms`,
    inflight: `1 heavy client (keep-alive, looping) + a light request every ${MIXED_INTERVAL_MS} ms (a connection each)`,
  },
  'mixed-4': {
    transport: 'tcp', mode: 'keepalive', cls: 'ThreadingTCPServer', workers: true, heavy: true, driver: 'mixed', heavyClients: 4, refs: ['native'],
    title: `Heavy requests (~${HEAVY_MS} ms) beside a light one every ${MIXED_INTERVAL_MS} ms`,
    inflight: `4 heavy clients (keep-alive, looping) + a light request every ${MIXED_INTERVAL_MS} ms (a connection each)`,
  },
  'echo-workers': {
    transport: 'tcp', mode: 'keepalive', cls: 'ThreadingTCPServer', workers: true, work: 0, refs: ['native'],
    title: 'TCP keep-alive uppercase echo, worker threads',
  },
};
Object.assign(FAMILIES, WORKER_FAMILIES);
const WORKER_KEYS = WORKER_COUNTS.map((n) => `workers-${n}`);

const ALL = ['native', 'js', 'net', 'python', 'c'];
// 'loop': the native server with serveThread: false (requests wait on the
// main loop, no thread hop): shown where it differs, one client in flight.
const ALL_1 = ['native', 'loop', 'js', 'net', 'python', 'c'];
const WORKLOADS = [];
for (const fam of ['tcp-conn', 'tcp-keepalive', 'udp', 'unix-conn', 'unix-keepalive', 'unix-dgram']) {
  WORKLOADS.push({ name: fam, family: fam, clients: 32, servers: ALL, latency: false });
  WORKLOADS.push({ name: `${fam}-1`, family: fam, clients: 1, servers: ALL_1, latency: true });
}
WORKLOADS.push({ name: 'fork-tcp-conn', family: 'fork-tcp-conn', clients: 32, servers: ['native', 'python'], latency: false });
WORKLOADS.push({ name: 'fork-tcp-conn-1', family: 'fork-tcp-conn', clients: 1, servers: ['native', 'python'], latency: true });
const PROTO_SERVERS = ['native', 'js', 'net', 'python'];
for (const fam of Object.keys(PROTO_FAMILIES)) {
  const clients = fam === 'dns' ? DNSPERF_OUTSTANDING : fam === 'udp-burst' ? 1 : 32;
  // dns and udp-burst: --clients does not change them
  WORKLOADS.push({ name: fam, family: fam, clients, servers: PROTO_SERVERS, latency: false, fixedClients: fam === 'dns' || fam === 'udp-burst' });
}
const workerServers = (...n) => n.map((x) => `workers-${x}`);
WORKLOADS.push({ name: 'cpu', family: 'cpu', clients: 32, servers: [...workerServers(1, 2, 4), 'native', 'net', 'python'], latency: false });
WORKLOADS.push({ name: 'mixed', family: 'mixed', clients: 1, servers: [...workerServers(2), 'native', 'python'], latency: false, fixedClients: true });
WORKLOADS.push({ name: 'mixed-4', family: 'mixed-4', clients: 4, servers: [...workerServers(2), 'native', 'python'], latency: false, fixedClients: true });
WORKLOADS.push({ name: 'echo-workers', family: 'echo-workers', clients: 32, servers: [...workerServers(2), 'native'], latency: false });
for (const w of WORKLOADS) Object.assign(w, FAMILIES[w.family], { title: FAMILIES[w.family].title });

// ---------------------------------------------------------------------------
// Servers. `args[family](ctx)` returns the command-line arguments for that
// workload family (absent: the server has no such thing, its cell shows "—");
// `command(ctx)` the executable + leading args; `label(family)` its name in
// tables; `check()` a reason to skip it (not a failure) or to fail.
// A server prints "READY <port or path>" on stdout and exits on SIGTERM; it
// may print "STATS <json>" before exiting (kept in the results).

const tcpArgs = () => ['--host', '127.0.0.1', '--port', '0'];
const unixArgs = (ctx) => ['--unix', ctx.socketPath];

function socketserverArgs(impl, common = []) {
  const a = (family, extra = () => []) => (ctx) => [
    '--impl', impl, '--class', FAMILIES[family].cls, '--mode', FAMILIES[family].mode,
    ...(FAMILIES[family].transport.startsWith('unix') ? unixArgs(ctx) : tcpArgs()),
    ...common,
    ...extra(ctx),
  ];
  const args = {};
  for (const family of Object.keys(FAMILIES)) {
    if (FAMILIES[family].proto) {
      // bench/servers/<proto>.js (its default options only: no 'loop' variant)
      if (!common.length) args[family] = () => ['--impl', impl, ...tcpArgs()];
    } else if (family === 'fork-tcp-conn') {
      if (impl === 'native') args[family] = a(family, (ctx) => ['--fork-log', ctx.forkLog]);
    } else if (FAMILIES[family].workers) {
      // the native server with workerThreads: 0 (the same handlers as workers-N)
      if (impl === 'native' && !common.length) args[family] = a(family, () => workerArgs(family, 0));
    } else if (!(impl === 'js' && family === 'unix-dgram')) {
      args[family] = a(family);
    }
  }
  return args;
}

/** socketserver.js's options for a worker-thread family: workerThreads n, the family's work. */
function workerArgs(family, n) {
  const f = FAMILIES[family];
  return ['--workers', String(n), '--work', String(f.work || 0), '--heavy', String(f.heavy ? HEAVY_ROUNDS_JS : 0)];
}

/** Extra options of node:net and CPython for a worker-thread family: the same work. */
function workOptions(family, python) {
  const f = FAMILIES[family];
  const o = [];
  if (f.work) o.push('--work', String(f.work));
  if (f.heavy) o.push('--heavy', String(python ? HEAVY_ROUNDS_PY : HEAVY_ROUNDS_JS));
  return o;
}

const distCheck = () => (fs.existsSync(DIST_INDEX) ? null : { fail: `${rel(DIST_INDEX)} not found: run \`npm run build\`` });

/** The native ThreadingTCPServer with workerThreads: n (issue 10), for the worker-thread families. */
function workersServer(n) {
  return {
    name: `native, workerThreads: ${n}`,
    label: (family) => `native ${FAMILIES[family].cls}, workerThreads: ${n}`,
    command: () => [process.execPath, SERVER_SCRIPT],
    args: Object.fromEntries(
      Object.keys(WORKER_FAMILIES).map((family) => [
        family,
        () => ['--impl', 'native', '--class', FAMILIES[family].cls, '--mode', FAMILIES[family].mode, ...tcpArgs(), ...workerArgs(family, n)],
      ]),
    ),
    check: distCheck,
  };
}

const SERVERS = {
  native: {
    name: 'native',
    label: (family) => `native ${FAMILIES[family].cls}${FAMILIES[family].workers ? ', workerThreads: 0' : ''}`,
    command: (ctx) => [process.execPath, FAMILIES[ctx.family].proto ? protoScript(FAMILIES[ctx.family].proto) : SERVER_SCRIPT],
    args: socketserverArgs('native'),
    check() {
      if (!fs.existsSync(DIST_INDEX)) return { fail: `${rel(DIST_INDEX)} not found: run \`npm run build\`` };
      return null;
    },
    warn() {
      if (newestMtime(path.join(ROOT, 'lib')) > fs.statSync(DIST_INDEX).mtimeMs) return 'lib/ is newer than dist/: consider `npm run build:ts`';
      return null;
    },
  },
  loop: {
    name: 'native, serveThread: false',
    label: (family) => `native ${FAMILIES[family].cls} (serveThread: false)`,
    command: () => [process.execPath, SERVER_SCRIPT],
    args: socketserverArgs('native', ['--serve-thread', '0']),
    check() {
      if (!fs.existsSync(DIST_INDEX)) return { fail: `${rel(DIST_INDEX)} not found: run \`npm run build\`` };
      return null;
    },
  },
  js: {
    name: 'js transport',
    label: (family) => `js ${FAMILIES[family].cls}`,
    command: (ctx) => [process.execPath, FAMILIES[ctx.family].proto ? protoScript(FAMILIES[ctx.family].proto) : SERVER_SCRIPT],
    args: socketserverArgs('js'),
    missing: { 'unix-dgram': 'no Unix datagram sockets in Node' },
    check() {
      if (!fs.existsSync(DIST_JS)) return { skip: `${rel(DIST_JS)} not built` };
      return null;
    },
  },
  net: {
    name: 'node:net',
    label: (family) => (FAMILIES[family].mode === 'dgram' ? 'node:dgram' : 'node:net'),
    command: (ctx) => [
      process.execPath,
      FAMILIES[ctx.family].proto
        ? protoScript(FAMILIES[ctx.family].proto)
        : path.join(ROOT, 'bench', 'servers', ctx.family === 'udp' ? 'net-udp.js' : 'net-tcp.js'),
    ],
    args: {
      'tcp-conn': () => [...tcpArgs(), '--mode', 'conn'],
      'tcp-keepalive': () => [...tcpArgs(), '--mode', 'keepalive'],
      udp: tcpArgs,
      'unix-conn': (ctx) => [...unixArgs(ctx), '--mode', 'conn'],
      'unix-keepalive': (ctx) => [...unixArgs(ctx), '--mode', 'keepalive'],
      ...Object.fromEntries(Object.keys(PROTO_FAMILIES).map((f) => [f, () => ['--impl', 'net', ...tcpArgs()]])),
      // the same work in the 'data' callback
      ...Object.fromEntries(Object.keys(WORKER_FAMILIES).map((f) => [f, () => [...tcpArgs(), '--mode', FAMILIES[f].mode, ...workOptions(f, false)]])),
    },
    missing: { 'unix-dgram': 'no Unix datagram sockets in Node' },
  },
  python: {
    name: 'CPython',
    label: (family) => `CPython ${FAMILIES[family].cls}`,
    command: (ctx) => ['python3', FAMILIES[ctx.family].proto ? PYTHON_PROTOCOLS : path.join(ROOT, 'bench', 'servers', 'python-socketserver.py')],
    args: Object.fromEntries(
      Object.keys(FAMILIES).map((family) => [
        family,
        FAMILIES[family].proto
          ? () => ['--proto', FAMILIES[family].proto, ...tcpArgs()]
          : (ctx) => ['--class', FAMILIES[family].cls, '--mode', FAMILIES[family].mode,
            ...(FAMILIES[family].transport.startsWith('unix') ? unixArgs(ctx) : tcpArgs()),
            ...(FAMILIES[family].workers ? workOptions(family, true) : [])],
      ]),
    ),
    check() {
      return pythonVersion() ? null : { skip: 'python3 not found' };
    },
  },
  ...Object.fromEntries(WORKER_COUNTS.map((n) => [`workers-${n}`, workersServer(n)])),
  c: {
    name: 'C epoll',
    label: () => 'C epoll (ceiling)',
    command: () => [BINARIES['c-epoll'].bin],
    args: {
      'tcp-conn': () => ['--tcp', '127.0.0.1:0', '--mode', 'conn'],
      'tcp-keepalive': () => ['--tcp', '127.0.0.1:0', '--mode', 'keepalive'],
      udp: () => ['--udp', '127.0.0.1:0', '--mode', 'dgram'],
      'unix-conn': (ctx) => ['--unix', ctx.socketPath, '--mode', 'conn'],
      'unix-keepalive': (ctx) => ['--unix', ctx.socketPath, '--mode', 'keepalive'],
      'unix-dgram': (ctx) => ['--unix-dgram', ctx.socketPath, '--mode', 'dgram'],
    },
  },
};

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
// Targets of issues 3, 4, 10 and 13, evaluated on ratios measured in this run.
// kind 'rps': median of per-round req/s ratios a/b >= min.
// kind 'p50': median of per-round p50 ratios a/b <= max.
// kind 'rss': ratio of median peak RSS a/b <= max.
// kind 'cpu': median of per-round server CPU per request ratios a/b <= max.
// kind 'arrived': median of per-round ratios of the fraction of datagrams
//   that arrived (udp-burst), a/b >= min.
// kind 'p99abs': median of a's per-round p99 latencies, in ms, <= max (no b).

const I13_TEXT = {
  'http-wrk': 'HTTP/1.1 keep-alive (wrk, 32 connections)',
  'resp-set': 'RESP SET (redis-benchmark, 32 connections)',
  'resp-get': 'RESP GET (redis-benchmark, 32 connections)',
  'resp-set-p16': 'RESP SET -P 16 (redis-benchmark, 32 connections)',
  'resp-get-p16': 'RESP GET -P 16 (redis-benchmark, 32 connections)',
  dns: 'DNS A queries (dnsperf)',
  'udp-burst': `Syslog bursts of ${BURST_MESSAGES} datagrams (logger)`,
};

function targetDefs() {
  const T = [
    { id: 'tcp-conn-vs-net', text: 'TCP conn/request, 32 clients: native TCPServer vs node:net', workload: 'tcp-conn', a: 'native', b: 'net', kind: 'rps', min: 1.3 },
    { id: 'tcp-conn-vs-c', text: 'TCP conn/request, 32 clients: native TCPServer vs C ceiling', workload: 'tcp-conn', a: 'native', b: 'c', kind: 'rps', min: 0.9 },
    { id: 'udp-vs-dgram', text: 'UDP, 32 in flight: native UDPServer vs node:dgram', workload: 'udp', a: 'native', b: 'net', kind: 'rps', min: 1.8 },
    { id: 'unix-conn-vs-net', text: 'Unix stream conn/request, 32 clients: native vs node:net', workload: 'unix-conn', a: 'native', b: 'net', kind: 'rps', min: 2.5 },
    { id: 'tcp-keepalive-vs-net', text: 'TCP keep-alive, 32 clients: native ThreadingTCPServer vs node:net', workload: 'tcp-keepalive', a: 'native', b: 'net', kind: 'rps', min: 1.3 },
    { id: 'unix-keepalive-vs-net', text: 'Unix keep-alive, 32 clients: native ThreadingUnixStreamServer vs node:net', workload: 'unix-keepalive', a: 'native', b: 'net', kind: 'rps', min: 1.8 },
    { id: 'unix-dgram-vs-c', text: 'Unix datagram, 32 in flight: native vs C ceiling', workload: 'unix-dgram', a: 'native', b: 'c', kind: 'rps', min: 0.8 },
  ];
  for (const fam of ['tcp-conn', 'tcp-keepalive', 'udp', 'unix-conn', 'unix-keepalive']) {
    const base = FAMILIES[fam].mode === 'dgram' ? 'node:dgram' : 'node:net';
    T.push({ id: `${fam}-1-p50`, text: `${FAMILIES[fam].title}, 1 client: native p50 latency vs ${base}`, workload: `${fam}-1`, a: 'native', b: 'net', kind: 'p50', max: 1.1 });
    T.push({ id: `${fam}-1-p50-loop`, text: `${FAMILIES[fam].title}, 1 client: native with serveThread: false, p50 latency vs ${base}`, workload: `${fam}-1`, a: 'loop', b: 'net', kind: 'p50', max: 1.1 });
  }
  for (const fam of ['tcp-conn', 'tcp-keepalive', 'udp', 'unix-conn', 'unix-keepalive']) {
    const base = FAMILIES[fam].mode === 'dgram' ? 'node:dgram' : 'node:net';
    T.push({ id: `${fam}-rss`, text: `${FAMILIES[fam].title}, 32 clients: native peak RSS vs ${base}`, workload: fam, a: 'native', b: 'net', kind: 'rss', max: 1.0 });
  }
  const jsTargets = (proto) => {
    for (const w of WORKLOADS) {
      if (!!w.proto !== proto || !w.servers.includes('js') || !SERVERS.net.args[w.family]) continue;
      const base = w.mode === 'dgram' ? 'node:dgram' : 'node:net';
      const burst = w.family === 'udp-burst';
      const what = proto ? I13_TEXT[w.name] : `${w.title}, ${inflightText(w)}`;
      T.push({
        id: `${w.name}-js`, issue: proto ? 13 : undefined,
        text: `${what}: js transport vs ${base}${burst ? ', datagrams arrived' : proto ? ', req/s' : ''}`,
        workload: w.name, a: 'js', b: 'net', kind: burst ? 'arrived' : 'rps', min: 0.9,
      });
    }
  };
  jsTargets(false);
  T.push({ id: 'fork-vs-python', text: 'Forking, TCP conn/request, 32 clients: native ForkingTCPServer vs CPython ForkingTCPServer (issue 3)', workload: 'fork-tcp-conn', a: 'native', b: 'python', kind: 'rps', min: 1.0 });
  // issue 13: real protocols, clients nobody here wrote
  const I13 = [
    ['http-wrk', 'node:net', 1.3, 0.8],
    ['resp-set', 'node:net', 1.3, 0.8],
    ['resp-get', 'node:net', 1.3, 0.8],
    ['resp-set-p16', 'node:net', 1.3, null],
    ['resp-get-p16', 'node:net', 1.3, null],
    ['dns', 'node:dgram', 1.5, null],
  ];
  for (const [wl, base, min, cpuMax] of I13) {
    const text = I13_TEXT[wl];
    T.push({ id: `${wl}-vs-net`, issue: 13, text: `${text}: native vs ${base}, req/s`, workload: wl, a: 'native', b: 'net', kind: 'rps', min });
    if (cpuMax != null) T.push({ id: `${wl}-cpu-vs-net`, issue: 13, text: `${text}: native vs ${base}, server CPU per request`, workload: wl, a: 'native', b: 'net', kind: 'cpu', max: cpuMax });
  }
  // issue 10: worker threads
  T.push({ id: 'cpu-workers-vs-main', issue: 10, text: 'cpu (~1 ms of JS work per request, 32 keep-alive clients): workerThreads 2 vs 0', workload: 'cpu', a: 'workers-2', b: 'native', kind: 'rps', min: 1.7 });
  T.push({ id: 'cpu-workers-vs-python', issue: 10, text: 'cpu: workerThreads 2 vs CPython ThreadingTCPServer (the same rounds)', workload: 'cpu', a: 'workers-2', b: 'python', kind: 'rps', min: 1.7 });
  T.push({ id: 'mixed-light-p99', issue: 10, text: `mixed (1 heavy client): light requests' p99 with workerThreads 2`, workload: 'mixed', a: 'workers-2', kind: 'p99abs', max: 20, unit: 'ms' });
  T.push({ id: 'echo-workers-vs-main', issue: 10, text: 'keep-alive echo, 32 clients: workerThreads 2 vs 0', workload: 'echo-workers', a: 'workers-2', b: 'native', kind: 'rps', min: 0.9 });
  T.push({ id: 'udp-burst-vs-dgram', issue: 13, text: `${I13_TEXT['udp-burst']}: native vs node:dgram, datagrams arrived`, workload: 'udp-burst', a: 'native', b: 'net', kind: 'arrived', min: 1.0 });
  jsTargets(true);
  return T;
}

// ---------------------------------------------------------------------------
// options

function usage(msg) {
  if (msg) process.stderr.write(`bench: ${msg}\n`);
  (msg ? process.stderr : process.stdout).write(
    'usage: node bench/run.js [--rounds N] [--duration S] [--warmup S] [--quick]\n' +
      '                         [--only WORKLOAD[,..]] [--servers a,b] [--clients N]\n' +
      '                         [--fork-stress N] [--no-install] [--out FILE]\n' +
      `workloads: ${WORKLOADS.map((w) => w.name).join(', ')}\n` +
      '           (a family name such as tcp-conn also selects its -1 variant with --only tcp-conn*)\n' +
      `servers:   ${Object.keys(SERVERS).join(', ')}\n`,
  );
  process.exit(msg ? 2 : 0);
}

function parseArgs(argv) {
  const o = { rounds: 3, duration: 5, warmup: 1, clients: null, only: null, servers: null, out: DEFAULT_OUT, forkStress: 0, install: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') usage();
    if (a === '--quick') {
      o.rounds = 1;
      o.duration = 1;
      continue;
    }
    if (a === '--no-install') {
      o.install = false;
      continue;
    }
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
    else if (a === '--only' || a === '--workloads') o.only = v.split(',').filter(Boolean);
    else if (a === '--servers') o.servers = v.split(',').filter(Boolean);
    else if (a === '--fork-stress') o.forkStress = num(0, true);
    else if (a === '--out') o.out = path.resolve(v);
    else usage(`unknown option ${a}`);
  }
  if (o.only) {
    const sel = new Set();
    for (const pat of o.only) {
      const re = new RegExp(`^${pat.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
      const hits = WORKLOADS.filter((w) => re.test(w.name));
      if (!hits.length && pat !== 'none') usage(`unknown workload ${pat}`);
      for (const w of hits) sel.add(w.name);
    }
    o.only = sel;
  }
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

function tryExec(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10000 }).trim();
  } catch {
    return null;
  }
}

let pythonVersionCache;
function pythonVersion() {
  if (pythonVersionCache === undefined) pythonVersionCache = (tryExec('python3', ['--version']) || '').replace(/^Python /, '') || null;
  return pythonVersionCache;
}

let CLK_TCK = 100;
{
  const t = tryExec('getconf', ['CLK_TCK']);
  if (t && Number(t) > 0) CLK_TCK = Number(t);
}

/** utime+stime of a live process (all threads) plus its reaped children's (cutime+cstime), in microseconds. */
function cpuMicros(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  return ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1e6) / CLK_TCK;
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

function cpuModel() {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {}
  return (os.cpus()[0] || {}).model || null;
}

// Every child we start is tracked here and killed if we exit early. Servers
// run in their own process group (detached), so a forking server's children
// are killed with it.
const children = new Set();
function killChild(c) {
  try {
    if (c.group) process.kill(-c.pid, 'SIGKILL');
    else c.kill('SIGKILL');
  } catch {}
}
function killAllChildren() {
  for (const c of children) killChild(c);
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {}
  }
}
const groups = new Set(); // process groups of servers that may still have members
process.on('exit', killAllChildren);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    progress.clear();
    process.stderr.write(`\nbench: ${sig}, stopping children\n`);
    const pending = [...children].map((c) => c.exited);
    killAllChildren();
    // Reap them (no zombies left to init), at most 2 s.
    await Promise.race([Promise.all(pending), sleep(2000)]);
    cleanupTmp();
    process.exit(130);
  });
}

function track(child, group = false) {
  children.add(child);
  child.group = group;
  if (group) groups.add(child.pid);
  child.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
    child.on('error', (err) => {
      children.delete(child);
      groups.delete(child.pid);
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

function fmtDuration(s) {
  s = Math.max(0, Math.round(s));
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------
// progress: one updating line on a TTY, plain lines otherwise (stderr)

const progress = {
  tty: !!process.stderr.isTTY,
  total: 0,
  done: 0,
  expectedTotal: 0,
  expectedDone: 0,
  started: Date.now(),
  current: '',
  currentStart: 0,
  currentExpected: 0,
  shown: false,
  timer: null,
  begin(total, expectedTotal) {
    this.total = total;
    this.expectedTotal = expectedTotal;
    this.started = Date.now();
    if (this.tty) {
      this.timer = setInterval(() => this.render(), 500);
      this.timer.unref();
    }
  },
  eta() {
    const elapsed = (Date.now() - this.started) / 1000;
    const inRun = Math.min((Date.now() - this.currentStart) / 1000, this.currentExpected);
    const doneExp = this.expectedDone + (this.current ? inRun : 0);
    const speed = this.expectedDone > 0 ? elapsed / doneExp : 1;
    return { elapsed, left: Math.max(0, (this.expectedTotal - doneExp) * speed) };
  },
  line() {
    const { elapsed, left } = this.eta();
    const width = 20;
    const frac = this.total ? this.done / this.total : 0;
    const filled = Math.round(frac * width);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
    const s = `bench ${bar} ${this.done}/${this.total} ${fmtDuration(elapsed)} elapsed, ~${fmtDuration(left)} left  ${this.current}`;
    const cols = process.stderr.columns || 100;
    return s.length > cols - 1 ? s.slice(0, cols - 1) : s;
  },
  render() {
    if (!this.tty || !this.timer) return;
    process.stderr.write(`\r\x1b[2K${this.line()}`);
    this.shown = true;
  },
  clear() {
    if (this.tty && this.shown) {
      process.stderr.write('\r\x1b[2K');
      this.shown = false;
    }
  },
  start(label, expectedS) {
    this.current = label;
    this.currentStart = Date.now();
    this.currentExpected = expectedS;
    if (!this.tty) process.stderr.write(`bench: [${this.done + 1}/${this.total}] ${label} ... `);
    this.render();
  },
  end(result) {
    this.done++;
    this.expectedDone += this.currentExpected;
    this.current = '';
    if (!this.tty) process.stderr.write(`${result}\n`);
    this.render();
  },
  /** A line for the user, above the bar. */
  log(text, stream = process.stderr) {
    this.clear();
    stream.write(text.endsWith('\n') ? text : `${text}\n`);
    this.render();
  },
  finish() {
    if (this.timer) clearInterval(this.timer);
    this.clear();
  },
};

function out(text = '') {
  if (progress.tty && process.stdout.isTTY) progress.log(text, process.stdout);
  else process.stdout.write(`${text}\n`);
}

// ---------------------------------------------------------------------------
// C programs

function ensureBinary(name) {
  const { src, bin } = BINARIES[name];
  let stale = true;
  try {
    stale = fs.statSync(src).mtimeMs > fs.statSync(bin).mtimeMs;
  } catch {}
  if (!stale) return;
  fs.mkdirSync(path.dirname(bin), { recursive: true });
  const args = ['-O2', '-Wall', '-o', rel(bin), rel(src)];
  process.stderr.write(`bench: cc ${args.join(' ')}\n`);
  execFileSync('cc', args, { stdio: 'inherit' });
}

const loadgenStderr = []; // diagnostics (first mismatches), kept with each run

async function runLoadgen(args, timeoutMs) {
  const child = track(spawn(BINARIES.loadgen.bin, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  const err = new Tail();
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => err.push(c)); // mismatch diagnostics
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const { code, signal, error } = await child.exited;
  clearTimeout(timer);
  if (error) throw new Error(`loadgen: ${error.message}`);
  if (code !== 0) throw new Error(`loadgen exited with ${code ?? signal}: ${err.buf.trim()}`);
  const line = stdout.trim().split('\n').pop();
  let res;
  try {
    res = JSON.parse(line);
  } catch {
    throw new Error(`loadgen printed no JSON: ${JSON.stringify(stdout)}`);
  }
  if (err.bytes) loadgenStderr.push(err.buf.trim());
  return res;
}

// ---------------------------------------------------------------------------
// Clients of the protocol workloads (issue 13): programs nobody here wrote,
// from Debian's packages. Installed with apt-get when missing and we are root
// (unless --no-install); otherwise their workloads are skipped.
//
// Before the warm-up, PROBES[proto](port) checks one exchange byte for byte
// (the clients do not check reply contents). A client driver (CLIENTS) has
// warmup(env) and measure(env); measure() resolves with what the runner records as the
// run's `loadgen`: requests, rps, seconds, p50_us, p99_us (null when the
// client does not report them), errors, error_kinds, mismatches,
// loadgen_cpu_s (the client's CPU time), plus the client's own figures.

const CLIENT_PACKAGES = { wrk: 'wrk', 'redis-benchmark': 'redis-tools', dnsperf: 'dnsperf', logger: 'bsdutils' };

function which(cmd) {
  for (const dir of (process.env.PATH || '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const p = path.join(dir || '.', cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {}
  }
  return null;
}

/**
 * Makes sure the client programs `names` are there, installing their Debian
 * packages when we may. Returns {name: reason to skip} for those still missing.
 */
function ensureClients(names, opts) {
  const missing = names.filter((n) => !which(n));
  let why = null;
  if (missing.length) {
    const pkgs = [...new Set(missing.map((n) => CLIENT_PACKAGES[n]))];
    if (!opts.install) why = '--no-install';
    else if (!process.getuid || process.getuid() !== 0) why = 'not root';
    else if (!which('apt-get')) why = 'no apt-get';
    else {
      const install = ['install', '-y', '--no-install-recommends', ...pkgs];
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      const apt = (args) => {
        progress.log(`bench: apt-get ${args.join(' ')}`);
        return spawnSync('apt-get', args, { stdio: ['ignore', 2, 2], env, timeout: 900000 }).status === 0;
      };
      progress.log(`bench: ${missing.join(', ')} not found: installing Debian package${pkgs.length > 1 ? 's' : ''} ${pkgs.join(', ')}`);
      if (!apt(install) && !(apt(['update']) && apt(install))) why = 'apt-get install failed';
    }
  }
  const skip = {};
  for (const n of names) {
    if (!which(n)) skip[n] = `${n} not found (Debian package ${CLIENT_PACKAGES[n]}: apt-get install ${CLIENT_PACKAGES[n]}; not installed: ${why || 'still missing after apt-get'})`;
  }
  return skip;
}

/** utime+stime of our reaped children (cutime+cstime), in microseconds. */
function reapedChildrenMicros() {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[13]) + Number(f[14])) * 1e6) / CLK_TCK;
}

/**
 * Runs a client to completion: {stdout, stderr, seconds, cpu_s, command}.
 * Rejects when it fails to start, exits non-zero or outlasts `timeoutMs`
 * (a client waiting for a reply that never comes, or that it cannot parse).
 * Its CPU time is the growth of our reaped children's: no other child of
 * ours is reaped meanwhile (the server is reaped after the measurement).
 */
async function runClient(cmd, args, timeoutMs) {
  const command = [cmd, ...args].join(' ');
  const cpu0 = reapedChildrenMicros();
  const t0 = process.hrtime.bigint();
  const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const closed = new Promise((resolve) => child.on('close', resolve));
  let stdout = '';
  const err = new Tail(16384);
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => err.push(c));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const { code, signal, error } = await child.exited;
  clearTimeout(timer);
  if (!error) await closed;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu_s = (reapedChildrenMicros() - cpu0) / 1e6;
  const tail = () => (err.buf.trim() || stdout.trim()).slice(-600);
  if (error) throw new Error(`${cmd}: ${error.message}`);
  if (timedOut) throw new Error(`${command}: no result within ${timeoutMs / 1000} s (killed; a wrong or missing reply stalls it): ${tail()}`);
  if (code !== 0) throw new Error(`${command}: exited with ${code ?? signal}: ${tail()}`);
  return { stdout, stderr: err.buf, seconds, cpu_s, command };
}

function clientFile(name, make) {
  const file = path.join(getTmpDir(), name);
  if (!fs.existsSync(file)) fs.writeFileSync(file, make());
  return file;
}

// --- probes: one exchange, checked byte for byte -------------------------

const HTTP_REPLY = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!';

/** Sends `data` on a TCP connection; resolves with what came back by EOF, or by `enough` bytes. */
function tcpExchange(port, data, enough) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let len = 0;
    const sock = net.connect({ host: '127.0.0.1', port }, () => sock.write(data));
    const done = (eof) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ reply: Buffer.concat(chunks).toString('latin1'), eof });
    };
    const timer = setTimeout(() => done(false), 3000);
    sock.on('data', (c) => {
      chunks.push(c);
      len += c.length;
      if (enough != null && len >= enough) done(false);
    });
    sock.on('end', () => done(true));
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function udpExchange(port, data) {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      resolve(null);
    }, 3000);
    sock.on('message', (m) => {
      clearTimeout(timer);
      sock.close();
      resolve(m);
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      sock.close();
      reject(e);
    });
    sock.send(data, port, '127.0.0.1');
  });
}

const PROBES = {
  async http(port) {
    // two requests in one write; the second asks for the connection to be closed
    const { reply, eof } = await tcpExchange(port, 'GET / HTTP/1.1\r\nHost: probe\r\n\r\nGET /x HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n');
    if (reply !== HTTP_REPLY + HTTP_REPLY) return `HTTP: expected two fixed 200 replies, got ${JSON.stringify(reply.slice(0, 300))}`;
    if (!eof) return 'HTTP: the connection stayed open after "Connection: close"';
    return null;
  },
  async resp(port) {
    const cmd = (...a) => `*${a.length}\r\n${a.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('')}`;
    const expected = '+PONG\r\n*2\r\n$4\r\nsave\r\n$0\r\n\r\n+OK\r\n$6\r\nv\r\nxyz\r\n$-1\r\n';
    const send = cmd('PING') + cmd('CONFIG', 'GET', 'save') + cmd('SET', 'probe:key', 'v\r\nxyz') + cmd('GET', 'probe:key') + cmd('GET', 'probe:missing');
    const { reply } = await tcpExchange(port, send, expected.length);
    return reply === expected ? null : `RESP: expected ${JSON.stringify(expected)}, got ${JSON.stringify(reply.slice(0, 300))}`;
  },
  async dns(port) {
    // ID 0x1234, RD, a1.example.com A IN
    const q = Buffer.from('123401000001000000000000026131076578616d706c6503636f6d0000010001', 'hex');
    const expected = '123485000001000100000000026131076578616d706c6503636f6d0000010001c00c000100010000012c00047f000001';
    const r = await udpExchange(port, q);
    if (!r) return 'DNS: no reply within 3 s';
    return r.toString('hex') === expected ? null : `DNS: expected ${expected}, got ${r.toString('hex')}`;
  },
};

// --- wrk ----------------------------------------------------------------

function wrkTime(v, unit) {
  return Number(v) * { us: 1, ms: 1e3, s: 1e6, m: 60e6, h: 3600e6 }[unit];
}

function parseWrk(r) {
  const out = r.stdout;
  const m = /(\d+) requests in ([\d.]+)(us|ms|s|m|h)/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!m || !rps) throw new Error(`wrk: cannot parse its output: ${JSON.stringify(out.slice(-400))}`);
  const pct = (p) => {
    const x = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(out);
    return x ? wrkTime(x[1], x[2]) : null;
  };
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const error_kinds = se ? { connect: +se[1], read: +se[2], write: +se[3], timeout: +se[4] } : {};
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return {
    requests: Number(m[1]),
    seconds: wrkTime(m[2], m[3]) / 1e6,
    rps: Number(rps[1]),
    p50_us: pct(50),
    p99_us: pct(99),
    errors: Object.values(error_kinds).reduce((a, b) => a + b, 0),
    error_kinds,
    mismatches: non2xx ? Number(non2xx[1]) : 0, // wrk counts non-2xx/3xx replies, not their bytes
    loadgen_cpu_s: r.cpu_s,
    command: r.command,
    output: out,
  };
}

async function wrkRun(env, seconds) {
  const d = Math.max(1, Math.round(seconds)); // wrk takes whole seconds
  const args = ['-t1', `-c${env.clients}`, `-d${d}s`, '--latency', '--timeout', `${REQUEST_TIMEOUT_S}s`, `http://127.0.0.1:${env.port}/`];
  return parseWrk(await runClient('wrk', args, (d + REQUEST_TIMEOUT_S + 30) * 1000));
}

// --- redis-benchmark ----------------------------------------------------

function parseRedisCsv(r, test) {
  const rows = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => l.split(',').map((c) => c.replace(/^"|"$/g, '')));
  const head = rows.find((x) => x[0] === 'test');
  const row = rows.find((x) => x[0] === test.toUpperCase());
  if (!head || !row) throw new Error(`redis-benchmark: no ${test.toUpperCase()} row in its CSV: ${JSON.stringify(r.stdout.slice(-400))}`);
  const col = (name) => {
    const i = head.indexOf(name);
    return i >= 0 && row[i] !== undefined && row[i] !== '' ? Number(row[i]) : null;
  };
  const ms = (name) => (col(name) == null ? null : col(name) * 1000);
  // redis-benchmark writes "Error from server: ..." on stderr for -ERR replies
  const serverErrors = (r.stderr.match(/Error from server/g) || []).length;
  return { rps: col('rps'), avg_us: ms('avg_latency_ms'), p50_us: ms('p50_latency_ms'), p99_us: ms('p99_latency_ms'), serverErrors };
}

/** One redis-benchmark call: `n` requests of `test`, `clients` connections, the family's -P unless `pipeline` says. */
async function redisRun(env, test, n, clients = env.clients, pipeline = FAMILIES[env.w.family].pipeline) {
  const args = ['-h', '127.0.0.1', '-p', String(env.port), '-c', String(clients), '-n', String(n), '-t', test, '--csv'];
  if (pipeline > 1) args.push('-P', String(pipeline));
  // count-based: allow 4 x the time the last rate estimate predicts
  const expect = env.rate ? n / env.rate : 15;
  const r = await runClient('redis-benchmark', args, (expect * 4 + 30) * 1000);
  const c = parseRedisCsv(r, test);
  return {
    requests: n,
    seconds: r.seconds,
    rps: c.rps,
    p50_us: c.p50_us,
    p99_us: c.p99_us,
    avg_us: c.avg_us,
    errors: 0,
    error_kinds: {},
    mismatches: c.serverErrors, // -ERR replies to SET/GET
    loadgen_cpu_s: r.cpu_s,
    command: r.command,
    output: r.stdout + r.stderr.slice(-1000),
  };
}

// --- dnsperf ------------------------------------------------------------

function parseDnsperf(r) {
  const out = r.stdout;
  const num = (re) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : null;
  };
  const sent = num(/Queries sent:\s+(\d+)/);
  const completed = num(/Queries completed:\s+(\d+)/);
  const lost = num(/Queries lost:\s+(\d+)/);
  const qps = num(/Queries per second:\s+([\d.]+)/);
  const runTime = num(/Run time \(s\):\s+([\d.]+)/);
  const avg = num(/Average Latency \(s\):\s+([\d.]+)/);
  if (sent == null || completed == null || qps == null) throw new Error(`dnsperf: cannot parse its output: ${JSON.stringify(out.slice(-400))}`);
  const rcodes = {};
  const rc = /Response codes:\s+(.*)/.exec(out);
  if (rc) for (const m of rc[1].matchAll(/([A-Z]+) (\d+)/g)) rcodes[m[1]] = Number(m[2]);
  const unexpectedId = (r.stdout + r.stderr).match(/unexpected .*id/g) || [];
  return {
    requests: completed,
    seconds: runTime ?? r.seconds,
    rps: qps,
    p50_us: null, // dnsperf reports the average latency, not percentiles
    p99_us: null,
    avg_us: avg == null ? null : avg * 1e6,
    sent,
    errors: (lost || 0) + unexpectedId.length,
    error_kinds: { lost: lost || 0, unexpected_id: unexpectedId.length },
    mismatches: completed - (rcodes.NOERROR || 0), // any other response code
    rcodes,
    loadgen_cpu_s: r.cpu_s,
    command: r.command,
    output: out,
  };
}

async function dnsperfRun(env, seconds) {
  const file = clientFile('dnsperf-queries.txt', () => Array.from({ length: DNS_QUERY_NAMES }, (_, i) => `a${i}.example.com A\n`).join(''));
  const args = ['-s', '127.0.0.1', '-p', String(env.port), '-d', file, '-c', String(DNSPERF_CLIENTS), '-q', String(DNSPERF_OUTSTANDING),
    '-l', String(seconds), '-t', String(REQUEST_TIMEOUT_S)];
  return parseDnsperf(await runClient('dnsperf', args, (seconds + REQUEST_TIMEOUT_S + 30) * 1000));
}

// --- logger: syslog bursts ----------------------------------------------

/** SIGUSR2 -> the server's "COUNT <messages> <t>" line: {count, last (ns, CLOCK_MONOTONIC)}. */
function burstCount(srv) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      srv.lineListeners.delete(listener);
      reject(new Error('the server did not answer SIGUSR2 with a COUNT line within 2 s'));
    }, 2000);
    const listener = (line) => {
      const m = /^COUNT (\d+) (\d+)$/.exec(line);
      if (!m) return;
      clearTimeout(timer);
      srv.lineListeners.delete(listener);
      resolve({ count: Number(m[1]), last: BigInt(m[2]) });
    };
    srv.lineListeners.add(listener);
    process.kill(srv.child.pid, 'SIGUSR2');
  });
}

/** The count once it has not changed for 50 ms (the server has handled what its socket held). */
async function burstDrained(srv) {
  let prev = await burstCount(srv);
  let stable = 0;
  while (stable < 2) {
    await sleep(25);
    const c = await burstCount(srv);
    stable = c.count === prev.count ? stable + 1 : 0;
    prev = c;
  }
  return prev;
}

/**
 * logger calls of BURST_MESSAGES datagrams each, waiting for the server to
 * drain after each, for `seconds` (at least one call). rps: messages handled
 * per second of burst, from logger's start to the last message handled.
 */
async function burstRun(env, seconds) {
  const file = clientFile('logger-lines.txt', () =>
    Array.from({ length: BURST_MESSAGES }, (_, i) => `bench burst message ${String(i).padStart(4, '0')} lorem ipsum dolor sit amet\n`).join(''));
  const args = ['--udp', '--server', '127.0.0.1', '--port', String(env.port), '--tag', 'bench', '--file', file];
  const t0 = Date.now();
  let base = await burstDrained(env.srv);
  let sent = 0;
  let arrived = 0;
  let busyNs = 0n;
  let calls = 0;
  let cpu = 0;
  const perCall = [];
  do {
    const start = process.hrtime.bigint();
    const r = await runClient('logger', args, 30000);
    cpu += r.cpu_s;
    const c = await burstDrained(env.srv);
    const got = c.count - base.count;
    if (got > 0) busyNs += c.last - start;
    sent += BURST_MESSAGES;
    arrived += got;
    calls++;
    if (perCall.length < 1000) perCall.push(got);
    base = c;
  } while (Date.now() - t0 < seconds * 1000);
  const busy = Number(busyNs) / 1e9;
  return {
    requests: arrived,
    seconds: (Date.now() - t0) / 1000,
    rps: busy > 0 ? arrived / busy : 0,
    busy_s: busy,
    p50_us: null,
    p99_us: null,
    sent,
    arrived,
    arrived_frac: arrived / sent,
    calls,
    arrived_per_call: perCall,
    errors: 0, // datagrams that did not arrive are the measure, not errors
    error_kinds: {},
    mismatches: 0,
    loadgen_cpu_s: cpu,
    command: `logger ${args.join(' ')}`,
  };
}

// --- the drivers ----------------------------------------------------------

const warmupOf = (r) => ({ requests: r.requests, errors: r.errors, mismatches: r.mismatches });

const CLIENTS = {
  wrk: {
    warmup: async (env) => warmupOf(await wrkRun(env, env.opts.warmup)),
    measure: (env) => wrkRun(env, env.duration),
  },
  'redis-benchmark': {
    calibrates: true, // warms up even with --warmup 0: the rate sets -n
    async warmup(env) {
      const { test, pipeline } = FAMILIES[env.w.family];
      // GET reads key:__rand_int__ (the same key without -r): set it first.
      // (One SET, one connection, no -P: redis-benchmark -P 16 -n 1 aborts.)
      if (test === 'get') await redisRun(env, 'set', 1, 1, 1);
      let r = await redisRun(env, test, REDIS_PROBE_REQUESTS * pipeline);
      env.rate = r.rps || r.requests / r.seconds;
      const left = env.opts.warmup - r.seconds;
      if (left > 0.2) {
        const r2 = await redisRun(env, test, Math.max(env.clients * pipeline, Math.round(env.rate * left)));
        env.rate = r2.rps || r2.requests / r2.seconds;
        r = { ...r2, requests: r.requests + r2.requests, errors: r.errors + r2.errors, mismatches: r.mismatches + r2.mismatches };
      }
      return warmupOf(r);
    },
    measure(env) {
      const { test, pipeline } = FAMILIES[env.w.family];
      const n = Math.max(env.clients * pipeline * 10, Math.round(env.rate * env.duration));
      return redisRun(env, test, n);
    },
  },
  dnsperf: {
    warmup: async (env) => warmupOf(await dnsperfRun(env, env.opts.warmup)),
    measure: (env) => dnsperfRun(env, env.duration),
  },
  logger: {
    warmup: async (env) => warmupOf(await burstRun(env, env.opts.warmup)),
    measure: (env) => burstRun(env, env.duration),
  },
};

// ---------------------------------------------------------------------------
// server processes

async function startServer(key, workload, ctx) {
  const def = SERVERS[key];
  const cmd = def.command(ctx);
  const child = track(
    spawn(cmd[0], [...cmd.slice(1), ...def.args[workload.family](ctx)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true }),
    true,
  );
  const stderr = new Tail();
  const stdout = new Tail();
  child.stderr.on('data', (c) => stderr.push(c));
  // lineListeners: called with each line after READY (udp-burst's COUNT replies)
  const srv = { key, child, stderr, stdout, ready: null, lines: [], lineListeners: new Set() };
  let lineBuf = '';
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no READY line within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    child.stdout.on('data', (c) => {
      stdout.push(c);
      lineBuf += c.toString('utf8');
      let i;
      while ((i = lineBuf.indexOf('\n')) >= 0) {
        const line = lineBuf.slice(0, i).trim();
        lineBuf = lineBuf.slice(i + 1);
        if (srv.ready === null) {
          const u = /^UNSUPPORTED (.*)$/.exec(line);
          if (u) srv.unsupported = u[1];
          const m = /^READY (\S+)$/.exec(line);
          if (m) {
            srv.ready = m[1];
            clearTimeout(timer);
            resolve();
          }
        } else {
          for (const f of srv.lineListeners) f(line);
          if (srv.lines.length < 100 && !line.startsWith('COUNT ')) srv.lines.push(line);
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
    if (srv.unsupported) err.unsupported = srv.unsupported;
    err.message = `${def.label(workload.family)}: ${err.message}${stderr.buf ? `\n--- server stderr (tail) ---\n${stderr.buf.trim()}` : ''}`;
    throw err;
  }
  return srv;
}

/** SIGTERM, then SIGKILL after STOP_TIMEOUT_MS; then kills whatever is left in its process group. */
async function stopServer(srv) {
  const { child } = srv;
  let res;
  if (child.exitCode !== null || child.signalCode !== null) {
    res = { ...(await child.exited), killed: false };
  } else {
    try {
      child.kill('SIGTERM');
    } catch {}
    res = await Promise.race([child.exited, sleep(STOP_TIMEOUT_MS).then(() => null)]);
    if (res) res = { ...res, killed: false };
    else {
      killChild(child);
      res = { ...(await child.exited), killed: true };
    }
  }
  // Processes left in the server's group (e.g. a forked child still running).
  let leftovers = false;
  try {
    process.kill(-child.pid, 0);
    leftovers = true;
    process.kill(-child.pid, 'SIGKILL');
  } catch {}
  groups.delete(child.pid);
  return { ...res, leftovers };
}

function alive(srv) {
  return srv.child.exitCode === null && srv.child.signalCode === null;
}

// ---------------------------------------------------------------------------
// one measurement

/** The uppercase-echo workloads' client: bench/loadgen. */
const LOADGEN = {
  args(env, seconds) {
    const { w, srv, clients } = env;
    return [...loadgenTarget(w.transport, srv.ready), '--mode', w.mode, '--clients', String(clients), '--timeout', String(w.timeout || REQUEST_TIMEOUT_S),
      '--duration', String(seconds), '--warmup', '0'];
  },
  budget: (s) => (s + REQUEST_TIMEOUT_S + 30) * 1000,
  async warmup(env) {
    const w = await runLoadgen(this.args(env, env.opts.warmup), this.budget(env.opts.warmup));
    return { requests: w.requests, errors: w.errors, mismatches: w.mismatches };
  },
  measure(env) {
    return runLoadgen(this.args(env, env.duration), this.budget(env.duration));
  },
};

/** env.sampleCpu() after `ms` (null if the server is gone by then). */
function sampleCpuAt(env, ms) {
  return new Promise((resolve) => {
    setTimeout(() => {
      try {
        resolve(env.sampleCpu());
      } catch {
        resolve(null);
      }
    }, ms);
  });
}

/** The server CPU and machine CPU between two samples of env.sampleCpu(), as runOne() records them. */
function windowCpu(a, b) {
  return a && b ? { server_us: b.server_us - a.server_us, busy_us: b.busy_us - a.busy_us } : null;
}

// Drivers of the worker-thread workloads (issue 10), besides LOADGEN and
// the protocol clients. Their warm-up runs inside measure(), on the same
// connections; they sample the server's CPU at the window's edges
// (`window_cpu` in their result).
const DRIVERS = {
  /**
   * cpu: one loadgen call, `--warmup` then the window on the same
   * connections. rps is window_rps (replies that arrived in the window,
   * whenever their request started): with CPython a request takes
   * seconds, and counting only requests started and finished in the
   * window would undercount it. p50/p99 are still those of the requests
   * started and finished in the window.
   */
  steady: {
    async measure(env) {
      const { w, srv, clients, duration, opts } = env;
      const args = [...loadgenTarget(w.transport, srv.ready), '--mode', w.mode, '--clients', String(clients), '--timeout', String(w.timeout || REQUEST_TIMEOUT_S),
        '--duration', String(duration), '--warmup', String(opts.warmup)];
      const [r, a, b] = await Promise.all([
        runLoadgen(args, (opts.warmup + duration + (w.timeout || REQUEST_TIMEOUT_S) + 30) * 1000),
        sampleCpuAt(env, opts.warmup * 1000),
        sampleCpuAt(env, (opts.warmup + duration) * 1000),
      ]);
      return {
        ...r,
        started_requests: r.requests,
        started_rps: r.rps,
        requests: r.window_replies,
        rps: r.window_rps,
        warmup: { requests: r.warmup_requests, errors: r.warmup_errors, mismatches: 0 },
        window_cpu: windowCpu(a, b),
      };
    },
  },
  /**
   * mixed, mixed-4: bench/mixed-client.js. rps is the heavy requests'
   * rate; p50/p99 are the light requests' latencies.
   */
  mixed: {
    async measure(env) {
      const { w, srv, duration, opts } = env;
      const args = [MIXED_CLIENT, '--tcp', `127.0.0.1:${srv.ready}`, '--heavy-clients', String(w.heavyClients), '--interval-ms', String(MIXED_INTERVAL_MS),
        '--duration', String(duration), '--warmup', String(opts.warmup), '--timeout', String(MIXED_TIMEOUT_S)];
      const child = track(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
      const err = new Tail();
      child.stderr.on('data', (c) => err.push(c));
      let buf = '';
      let json = null;
      const samples = {};
      child.stdout.on('data', (c) => {
        buf += c.toString('utf8');
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (line === 'MEASURE' || line === 'END') {
            try {
              samples[line] = env.sampleCpu();
            } catch {}
          } else if (line.startsWith('{')) json = line;
        }
      });
      const budget = (opts.warmup + duration + MIXED_TIMEOUT_S + 10) * 1000;
      const timer = setTimeout(() => child.kill('SIGKILL'), budget);
      const { code, signal, error } = await child.exited;
      clearTimeout(timer);
      if (error) throw new Error(`mixed-client: ${error.message}`);
      if (code !== 0 || json === null) throw new Error(`mixed-client exited with ${code ?? signal}: ${err.buf.trim().slice(-600)}`);
      if (err.bytes) loadgenStderr.push(err.buf.trim());
      const m = JSON.parse(json);
      if (m.mismatch_samples.length) loadgenStderr.push(m.mismatch_samples.join('\n'));
      const kinds = {};
      for (const k of [m.light.error_kinds, m.heavy.error_kinds]) for (const [x, n] of Object.entries(k)) kinds[x] = (kinds[x] || 0) + n;
      return {
        requests: m.light.ok + m.heavy.ok,
        seconds: m.seconds,
        rps: m.heavy.rps,
        p50_us: m.light.p50_us,
        p99_us: m.light.p99_us,
        errors: m.light.errors + m.heavy.errors,
        error_kinds: kinds,
        mismatches: m.light.mismatches + m.heavy.mismatches,
        loadgen_cpu_s: m.client_cpu_s,
        light: m.light,
        heavy: m.heavy,
        command: `node ${rel(MIXED_CLIENT)} ${args.slice(1).join(' ')}`,
        warmup: { requests: m.heavy.warmup_ok, errors: 0, mismatches: 0 },
        window_cpu: windowCpu(samples.MEASURE, samples.END),
      };
    },
  },
};

function durationOf(w, opts) {
  return w.latency ? Math.max(0.1, +(opts.duration * LATENCY_DURATION_SCALE).toFixed(2)) : opts.duration;
}
function clientsOf(w, opts) {
  return w.latency || w.fixedClients ? w.clients : opts.clients || w.clients;
}

/** "32 clients", "32 connections", or the family's own description. */
function inflightText(w) {
  const f = FAMILIES[w.family];
  if (f.inflight) return f.inflight;
  if (f.proto) return `${w.clients} connections`;
  return `${w.clients} client${w.clients > 1 ? 's' : ''}`;
}

async function runOne(workload, key, round, opts) {
  const clients = clientsOf(workload, opts);
  const duration = durationOf(workload, opts);
  const ctx = {
    family: workload.family,
    socketPath: path.join(getTmpDir(), `${key}-${workload.name}-${round}.sock`),
    forkLog: path.join(getTmpDir(), `${key}-${workload.name}-${round}.forklog`),
  };
  const rec = { round, ok: false };
  let srv;
  try {
    srv = await startServer(key, workload, ctx);
    rec.pid = srv.child.pid;
    const driver = workload.driver ? DRIVERS[workload.driver] : workload.client ? CLIENTS[workload.client] : LOADGEN;
    if (workload.client) rec.client = workload.client;
    const pid = srv.child.pid;
    const env = { w: workload, srv, port: Number(srv.ready), clients, duration, opts, sampleCpu: () => ({ server_us: cpuMicros(pid), busy_us: machineBusyMicros() }) };
    const probe = workload.proto && PROBES[workload.proto];
    if (probe) {
      const wrong = await probe(env.port);
      if (wrong) throw new Error(`wrong reply to the probe: ${wrong}`);
    }
    if (driver.warmup && (opts.warmup > 0 || driver.calibrates)) rec.warmup = await driver.warmup(env);
    if (!alive(srv)) throw new Error('server died during warm-up');
    const cpu0 = cpuMicros(srv.child.pid);
    const busy0 = machineBusyMicros();
    const r = await driver.measure(env);
    if (!alive(srv)) throw new Error('server died during the measurement');
    let cpu = cpuMicros(srv.child.pid) - cpu0;
    let busy = machineBusyMicros() - busy0;
    if (r.window_cpu) {
      // the driver's warm-up was part of measure(): its samples at the window's edges
      cpu = r.window_cpu.server_us;
      busy = r.window_cpu.busy_us;
    } else if (r.window_cpu === null) {
      throw new Error('no CPU samples at the edges of the measured window');
    }
    if (r.warmup) {
      rec.warmup = r.warmup;
      delete r.warmup;
    }
    rec.loadgen = r;
    rec.cpu_us = cpu;
    rec.cpu_us_per_request = r.requests > 0 ? cpu / r.requests : null;
    rec.cpu_util = r.seconds > 0 ? cpu / 1e6 / r.seconds : null; // 1.0 = one core busy
    rec.peak_rss_kib = peakRssKiB(srv.child.pid);
    // CPU used by everything else on the machine during the measurement
    // (not the server, not the loadgen): a noise indicator.
    rec.other_cpu_util = r.seconds > 0 ? Math.max(0, (busy - cpu) / 1e6 - r.loadgen_cpu_s) / r.seconds : null;
    rec.mismatches = r.mismatches + (rec.warmup ? rec.warmup.mismatches : 0);
    rec.ok = r.requests > 0;
    if (!rec.ok) rec.error = `no successful request (${r.errors} errors ${JSON.stringify(r.error_kinds)})`;
  } catch (err) {
    rec.error = err.message;
    if (err.unsupported) rec.unsupported = err.unsupported;
  } finally {
    if (srv) {
      const end = await stopServer(srv);
      rec.server_exit = { code: end.code, signal: end.signal, killed: !!end.killed, leftovers: end.leftovers };
      rec.server_stderr_bytes = srv.stderr.bytes;
      if (srv.stderr.bytes) rec.server_stderr_tail = srv.stderr.buf.slice(-1000);
      for (const line of srv.lines) {
        const m = /^STATS (\{.*\})$/.exec(line);
        if (m) {
          try {
            rec.server_stats = JSON.parse(m[1]);
          } catch {}
        }
      }
    }
    for (const p of [ctx.socketPath, ctx.forkLog]) {
      try {
        fs.rmSync(p, { force: true });
      } catch {}
    }
  }
  return rec;
}

// ---------------------------------------------------------------------------
// summaries

function summarize(runs) {
  const ok = runs.filter((r) => r.ok);
  const s = {
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
    mismatches: runs.reduce((a, r) => a + (r.mismatches || 0), 0),
  };
  if (ok.some((r) => r.loadgen.avg_us != null)) s.avg_us = median(ok.map((r) => r.loadgen.avg_us));
  if (ok.some((r) => r.loadgen.arrived_frac != null)) {
    // udp-burst: the fraction of the datagrams sent that the server handled
    s.arrived_frac = median(ok.map((r) => r.loadgen.arrived_frac));
    s.sent = ok.reduce((a, r) => a + r.loadgen.sent, 0);
    s.arrived = ok.reduce((a, r) => a + r.loadgen.arrived, 0);
  }
  if (ok.some((r) => r.loadgen.light)) {
    // mixed: the light requests' latencies (p50_us/p99_us above), the heavy ones' rate
    const L = ok.map((r) => r.loadgen.light);
    const H = ok.map((r) => r.loadgen.heavy);
    s.light = {
      p50_us: median(L.map((x) => x.p50_us)), p90_us: median(L.map((x) => x.p90_us)), p99_us: median(L.map((x) => x.p99_us)), max_us: median(L.map((x) => x.max_us)),
      sent: L.reduce((a, x) => a + x.sent, 0), ok: L.reduce((a, x) => a + x.ok, 0),
    };
    s.heavy = { rps: median(H.map((x) => x.rps)), p50_us: median(H.map((x) => x.p50_us)), ok: H.reduce((a, x) => a + x.ok, 0) };
  }
  const stats = ok.map((r) => r.server_stats).filter(Boolean);
  if (stats.length) {
    s.server_stats = {};
    for (const k of Object.keys(stats[0])) s.server_stats[k] = median(stats.map((x) => x[k]));
  }
  return s;
}

/** Per-round ratios a/b of `get(run)`, their median, and the ratio of medians. */
function ratio(res, a, b, get, getSummary) {
  const A = res.servers[a];
  const B = res.servers[b];
  if (!A || !B || !A.runs.length || !B.runs.length) return null;
  const per = [];
  for (let i = 0; i < Math.max(A.runs.length, B.runs.length); i++) {
    const x = A.runs[i];
    const y = B.runs[i];
    if (x && y && x.ok && y.ok && get(y) > 0 && get(x) != null) per.push(get(x) / get(y));
  }
  const ma = getSummary(A.summary);
  const mb = getSummary(B.summary);
  return { per_round: per, median_of_ratios: median(per), ratio_of_medians: ma != null && mb ? ma / mb : null };
}

const rpsRatio = (res, a, b) => ratio(res, a, b, (r) => r.loadgen.rps, (s) => s.median_rps);
const p50Ratio = (res, a, b) => ratio(res, a, b, (r) => r.loadgen.p50_us, (s) => s.p50_us);
const cpuRatio = (res, a, b) => ratio(res, a, b, (r) => r.cpu_us_per_request, (s) => s.cpu_us_per_request);
const arrivedRatio = (res, a, b) => ratio(res, a, b, (r) => r.loadgen.arrived_frac, (s) => s.arrived_frac);

function evaluateTargets(results) {
  const byName = Object.fromEntries(results.map((r) => [r.name, r]));
  return targetDefs().map((t) => {
    const res = byName[t.workload];
    const row = { ...t, value: null, status: 'n/a' };
    const sa = res && res.servers[t.a];
    const sb = res && res.servers[t.b];
    const why = (s, k) => (!res ? 'workload not run' : res.skipped ? `workload skipped: ${res.skipped}` : !s ? `${k} not run` : s.skipped ? `${k} skipped: ${s.skipped}` : s.summary && s.summary.rounds_ok ? null : `${k} failed`);
    row.reason = why(sa, t.a) || (t.b ? why(sb, t.b) : null);
    if (row.reason) return row;
    if (t.kind === 'rps') {
      const r = rpsRatio(res, t.a, t.b);
      row.value = r && r.median_of_ratios;
      row.detail = r;
      if (row.value != null) row.status = row.value >= t.min ? 'MET' : 'MISSED';
    } else if (t.kind === 'cpu' || t.kind === 'arrived') {
      const r = (t.kind === 'cpu' ? cpuRatio : arrivedRatio)(res, t.a, t.b);
      row.value = r && r.median_of_ratios;
      row.detail = r;
      if (row.value != null) row.status = (t.kind === 'cpu' ? row.value <= t.max : row.value >= t.min) ? 'MET' : 'MISSED';
    } else if (t.kind === 'p50') {
      const r = p50Ratio(res, t.a, t.b);
      row.value = r && r.median_of_ratios;
      row.detail = r;
      if (row.value != null) row.status = row.value <= t.max ? 'MET' : 'MISSED';
    } else if (t.kind === 'p99abs') {
      const per = sa.runs.filter((r) => r.ok && r.loadgen.p99_us != null).map((r) => r.loadgen.p99_us / 1000);
      row.value = median(per);
      row.detail = { per_round_ms: per };
      if (row.value != null) row.status = row.value <= t.max ? 'MET' : 'MISSED';
    } else if (t.kind === 'rss') {
      const a = sa.summary.peak_rss_kib;
      const b = sb.summary.peak_rss_kib;
      row.value = a != null && b ? a / b : null;
      row.detail = { a_kib: a, b_kib: b };
      if (row.value != null) row.status = row.value <= t.max ? 'MET' : 'MISSED';
    }
    if (row.value == null) row.reason = 'no ratio (no matching rounds)';
    if (row.status === 'MISSED') row.missed_by = t.min != null ? t.min - row.value : row.value - t.max;
    return row;
  });
}

// ---------------------------------------------------------------------------
// reporting: console

function fmtInt(x) {
  return x == null ? '-' : Math.round(x).toLocaleString('en-US');
}
function fmt(x, digits) {
  return x == null ? '-' : x.toFixed(digits);
}
function need(t) {
  const unit = t.unit ? ` ${t.unit}` : '';
  return t.min != null ? `>= ${t.min.toFixed(2)}${unit}` : `<= ${t.max.toFixed(2)}${unit}`;
}

/** "missed by 0.42" for a MISSED target, '' otherwise. */
function missedBy(t) {
  return t.status === 'MISSED' && t.missed_by != null ? `missed by ${fmt(t.missed_by, 2)}` : '';
}

/** "issues 3 and 4", "issue 13", "issues 3, 4, 10 and 13": whose targets these are. */
function issuesText(targets) {
  const n = [...new Set(targets.flatMap((t) => (t.issue ? [t.issue] : [3, 4])))].sort((a, b) => a - b);
  return n.length === 1 ? `issue ${n[0]}` : `issues ${n.slice(0, -1).join(', ')} and ${n[n.length - 1]}`;
}

const KIND_TEXT = { rps: 'req/s ratio', p50: 'p50 ratio', rss: 'RSS ratio', cpu: 'CPU/request ratio', arrived: 'arrived ratio', p99abs: 'p99, ms' };

function printTable(w, res, opts) {
  const keys = Object.keys(res.servers);
  const labels = keys.map((k) => shortLabel(k, res));
  const width = Math.max(FAMILIES[w.family].driver === 'mixed' ? 14 : 10, ...labels.map((l) => l.length)) + 2;
  const first = 26;
  const lines = [];
  const row = (name, cells) => lines.push(name.padEnd(first) + cells.map((c) => String(c).padStart(width)).join(''));
  lines.push('');
  lines.push(`== ${w.name}: ${w.title} (${FAMILIES[w.family].cls}), ${inflightText(res)} (${opts.rounds} rounds x ${res.duration_s} s, warm-up ${opts.warmup} s)`);
  if (res.skipped) {
    lines.push(`skipped: ${res.skipped}`);
    out(lines.join('\n'));
    return;
  }
  row('', labels);
  const cell = (k, f) => {
    const s = res.servers[k];
    if (s.missing) return '—';
    if (s.skipped) return 'skipped';
    return f(s);
  };
  if (FAMILIES[w.family].driver === 'mixed') {
    printMixedRows(res, opts, row, cell, lines);
    out(lines.join('\n'));
    return;
  }
  const burst = res.family === 'udp-burst';
  const unit = burst ? 'msgs/s' : 'req/s'; // udp-burst: messages handled per second of burst
  for (let i = 0; i < opts.rounds; i++) {
    row(`round ${i + 1} ${unit}`, keys.map((k) => cell(k, (s) => {
      const r = s.runs[i];
      return !r ? '-' : r.ok ? fmtInt(r.loadgen.rps) : 'FAILED';
    })));
  }
  const S = (f) => keys.map((k) => cell(k, (s) => f(s.summary)));
  row(`median ${unit}`, S((x) => fmtInt(x.median_rps)));
  const ref = refServer(res);
  for (const rf of refsOf(res)) {
    if (!res.servers[rf] || !res.servers[rf].summary) continue;
    row(`ratio / ${shortLabel(rf, res)}`, keys.map((k) => cell(k, () => {
      const r = rpsRatio(res, k, rf);
      return r && r.median_of_ratios != null ? fmt(r.median_of_ratios, 2) : '-';
    })));
  }
  if (burst) {
    row('arrived (% of sent)', S((x) => (x.arrived_frac == null ? '-' : `${fmt(x.arrived_frac * 100, 1)}%`)));
    if (ref && res.servers[ref] && res.servers[ref].summary) {
      row(`arrived ratio / ${shortLabel(ref, res)}`, keys.map((k) => cell(k, () => {
        const r = arrivedRatio(res, k, ref);
        return r && r.median_of_ratios != null ? fmt(r.median_of_ratios, 2) : '-';
      })));
    }
  }
  if (!FAMILIES[w.family].proto || Object.values(res.servers).some((s) => s.summary && s.summary.p50_us != null)) {
    row('p50 latency (us)', S((x) => fmt(x.p50_us, 0)));
    row('p99 latency (us)', S((x) => fmt(x.p99_us, 0)));
  }
  if (Object.values(res.servers).some((s) => s.summary && s.summary.avg_us != null && s.summary.p50_us == null)) {
    row('average latency (us)', S((x) => fmt(x.avg_us, 0)));
  }
  row(`server CPU (us/${burst ? 'message' : 'request'})`, S((x) => fmt(x.cpu_us_per_request, 1)));
  for (const rf of refsOf(res)) {
    if (!res.servers[rf] || !res.servers[rf].summary) continue;
    row(`CPU ratio / ${shortLabel(rf, res)}`, keys.map((k) => cell(k, () => {
      const r = cpuRatio(res, k, rf);
      return r && r.median_of_ratios != null ? fmt(r.median_of_ratios, 2) : '-';
    })));
  }
  row('server CPU (cores)', S((x) => fmt(x.cpu_util, 2)));
  row('server peak RSS (MiB)', S((x) => (x.peak_rss_kib == null ? '-' : fmt(x.peak_rss_kib / 1024, 1))));
  if (res.rss_per_worker_kib) row('RSS per worker (MiB)', keys.map((k) => (res.rss_per_worker_kib[k] == null ? '' : fmt(res.rss_per_worker_kib[k] / 1024, 1))));
  row('loadgen CPU (cores)', S((x) => fmt(x.loadgen_cpu_util, 2)));
  row('other processes CPU (max)', S((x) => fmt(x.other_cpu_util_max, 2)));
  row('errors / mismatches', S((x) => `${x.errors} / ${x.mismatches}`));
  for (const k of keys) {
    const st = res.servers[k].summary && res.servers[k].summary.server_stats;
    if (st) lines.push(`${res.servers[k].label} fork cost (medians, us): ${forkStatsText(st)}`);
  }
  const curve = workerCurve(res);
  if (curve) lines.push(`workerThreads curve (req/s, x workerThreads 0): ${curve}`);
  for (const n of workerNotes(res)) lines.push(`note: ${n}`);
  out(lines.join('\n'));
}

/** The rows of a mixed workload: the light requests' latencies, the heavy ones' rate. */
function printMixedRows(res, opts, row, cell, lines) {
  const keys = Object.keys(res.servers);
  const ms = (us) => (us == null ? '-' : fmt(us / 1000, us < 10000 ? 2 : 1));
  for (let i = 0; i < opts.rounds; i++) {
    row(`round ${i + 1} light p50/p99 ms`, keys.map((k) => cell(k, (s) => {
      const r = s.runs[i];
      return !r ? '-' : r.ok ? `${ms(r.loadgen.p50_us)} / ${ms(r.loadgen.p99_us)}` : 'FAILED';
    })));
  }
  const S = (f) => keys.map((k) => cell(k, (s) => (s.summary && s.summary.rounds_ok ? f(s.summary) : 'FAILED')));
  row('light p50 (ms)', S((x) => ms(x.p50_us)));
  row('light p99 (ms)', S((x) => ms(x.p99_us)));
  row('light max (ms)', S((x) => ms(x.light.max_us)));
  row('light replies / sent', S((x) => `${x.light.ok} / ${x.light.sent}`));
  row('heavy req/s', S((x) => fmt(x.heavy.rps, 2)));
  row('heavy p50 (ms)', S((x) => ms(x.heavy.p50_us)));
  row('server CPU (cores)', S((x) => fmt(x.cpu_util, 2)));
  row('server peak RSS (MiB)', S((x) => (x.peak_rss_kib == null ? '-' : fmt(x.peak_rss_kib / 1024, 1))));
  row('client CPU (cores)', S((x) => fmt(x.loadgen_cpu_util, 2)));
  row('other processes CPU (max)', S((x) => fmt(x.other_cpu_util_max, 2)));
  row('errors / mismatches', S((x) => `${x.errors} / ${x.mismatches}`));
  for (const n of workerNotes(res)) lines.push(`note: ${n}`);
}

/** (peak RSS with n workers - with 0) / n, per workers-n server of a worker-thread workload, in KiB. */
function rssPerWorker(res) {
  const base = res.servers.native && res.servers.native.summary && res.servers.native.summary.peak_rss_kib;
  if (!base) return null;
  const out = {};
  for (const n of WORKER_COUNTS) {
    const s = res.servers[`workers-${n}`];
    const v = s && s.summary && s.summary.peak_rss_kib;
    if (v != null) out[`workers-${n}`] = (v - base) / n;
  }
  return Object.keys(out).length ? out : null;
}

/** "0: 1,000  1: 1,010 (1.01x)  2: 1,900 (1.90x)  4: ...": req/s by workerThreads (cpu). */
function workerCurve(res) {
  if (!FAMILIES[res.family].workers || FAMILIES[res.family].driver === 'mixed') return null;
  const present = WORKER_COUNTS.filter((n) => res.servers[`workers-${n}`] && res.servers[`workers-${n}`].summary);
  if (present.length < 2 || !res.servers.native || !res.servers.native.summary) return null;
  const parts = [`0: ${fmtInt(res.servers.native.summary.median_rps)}`];
  for (const n of present) {
    const r = rpsRatio(res, `workers-${n}`, 'native');
    parts.push(`${n}: ${fmtInt(res.servers[`workers-${n}`].summary.median_rps)}${r && r.median_of_ratios != null ? ` (${fmt(r.median_of_ratios, 2)}x)` : ''}`);
  }
  return parts.join('  ');
}

/** What the worker-thread workloads' numbers are (shown under their tables). */
function workerNotes(res) {
  const f = FAMILIES[res.family];
  if (!f.workers) return [];
  const n = [];
  if (f.work) {
    const cpuOf = (k) => res.servers[k] && res.servers[k].summary && res.servers[k].summary.cpu_us_per_request;
    const js = cpuOf('native') || cpuOf('net');
    const py = cpuOf('python');
    n.push(`work per request: ${fmtInt(f.work)} rounds of 32-bit FNV-1a over the line's bytes (bench/servers/work.js; plain JS, ~1 ms at ~1.7 ns a round), ` +
      'then the uppercase echo. CPython does the SAME rounds of the same hash in pure Python' +
      (js && py ? ` (server CPU per request here: ${fmt(py / 1000, 1)} ms, ${fmt(py / js, 0)}x the main-thread JS server's ${fmt(js / 1000, 2)} ms).` : '.'));
    n.push(`req/s: replies that arrived in the ${res.duration_s} s window after a warm-up on the same connections (loadgen window_rps); ` +
      'p50/p99: requests started and finished in the window (for CPython, whose requests take seconds, a biased sample).');
  }
  if (f.heavy) {
    n.push(`heavy request: "heavy <seq>", ${fmtInt(HEAVY_ROUNDS_JS)} rounds of the same hash in JS (~${HEAVY_MS} ms), ` +
      `${fmtInt(HEAVY_ROUNDS_PY)} rounds in CPython (its own ~${HEAVY_MS} ms, not the JS rounds); light request: "light <seq>", no work, ` +
      `on a new connection every ${MIXED_INTERVAL_MS} ms (bench/mixed-client.js); latency from connect to the whole reply. req/s in the JSON: the heavy requests'.`);
  }
  if (res.rss_per_worker_kib) {
    n.push(`RSS per worker: (peak RSS with workerThreads n - with 0) / n: ${Object.entries(res.rss_per_worker_kib).map(([k, v]) => `${k} ${fmt(v / 1024, 1)} MiB`).join(', ')}`);
  }
  return n;
}

/** The servers a workload's ratios are shown against. */
function refsOf(res) {
  return FAMILIES[res.family].refs || [refServer(res)];
}

/** A server's short name in a workload: native, js, node:net or node:dgram, CPython, C epoll, workers N. */
function shortLabel(k, res) {
  if (k === 'native' && FAMILIES[res.family].workers) return 'workers 0';
  return k === 'net' ? (res.mode === 'dgram' ? 'node:dgram' : 'node:net') : SHORT[k] || k;
}

/** The server each workload's ratios are shown against: node:net/dgram, CPython for forking. */
function refServer(res) {
  return res.family === 'fork-tcp-conn' ? 'python' : 'net';
}

function forkStatsText(st) {
  const parts = [`park ${fmt(st.parkUs, 0)}`, `sweep ${fmt(st.sweepUs, 0)}`, `fork ${fmt(st.forkUs, 0)}`];
  if (st.childStartUs != null) parts.push(`child start ${fmt(st.childStartUs, 0)}`);
  return parts.join(', ');
}

// ---------------------------------------------------------------------------
// reporting: Markdown

function mdTable(header, align, rows) {
  const lines = [`| ${header.join(' | ')} |`, `|${align.map((a) => (a === 'r' ? '--:' : '---')).join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

/** The Markdown report; `svgName`: the image beside it (latest.svg, or the --out name's). */
function renderMarkdown(report, svgName = 'latest.svg') {
  const { env, options } = report;
  const L = [];
  L.push('# Benchmark results');
  L.push('');
  L.push(
    `${report.date} · node ${env.node} · Python ${env.python || '—'} · ${env.cpu_model} (${env.cpus} cores) · Linux ${env.kernel}` +
      (env.git_commit ? ` · commit ${env.git_commit.slice(0, 10)}` : ''),
  );
  L.push('');
  L.push(
    `${options.rounds} round${options.rounds > 1 ? 's' : ''} (interleaved) × ${options.duration_s} s ` +
      `(1-client workloads ${options.latency_duration_s} s), warm-up ${options.warmup_s} s; medians over rounds; ` +
      `ratios are medians of per-round ratios. Run took ${fmtDuration(report.elapsed_s)}. ` +
      'Uppercase-echo protocol of the Python docs; every reply verified by `bench/loadgen`.' +
      (report.workloads.some((r) => FAMILIES[r.family].proto)
        ? ' Protocol workloads (issue 13): HTTP, RESP, DNS and syslog servers driven by wrk, redis-benchmark, dnsperf and logger; ' +
          'each run first checks one exchange byte for byte.'
        : '') +
      (report.workloads.some((r) => FAMILIES[r.family].workers)
        ? ' Worker-thread workloads (issue 10): the native ThreadingTCPServer with workerThreads 0, 1, 2, 4 (the cpu and echo ones verified by ' +
          '`bench/loadgen`, mixed by `bench/mixed-client.js`); see each table\'s notes for the work.'
        : ''),
  );
  L.push('');
  L.push(`![req/s per workload and server](${svgName})`);
  L.push('');
  const shownTargets = report.targets.filter((t) => t.reason !== 'workload not run');
  if (shownTargets.length) L.push(`## Targets (${issuesText(shownTargets)})`, '', mdTable(['target', 'measured', 'needed', 'result'], ['l', 'r', 'r', 'l'], shownTargets.map((t) => [
    `${t.text} (${KIND_TEXT[t.kind]})`,
    t.value == null ? '—' : fmt(t.value, 2),
    need(t).replace('>=', '≥').replace('<=', '≤'),
    t.status === 'n/a' ? `n/a (${t.reason})` : `**${t.status}**${missedBy(t) ? ` (${missedBy(t)})` : ''}`,
  ])));
  L.push('');
  for (const res of report.workloads) {
    const proto = !!FAMILIES[res.family].proto;
    L.push(`## ${res.name}: ${res.title}, ${inflightText(res)}${proto || FAMILIES[res.family].inflight ? '' : ' in flight'}`);
    L.push('');
    if (res.skipped) {
      L.push(`Skipped: ${res.skipped}.`, '');
      continue;
    }
    const refs = refsOf(res);
    const ref = refs[0];
    const hasRef = (rf) => res.servers[rf] && !res.servers[rf].missing && !res.servers[rf].skipped;
    const refLabel = shortLabel(ref, res);
    const burst = res.family === 'udp-burst';
    const mixed = FAMILIES[res.family].driver === 'mixed';
    const vs = (f, k, rf = ref) => {
      if (!hasRef(rf)) return '—';
      const q = f(res, k, rf);
      return q && q.median_of_ratios != null ? fmt(q.median_of_ratios, 2) : '—';
    };
    const withErrors = (x, text) => text + (x.mismatches ? ` (${x.mismatches} MISMATCHES)` : x.errors ? ` (${x.errors} errors)` : '');
    const ms = (us) => (us == null ? '—' : fmt(us / 1000, us < 10000 ? 2 : 1));
    // columns: [header, align, value(summary, key)]
    const cols = mixed
      ? [
        ['light p50 ms', 'r', (x) => withErrors(x, ms(x.p50_us))],
        ['light p99 ms', 'r', (x) => ms(x.p99_us)],
        ['light max ms', 'r', (x) => ms(x.light.max_us)],
        ['light replies / sent', 'r', (x) => `${x.light.ok} / ${x.light.sent}`],
        ['heavy req/s', 'r', (x) => fmt(x.heavy.rps, 2)],
        ['heavy p50 ms', 'r', (x) => ms(x.heavy.p50_us)],
        ['server CPU cores', 'r', (x) => fmt(x.cpu_util, 2)],
      ]
      : [
        [burst ? 'msgs/s in bursts' : 'req/s', 'r', (x) => withErrors(x, fmtInt(x.median_rps))],
        ...refs.map((rf) => [`vs ${shortLabel(rf, res)}`, 'r', (x, k) => vs(rpsRatio, k, rf)]),
      ];
    if (mixed) {
      // (no req/s ratios: the light requests' latency is the measure)
    } else if (burst) {
      cols.push(['arrived', 'r', (x) => (x.arrived_frac == null ? '—' : `${fmt(x.arrived_frac * 100, 1)}% (${fmtInt(x.arrived)} of ${fmtInt(x.sent)})`)]);
      cols.push([`arrived vs ${refLabel}`, 'r', (x, k) => vs(arrivedRatio, k)]);
    } else {
      cols.push(['p50 µs', 'r', (x) => fmt(x.p50_us, 0)], ['p99 µs', 'r', (x) => fmt(x.p99_us, 0)]);
    }
    if (!mixed) {
      cols.push([`CPU µs/${burst ? 'msg' : 'req'}`, 'r', (x) => fmt(x.cpu_us_per_request, 1)]);
      cols.push([`CPU vs ${refLabel}`, 'r', (x, k) => vs(cpuRatio, k)]);
    }
    cols.push(['peak RSS MiB', 'r', (x) => (x.peak_rss_kib == null ? '—' : fmt(x.peak_rss_kib / 1024, 1))]);
    if (res.rss_per_worker_kib) cols.push(['RSS per worker MiB', 'r', (x, k) => (res.rss_per_worker_kib[k] == null ? '' : fmt(res.rss_per_worker_kib[k] / 1024, 1))]);
    const rows = [];
    for (const [k, s] of Object.entries(res.servers)) {
      if (s.missing) {
        rows.push([s.label, `— (${s.missing})`, ...cols.slice(1).map(() => '—')]);
        continue;
      }
      if (s.skipped) {
        rows.push([s.label, `skipped: ${s.skipped}`, ...cols.slice(1).map(() => '')]);
        continue;
      }
      const x = s.summary;
      if (!x || !x.rounds_ok) {
        rows.push([s.label, 'FAILED', ...cols.slice(1).map(() => '')]);
        continue;
      }
      rows.push([s.label, ...cols.map((c) => c[2](x, k))]);
    }
    L.push(mdTable(['server', ...cols.map((c) => c[0])], ['l', ...cols.map((c) => c[1])], rows));
    const noise = Math.max(0, ...Object.values(res.servers).map((s) => (s.summary && s.summary.other_cpu_util_max) || 0));
    const notes = [];
    if (noise > 0.2) notes.push(`other processes used up to ${noise.toFixed(2)} cores during these runs: numbers disturbed`);
    for (const s of Object.values(res.servers)) {
      const st = s.summary && s.summary.server_stats;
      if (st) {
        notes.push(
          `${s.label} fork cost, medians of \`transport.processes.stats()\` after each fork: park ${fmt(st.parkUs, 0)} µs, ` +
            `MADV_DOFORK sweep ${fmt(st.sweepUs, 0)} µs, fork() ${fmt(st.forkUs, 0)} µs` +
            (st.childStartUs != null ? `; child start (processRequest() entry in the parent → handler start in the child) ${fmt(st.childStartUs, 0)} µs` : ''),
        );
      }
    }
    if (res.family === 'fork-tcp-conn') notes.push('server CPU includes reaped children (cutime + cstime); peak RSS is the parent’s.');
    const avg = Object.values(res.servers).filter((s) => s.summary && s.summary.avg_us != null && s.summary.p50_us == null);
    if (avg.length) notes.push(`dnsperf reports no percentiles; average latency (µs): ${avg.map((s) => `${s.label} ${fmt(s.summary.avg_us, 0)}`).join(', ')}`);
    if (burst) notes.push(`each logger call sends ${BURST_MESSAGES} datagrams; the runner waits for the server to drain before the next call. msgs/s: messages handled per second from logger's start to the last message handled; CPU per message handled.`);
    if (FAMILIES[res.family].client === 'wrk') notes.push('wrk runs whole seconds (the duration rounded, at least 1 s).');
    const curve = workerCurve(res);
    if (curve) notes.push(`workerThreads curve (req/s, × workerThreads 0): ${curve}`);
    notes.push(...workerNotes(res));
    if (FAMILIES[res.family].client === 'redis-benchmark') notes.push('redis-benchmark runs a request count: the warm-up measures the rate, and the measured call asks for rate × duration requests.');
    if (notes.length) {
      L.push('');
      for (const n of notes) L.push(`- ${n}`);
    }
    L.push('');
  }
  if (report.fork_stress) {
    L.push('## Fork stress (`bench/fork-stress.js`)');
    L.push('');
    L.push('```');
    L.push(JSON.stringify(report.fork_stress.result || report.fork_stress));
    L.push('```');
    L.push('');
  }
  if (report.problems.length || report.warnings.length) {
    L.push('## Problems and warnings');
    L.push('');
    for (const p of report.problems) L.push(`- FAIL: ${p.replace(/\n/g, ' ')}`);
    for (const w of report.warnings) L.push(`- warning: ${w.replace(/\n/g, ' ')}`);
    L.push('');
  }
  return L.join('\n');
}

// ---------------------------------------------------------------------------
// reporting: SVG (small multiples: one panel per workload family and client
// count, one bar per server, each panel with its own req/s axis)

const COLORS = { native: '#1f77b4', loop: '#9467bd', js: '#17becf', net: '#ff7f0e', python: '#2ca02c', c: '#7f7f7f', 'workers-1': '#aec7e8', 'workers-2': '#6baed6', 'workers-4': '#08519c' };
const SHORT = { native: 'native', loop: 'native, loop', js: 'js', python: 'CPython', c: 'C epoll', 'workers-1': 'workers 1', 'workers-2': 'workers 2', 'workers-4': 'workers 4' };
const LEGEND = {
  native: 'native (this package)', loop: 'native, serveThread: false', js: 'js transport', net: 'node:net / node:dgram', python: 'CPython socketserver', c: 'C epoll (ceiling)',
  'workers-1': 'workerThreads 1', 'workers-2': 'workerThreads 2', 'workers-4': 'workerThreads 4',
};

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceStep(max, ticks) {
  const raw = max / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function shortNum(x) {
  if (x >= 1e6) return `${+(x / 1e6).toFixed(1)}M`;
  if (x >= 1e3) return `${+(x / 1e3).toFixed(x >= 1e4 ? 0 : 1)}k`;
  return String(Math.round(x));
}

function renderSvg(report) {
  // (the mixed workloads measure latency beside heavy requests, not req/s: not drawn)
  report = { ...report, workloads: report.workloads.filter((r) => FAMILIES[r.family].driver !== 'mixed') };
  const fams = [...new Set(report.workloads.map((r) => r.family))];
  // the 1-client (latency) workloads go in a second column
  const one = (r) => r.clients === 1 && !FAMILIES[r.family].proto;
  const cols = [32, 1].filter((c) => report.workloads.some((r) => (c === 1 ? one(r) : !one(r))));
  const serverKeys = [...ALL_1, ...WORKER_KEYS].filter((k) => report.workloads.some((r) => r.servers[k]));
  const W = cols.length > 1 ? 980 : 520;
  const panelW = (W - 20) / cols.length;
  const labelW = 80;
  const barH = 13;
  const gap = 4;
  const top = 70;
  const maxBars = Math.max(1, ...report.workloads.map((r) => Object.keys(r.servers).length));
  const panelH = 24 + maxBars * (barH + gap) + 26;
  const H = top + fams.length * panelH + 10;
  const S = [];
  S.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="11">`);
  S.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  S.push(`<text x="10" y="20" font-size="15" font-weight="bold">socketserver benchmarks: requests per second (higher is better)</text>`);
  S.push(`<text x="10" y="36" fill="#555">${esc(`${report.date.slice(0, 10)}, node ${report.env.node}, ${report.env.cpu_model} (${report.env.cpus} cores); median of ${report.options.rounds} round(s); each panel has its own scale`)}</text>`);
  let lx = 10;
  for (const k of serverKeys) {
    S.push(`<rect x="${lx}" y="46" width="12" height="12" fill="${COLORS[k]}"/>`);
    S.push(`<text x="${lx + 16}" y="56">${esc(LEGEND[k])}</text>`);
    lx += 22 + LEGEND[k].length * 6.2;
  }
  fams.forEach((fam, fi) => {
    cols.forEach((c, ci) => {
      const res = report.workloads.find((r) => r.family === fam && (c === 1 ? one(r) : !one(r)));
      const x0 = 10 + ci * panelW;
      const y0 = top + fi * panelH;
      if (!res) return;
      const cls = FAMILIES[fam].cls;
      S.push(`<text x="${x0}" y="${y0 + 14}"><tspan font-weight="bold">${esc(`${res.title}, ${inflightText(res)}`)}</tspan><tspan fill="#555" dx="6">(${esc(cls)})</tspan></text>`);
      const entries = Object.entries(res.servers);
      const vals = entries.map(([, s]) => (s.summary && s.summary.rounds_ok ? s.summary.median_rps : null));
      const max = Math.max(1, ...vals.filter((v) => v != null));
      const step = niceStep(max, 4);
      const axisMax = Math.ceil(max / step) * step;
      const plotX = x0 + labelW;
      const plotW = panelW - labelW - 60;
      const scale = (v) => (v / axisMax) * plotW;
      const yb = y0 + 22;
      const plotBottom = yb + entries.length * (barH + gap);
      for (let t = 0; t <= axisMax + 1e-9; t += step) {
        const tx = plotX + scale(t);
        S.push(`<line x1="${tx.toFixed(1)}" y1="${yb - 2}" x2="${tx.toFixed(1)}" y2="${plotBottom}" stroke="#e3e3e3"/>`);
        S.push(`<text x="${tx.toFixed(1)}" y="${plotBottom + 12}" text-anchor="middle" fill="#555" font-size="10">${shortNum(t)}</text>`);
      }
      S.push(`<line x1="${plotX}" y1="${yb - 2}" x2="${plotX}" y2="${plotBottom}" stroke="#333"/>`);
      S.push(`<text x="${plotX + plotW}" y="${plotBottom + 24}" text-anchor="end" fill="#555" font-size="10">req/s</text>`);
      entries.forEach(([k, s], i) => {
        const y = yb + i * (barH + gap);
        const short = shortLabel(k, res);
        S.push(`<text x="${plotX - 6}" y="${y + barH - 3}" text-anchor="end">${esc(short)}</text>`);
        const v = vals[i];
        if (v == null) {
          const why = s.missing ? `— (${s.missing})` : s.skipped ? `skipped (${s.skipped})` : 'failed';
          S.push(`<text x="${plotX + 4}" y="${y + barH - 3}" fill="#888">${esc(why)}</text>`);
          return;
        }
        const bw = Math.max(1, scale(v));
        S.push(`<rect x="${plotX}" y="${y}" width="${bw.toFixed(1)}" height="${barH}" fill="${COLORS[k] || '#999'}"><title>${esc(`${s.label}: ${fmtInt(v)} req/s`)}</title></rect>`);
        S.push(`<text x="${(plotX + bw + 4).toFixed(1)}" y="${y + barH - 3}" fill="#222">${esc(fmtInt(v))}</text>`);
      });
    });
  });
  S.push('</svg>');
  return S.join('\n') + '\n';
}

// ---------------------------------------------------------------------------
// fork stress (optional step)

async function runForkStress(n) {
  const deadline = Math.max(60, Math.ceil(n / 5)); // seconds for the clients
  const args = [path.join(ROOT, 'bench', 'fork-stress.js'), '--forks', String(n), '--deadline', String(deadline)];
  const child = track(spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true }), true);
  let stdout = '';
  const err = new Tail();
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => err.push(c));
  const timer = setTimeout(() => killChild(child), (deadline + 120) * 1000);
  const { code, signal, error } = await child.exited;
  clearTimeout(timer);
  try {
    process.kill(-child.pid, 'SIGKILL'); // its client process and any straggler
  } catch {}
  groups.delete(child.pid);
  const rec = { command: `node bench/fork-stress.js --forks ${n} --deadline ${deadline}`, code, signal, stderr_tail: err.buf.slice(-1000) || undefined };
  if (error) rec.error = error.message;
  try {
    rec.result = JSON.parse(stdout.trim().split('\n').pop());
  } catch {
    rec.error = rec.error || `no JSON output: ${JSON.stringify(stdout.slice(-300))}`;
  }
  rec.ok = code === 0 && !!rec.result;
  return rec;
}

// ---------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.platform !== 'linux') usage('Linux only (/proc, epoll)');
  ensureBinary('loadgen');
  const useC = !opts.servers || opts.servers.includes('c');
  if (useC) ensureBinary('c-epoll');

  const workloads = WORKLOADS.filter((w) => (opts.only ? opts.only.has(w.name) : true));
  const problems = [];
  const warnings = [];
  const notes = [];
  const results = [];
  const t0 = Date.now();

  // The protocol workloads' clients (wrk, ...): installed now if missing, or
  // their workloads are skipped.
  const serversOf = (w) => w.servers.filter((k) => !opts.servers || opts.servers.includes(k));
  const clientNames = [...new Set(workloads.filter((w) => w.client && serversOf(w).length).map((w) => w.client))];
  const clientSkip = ensureClients(clientNames, opts);
  for (const [n, why] of Object.entries(clientSkip)) {
    notes.push(`${workloads.filter((w) => w.client === n).map((w) => w.name).join(', ')}: skipped: ${why}`);
  }

  // Plan: which server runs which workload; skipped and missing cells.
  const plans = [];
  const checked = {};
  for (const w of workloads) {
    const keys = serversOf(w);
    if (!keys.length) continue;
    const res = {
      name: w.name, title: w.title, family: w.family, transport: w.transport, mode: w.mode,
      clients: clientsOf(w, opts), duration_s: durationOf(w, opts), baseline: w.baseline || null, servers: {}, ratios: {},
    };
    if (w.client) res.client = w.client;
    if (w.client && clientSkip[w.client]) res.skipped = clientSkip[w.client];
    const run = [];
    for (const k of keys) {
      const def = SERVERS[k];
      const s = (res.servers[k] = { label: def.label(w.family), runs: [] });
      if (res.skipped) {
        s.skipped = res.skipped;
        continue;
      }
      if (!def.args[w.family]) {
        s.missing = (def.missing && def.missing[w.family]) || `${def.name} has no ${w.family} server`;
        continue;
      }
      if (!(k in checked)) {
        checked[k] = def.check ? def.check() : null;
        if (checked[k] && checked[k].skip) notes.push(`${def.name}: skipped: ${checked[k].skip}`);
        const wmsg = !checked[k] && def.warn && def.warn();
        if (wmsg) warnings.push(`${def.name}: ${wmsg}`);
      }
      const c = checked[k];
      if (c && c.skip) {
        s.skipped = c.skip;
        continue;
      }
      if (c && c.fail) {
        s.error = c.fail;
        problems.push(`${w.name} / ${s.label}: ${c.fail}`);
        continue;
      }
      run.push(k);
    }
    plans.push({ w, res, run });
  }
  const totalRuns = plans.reduce((a, p) => a + p.run.length * opts.rounds, 0);
  const expected = plans.reduce((a, p) => a + p.run.length * opts.rounds * (RUN_OVERHEAD_S + opts.warmup + durationOf(p.w, opts)), 0);
  for (const n of notes) progress.log(`bench: ${n}`);
  progress.log(`bench: ${plans.length} workloads, ${totalRuns} runs, about ${fmtDuration(expected)} (m:ss)${opts.forkStress ? ' + fork stress' : ''}`);
  progress.begin(totalRuns + (opts.forkStress > 0 ? 1 : 0), expected + opts.forkStress / 100);

  for (const { w, res, run } of plans) {
    for (let round = 1; round <= opts.rounds; round++) {
      for (const k of [...run]) {
        const label = `${w.name} round ${round}/${opts.rounds}: ${res.servers[k].label}`;
        progress.start(label, RUN_OVERHEAD_S + opts.warmup + durationOf(w, opts));
        const rec = await runOne(w, k, round, opts);
        if (rec.unsupported) {
          // The server refuses this workload (e.g. ERR_SOCKETSERVER_UNSUPPORTED): a "—" cell.
          res.servers[k].missing = rec.unsupported;
          run.splice(run.indexOf(k), 1);
          progress.total -= opts.rounds - round;
          progress.end(`unsupported: ${rec.unsupported}`);
          continue;
        }
        res.servers[k].runs.push(rec);
        if (loadgenStderr.length) rec.loadgen_stderr = loadgenStderr.splice(0).join('\n');
        const diag = rec.loadgen_stderr ? `\n${rec.loadgen_stderr.replace(/^/gm, '    ')}` : '';
        const where = `${w.name} / ${res.servers[k].label} round ${round}`;
        if (!rec.ok) {
          progress.end(`FAILED${diag}`);
          if (progress.tty) progress.log(`bench: ${where}: FAILED: ${rec.error}${diag}`);
          problems.push(`${where}: ${rec.error}`);
          continue;
        }
        const l = rec.loadgen;
        const what = l.light
          ? `light p50 ${fmt(l.p50_us / 1000, 2)} ms, p99 ${fmt(l.p99_us / 1000, 2)} ms (${l.light.ok}/${l.light.sent}), heavy ${fmt(l.rps, 2)} req/s`
          : `${fmtInt(l.rps)} req/s, p50 ${fmt(l.p50_us, 0)} us, p99 ${fmt(l.p99_us, 0)} us`;
        progress.end(`${what}, errors ${l.errors}, mismatches ${rec.mismatches}${diag}`);
        if (rec.mismatches) {
          problems.push(`${where}: ${rec.mismatches} MISMATCHED replies`);
          if (progress.tty) progress.log(`bench: ${where}: ${rec.mismatches} MISMATCHED replies${diag}`);
        }
        if (l.errors || (rec.warmup && rec.warmup.errors))
          warnings.push(`${where}: ${l.errors} errors ${JSON.stringify(l.error_kinds)}${rec.warmup && rec.warmup.errors ? `, ${rec.warmup.errors} in warm-up` : ''}`);
        const ex = rec.server_exit;
        if (ex && (ex.code !== 0 || ex.killed)) warnings.push(`${where}: server did not exit cleanly on SIGTERM (${JSON.stringify(ex)})`);
        if (ex && ex.leftovers) warnings.push(`${where}: server left processes in its group (killed)`);
        if (rec.server_stderr_bytes)
          warnings.push(`${where}: server wrote ${rec.server_stderr_bytes} bytes to stderr, tail: ${JSON.stringify(rec.server_stderr_tail.slice(-300))}`);
      }
    }
    for (const [k, s] of Object.entries(res.servers)) if (s.runs.length) s.summary = summarize(s.runs);
    for (const ref of new Set(['net', 'c', 'python', ...(FAMILIES[res.family].refs || [])])) {
      if (!res.servers[ref] || !res.servers[ref].summary) continue;
      res.ratios[`vs_${ref}`] = {};
      for (const k of Object.keys(res.servers)) {
        if (k === ref || !res.servers[k].summary) continue;
        res.ratios[`vs_${ref}`][k] = { rps: rpsRatio(res, k, ref), p50: p50Ratio(res, k, ref), cpu: cpuRatio(res, k, ref) };
        if (res.family === 'udp-burst') res.ratios[`vs_${ref}`][k].arrived = arrivedRatio(res, k, ref);
      }
    }
    if (FAMILIES[res.family].workers) res.rss_per_worker_kib = rssPerWorker(res);
    results.push(res);
    printTable(w, res, opts);
  }

  let forkStress = null;
  if (opts.forkStress > 0) {
    if (!fs.existsSync(DIST_INDEX)) {
      problems.push(`fork stress: ${rel(DIST_INDEX)} not found`);
    } else {
      progress.start(`fork stress: ${opts.forkStress} forks`, opts.forkStress / 100);
      forkStress = await runForkStress(opts.forkStress);
      progress.end(forkStress.ok ? JSON.stringify(forkStress.result) : `FAILED ${forkStress.error || JSON.stringify(forkStress.result)}`);
      out(`\n== fork stress: ${JSON.stringify(forkStress.result || forkStress.error)}`);
      if (!forkStress.ok) problems.push(`fork stress failed: ${forkStress.error || JSON.stringify(forkStress.result)}`);
    }
  }
  progress.finish();

  const targets = evaluateTargets(results);
  const shown = targets.filter((t) => t.reason !== 'workload not run');
  const tl = ['', `== targets (${issuesText(shown)}), ratios measured in this run`];
  const tw = Math.max(0, ...shown.map((t) => t.text.length));
  for (const t of shown) {
    tl.push(`${t.status.padEnd(7)} ${t.text.padEnd(tw)}  ${t.value == null ? '   -' : fmt(t.value, 2).padStart(6)}  (${need(t)})${t.status === 'n/a' ? `  ${t.reason}` : missedBy(t) ? `  ${missedBy(t)}` : ''}`);
  }
  if (shown.length) out(tl.join('\n'));

  const commit = tryExec('git', ['-C', ROOT, 'rev-parse', 'HEAD']);
  const report = {
    date: new Date().toISOString(),
    ok: problems.length === 0,
    elapsed_s: (Date.now() - t0) / 1000,
    options: {
      rounds: opts.rounds, duration_s: opts.duration, latency_duration_s: +(opts.duration * LATENCY_DURATION_SCALE).toFixed(2),
      warmup_s: opts.warmup, clients: opts.clients, request_timeout_s: REQUEST_TIMEOUT_S,
      only: opts.only ? [...opts.only] : null, servers: opts.servers, fork_stress: opts.forkStress,
    },
    env: {
      node: process.version,
      python: pythonVersion(),
      cc: (tryExec('cc', ['--version']) || '').split('\n')[0] || null,
      kernel: os.release(),
      cpus: os.cpus().length,
      cpu_model: cpuModel(),
      loadavg: os.loadavg(),
      git_commit: commit,
    },
    targets,
    workloads: results,
    fork_stress: forkStress,
    problems,
    warnings,
  };
  const base = opts.out.replace(/\.json$/, '');
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  const write = (file, text) => {
    fs.writeFileSync(`${file}.tmp`, text);
    fs.renameSync(`${file}.tmp`, file);
  };
  write(opts.out, JSON.stringify(report, null, 2) + '\n');
  write(`${base}.md`, renderMarkdown(report, `${path.basename(base)}.svg`));
  write(`${base}.svg`, renderSvg(report));
  out(`\nresults: ${rel(opts.out)}, ${rel(base)}.md, ${rel(base)}.svg (${fmtDuration(report.elapsed_s)})`);
  for (const x of warnings) out(`WARNING: ${x}`);
  if (problems.length) {
    console.error('');
    for (const p of problems) console.error(`FAIL: ${p}`);
    process.exitCode = 1;
  }
  cleanupTmp();
}

main().catch((err) => {
  progress.finish();
  console.error(`bench: ${err.stack || err}`);
  killAllChildren();
  cleanupTmp();
  process.exit(1);
});
