'use strict';
// HTTP/1.1 keep-alive server for the `http-wrk` workload (driven by wrk): a
// fixed 200 reply with Content-Length to every request.
//
//   node bench/servers/http.js [--impl native|js|net] [--host 127.0.0.1] [--port 0]
//
// native / js: a ThreadingTCPServer with a StreamRequestHandler written the
//   way docs/api.md teaches: the request line and each header up to the
//   empty line read with the docs' idiom for protocols,
//   `rfile.tryReadline(LINE_LIMIT) ?? (await rfile.readline(LINE_LIMIT))`
//   (no awaited step for a line already buffered), then
//   `await this.wfile.write(RESPONSE)`, in a loop while the connection is
//   kept alive. Its handler sets disableNagleAlgorithm (TCP_NODELAY, as the
//   docs' example does); the server ignores ECONNRESET/EPIPE in handleError()
//   (wrk may close with a RST).
// net: node:net (noDelay: true), parsing what arrived in the 'data' callback (every complete
//   request in it; the replies of one chunk go out in one write, as
//   net-tcp.js does for keep-alive).
// All kinds share parseRequestLine() and parseHeader(): HTTP/1.0 and
// HTTP/1.1, `Connection: close` / `keep-alive`, a request body of
// `Content-Length` bytes is read and discarded; a malformed request gets a 400
// and the connection is closed.

const net = require('node:net');
const { socketserver, serveSocketserver, serveNet, streamServerClass, main } = require('./proto-common.js');

const NAME = 'http.js';
const BODY = 'Hello, World!';
const RESPONSE = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`, 'latin1');
const BAD_REQUEST = Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n', 'latin1');
const LINE_LIMIT = 8192; // a request line or header longer than this is a 400
const HEAD_LIMIT = 65536; // the whole head (net: what is buffered before its end)

// ---------------------------------------------------------------------------
// protocol logic, shared

/** "GET / HTTP/1.1" (no line end) -> the request's state, or null if malformed. */
function parseRequestLine(s) {
  const parts = s.split(' ');
  if (parts.length !== 3 || !parts[0] || !parts[1]) return null;
  const version = parts[2];
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return null;
  return { method: parts[0], target: parts[1], keepAlive: version === 'HTTP/1.1', contentLength: 0 };
}

/** "Name: value" (no line end): updates `req`; false if malformed. */
function parseHeader(s, req) {
  const i = s.indexOf(':');
  if (i <= 0) return false;
  const name = s.slice(0, i).trim().toLowerCase();
  const value = s.slice(i + 1).trim();
  if (name === 'connection') {
    const v = value.toLowerCase();
    if (v === 'close') req.keepAlive = false;
    else if (v === 'keep-alive') req.keepAlive = true;
  } else if (name === 'content-length') {
    if (!/^\d{1,15}$/.test(value)) return false;
    req.contentLength = Number(value);
  }
  return true;
}

/** The text of a line without its "\r\n" or "\n"; null if it has no "\n" (EOF or longer than the limit). */
function lineText(buf) {
  const n = buf.length;
  if (n === 0 || buf[n - 1] !== 0x0a) return null;
  return buf.toString('latin1', 0, n >= 2 && buf[n - 2] === 0x0d ? n - 2 : n - 1);
}

// ---------------------------------------------------------------------------
// native / js: socketserver

function runSocketserver(opts) {
  const { ThreadingTCPServer, StreamRequestHandler } = socketserver(opts);

  class HTTPHandler extends StreamRequestHandler {
    static disableNagleAlgorithm = true; // TCP_NODELAY, as docs/api.md's example

    async handle() {
      const rfile = this.rfile;
      for (;;) {
        const first = rfile.tryReadline(LINE_LIMIT) ?? (await rfile.readline(LINE_LIMIT));
        if (first.length === 0) return; // the client closed the connection
        const text = lineText(first);
        if (text === '') continue; // an empty line before a request is ignored
        const req = text !== null && parseRequestLine(text);
        if (!req) return this.badRequest();
        for (;;) {
          const line = rfile.tryReadline(LINE_LIMIT) ?? (await rfile.readline(LINE_LIMIT));
          const header = lineText(line);
          if (header === null) return line.length ? this.badRequest() : undefined;
          if (header === '') break;
          if (!parseHeader(header, req)) return this.badRequest();
        }
        if (req.contentLength > 0) {
          const body = rfile.tryRead(req.contentLength) ?? (await rfile.read(req.contentLength));
          if (body.length < req.contentLength) return;
        }
        await this.wfile.write(RESPONSE);
        if (!req.keepAlive) return;
      }
    }

    async badRequest() {
      await this.wfile.write(BAD_REQUEST);
    }
  }

  const Server = streamServerClass(ThreadingTCPServer);
  return serveSocketserver(NAME, new Server([opts.host, opts.port], HTTPHandler));
}

// ---------------------------------------------------------------------------
// net: node:net

function runNet(opts) {
  const server = net.createServer({ noDelay: true }, (sock) => {
    let pending = null;
    sock.on('error', () => {}); // ECONNRESET from clients that leave is expected
    sock.on('data', (chunk) => {
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = null;
      const out = [];
      let close = false;
      while (buf.length) {
        const end = buf.indexOf('\r\n\r\n', 0, 'latin1');
        if (end < 0) {
          if (buf.length > HEAD_LIMIT) {
            out.push(BAD_REQUEST);
            close = true;
          }
          break;
        }
        const lines = buf.toString('latin1', 0, end).split('\r\n');
        while (lines.length && lines[0] === '') lines.shift(); // empty lines before a request
        const req = lines.length && lines.every((l) => l.length <= LINE_LIMIT) && parseRequestLine(lines[0]);
        if (!req || !lines.slice(1).every((l) => parseHeader(l, req))) {
          out.push(BAD_REQUEST);
          close = true;
          break;
        }
        const next = end + 4 + req.contentLength;
        if (buf.length < next) break; // wait for the rest of the body
        out.push(RESPONSE);
        buf = buf.subarray(next);
        if (!req.keepAlive) {
          close = true;
          break;
        }
      }
      if (!close && buf.length) pending = buf;
      if (out.length) sock.write(out.length === 1 ? out[0] : Buffer.concat(out));
      if (close) sock.end();
    });
  });
  serveNet(NAME, server, opts);
}

main(NAME, runNet, runSocketserver);
