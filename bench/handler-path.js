#!/usr/bin/env node
// What one step of a handler costs the server when the bytes are already
// there (issue 13, item 1): a client sends a large pipelined burst at once,
// the handler reads it the documented way, and the server's CPU time
// (user + system of this process, serve thread included; the client is
// another process) is divided by the steps.
//
//   node bench/handler-path.js [--rounds 5] [--count 200000] [--only lines,echo,resp] [--impl native,js,net]
//
// Workloads (each on native, js, and the same protocol on node:net parsing
// in its 'data' callback):
//   lines  `await rfile.readline()` per 31-byte line; one reply at the end.
//   echo   the same lines, each written back with `await wfile.write(line)`.
//   resp   Redis `SET key value` commands (multibulk: 7 lines each), each
//          read with readline() for `*N`/`$len` and read(len + 2) for the
//          arguments, answered with one `await wfile.write('+OK\r\n')`.
//   lines-try, resp-try   the same, each read written
//          `rfile.tryReadline() ?? (await rfile.readline())` (and tryRead()).
// Figures: server CPU µs per line (lines, echo) or per command (resp),
// the median of the rounds.
'use strict';
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { parseArgs } = require('node:util');

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    count: { type: 'string', default: '200000' },
    only: { type: 'string', default: 'lines,lines-try,echo,resp,resp-try' },
    impl: { type: 'string', default: 'native,js,net' },
  },
});
const ROUNDS = Number(opts.rounds);
const COUNT = Number(opts.count);
const ONLY = opts.only.split(',');
const IMPLS = opts.impl.split(',');
const root = path.join(__dirname, '..');

const LINE = Buffer.from('0123456789abcdefghijklmnopqrst\n'); // 31 bytes
const OK = Buffer.from('+OK\r\n');
const DONE = Buffer.from('done\n');

/** What the client sends, and how many bytes it waits for back. */
function workload(name) {
  if (name.startsWith('resp')) {
    const cmd = Buffer.from('*3\r\n$3\r\nSET\r\n$8\r\nkey:0001\r\n$5\r\nvalue\r\n');
    return { payload: Buffer.concat(Array(COUNT).fill(cmd)), expect: COUNT * OK.length };
  }
  const payload = Buffer.concat(Array(COUNT).fill(LINE));
  return { payload, expect: name === 'echo' ? payload.length : DONE.length };
}

// The client: another process, so that the server's CPU time is its own.
const CLIENT = `
const net = require('node:net');
const [port, expect] = process.argv.slice(1).map(Number);
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  const c = net.connect(port, '127.0.0.1');
  let got = 0;
  const timer = setTimeout(() => { console.error('client: timed out at ' + got); process.exit(1); }, 60000);
  c.on('data', (d) => { got += d.length; if (got >= expect) { clearTimeout(timer); c.destroy(); } });
  c.on('error', (e) => { console.error('client: ' + e.message); process.exit(1); });
  c.write(Buffer.concat(chunks));
});
`;

function runClient(port, payload, expect) {
  const child = spawn(process.execPath, ['-e', CLIENT, String(port), String(expect)], { stdio: ['pipe', 'inherit', 'inherit'] });
  child.stdin.end(payload);
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`client exited ${code}`))));
  });
}

function header(line, type) {
  const n = line.length;
  if (n < 4 || line[0] !== type || line[n - 2] !== 0x0d) return null;
  return Number(line.toString('latin1', 1, n - 2));
}

function handlerClass(ss, name, result) {
  const { StreamRequestHandler } = ss;
  return class extends StreamRequestHandler {
    static disableNagleAlgorithm = true;
    async handle() {
      // The clock starts at the first byte, so connecting is not counted.
      const first = await this.rfile.read(1);
      const start = process.cpuUsage();
      let n = 0;
      const rf = this.rfile;
      if (name === 'lines-try') {
        n = 0;
        for (;;) {
          const line = rf.tryReadline() ?? (await rf.readline());
          if (line.length === 0 || ++n === COUNT) break;
        }
        await this.wfile.write(DONE);
      } else if (name === 'lines') {
        await this.rfile.readline();
        n = 1;
        while ((await this.rfile.readline()).length > 0) if (++n === COUNT) break;
        await this.wfile.write(DONE);
      } else if (name === 'echo') {
        const rest = await this.rfile.readline();
        await this.wfile.write(Buffer.concat([first, rest]));
        n = 1;
        for (;;) {
          const line = await this.rfile.readline();
          if (line.length === 0) break;
          await this.wfile.write(line);
          if (++n === COUNT) break;
        }
      } else if (name === 'resp-try') {
        let line = Buffer.concat([first, await this.rfile.readline()]);
        for (;;) {
          const argc = header(line, 0x2a);
          if (argc === null) throw new Error(`bad command header ${line}`);
          for (let i = 0; i < argc; i++) {
            const len = header(rf.tryReadline() ?? (await rf.readline()), 0x24);
            const arg = rf.tryRead(len + 2) ?? (await rf.read(len + 2));
            if (arg.length !== len + 2) throw new Error('short argument');
          }
          await this.wfile.write(OK);
          if (++n === COUNT) break;
          line = rf.tryReadline() ?? (await rf.readline());
          if (line.length === 0) break;
        }
      } else {
        let line = Buffer.concat([first, await this.rfile.readline()]);
        for (;;) {
          const argc = header(line, 0x2a);
          if (argc === null) throw new Error(`bad command header ${line}`);
          for (let i = 0; i < argc; i++) {
            const len = header(await this.rfile.readline(), 0x24);
            const arg = await this.rfile.read(len + 2);
            if (arg.length !== len + 2) throw new Error('short argument');
          }
          await this.wfile.write(OK);
          if (++n === COUNT) break;
          line = await this.rfile.readline();
          if (line.length === 0) break;
        }
      }
      await this.wfile.flush();
      const used = process.cpuUsage(start);
      result.us = (used.user + used.system) / n;
      result.n = n;
    }
  };
}

async function onceSocketserver(ss, name) {
  const { payload, expect } = workload(name);
  const result = { us: NaN, n: 0 };
  const server = new ss.TCPServer(['127.0.0.1', 0], handlerClass(ss, name, result));
  try {
    const serving = server.handleRequest();
    await Promise.all([serving, runClient(server.serverAddress[1], payload, expect)]);
  } finally {
    await server.serverClose();
  }
  if (result.n !== COUNT) throw new Error(`${name}: handled ${result.n} of ${COUNT}`);
  return result.us;
}

async function onceNet(name) {
  const { payload, expect } = workload(name);
  let start = null;
  let n = 0;
  let used = null;
  const server = net.createServer({ noDelay: true }, (sock) => {
    let pending = null;
    sock.on('error', () => {});
    sock.on('data', (chunk) => {
      if (start === null) start = process.cpuUsage();
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = null;
      const out = [];
      let pos = 0;
      for (;;) {
        if (name.startsWith('resp')) {
          // One whole command, or wait for more.
          let p = pos;
          let eol = buf.indexOf(0x0a, p);
          if (eol < 0) break;
          const argc = header(buf.subarray(p, eol + 1), 0x2a);
          p = eol + 1;
          let complete = true;
          for (let i = 0; i < argc && complete; i++) {
            eol = buf.indexOf(0x0a, p);
            if (eol < 0) { complete = false; break; }
            const len = header(buf.subarray(p, eol + 1), 0x24);
            p = eol + 1 + len + 2;
            if (p > buf.length) complete = false;
          }
          if (!complete) break;
          pos = p;
          out.push(OK);
          n++;
        } else {
          const eol = buf.indexOf(0x0a, pos);
          if (eol < 0) break;
          if (name === 'echo') out.push(buf.subarray(pos, eol + 1));
          pos = eol + 1;
          n++;
        }
      }
      if (pos < buf.length) pending = buf.subarray(pos);
      if (name.startsWith('lines')) {
        if (n === COUNT) sock.write(DONE);
      } else if (out.length) sock.write(Buffer.concat(out));
      if (n === COUNT && used === null) used = process.cpuUsage(start);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await runClient(server.address().port, payload, expect);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  if (used === null) throw new Error(`${name}: net handled ${n} of ${COUNT}`);
  return (used.user + used.system) / n;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

(async () => {
  const all = {
    native: (name) => onceSocketserver(require(path.join(root, 'dist/index.js')), name),
    js: (name) => onceSocketserver(require(path.join(root, 'dist/js.js')), name),
    net: onceNet,
  };
  const impls = Object.fromEntries(IMPLS.map((k) => [k, all[k]]));
  console.log(`Node ${process.version}; server CPU µs per line (lines, echo) or command (resp), ${COUNT} per round, median of ${ROUNDS}`);
  console.log('| workload | native | js | node:net | native / node:net |');
  console.log('|---|--:|--:|--:|--:|');
  for (const name of ONLY) {
    const samples = Object.fromEntries(IMPLS.map((k) => [k, []]));
    // Rounds alternate the implementations, so drift hits all alike.
    for (let r = 0; r < ROUNDS; r++) for (const [impl, run] of Object.entries(impls)) samples[impl].push(await run(name));
    const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
    const f = (x) => (x === undefined ? '—' : x.toFixed(3));
    console.log(`| ${name} | ${f(m.native)} | ${f(m.js)} | ${f(m.net)} | ${m.native && m.net ? (m.native / m.net).toFixed(2) : '—'} |`);
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
