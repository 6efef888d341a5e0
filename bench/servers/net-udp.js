'use strict';
// Baseline server: plain node:dgram doing the Python docs' uppercase UDP
// handler (data, sock = request; sock.sendto(data.strip().upper(), client)).
//
//   node bench/servers/net-udp.js [--host 127.0.0.1] [--port 0]
//
// Node has no Unix datagram sockets: there is no Unix variant.
// Prints exactly "READY <port>" once bound; exits on SIGTERM/SIGINT.

const dgram = require('node:dgram');

function usage(msg) {
  process.stderr.write(`net-udp: ${msg}\n`);
  process.exit(2);
}

const o = { host: '127.0.0.1', port: 0 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const v = argv[i + 1];
  if (v === undefined) usage(`missing value for ${argv[i]}`);
  if (argv[i] === '--host') o.host = v;
  else if (argv[i] === '--port') o.port = Number(v);
  else usage(`unknown option ${argv[i]}`);
}
if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) usage('bad --port');

const sock = dgram.createSocket('udp4');
sock.on('error', (err) => {
  process.stderr.write(`net-udp: ${err.stack || err}\n`);
  process.exit(1);
});
sock.on('message', (msg, rinfo) => {
  const reply = Buffer.from(msg.toString('latin1').trim().toUpperCase(), 'latin1');
  sock.send(reply, rinfo.port, rinfo.address);
});
sock.bind(o.port, o.host, () => process.stdout.write(`READY ${sock.address().port}\n`));

function stop() {
  sock.close();
  setImmediate(() => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
