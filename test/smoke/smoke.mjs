// The installed package, used as a newcomer would: every server class of
// 'socketserver' serves one request, and so does 'socketserver/js'.
//
//   node smoke.mjs [--addon prebuilt|built|none]
//
// Run from a project that installed the tarball (.ci/run does it with
// --ignore-scripts and no compiler on PATH, once per Node line), so that
// 'socketserver' resolves to node_modules/socketserver. --addon says which
// addon must serve: `prebuilt` (the default), one of the package's
// prebuilds/; `built`, a build from source (build/Release); `none`, no
// addon at all: the native classes must then throw ERR_SOCKETSERVER_NATIVE
// saying there is no binary for this Node, and 'socketserver/js' must
// serve all the same. Prints one line per
// server and 'smoke: N passed, N failed'; exits 1 on any failure. Every wait is
// bounded.
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import * as ss from 'socketserver';
import * as js from 'socketserver/js';

const { values: args } = parseArgs({ options: { addon: { type: 'string', default: 'prebuilt' } } });
const require = createRequire(path.join(process.cwd(), 'index.js'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'socketserver-smoke-'));
let seq = 0;
const results = [];

function bounded(promise, what, ms = 10000) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function streamHandler(mod) {
  return class Upper extends mod.StreamRequestHandler {
    async handle() {
      const line = await this.rfile.readline(1024);
      await this.wfile.write(line.toString().toUpperCase());
    }
  };
}

function datagramHandler(mod) {
  return class Upper extends mod.DatagramRequestHandler {
    async handle() {
      await this.wfile.write(this.packet.toString().toUpperCase());
    }
  };
}

function streamExchange(target, data) {
  return new Promise((resolve, reject) => {
    const c = typeof target === 'string' ? net.connect(target) : net.connect(target[1], target[0]);
    const got = [];
    c.on('data', (d) => got.push(d));
    c.on('end', () => {
      c.destroy();
      resolve(Buffer.concat(got).toString());
    });
    c.on('error', reject);
    c.write(data);
  });
}

function udpExchange(target, data) {
  return new Promise((resolve, reject) => {
    const c = dgram.createSocket('udp4');
    c.on('message', (m) => {
      c.close();
      resolve(m.toString());
    });
    c.on('error', reject);
    c.send(data, target[1], target[0]);
  });
}

/** Node has no Unix datagram client: a second UnixDatagramServer of ours sends and receives the reply. */
async function unixDgramExchange(target, data) {
  let reply;
  class Catch extends ss.BaseRequestHandler {
    handle() {
      reply = this.request[0].toString();
    }
  }
  const client = new ss.UnixDatagramServer(path.join(tmp, `client-${++seq}`), Catch);
  try {
    await client.socket.sendTo(data, target);
    await client.handleRequest();
    return reply;
  } finally {
    await client.serverClose();
  }
}

async function check(mod, transport, name) {
  const Server = mod[name];
  const datagram = /UDP|Datagram/.test(name);
  const unix = name.includes('Unix');
  const address = unix ? path.join(tmp, `s-${++seq}`) : ['127.0.0.1', 0];
  const Handler = datagram ? datagramHandler(mod) : streamHandler(mod);
  const label = `${transport} ${name}`;
  try {
    const server = new Server(address, Handler);
    try {
      const serving = server.handleRequest();
      const target = server.serverAddress;
      const exchange = !datagram
        ? streamExchange(target, 'smoke\n')
        : unix
          ? unixDgramExchange(target, 'smoke\n')
          : udpExchange(target, 'smoke\n');
      const [reply] = await bounded(Promise.all([exchange, serving]), label);
      if (reply !== 'SMOKE\n') throw new Error(`replied ${JSON.stringify(reply)}`);
    } finally {
      await bounded(server.serverClose(), `${label}: serverClose()`);
    }
    results.push([label, null]);
  } catch (e) {
    results.push([label, e]);
  }
}

const NATIVE = [
  'TCPServer', 'UDPServer', 'UnixStreamServer', 'UnixDatagramServer',
  'ThreadingTCPServer', 'ThreadingUDPServer', 'ThreadingUnixStreamServer', 'ThreadingUnixDatagramServer',
  'ForkingTCPServer', 'ForkingUDPServer', 'ForkingUnixStreamServer', 'ForkingUnixDatagramServer',
];
// What node:net and node:dgram can do (no Unix datagrams, no fork).
const JS = ['TCPServer', 'UDPServer', 'UnixStreamServer', 'ThreadingTCPServer', 'ThreadingUDPServer', 'ThreadingUnixStreamServer'];

/** With no addon for this Node, constructing a native server must say so, and name the way out. */
function checkRefused(name) {
  const label = `native ${name} without an addon`;
  try {
    const server = new ss[name](name.includes('Unix') ? path.join(tmp, `s-${++seq}`) : ['127.0.0.1', 0], ss.BaseRequestHandler);
    server.serverClose();
    results.push([label, new Error('was constructed')]);
  } catch (e) {
    const clear = e.code === 'ERR_SOCKETSERVER_NATIVE' && e.message.includes(`no native addon for Node ${process.version}`) &&
      e.message.includes('socketserver/js');
    results.push([`${label}: ERR_SOCKETSERVER_NATIVE, naming this Node and socketserver/js`, clear ? null : e]);
  }
}

try {
  if (args.addon === 'none') for (const name of ['TCPServer', 'UnixDatagramServer']) checkRefused(name);
  else for (const name of NATIVE) await check(ss, 'native', name);
  for (const name of JS) await check(js, 'js', name);

  // CommonJS gives the same classes as ESM.
  const cjs = require('socketserver');
  results.push(['require() and import give the same classes', cjs.TCPServer === ss.TCPServer ? null : new Error('they differ')]);

  // Which addon served, if any.
  const maps = fs.readFileSync('/proc/self/maps', 'utf8');
  const addon = maps.split('\n').map((l) => l.split(/\s+/)[5]).find((f) => f && f.endsWith('.node') && f.includes('socketserver'));
  const where = { prebuilt: `${path.sep}prebuilds${path.sep}`, built: `${path.sep}build${path.sep}Release${path.sep}` }[args.addon];
  const ok = args.addon === 'none' ? addon === undefined : addon !== undefined && addon.includes(where);
  results.push([`the addon in use (${addon ?? 'none'}) is ${args.addon === 'none' ? 'none' : `a ${args.addon} one`}`, ok ? null : new Error('no')]);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

let failed = 0;
for (const [label, error] of results) {
  if (error) failed++;
  console.log(`${error ? 'FAIL' : 'ok  '} ${label}${error ? `: ${error.message}` : ''}`);
}
console.log(`Node ${process.version}, ${process.platform}-${process.arch}`);
console.log(`smoke: ${results.length - failed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
