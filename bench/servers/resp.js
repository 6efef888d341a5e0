'use strict';
// RESP (Redis protocol) server for the `resp-*` workloads (driven by
// redis-benchmark): SET and GET on an in-memory Map, plus what
// redis-benchmark asks first (CONFIG GET save / appendonly) and PING.
//
//   node bench/servers/resp.js [--impl native|js|net] [--host 127.0.0.1] [--port 0]
//
// native / js: a ThreadingTCPServer with a StreamRequestHandler written the
//   way docs/api.md teaches: each command is a multibulk
//   `*N\r\n$len\r\nARG\r\n...`, read line by line for the `*N` and `$len`
//   lines and by length for each argument (`len + 2` bytes, so an argument
//   may hold "\r\n"), each read written as the docs' idiom for protocols,
//   `rfile.tryReadline(LINE_LIMIT) ?? (await rfile.readline(LINE_LIMIT))`
//   (and tryRead() ?? read()): no awaited step when a pipelining client's
//   next command is already buffered; each reply is one
//   `await this.wfile.write(reply)`. The handler sets
//   disableNagleAlgorithm (TCP_NODELAY, as the docs' example and Redis do:
//   with Nagle, one small write per reply to a pipelining client waits for
//   the client's delayed ACK); the server ignores ECONNRESET/EPIPE in
//   handleError().
// net: node:net (noDelay: true), parsing every complete command of what arrived in the
//   'data' callback; the replies of one chunk go out in one write (as
//   net-tcp.js does for keep-alive).
// All kinds share execute(): SET key value -> +OK; GET key -> $len value or
// $-1; PING -> +PONG (PING msg -> $len msg); CONFIG GET name -> a
// [name, value] array for save and appendonly, else an empty array; anything
// else -> -ERR. A malformed command gets -ERR Protocol error and the
// connection is closed (as Redis does). Inline commands are not supported.

const net = require('node:net');
const { socketserver, serveSocketserver, serveNet, streamServerClass, main } = require('./proto-common.js');

const NAME = 'resp.js';
const LINE_LIMIT = 64; // a `*N` or `$len` line
const MAX_ARGS = 1024 * 1024;
const MAX_BULK = 512 * 1024 * 1024;
const OK = Buffer.from('+OK\r\n');
const PONG = Buffer.from('+PONG\r\n');
const NIL = Buffer.from('$-1\r\n');
const EMPTY_ARRAY = Buffer.from('*0\r\n');
const PROTOCOL_ERROR = Buffer.from('-ERR Protocol error\r\n');
const CONFIG = { save: '', appendonly: 'no' };

// ---------------------------------------------------------------------------
// protocol logic, shared

const store = new Map(); // key (latin1 string) -> value (Buffer)

function bulk(buf) {
  return Buffer.concat([Buffer.from(`$${buf.length}\r\n`, 'latin1'), buf, Buffer.from('\r\n')]);
}

function error(msg) {
  return Buffer.from(`-ERR ${msg}\r\n`, 'latin1');
}

/** Runs one command (its arguments, Buffers) and returns the reply. */
function execute(args) {
  if (args.length === 0) return error('empty command');
  const cmd = args[0].toString('latin1').toUpperCase();
  switch (cmd) {
    case 'SET':
      if (args.length !== 3) return error("wrong number of arguments for 'set' command");
      // A copy: the argument may be a view that keeps a whole read buffer alive.
      store.set(args[1].toString('latin1'), Buffer.from(args[2]));
      return OK;
    case 'GET': {
      if (args.length !== 2) return error("wrong number of arguments for 'get' command");
      const v = store.get(args[1].toString('latin1'));
      return v === undefined ? NIL : bulk(v);
    }
    case 'PING':
      return args.length === 1 ? PONG : args.length === 2 ? bulk(args[1]) : error("wrong number of arguments for 'ping' command");
    case 'CONFIG': {
      if (args.length !== 3 || args[1].toString('latin1').toUpperCase() !== 'GET') return error('only CONFIG GET name is supported');
      const name = args[2].toString('latin1').toLowerCase();
      if (!(name in CONFIG)) return EMPTY_ARRAY;
      return Buffer.concat([Buffer.from('*2\r\n'), bulk(Buffer.from(name, 'latin1')), bulk(Buffer.from(CONFIG[name], 'latin1'))]);
    }
    default:
      return error(`unknown command '${cmd.slice(0, 64)}'`);
  }
}

/** The integer after the type byte of a `*N\r\n` / `$len\r\n` line, or null. */
function header(line, type, max) {
  const n = line.length;
  if (n < 4 || line[0] !== type || line[n - 2] !== 0x0d || line[n - 1] !== 0x0a) return null;
  const s = line.toString('latin1', 1, n - 2);
  if (!/^\d+$/.test(s)) return null;
  const v = Number(s);
  return v <= max ? v : null;
}

// ---------------------------------------------------------------------------
// native / js: socketserver

function runSocketserver(opts) {
  const { ThreadingTCPServer, StreamRequestHandler } = socketserver(opts);

  class RESPHandler extends StreamRequestHandler {
    static disableNagleAlgorithm = true; // TCP_NODELAY, as docs/api.md's example

    async handle() {
      const rfile = this.rfile;
      for (;;) {
        const line = rfile.tryReadline(LINE_LIMIT) ?? (await rfile.readline(LINE_LIMIT));
        if (line.length === 0) return; // the client closed the connection
        const n = header(line, 0x2a /* * */, MAX_ARGS);
        if (n === null) return this.protocolError();
        const args = [];
        for (let i = 0; i < n; i++) {
          const len = header(rfile.tryReadline(LINE_LIMIT) ?? (await rfile.readline(LINE_LIMIT)), 0x24 /* $ */, MAX_BULK);
          if (len === null) return this.protocolError();
          const arg = rfile.tryRead(len + 2) ?? (await rfile.read(len + 2));
          if (arg.length < len + 2) return; // EOF
          if (arg[len] !== 0x0d || arg[len + 1] !== 0x0a) return this.protocolError();
          args.push(arg.subarray(0, len));
        }
        await this.wfile.write(execute(args));
      }
    }

    async protocolError() {
      await this.wfile.write(PROTOCOL_ERROR);
    }
  }

  const Server = streamServerClass(ThreadingTCPServer);
  return serveSocketserver(NAME, new Server([opts.host, opts.port], RESPHandler));
}

// ---------------------------------------------------------------------------
// net: node:net

/**
 * Parses one command at `buf[start..]`: {args, end} when complete, null when
 * more bytes are needed, 'error' when malformed.
 */
function parseCommand(buf, start) {
  let eol = buf.indexOf(0x0a, start);
  if (eol < 0) return buf.length - start > LINE_LIMIT ? 'error' : null;
  const n = header(buf.subarray(start, eol + 1), 0x2a, MAX_ARGS);
  if (n === null) return 'error';
  let pos = eol + 1;
  const args = [];
  for (let i = 0; i < n; i++) {
    eol = buf.indexOf(0x0a, pos);
    if (eol < 0) return buf.length - pos > LINE_LIMIT ? 'error' : null;
    const len = header(buf.subarray(pos, eol + 1), 0x24, MAX_BULK);
    if (len === null) return 'error';
    pos = eol + 1;
    if (buf.length < pos + len + 2) return null;
    if (buf[pos + len] !== 0x0d || buf[pos + len + 1] !== 0x0a) return 'error';
    args.push(buf.subarray(pos, pos + len));
    pos += len + 2;
  }
  return { args, end: pos };
}

function runNet(opts) {
  const server = net.createServer({ noDelay: true }, (sock) => {
    let pending = null;
    sock.on('error', () => {}); // ECONNRESET from clients that leave is expected
    sock.on('data', (chunk) => {
      const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = null;
      const out = [];
      let pos = 0;
      let bad = false;
      while (pos < buf.length) {
        const cmd = parseCommand(buf, pos);
        if (cmd === null) break;
        if (cmd === 'error') {
          bad = true;
          break;
        }
        out.push(execute(cmd.args));
        pos = cmd.end;
      }
      if (bad) out.push(PROTOCOL_ERROR);
      else if (pos < buf.length) pending = buf.subarray(pos);
      if (out.length) sock.write(out.length === 1 ? out[0] : Buffer.concat(out));
      if (bad) sock.end();
    });
  });
  serveNet(NAME, server, opts);
}

main(NAME, runNet, runSocketserver);
