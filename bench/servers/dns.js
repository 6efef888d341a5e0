'use strict';
// DNS server for the `dns` workload (driven by dnsperf): every query for an
// A record gets one answer, 127.0.0.1.
//
//   node bench/servers/dns.js [--impl native|js|net] [--host 127.0.0.1] [--port 0]
//
// native / js: a UDPServer with a BaseRequestHandler, as docs/api.md teaches:
//   `const [data, socket] = this.request`, then
//   `await socket.sendTo(answer(data), this.clientAddress)`.
// net: node:dgram, answering in the 'message' callback.
// All kinds share answer(): it parses the header and the question (name,
// type, class), and replies with the query's ID, QR=1, its opcode and RD,
// AA=1, RCODE 0, the question copied, and for a query of type A (or ANY),
// class IN, ANCOUNT=1: the name as a compressed pointer (0xC00C), TYPE A,
// CLASS IN, TTL 300, RDLENGTH 4, 127.0.0.1. Other types: no answer
// (NOERROR, ANCOUNT 0). A malformed query gets FORMERR, an opcode other
// than QUERY NOTIMP; a datagram shorter than a header or that is a response
// is dropped.

const dgram = require('node:dgram');
const { socketserver, serveSocketserver, serveDgram, main } = require('./proto-common.js');

const NAME = 'dns.js';
const TTL = 300;
// name pointer to offset 12, TYPE A, CLASS IN, TTL, RDLENGTH 4, 127.0.0.1
const ANSWER = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, (TTL >>> 24) & 0xff, (TTL >>> 16) & 0xff, (TTL >>> 8) & 0xff, TTL & 0xff, 0, 4, 127, 0, 0, 1]);
const QR = 0x8000;
const AA = 0x0400;
const RD = 0x0100;
const FORMERR = 1;
const NOTIMP = 4;

// ---------------------------------------------------------------------------
// protocol logic, shared

/** A header-only reply with `rcode`. */
function headerOnly(q, flags, rcode) {
  const r = Buffer.alloc(12);
  q.copy(r, 0, 0, 2); // ID
  r.writeUInt16BE(QR | (flags & 0x7800) | (flags & RD) | rcode, 2);
  return r;
}

/** The reply to the query `q` (a Buffer), or null to drop it. */
function answer(q) {
  if (q.length < 12) return null;
  const flags = q.readUInt16BE(2);
  if (flags & QR) return null; // a response, not a query
  if ((flags >> 11) & 0xf) return headerOnly(q, flags, NOTIMP); // opcode other than QUERY
  if (q.readUInt16BE(4) !== 1) return headerOnly(q, flags, FORMERR); // QDCOUNT
  // QNAME: labels up to the root label (no compression in a question)
  let off = 12;
  let nameLen = 0;
  for (;;) {
    if (off >= q.length) return headerOnly(q, flags, FORMERR);
    const len = q[off];
    if (len === 0) break;
    if (len > 63 || (nameLen += len + 1) > 254) return headerOnly(q, flags, FORMERR);
    off += 1 + len;
  }
  off += 1;
  if (off + 4 > q.length) return headerOnly(q, flags, FORMERR);
  const qtype = q.readUInt16BE(off);
  const qclass = q.readUInt16BE(off + 2);
  const end = off + 4; // the end of the question
  const an = (qtype === 1 || qtype === 255) && qclass === 1;
  const r = Buffer.allocUnsafe(end + (an ? ANSWER.length : 0));
  q.copy(r, 0, 0, end); // ID, flags (rewritten below), counts (rewritten), question
  r.writeUInt16BE(QR | AA | (flags & RD), 2); // opcode QUERY, RCODE NOERROR
  r.writeUInt16BE(an ? 1 : 0, 6); // ANCOUNT
  r.writeUInt32BE(0, 8); // NSCOUNT, ARCOUNT
  if (an) ANSWER.copy(r, end);
  return r;
}

// ---------------------------------------------------------------------------
// native / js: socketserver

function runSocketserver(opts) {
  const { UDPServer, BaseRequestHandler } = socketserver(opts);

  class DNSHandler extends BaseRequestHandler {
    async handle() {
      const [data, socket] = this.request;
      const reply = answer(data);
      if (reply) await socket.sendTo(reply, this.clientAddress);
    }
  }

  return serveSocketserver(NAME, new UDPServer([opts.host, opts.port], DNSHandler));
}

// ---------------------------------------------------------------------------
// net: node:dgram

function runNet(opts) {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    const reply = answer(msg);
    if (reply) sock.send(reply, rinfo.port, rinfo.address);
  });
  serveDgram(NAME, sock, opts);
}

main(NAME, runNet, runSocketserver);
