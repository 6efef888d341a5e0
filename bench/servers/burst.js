'use strict';
// Syslog-style datagram receiver for the `udp-burst` workload (driven by
// util-linux's `logger`, which sends a burst of datagrams in one call): one
// synchronous write per message to /dev/null, opened once, as a syslog
// receiver writes each message out; it counts the messages.
//
//   node bench/servers/burst.js [--impl native|js|net] [--host 127.0.0.1] [--port 0]
//
// native / js: a UDPServer with a BaseRequestHandler, as docs/api.md teaches:
//   `const [data] = this.request; fs.writeSync(fd, data)`.
// net: node:dgram, writing in the 'message' callback.
// All kinds share received(). On SIGUSR2 the server prints
// "COUNT <messages> <t>", t = CLOCK_MONOTONIC in ns when the last one was
// handled (0 before any), and on SIGTERM/SIGINT the same line before it exits.

const dgram = require('node:dgram');
const fs = require('node:fs');
const { socketserver, serveSocketserver, serveDgram, main } = require('./proto-common.js');

const NAME = 'burst.js';

// ---------------------------------------------------------------------------
// protocol logic, shared

const out = fs.openSync('/dev/null', 'w');
let count = 0;
let last = 0n;

/** One message: written out, counted. */
function received(data) {
  fs.writeSync(out, data);
  count++;
  last = process.hrtime.bigint(); // CLOCK_MONOTONIC, as the runner's
}

function printCount() {
  process.stdout.write(`COUNT ${count} ${last}\n`);
}
process.on('SIGUSR2', printCount);

// ---------------------------------------------------------------------------
// native / js: socketserver

function runSocketserver(opts) {
  const { UDPServer, BaseRequestHandler } = socketserver(opts);

  class SyslogHandler extends BaseRequestHandler {
    handle() {
      const [data] = this.request;
      received(data);
    }
  }

  return serveSocketserver(NAME, new UDPServer([opts.host, opts.port], SyslogHandler), printCount);
}

// ---------------------------------------------------------------------------
// net: node:dgram

function runNet(opts) {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg) => received(msg));
  serveDgram(NAME, sock, opts, printCount);
}

main(NAME, runNet, runSocketserver);
