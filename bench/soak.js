#!/usr/bin/env node
'use strict';
// Soak (issue 5, "Reliability"): one server process serving TCP
// (ThreadingTCPServer), UDP (ThreadingUDPServer) and a Unix stream socket
// (ThreadingUnixStreamServer) at once, and client worker processes mixing
// verified traffic with the faults a real server meets.
//
//   npm run soak -- --minutes N            (or --seconds N for short runs)
//                   [--transport native|js] [--workers 2] [--concurrency 12]
//                   [--progress S] [--out bench/results/soak] [--no-write]
//
// The handler (stream): for each line (readline(65536), so a huge line comes
// in 64 KiB pieces) it writes the line back with a-z upper-cased, until EOF;
// the datagram handler replies to each datagram likewise. Every reply is
// therefore exactly as long as its request and verifiable byte for byte.
//
// Client scenarios (each worker runs --concurrency loops of them, picked at
// random, until the deadline; every loop is bounded in count and time):
//   normal     TCP or Unix: 1-5 lines of printable text, each written in
//              1-3 pieces, each reply read and compared, then end() and the
//              server's EOF expected. Counted: requests / verified / LOST.
//   halfclose  TCP or Unix: lines written, end() at once (half-close); the
//              replies must still all arrive, then EOF.            (verified)
//   garbage    TCP or Unix: random bytes (binary, NULs, newlines), small or
//              a huge line (256 KiB - 2 MiB without a newline), then end();
//              the reply must be the same bytes upper-cased.       (verified)
//   udp        1-3 datagrams of random binary (1-1400 bytes), each reply
//              compared.                                           (verified)
//   udp-big    one datagram of 8 193-16 000 bytes: the server reads
//              maxPacketSize (8192) of it; the reply must be those 8192
//              bytes upper-cased.                                  (verified)
//   reset      TCP: SO_LINGER 0 close (socket.resetAndDestroy()) at a random
//              point: before sending, mid-line, after a line, mid-reply.
//              Unix stream (no RST there): destroy() with the reply unread.
//   leave      TCP or Unix: a request sent, then the client closes without
//              reading the reply.
//   udp-leave  a datagram sent, the client's socket closed at once.
// Datagrams carry a tag ('V'/'L' + 16 upper-case hex digits): a later client
// that gets the same ephemeral port may receive the late reply to a
// udp-leave client; it is counted as a stray reply and skipped (a stray
// reply to a verified client would be unexpected).
// A verified scenario without its exact reply is LOST (must be 0); the
// errors its client met are "unexpected". Errors met by the fault scenarios
// are "expected" and only counted. The server counts handleError() calls by
// error code: ECONNRESET, EPIPE and ECONNABORTED are expected (the faults
// cause them); any other is unexpected.
//
// The server's fds, threads and RSS (after GC) are measured after a warm-up
// ("start") and after the run ("end"), each once nothing is in flight.
//
// Exit status 0 when nothing was lost, no unexpected error happened (client
// or server side; the server writing anything to stderr counts as one) and the server's fds and threads are back to "start";
// 1 otherwise; 2 on usage errors. The last line of stdout is
// "SOAK_RESULT <json>".

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const dgram = require('node:dgram');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const MiB = 1024 * 1024;
const LINE_LIMIT = 65536;
const MAX_PACKET = 8192;
// As in bench/leaks.js: V8's young generation would otherwise grow RSS by up
// to ~30 MiB with nothing retained, and the start/end RSS would say little.
const SERVER_NODE_FLAGS = ['--max-semi-space-size=1'];
const EXPECTED_SERVER_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** a-z to A-Z; every other byte as it is (length-preserving). */
function asciiUpper(buf) {
  const out = Buffer.from(buf);
  for (let i = 0; i < out.length; i++) if (out[i] >= 0x61 && out[i] <= 0x7a) out[i] -= 0x20;
  return out;
}

function jsonLines(stream, onMessage) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (c) => {
    buf += c;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        process.stderr.write(`soak: stray output: ${line}\n`);
        continue;
      }
      onMessage(msg);
    }
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`timed out after ${ms} ms: ${what}`), { code: 'SOAK_TIMEOUT' })), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// ===========================================================================
// The server process: three servers, one process.

function serverMain(opt) {
  if (typeof global.gc !== 'function') {
    process.stderr.write('soak server: needs --expose-gc\n');
    process.exit(2);
  }
  const lib = require(opt.transport === 'js' ? '../dist/js.js' : '../dist/index.js');
  const stats = { handled: 0, errors: {}, unexpected: [] };

  class StreamHandler extends lib.StreamRequestHandler {
    static timeout = 60; // a client that stalls cannot hold a handler forever
    async handle() {
      for (let i = 0; i < 1e6; i++) {
        const line = await this.rfile.readline(LINE_LIMIT);
        if (line.length === 0) break;
        await this.wfile.write(asciiUpper(line));
      }
      stats.handled++;
    }
  }
  class DatagramHandler extends lib.BaseRequestHandler {
    async handle() {
      const [data, socket] = this.request;
      await socket.sendTo(asciiUpper(data), this.clientAddress);
      stats.handled++;
    }
  }
  const mix = (Base) =>
    class extends Base {
      static requestQueueSize = 256;
      static allowReuseAddress = true;
      handleError(request, address, error) {
        const code = (error && error.code) || (error && error.name) || 'unknown';
        stats.errors[code] = (stats.errors[code] || 0) + 1;
        if (!EXPECTED_SERVER_ERRORS.has(code) && stats.unexpected.length < 10)
          stats.unexpected.push(`${code}: ${(error && error.stack) || error}`);
      }
    };
  const sockPath = path.join(opt.dir, 'soak.sock');
  const servers = {
    tcp: new (mix(lib.ThreadingTCPServer))(['127.0.0.1', 0], StreamHandler),
    udp: new (mix(lib.ThreadingUDPServer))(['127.0.0.1', 0], DatagramHandler),
    unix: new (mix(lib.ThreadingUnixStreamServer))(sockPath, StreamHandler),
  };
  // Room for bursts of big datagrams: a datagram the kernel drops for want of
  // buffer is not the server's doing, and would count as lost.
  servers.udp.socket.setSockOpt(lib.constants.SOL_SOCKET, lib.constants.SO_RCVBUF, 4 * MiB);
  const loops = Object.values(servers).map((s) => s.serveForever(0.1));

  const busy = () => Object.values(servers).reduce((n, s) => n + s._threads.size, 0);
  const counts = () => ({ fds: fs.readdirSync('/proc/self/fd').length, threads: fs.readdirSync('/proc/self/task').length });
  const rss = () => Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
  const tick = (ms) => new Promise((r) => setTimeout(r, ms));
  const turn = () => new Promise((r) => setImmediate(r));

  async function measure(target) {
    // Bounded settle: nothing in flight, and the counts stable (or back to the target).
    const start = Date.now();
    let prev = null;
    let c = counts();
    for (let polls = 0; polls < 4000 && Date.now() - start < 15000; polls++) {
      c = counts();
      if (busy() === 0 && (target ? c.fds === target.fds && c.threads === target.threads : prev && c.fds === prev.fds && c.threads === prev.threads)) break;
      prev = c;
      await tick(5);
    }
    for (let i = 0; i < 4; i++) {
      global.gc();
      await turn();
    }
    const mem = process.memoryUsage();
    return { ...counts(), rss: rss(), heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, busy: busy(), settledInMs: Date.now() - start, ...stats };
  }

  const reply = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
  let queue = Promise.resolve();
  jsonLines(process.stdin, (cmd) => {
    queue = queue.then(async () => {
      if (cmd.cmd === 'peek') reply({ type: 'peek', ...counts(), rss: rss(), busy: busy(), handled: stats.handled });
      else if (cmd.cmd === 'measure') reply({ type: 'metrics', ...(await measure(cmd.target)) });
      else if (cmd.cmd === 'stop') {
        for (const s of Object.values(servers)) await s.shutdown();
        await Promise.all(loops);
        for (const s of Object.values(servers)) await s.serverClose();
        reply({ type: 'stopped', fds: counts().fds });
        process.exit(0);
      }
    });
  });
  process.stdin.on('end', () => process.exit(3)); // the driver went away
  reply({ type: 'ready', tcp: servers.tcp.serverAddress[1], udp: servers.udp.serverAddress[1], unix: sockPath });
}

// ===========================================================================
// A client worker process.

function newCounts() {
  return {
    requests: 0, // verified scenarios started
    verified: 0,
    lost: 0,
    lostDetail: [],
    scenarios: {},
    faults: { reset: 0, leave: 0, 'udp-leave': 0 },
    expectedErrors: {},
    unexpectedErrors: {},
    strayReplies: {},
    bytesSent: 0,
  };
}

function workerMain(opt) {
  const counts = newCounts();
  const deadline = Date.now() + opt.seconds * 1000;
  const tcp = { port: opt.tcp, host: '127.0.0.1' };
  const unix = { path: opt.unix };
  const rnd = (n) => Math.floor(Math.random() * n);
  const printable = (n) => {
    const b = crypto.randomBytes(n);
    for (let i = 0; i < n; i++) b[i] = 0x20 + (b[i] % 95);
    return b;
  };
  const note = (table, code) => (table[code || 'unknown'] = (table[code || 'unknown'] || 0) + 1);

  /** A connected stream socket with a byte reader. */
  function open(target) {
    return withTimeout(
      new Promise((resolve, reject) => {
        const s = net.connect(target);
        const st = { s, buf: Buffer.alloc(0), chunks: [], size: 0, ended: false, error: null, wake: null };
        s.on('data', (d) => {
          st.chunks.push(d);
          st.size += d.length;
          if (st.wake) st.wake();
        });
        s.on('end', () => {
          st.ended = true;
          if (st.wake) st.wake();
        });
        s.on('close', () => {
          st.ended = true;
          if (st.wake) st.wake();
        });
        s.on('error', (e) => {
          st.error = e;
          if (st.wake) st.wake();
        });
        s.once('connect', () => resolve(st));
        s.once('error', reject);
      }),
      10000,
      'connect',
    );
  }
  /** Waits until `n` bytes have arrived (or EOF / error); returns them. */
  async function readBytes(st, n, ms) {
    const end = Date.now() + ms;
    while (st.size < n && !st.ended && !st.error) {
      const left = end - Date.now();
      if (left <= 0) throw Object.assign(new Error(`read ${n} bytes: timed out with ${st.size}`), { code: 'SOAK_TIMEOUT' });
      await withTimeout(new Promise((r) => (st.wake = r)), left, 'read').finally(() => (st.wake = null));
    }
    if (st.error) throw st.error;
    const all = Buffer.concat(st.chunks);
    st.chunks = [all.subarray(n)];
    st.size = all.length - Math.min(n, all.length);
    return all.subarray(0, n);
  }
  async function readToEnd(st, ms) {
    const end = Date.now() + ms;
    while (!st.ended && !st.error) {
      const left = end - Date.now();
      if (left <= 0) throw Object.assign(new Error('read to EOF: timed out'), { code: 'SOAK_TIMEOUT' });
      await withTimeout(new Promise((r) => (st.wake = r)), left, 'EOF').finally(() => (st.wake = null));
    }
    if (st.error) throw st.error;
    const all = Buffer.concat(st.chunks);
    st.chunks = [];
    st.size = 0;
    return all;
  }
  async function writeAll(st, data) {
    counts.bytesSent += data.length;
    if (!st.s.write(data)) await withTimeout(new Promise((r) => st.s.once('drain', r)), 30000, 'drain');
  }

  // ---- verified scenarios: resolve, or throw (the request is lost)
  const scenarios = {
    async normal() {
      const st = await open(Math.random() < 0.5 ? tcp : unix);
      try {
        const lines = 1 + rnd(5);
        for (let i = 0; i < lines; i++) {
          const line = Buffer.concat([printable(1 + rnd(300)), Buffer.from('\n')]);
          let at = 0;
          for (let pieces = 1 + rnd(3); pieces > 0; pieces--) {
            const next = pieces === 1 ? line.length : at + rnd(line.length - at);
            await writeAll(st, line.subarray(at, next));
            at = next;
          }
          const got = await readBytes(st, line.length, 15000);
          if (!got.equals(asciiUpper(line))) throw Object.assign(new Error(`reply differs (line ${i}, ${line.length} bytes)`), { code: 'MISMATCH' });
        }
        st.s.end();
        const rest = await readToEnd(st, 15000);
        if (rest.length) throw Object.assign(new Error(`${rest.length} bytes after the last reply`), { code: 'MISMATCH' });
      } finally {
        st.s.destroy();
      }
    },
    async halfclose() {
      const st = await open(Math.random() < 0.5 ? tcp : unix);
      try {
        const lines = [];
        for (let i = 1 + rnd(4); i > 0; i--) lines.push(printable(1 + rnd(500)), Buffer.from('\n'));
        const req = Buffer.concat(lines);
        await writeAll(st, req);
        st.s.end();
        const got = await readToEnd(st, 15000);
        if (!got.equals(asciiUpper(req))) throw Object.assign(new Error(`reply differs after half-close (${got.length}/${req.length} bytes)`), { code: 'MISMATCH' });
      } finally {
        st.s.destroy();
      }
    },
    async garbage() {
      const st = await open(Math.random() < 0.5 ? tcp : unix);
      try {
        let req;
        if (Math.random() < 0.1) {
          // A huge line: no newline at all.
          req = crypto.randomBytes(256 * 1024 + rnd(1792 * 1024));
          for (let i = 0; i < req.length; i++) if (req[i] === 0x0a) req[i] = 0;
        } else {
          req = crypto.randomBytes(1 + rnd(4000)); // binary, NULs and newlines included
        }
        await writeAll(st, req);
        st.s.end();
        const got = await readToEnd(st, 60000);
        if (!got.equals(asciiUpper(req))) throw Object.assign(new Error(`garbage echo differs (${got.length}/${req.length} bytes)`), { code: 'MISMATCH' });
      } finally {
        st.s.destroy();
      }
    },
    async udp() {
      await udpExchange([...Array(1 + rnd(3))].map(() => tagged('V', crypto.randomBytes(1 + rnd(1400)))));
    },
    async 'udp-big'() {
      await udpExchange([tagged('V', crypto.randomBytes(MAX_PACKET + 1 + rnd(16000 - MAX_PACKET)))]);
    },
  };

  // Each datagram starts with a tag the upper-casing leaves alone ('V' or 'L',
  // 16 hex digits in upper case, ':'). A client's ephemeral port is soon used
  // again by a later client, which may then receive the reply meant for the
  // earlier one (a udp-leave client, gone before its reply): such a stray
  // reply is recognised by its tag and counted, not taken for this client's.
  // A stray 'V' reply would mean a verified client's reply went elsewhere.
  function tagged(kind, payload) {
    return Buffer.concat([Buffer.from(`${kind}${crypto.randomBytes(8).toString('hex').toUpperCase()}:`), payload]);
  }
  const TAG_LEN = 18;

  async function udpExchange(datagrams) {
    const sock = dgram.createSocket('udp4');
    const queue = [];
    let wake = null;
    sock.on('message', (m, r) => {
      if (r.port !== opt.udp) return;
      queue.push(m);
      if (wake) wake();
    });
    let error = null;
    sock.on('error', (e) => {
      error = e;
      if (wake) wake();
    });
    try {
      await withTimeout(new Promise((r) => sock.bind(0, '127.0.0.1', r)), 5000, 'udp bind');
      for (const d of datagrams) {
        counts.bytesSent += d.length;
        await new Promise((res, rej) => sock.send(d, opt.udp, '127.0.0.1', (e) => (e ? rej(e) : res())));
        const end = Date.now() + 10000;
        let got = null;
        for (let strays = 0; got === null && strays < 100; strays++) {
          while (!queue.length && !error) {
            const left = end - Date.now();
            if (left <= 0) throw Object.assign(new Error(`no UDP reply to a ${d.length}-byte datagram`), { code: 'SOAK_TIMEOUT' });
            await withTimeout(new Promise((r) => (wake = r)), left, 'udp reply').finally(() => (wake = null));
          }
          if (error) throw error;
          const m = queue.shift();
          if (m.subarray(0, TAG_LEN).equals(d.subarray(0, TAG_LEN))) {
            got = m;
            break;
          }
          // Not ours: a reply to an earlier socket on this port.
          const kind = m[0] === 0x4c ? 'udp-leave' : m[0] === 0x56 ? 'udp-verified' : 'untagged';
          counts.strayReplies[kind] = (counts.strayReplies[kind] || 0) + 1;
          if (kind !== 'udp-leave') note(counts.unexpectedErrors, `STRAY_${kind.toUpperCase()}_REPLY`);
        }
        if (got === null) throw Object.assign(new Error('100 stray UDP replies'), { code: 'STRAYS' });
        const expected = asciiUpper(d.subarray(0, MAX_PACKET));
        if (!got.equals(expected)) throw Object.assign(new Error(`UDP reply differs (${got.length}/${expected.length} bytes)`), { code: 'MISMATCH' });
      }
    } finally {
      sock.close();
    }
  }

  // ---- fault scenarios: errors are expected, only counted
  const faults = {
    async reset() {
      const useTcp = Math.random() < 0.7;
      const st = await open(useTcp ? tcp : unix);
      const line = Buffer.concat([printable(1 + rnd(2000)), Buffer.from('\n')]);
      const when = rnd(4); // 0 before sending, 1 mid-line, 2 after a line, 3 mid-reply
      if (when === 1) await writeAll(st, line.subarray(0, 1 + rnd(line.length - 1)));
      if (when >= 2) await writeAll(st, line);
      if (when === 3) await readBytes(st, 1 + rnd(line.length - 1), 15000).catch(() => {});
      if (useTcp) st.s.resetAndDestroy();
      else st.s.destroy();
      if (st.error) note(counts.expectedErrors, st.error.code);
    },
    async leave() {
      const st = await open(Math.random() < 0.5 ? tcp : unix);
      const req = Buffer.concat([printable(1 + rnd(64 * 1024)), Buffer.from('\n')]);
      st.s.write(req);
      counts.bytesSent += req.length;
      st.s.end();
      st.s.destroy();
      if (st.error) note(counts.expectedErrors, st.error.code);
    },
    async 'udp-leave'() {
      const sock = dgram.createSocket('udp4');
      sock.on('error', (e) => note(counts.expectedErrors, e.code));
      await withTimeout(new Promise((r) => sock.bind(0, '127.0.0.1', r)), 5000, 'udp bind');
      const d = tagged('L', crypto.randomBytes(1 + rnd(1400)));
      await new Promise((res) => sock.send(d, opt.udp, '127.0.0.1', () => res()));
      counts.bytesSent += d.length;
      sock.close();
    },
  };

  // Weights: mostly verified traffic, a steady share of faults.
  const MIX = [
    ['normal', 30], ['halfclose', 10], ['garbage', 8], ['udp', 20], ['udp-big', 4],
    ['reset', 10], ['leave', 8], ['udp-leave', 5],
  ];
  const totalWeight = MIX.reduce((n, [, w]) => n + w, 0);
  const pick = () => {
    let x = rnd(totalWeight);
    for (const [name, w] of MIX) if ((x -= w) < 0) return name;
    return MIX[0][0];
  };

  async function loop() {
    for (let k = 0; k < 10_000_000 && Date.now() < deadline; k++) {
      const name = pick();
      counts.scenarios[name] = (counts.scenarios[name] || 0) + 1;
      if (faults[name]) {
        counts.faults[name]++;
        try {
          await withTimeout(faults[name](), 30000, name);
        } catch (e) {
          note(counts.expectedErrors, e.code);
        }
        continue;
      }
      counts.requests++;
      try {
        await withTimeout(scenarios[name](), 90000, name);
        counts.verified++;
      } catch (e) {
        counts.lost++;
        note(counts.unexpectedErrors, e.code);
        if (counts.lostDetail.length < 10) counts.lostDetail.push(`${name}: ${e.code || ''} ${e.message}`);
      }
    }
  }

  const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
  const progress = setInterval(() => out({ type: 'progress', counts }), opt.progress * 1000);
  Promise.all(Array.from({ length: opt.concurrency }, loop)).then(
    () => {
      clearInterval(progress);
      out({ type: 'final', counts });
      process.exit(0);
    },
    (e) => {
      process.stderr.write(`soak worker: ${e.stack || e}\n`);
      process.exit(1);
    },
  );
}

// ===========================================================================
// The driver.

function usage(msg) {
  if (msg) process.stderr.write(`soak: ${msg}\n`);
  (msg ? process.stderr : process.stdout).write(
    'usage: node bench/soak.js (--minutes N | --seconds N) [--transport native|js] [--workers N]\n' +
      '                          [--concurrency N] [--progress S] [--out PATH_WITHOUT_EXT] [--no-write]\n',
  );
  process.exit(msg ? 2 : 0);
}

function parseArgs(argv) {
  const o = { seconds: 60, transport: 'native', workers: 2, concurrency: 12, progress: null, out: path.join(ROOT, 'bench', 'results', 'soak'), write: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') usage();
    if (a === '--no-write') {
      o.write = false;
      continue;
    }
    const v = argv[++i];
    if (v === undefined) usage(`missing value for ${a}`);
    const num = () => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) usage(`bad value for ${a}: ${v}`);
      return n;
    };
    if (a === '--minutes') o.seconds = num() * 60;
    else if (a === '--seconds') o.seconds = num();
    else if (a === '--transport') o.transport = v;
    else if (a === '--workers') o.workers = Math.floor(num());
    else if (a === '--concurrency') o.concurrency = Math.floor(num());
    else if (a === '--progress') o.progress = num();
    else if (a === '--out') o.out = path.resolve(v).replace(/\.(json|md)$/, '');
    else usage(`unknown option ${a}`);
  }
  if (!['native', 'js'].includes(o.transport)) usage(`unknown transport ${o.transport}`);
  if (o.seconds > 7 * 24 * 3600) usage('at most a week');
  if (o.progress === null) o.progress = o.seconds >= 60 ? 10 : 2;
  return o;
}

function udpKernelDrops() {
  try {
    const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
    const [head, vals] = lines.map((l) => l.trim().split(/\s+/));
    const i = head.indexOf('RcvbufErrors');
    return i > 0 ? Number(vals[i]) : null;
  } catch {
    return null;
  }
}

function merge(into, c) {
  for (const k of ['requests', 'verified', 'lost', 'bytesSent']) into[k] += c[k];
  into.lostDetail.push(...c.lostDetail.slice(0, 10 - into.lostDetail.length));
  for (const table of ['scenarios', 'faults', 'expectedErrors', 'unexpectedErrors', 'strayReplies'])
    for (const [k, v] of Object.entries(c[table])) into[table][k] = (into[table][k] || 0) + v;
  return into;
}

const fmtTime = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
const fmtTable = (o) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-soak-'));
  const started = Date.now();
  const children = new Set();
  const killAll = () => {
    for (const c of children) {
      try {
        c.kill('SIGKILL');
      } catch {}
    }
  };
  process.on('exit', () => {
    killAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

  // ---- the server
  const server = spawn(process.execPath, [...SERVER_NODE_FLAGS, '--expose-gc', __filename, '--server', '--transport', o.transport, '--dir', dir], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(server);
  let serverErr = '';
  server.stderr.on('data', (d) => {
    if (serverErr.length < 20000) serverErr += d;
  });
  const serverWaiters = [];
  jsonLines(server.stdout, (m) => {
    const w = serverWaiters.shift();
    if (w) w(m);
  });
  let serverExited = null;
  server.on('exit', (code, signal) => {
    serverExited = [code, signal];
    children.delete(server);
  });
  const serverNext = (ms, what) =>
    withTimeout(new Promise((r) => serverWaiters.push(r)), ms, `server ${what}${serverExited ? ` (exited ${serverExited}: ${serverErr})` : ''}`);
  const serverCall = (cmd, ms = 30000) => {
    const p = serverNext(ms, cmd.cmd);
    server.stdin.write(`${JSON.stringify(cmd)}\n`);
    return p;
  };
  const ready = await serverNext(15000, 'ready');

  // ---- worker runs
  function runWorkers(seconds, label, onProgress) {
    const perWorker = new Array(o.workers).fill(null).map(() => newCounts());
    const runs = perWorker.map((_, i) =>
      new Promise((resolve, reject) => {
        const w = spawn(process.execPath, [__filename, '--worker', '--tcp', String(ready.tcp), '--udp', String(ready.udp), '--unix', ready.unix,
          '--seconds', String(seconds), '--concurrency', String(o.concurrency), '--progress', String(o.progress / 2)], { stdio: ['ignore', 'pipe', 'pipe'] });
        children.add(w);
        let err = '';
        let final = null;
        w.stderr.on('data', (d) => {
          if (err.length < 10000) err += d;
        });
        jsonLines(w.stdout, (m) => {
          perWorker[i] = m.counts;
          if (m.type === 'final') final = m.counts;
          else onProgress(perWorker);
        });
        const timer = setTimeout(() => w.kill('SIGKILL'), (seconds + 180) * 1000);
        w.on('exit', (code, signal) => {
          clearTimeout(timer);
          children.delete(w);
          if (code === 0 && final) resolve(final);
          else reject(new Error(`${label} worker ${i} exited with ${code ?? signal}: ${err}`));
        });
      }),
    );
    return Promise.all(runs).then((finals) => finals.reduce(merge, newCounts()));
  }

  const warmSeconds = Math.min(5, Math.max(1, o.seconds * 0.1));
  process.stdout.write(`soak: ${o.transport} transport, ThreadingTCPServer 127.0.0.1:${ready.tcp}, ThreadingUDPServer 127.0.0.1:${ready.udp}, ` +
    `ThreadingUnixStreamServer ${ready.unix}; ${o.workers} workers × ${o.concurrency} clients; warm-up ${warmSeconds} s, then ${o.seconds} s\n`);
  const udpDrops0 = udpKernelDrops();
  const warm = await runWorkers(warmSeconds, 'warm-up', () => {});
  const startM = await serverCall({ cmd: 'measure' });
  process.stdout.write(`soak: warm-up ${warm.verified}/${warm.requests} verified, lost ${warm.lost}; server at start: fds ${startM.fds}, threads ${startM.threads}, ` +
    `RSS ${(startM.rss / MiB).toFixed(1)} MiB (after GC)\n`);

  const t0 = Date.now();
  let latest = [];
  let peeking = false;
  const ticker = setInterval(async () => {
    if (peeking) return;
    peeking = true;
    try {
      const tot = latest.reduce((acc, c) => merge(acc, c), newCounts());
      const p = await serverCall({ cmd: 'peek' }, 10000);
      process.stdout.write(
        `soak ${fmtTime((Date.now() - t0) / 1000)}/${fmtTime(o.seconds)}  requests ${tot.requests}  verified ${tot.verified}  LOST ${tot.lost}  ` +
          `faults ${sum(tot.faults)}  errors expected ${sum(tot.expectedErrors)} unexpected ${sum(tot.unexpectedErrors)}  ` +
          `server fds ${p.fds} threads ${p.threads} RSS ${(p.rss / MiB).toFixed(1)} MiB in-flight ${p.busy}\n`,
      );
    } catch {
      /* progress only */
    } finally {
      peeking = false;
    }
  }, o.progress * 1000);
  const main = await runWorkers(o.seconds, 'soak', (per) => (latest = per)).finally(() => clearInterval(ticker));
  const endM = await serverCall({ cmd: 'measure', target: { fds: startM.fds, threads: startM.threads } });
  const udpDrops1 = udpKernelDrops();
  const stopped = await serverCall({ cmd: 'stop' });
  await withTimeout(new Promise((r) => (serverExited ? r() : server.once('exit', r))), 10000, 'server exit');

  const total = merge(merge(newCounts(), warm), main);
  const serverUnexpected = Object.entries(endM.errors).filter(([k]) => !EXPECTED_SERVER_ERRORS.has(k));
  const problems = [];
  if (total.lost) problems.push(`${total.lost} LOST: ${total.lostDetail.join(' | ')}`);
  if (sum(total.unexpectedErrors)) problems.push(`unexpected client errors: ${fmtTable(total.unexpectedErrors)}`);
  if (serverUnexpected.length) problems.push(`unexpected server errors: ${serverUnexpected.map(([k, v]) => `${k} ${v}`).join(', ')}\n${endM.unexpected.join('\n')}`);
  if (endM.fds !== startM.fds) problems.push(`server fds ${startM.fds} -> ${endM.fds}`);
  if (endM.threads !== startM.threads) problems.push(`server threads ${startM.threads} -> ${endM.threads}`);
  if (serverExited && serverExited[0] !== 0) problems.push(`server exited with ${serverExited}`);
  // Errors that escape handleError() (a request task's, an unhandled rejection) are written to stderr.
  if (serverErr.trim()) problems.push(`the server wrote to stderr:\n${serverErr.trim().slice(0, 4000)}`);

  const result = {
    date: new Date().toISOString(),
    node: process.version,
    transport: o.transport,
    seconds: o.seconds,
    warmupSeconds: warmSeconds,
    workers: o.workers,
    concurrency: o.concurrency,
    elapsedSeconds: (Date.now() - started) / 1000,
    requests: total.requests,
    verified: total.verified,
    lost: total.lost,
    lostDetail: total.lostDetail,
    scenarios: total.scenarios,
    faults: total.faults,
    clientErrors: { expected: total.expectedErrors, unexpected: total.unexpectedErrors },
    strayUdpReplies: total.strayReplies,
    serverErrors: endM.errors,
    serverHandled: endM.handled,
    bytesSent: total.bytesSent,
    udpKernelDrops: udpDrops0 === null ? null : udpDrops1 - udpDrops0,
    server: {
      nodeFlags: SERVER_NODE_FLAGS,
      start: { fds: startM.fds, threads: startM.threads, rssMiB: +(startM.rss / MiB).toFixed(2), heapUsedMiB: +(startM.heapUsed / MiB).toFixed(2), heapTotalMiB: +(startM.heapTotal / MiB).toFixed(2) },
      end: { fds: endM.fds, threads: endM.threads, rssMiB: +(endM.rss / MiB).toFixed(2), heapUsedMiB: +(endM.heapUsed / MiB).toFixed(2), heapTotalMiB: +(endM.heapTotal / MiB).toFixed(2) },
      fdsAfterClose: stopped.fds,
    },
    problems,
    pass: problems.length === 0,
  };
  const s = result.server;
  const summary = [
    '',
    `soak ${result.pass ? 'PASS' : 'FAIL'}: ${o.transport} transport, ${o.seconds} s (+${warmSeconds} s warm-up), ${o.workers} workers × ${o.concurrency} clients`,
    `  requests sent (verified kinds) ${result.requests}, replies verified ${result.verified}, LOST ${result.lost}`,
    `  scenarios: ${fmtTable(result.scenarios)}`,
    `  faults injected: ${fmtTable(result.faults)}`,
    `  client errors, expected (fault scenarios): ${fmtTable(total.expectedErrors)}`,
    `  client errors, unexpected: ${fmtTable(total.unexpectedErrors)}`,
    `  stray UDP replies (a reply to an earlier client on a reused port; 'udp-leave' ones expected): ${fmtTable(total.strayReplies)}`,
    `  server handled ${result.serverHandled}; handleError by code: ${fmtTable(endM.errors)} (expected: ${[...EXPECTED_SERVER_ERRORS].join(', ')})`,
    `  bytes sent ${(result.bytesSent / MiB).toFixed(1)} MiB; UDP receive-buffer drops, system-wide (/proc/net/snmp RcvbufErrors: other processes count too) ${result.udpKernelDrops ?? 'n/a'}`,
    `  server fds ${s.start.fds} -> ${s.end.fds}, threads ${s.start.threads} -> ${s.end.threads}, RSS after GC ${s.start.rssMiB} -> ${s.end.rssMiB} MiB, ` +
      `heapUsed ${s.start.heapUsedMiB} -> ${s.end.heapUsedMiB} MiB, heapTotal ${s.start.heapTotalMiB} -> ${s.end.heapTotalMiB} MiB (server: ${SERVER_NODE_FLAGS.join(' ')})`,
    ...problems.map((p) => `  PROBLEM: ${p}`),
  ];
  process.stdout.write(`${summary.join('\n')}\n`);
  if (o.write) {
    fs.mkdirSync(path.dirname(o.out), { recursive: true });
    fs.writeFileSync(`${o.out}.json`, `${JSON.stringify(result, null, 2)}\n`);
    fs.writeFileSync(`${o.out}.md`, `# Soak (\`npm run soak\`)\n\n${result.date}, node ${result.node}.\n\n\`\`\`\n${summary.join('\n').trim()}\n\`\`\`\n`);
  }
  process.stdout.write(`SOAK_RESULT ${JSON.stringify(result)}\n`);
  process.exitCode = result.pass ? 0 : 1;
}

function parseRole(argv) {
  const opt = {};
  for (let i = 0; i < argv.length; i += 2) opt[argv[i].replace(/^--/, '')] = argv[i + 1];
  for (const k of ['tcp', 'udp', 'seconds', 'concurrency', 'progress']) if (k in opt) opt[k] = Number(opt[k]);
  return opt;
}

if (process.argv[2] === '--server') serverMain(parseRole(process.argv.slice(3)));
else if (process.argv[2] === '--worker') workerMain(parseRole(process.argv.slice(3)));
else
  main().catch((err) => {
    process.stderr.write(`soak: ${err.stack || err}\n`);
    process.exit(1);
  });
