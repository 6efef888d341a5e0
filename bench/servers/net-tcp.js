'use strict';
// Baseline server: plain node:net doing the same work as the Python docs'
// uppercase TCP handler (data = rfile.readline().strip(); wfile.write(data.upper())).
//
//   node bench/servers/net-tcp.js [--host 127.0.0.1] [--port 0] [--unix PATH]
//                                 [--mode conn|keepalive] [--backlog 1024]
//                                 [--work ROUNDS] [--heavy ROUNDS]
//
// --mode conn (default): per connection, buffer until the first "\n", write
//   line.trim().toUpperCase() and end the socket.
// --mode keepalive: echo every line upper-cased WITH its "\n"; the client
//   closes.
// --work / --heavy (the worker-thread workloads of issue 10): before its
//   reply, each line gets ROUNDS rounds of work.js's FNV-1a work
//   (--heavy ROUNDS for a line starting with "heavy"), in the 'data'
//   callback, on the main thread.
// Prints exactly "READY <port or path>" once listening; exits on SIGTERM/SIGINT.
// No per-request logging.

const net = require('node:net');
const fs = require('node:fs');
const args = require('../args.js');

const usage = args.usageOf('net-tcp');

function parseArgs(argv) {
  const values = args.parseOptions(
    argv,
    {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      unix: { type: 'string' },
      mode: { type: 'string', default: 'conn' },
      backlog: { type: 'string', default: '1024' },
      work: { type: 'string', default: '0' },
      heavy: { type: 'string', default: '0' },
    },
    usage,
  );
  const int = (name, max) => args.numberOption(values, name, { min: 0, max, integer: true }, usage);
  const o = {
    host: values.host,
    port: int('port', 65535),
    unix: values.unix ?? null,
    mode: values.mode,
    backlog: int('backlog', 2 ** 31 - 1),
    work: int('work', 2 ** 31 - 1),
    heavy: int('heavy', 2 ** 31 - 1),
  };
  if (o.mode !== 'conn' && o.mode !== 'keepalive') usage('bad --mode');
  return o;
}


const opts = parseArgs(process.argv.slice(2));
const NL = 0x0a;
const doWork = opts.work > 0 || opts.heavy > 0 ? require('./work.js').doWork : null;

function upper(buf) {
  return Buffer.from(buf.toString('latin1').trim().toUpperCase(), 'latin1');
}

function onConnConn(sock) {
  let chunks = [];
  let done = false;
  sock.on('error', () => {}); // ECONNRESET from RST-closing clients is expected
  sock.on('data', (chunk) => {
    if (done) return;
    const i = chunk.indexOf(NL);
    if (i < 0) {
      chunks.push(chunk);
      return;
    }
    done = true;
    chunks.push(chunk.subarray(0, i + 1));
    const line = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    chunks = null;
    if (doWork) doWork(line, opts.work, opts.heavy);
    sock.end(upper(line));
  });
  sock.on('end', () => {
    // EOF before a newline: readline() returns the partial line.
    if (!done) {
      done = true;
      const line = Buffer.concat(chunks);
      if (doWork) doWork(line, opts.work, opts.heavy);
      sock.end(upper(line));
    }
  });
}

function onConnKeepalive(sock) {
  let pending = null;
  sock.on('error', () => {});
  sock.on('data', (chunk) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = null;
    const out = [];
    let start = 0;
    let i;
    while ((i = buf.indexOf(NL, start)) >= 0) {
      if (doWork) doWork(buf.subarray(start, i + 1), opts.work, opts.heavy);
      out.push(Buffer.from(buf.toString('latin1', start, i + 1).toUpperCase(), 'latin1'));
      start = i + 1;
    }
    if (start < buf.length) pending = buf.subarray(start);
    if (out.length) sock.write(out.length === 1 ? out[0] : Buffer.concat(out));
  });
}

const server = net.createServer(opts.mode === 'conn' ? onConnConn : onConnKeepalive);
server.on('error', (err) => {
  process.stderr.write(`net-tcp: ${err.stack || err}\n`);
  process.exit(1);
});

function ready() {
  const addr = server.address();
  process.stdout.write(`READY ${typeof addr === 'string' ? addr : addr.port}\n`);
}

if (opts.unix) {
  try {
    if (fs.statSync(opts.unix).isSocket()) fs.unlinkSync(opts.unix);
  } catch {}
  server.listen({ path: opts.unix, backlog: opts.backlog }, ready);
} else {
  server.listen({ host: opts.host, port: opts.port, backlog: opts.backlog }, ready);
}

function stop() {
  // close() stops accepting (and unlinks a Unix socket path); don't wait for
  // clients still connected.
  server.close();
  setImmediate(() => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
