'use strict';
// The package under test, running the Python docs' uppercase handlers.
//
//   node bench/servers/socketserver.js [--impl native|js] --class NAME --mode conn|keepalive|dgram
//                                      (--host H --port P | --unix PATH) [--fork-log FILE]
//                                      [--serve-thread 0]   (native: wait on the main loop)
//
// --impl native: require('../../dist/index.js') (the native transport);
//   js: require('../../dist/js.js') (the same API over node:net / node:dgram).
// --class: TCPServer, UDPServer, UnixStreamServer, UnixDatagramServer,
//   ThreadingTCPServer, ThreadingUnixStreamServer, ForkingTCPServer, ...
// --mode conn: StreamRequestHandler, line = await rfile.readline();
//   wfile.write(upper(trim(line))); the server then closes the connection.
// --mode keepalive: for await (const line of rfile) await wfile.write(upper(line)).
// --mode dgram: BaseRequestHandler, [data, socket] = request;
//   await socket.sendTo(upper(trim(data)), clientAddress).
// requestQueueSize 1024 (allowReuseAddress for TCP, as CPython's script).
//
// Forking classes: after each fork the parent samples
// transport.processes.stats(); with --fork-log FILE each child appends the
// time from just before the fork to its handler's start ("child start").
// On SIGTERM the server prints "STATS <json>" (medians) before exiting.
//
// Prints "UNSUPPORTED <why>" and exits 0 when the transport refuses the
// class (ERR_SOCKETSERVER_UNSUPPORTED).
// Prints exactly "READY <port or path>" once listening; on SIGTERM/SIGINT
// shuts down (shutdown() + serverClose()) and exits 0. No per-request logging.

const fs = require('node:fs');

function usage(msg) {
  process.stderr.write(`socketserver.js: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { impl: 'native', cls: 'TCPServer', mode: 'conn', host: '127.0.0.1', port: 0, unix: null, forkLog: null, serveThread: true };
  for (let i = 0; i < argv.length; i += 2) {
    const a = argv[i];
    const v = argv[i + 1];
    if (v === undefined) usage(`missing value for ${a}`);
    if (a === '--impl') o.impl = v;
    else if (a === '--class') o.cls = v;
    else if (a === '--mode') o.mode = v;
    else if (a === '--host') o.host = v;
    else if (a === '--port') o.port = Number(v);
    else if (a === '--unix') o.unix = v;
    else if (a === '--fork-log') o.forkLog = v;
    else if (a === '--serve-thread') o.serveThread = v !== '0' && v !== 'false';
    else usage(`unknown option ${a}`);
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) usage('bad --port');
  if (!['native', 'js'].includes(o.impl)) usage('bad --impl (native|js)');
  if (!['conn', 'keepalive', 'dgram'].includes(o.mode)) usage('bad --mode');
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const lib = require(opts.impl === 'js' ? '../../dist/js.js' : '../../dist/index.js');
const Base = lib[opts.cls];
if (typeof Base !== 'function' || !/Server$/.test(opts.cls)) usage(`unknown server class ${opts.cls}`);

const upperTrim = (buf) => Buffer.from(buf.toString('latin1').trim().toUpperCase(), 'latin1');
const upperLine = (buf) => Buffer.from(buf.toString('latin1').toUpperCase(), 'latin1');

const PARENT_PID = process.pid;
const forking = /^Forking/.test(opts.cls);
let forkLogFd = null;
if (forking && opts.forkLog) forkLogFd = fs.openSync(opts.forkLog, 'a');
const forkStats = { forks: 0, parkUs: [], sweepUs: [], forkUs: [], parkAttempts: [] };
const MAX_SAMPLES = 200000;

/** In a forked child: log the time since the parent started this fork. */
function logChildStart(server) {
  if (forkLogFd === null || process.pid === PARENT_PID || server.forkStartedAt === undefined) return;
  const us = Number(process.hrtime.bigint() - server.forkStartedAt) / 1000;
  try {
    fs.writeSync(forkLogFd, `${us.toFixed(1)}\n`);
  } catch {}
}

const { StreamRequestHandler, BaseRequestHandler } = lib;
const HANDLERS = {
  conn: class extends StreamRequestHandler {
    async handle() {
      logChildStart(this.server);
      const line = await this.rfile.readline();
      await this.wfile.write(upperTrim(line));
    }
  },
  keepalive: class extends StreamRequestHandler {
    async handle() {
      logChildStart(this.server);
      for await (const line of this.rfile) await this.wfile.write(upperLine(line));
    }
  },
  dgram: class extends BaseRequestHandler {
    async handle() {
      logChildStart(this.server);
      const [data, socket] = this.request;
      await socket.sendTo(upperTrim(data), this.clientAddress);
    }
  },
};

class Server extends Base {
  static requestQueueSize = 1024;
  static allowReuseAddress = true;

  async processRequest(request, address) {
    if (!forking) return super.processRequest(request, address);
    this.forkStartedAt = process.hrtime.bigint();
    await super.processRequest(request, address);
    // Only the parent gets here: a forked child ends inside processRequest.
    if (forkStats.forks++ < MAX_SAMPLES) {
      const s = this.transport.processes.stats();
      for (const k of ['parkUs', 'sweepUs', 'forkUs', 'parkAttempts']) forkStats[k].push(s[k]);
    }
  }
}

function median(xs) {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

function printStats() {
  const out = { forks: forkStats.forks };
  for (const k of ['parkUs', 'sweepUs', 'forkUs', 'parkAttempts']) out[k] = median(forkStats[k]);
  if (forkLogFd !== null) {
    const samples = fs.readFileSync(opts.forkLog, 'utf8').split('\n').filter(Boolean).map(Number);
    out.childStartUs = median(samples);
    out.childStartSamples = samples.length;
  }
  process.stdout.write(`STATS ${JSON.stringify(out)}\n`);
}

async function main() {
  const address = opts.unix !== null ? opts.unix : [opts.host, opts.port];
  if (opts.unix !== null) {
    try {
      if (fs.statSync(opts.unix).isSocket()) fs.unlinkSync(opts.unix);
    } catch {}
  }
  let server;
  try {
    server = new Server(address, HANDLERS[opts.mode], opts.serveThread ? {} : { serveThread: false });
  } catch (err) {
    if (err && err.code === 'ERR_SOCKETSERVER_UNSUPPORTED') {
      // Not a failure: this transport has no such server (the runner shows "—").
      process.stdout.write(`UNSUPPORTED ${String(err.message).replace(/\s+/g, ' ')}\n`);
      process.exit(0);
    }
    throw err;
  }
  let stopping = false;
  const stop = async () => {
    if (stopping || process.pid !== PARENT_PID) return;
    stopping = true;
    try {
      await server.shutdown();
      await server.serverClose();
      if (forking) printStats();
    } catch (err) {
      process.stderr.write(`socketserver.js: shutdown failed: ${(err && err.stack) || err}\n`);
      process.exit(1);
    }
    if (opts.unix !== null) {
      try {
        fs.unlinkSync(opts.unix);
      } catch {}
    }
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const serving = server.serveForever();
  const a = server.serverAddress;
  process.stdout.write(`READY ${typeof a === 'string' ? a : a[1]}\n`);
  await serving;
}

main().catch((err) => {
  process.stderr.write(`socketserver.js: ${(err && err.stack) || err}\n`);
  process.exit(1);
});
