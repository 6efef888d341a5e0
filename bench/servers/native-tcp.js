'use strict';
// The package under test: socketserver's native TCPServer running the Python
// docs' uppercase handler (data = rfile.readline().strip(); wfile.write(data.upper())).
//
//   node bench/servers/native-tcp.js [--host 127.0.0.1] [--port 0]
//
// Prints exactly "READY <port>" once listening; on SIGTERM/SIGINT shuts down
// (shutdown() + serverClose()) and exits 0. No per-request logging.
// Needs a built package: `npm run build` (dist/ and the native addon).

const { TCPServer, StreamRequestHandler } = require('../../dist/index.js');

function parseArgs(argv) {
  const o = { host: '127.0.0.1', port: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const a = argv[i];
    const v = argv[i + 1];
    if (v === undefined) usage(`missing value for ${a}`);
    if (a === '--host') o.host = v;
    else if (a === '--port') o.port = Number(v);
    else usage(`unknown option ${a}`);
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) usage('bad --port');
  return o;
}

function usage(msg) {
  process.stderr.write(`native-tcp: ${msg}\n`);
  process.exit(2);
}

class Handler extends StreamRequestHandler {
  async handle() {
    const line = await this.rfile.readline();
    await this.wfile.write(Buffer.from(line.toString('latin1').trim().toUpperCase(), 'latin1'));
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const server = new TCPServer([opts.host, opts.port], Handler, { requestQueueSize: 1024 });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await server.shutdown();
      await server.serverClose();
    } catch (err) {
      process.stderr.write(`native-tcp: shutdown failed: ${(err && err.stack) || err}\n`);
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

main().catch((err) => {
  process.stderr.write(`native-tcp: ${(err && err.stack) || err}\n`);
  process.exit(1);
});
