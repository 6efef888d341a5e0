'use strict';
// The package under test, running the Python docs' uppercase handlers.
//
//   node bench/servers/socketserver.js [--impl native|js] --class NAME --mode conn|keepalive|dgram
//                                      (--host H --port P | --unix PATH) [--fork-log FILE]
//                                      [--serve-thread 0]   (native: wait on the main loop)
//                                      [--workers N] [--work ROUNDS] [--heavy ROUNDS]
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
// Worker threads (issue 10): --workers N sets workerThreads: N (0: the
// handlers run as tasks on the main thread); with --workers, --work or
// --heavy the handlers are work-handlers.js's (keep-alive or conn; a
// Threading class): each line first gets --work rounds of the FNV-1a
// work (--heavy rounds for a line starting with "heavy"), then the same
// uppercase reply. Both go to the handlers as workerData { work, heavy }.
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
const args = require('../args.js');

const usage = args.usageOf('socketserver.js');


function parseArgs(argv) {
  const values = args.parseOptions(
    argv,
    {
      impl: { type: 'string', default: 'native' },
      class: { type: 'string', default: 'TCPServer' },
      mode: { type: 'string', default: 'conn' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      unix: { type: 'string' },
      'fork-log': { type: 'string' },
      'serve-thread': { type: 'string', default: '1' },
      workers: { type: 'string' },
      work: { type: 'string', default: '0' },
      heavy: { type: 'string', default: '0' },
    },
    usage,
  );
  const int = (name, max) => args.numberOption(values, name, { min: 0, max, integer: true }, usage);
  const o = {
    impl: values.impl,
    cls: values.class,
    mode: values.mode,
    host: values.host,
    port: int('port', 65535),
    unix: values.unix ?? null,
    forkLog: values['fork-log'] ?? null,
    serveThread: values['serve-thread'] !== '0' && values['serve-thread'] !== 'false',
    workers: values.workers === undefined ? null : int('workers', 256),
    work: int('work', 2 ** 31 - 1),
    heavy: int('heavy', 2 ** 31 - 1),
  };
  if (!['native', 'js'].includes(o.impl)) usage('bad --impl (native|js)');
  if (!['conn', 'keepalive', 'dgram'].includes(o.mode)) usage('bad --mode');
  if (o.workers !== null || o.work > 0 || o.heavy > 0) {
    // The worker-thread workloads: the handlers of work-handlers.js.
    if (!/^Threading/.test(o.cls)) usage('--workers, --work and --heavy need a Threading class');
    if (o.mode === 'dgram') usage('--workers, --work and --heavy: stream modes only');
  }
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
    const options = opts.serveThread ? {} : { serveThread: false };
    let Handler = HANDLERS[opts.mode];
    if (opts.workers !== null || opts.work > 0 || opts.heavy > 0) {
      const work = require('./work-handlers.js');
      Handler = opts.mode === 'conn' ? work.WorkConn : work.WorkKeepalive;
      Object.assign(options, { workerThreads: opts.workers ?? 0, workerData: { work: opts.work, heavy: opts.heavy } });
    }
    server = new Server(address, Handler, options);
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
