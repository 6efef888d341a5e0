'use strict';
// Baseline server: plain node:net doing the same work as the Python docs'
// uppercase TCP handler (data = rfile.readline().strip(); wfile.write(data.upper())).
//
//   node bench/servers/net-tcp.js [--host 127.0.0.1] [--port 0] [--unix PATH]
//                                 [--mode conn|keepalive] [--backlog 1024]
//
// --mode conn (default): per connection, buffer until the first "\n", write
//   line.trim().toUpperCase() and end the socket.
// --mode keepalive: echo every line upper-cased WITH its "\n"; the client
//   closes.
// Prints exactly "READY <port or path>" once listening; exits on SIGTERM/SIGINT.
// No per-request logging.

const net = require('node:net');
const fs = require('node:fs');

function parseArgs(argv) {
  const o = { host: '127.0.0.1', port: 0, unix: null, mode: 'conn', backlog: 1024 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (v === undefined) usage(`missing value for ${a}`);
    i++;
    if (a === '--host') o.host = v;
    else if (a === '--port') o.port = Number(v);
    else if (a === '--unix') o.unix = v;
    else if (a === '--mode') o.mode = v;
    else if (a === '--backlog') o.backlog = Number(v);
    else usage(`unknown option ${a}`);
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) usage('bad --port');
  if (o.mode !== 'conn' && o.mode !== 'keepalive') usage('bad --mode');
  return o;
}

function usage(msg) {
  process.stderr.write(`net-tcp: ${msg}\n`);
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));
const NL = 0x0a;

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
    sock.end(upper(line));
  });
  sock.on('end', () => {
    // EOF before a newline: readline() returns the partial line.
    if (!done) {
      done = true;
      sock.end(upper(Buffer.concat(chunks)));
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
