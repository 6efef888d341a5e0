'use strict';
// What the protocol servers (http.js, resp.js, dns.js, burst.js) share: their
// options, and starting and stopping each kind of server. The protocol logic
// itself is in each of those files.
//
//   node bench/servers/<proto>.js [--impl native|js|net] [--host 127.0.0.1] [--port 0]
//
// --impl native: this package, require('../../dist/index.js');
//   js: the same code over require('../../dist/js.js') (the js transport);
//   net: plain node:net / node:dgram, parsing in the 'data' / 'message' callback.
// Every kind prints exactly "READY <port>" once listening and exits 0 on
// SIGTERM/SIGINT (the socketserver kinds after shutdown() + serverClose()).
// No per-request logging.

const util = require('node:util');

/** The options of a protocol server (node:util's parseArgs); a bad one exits 2 with a message. */
function parseArgs(name, argv) {
  const usage = (msg) => {
    process.stderr.write(`${name}: ${msg}\n`);
    process.exit(2);
  };
  let values;
  try {
    ({ values } = util.parseArgs({
      args: argv,
      options: {
        impl: { type: 'string', default: 'native' },
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '0' },
      },
    }));
  } catch (err) {
    usage(err.message);
  }
  const o = { impl: values.impl, host: values.host, port: Number(values.port) };
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) usage('bad --port');
  if (!['native', 'js', 'net'].includes(o.impl)) usage('bad --impl (native|js|net)');
  return o;
}

/** The socketserver module of --impl native or js. */
function socketserver(opts) {
  return require(opts.impl === 'js' ? '../../dist/js.js' : '../../dist/index.js');
}

/**
 * Runs `server` (a socketserver server, not yet serving) until SIGTERM/SIGINT:
 * prints READY, then on the signal shutdown() + serverClose(), `onStop()`,
 * exit 0.
 */
async function serveSocketserver(name, server, onStop = () => {}) {
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await server.shutdown();
      await server.serverClose();
      onStop();
    } catch (err) {
      process.stderr.write(`${name}: shutdown failed: ${(err && err.stack) || err}\n`);
      process.exit(1);
    }
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const serving = server.serveForever();
  process.stdout.write(`READY ${server.serverAddress[1]}\n`);
  await serving;
}

/** Listens with a node:net server (backlog 1024) until SIGTERM/SIGINT. */
function serveNet(name, server, opts, onStop = () => {}) {
  server.on('error', (err) => {
    process.stderr.write(`${name}: ${err.stack || err}\n`);
    process.exit(1);
  });
  server.listen({ host: opts.host, port: opts.port, backlog: 1024 }, () => {
    process.stdout.write(`READY ${server.address().port}\n`);
  });
  const stop = () => {
    server.close(); // don't wait for clients still connected
    onStop();
    setImmediate(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** Binds a node:dgram socket until SIGTERM/SIGINT. */
function serveDgram(name, sock, opts, onStop = () => {}) {
  sock.on('error', (err) => {
    process.stderr.write(`${name}: ${err.stack || err}\n`);
    process.exit(1);
  });
  sock.bind(opts.port, opts.host, () => process.stdout.write(`READY ${sock.address().port}\n`));
  const stop = () => {
    sock.close();
    onStop();
    setImmediate(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** ECONNRESET or EPIPE: clients (wrk, redis-benchmark) may close with a RST when they are done. */
function isReset(error) {
  return !!error && (error.code === 'ECONNRESET' || error.code === 'EPIPE');
}

function fatal(name) {
  return (err) => {
    process.stderr.write(`${name}: ${(err && err.stack) || err}\n`);
    process.exit(1);
  };
}

/**
 * The server class of the stream workloads, as a user of the docs would
 * write it: a ThreadingTCPServer with a deep backlog, where a client that
 * leaves mid-connection (wrk and redis-benchmark close with resets) is not
 * an error worth a traceback.
 */
function streamServerClass(ThreadingTCPServer) {
  return class Server extends ThreadingTCPServer {
    static requestQueueSize = 1024;
    static allowReuseAddress = true;

    handleError(request, clientAddress, error) {
      if (isReset(error)) return undefined;
      return super.handleError(request, clientAddress, error);
    }
  };
}

/**
 * A protocol server's entry point: its options from the command line, then
 * the node:net/node:dgram version (--impl net) or this package's (native,
 * js); a failure to start is fatal.
 */
function main(name, runNet, runSocketserver) {
  const opts = parseArgs(name, process.argv.slice(2));
  Promise.resolve()
    .then(() => (opts.impl === 'net' ? runNet(opts) : runSocketserver(opts)))
    .catch(fatal(name));
}

module.exports = { parseArgs, socketserver, serveSocketserver, serveNet, serveDgram, isReset, fatal, streamServerClass, main };
