#!/usr/bin/env node
// What one long line costs the server: rfile.readline() without a limit on
// lines of 1, 4 and 16 MiB that arrive in 8 KiB reads, on both transports
// (issue 12, item 3). The cost of reading is linear when the 16 MiB line
// costs about 16x the 1 MiB one (before the fix: 200x, 12 s for 16 MiB).
//
//   node bench/long-lines.js [--rounds 3] [--sizes 1,4,16]
//
// Server CPU (user + system of this process while the line is read), the
// median of the rounds; client and server share the process and the
// client's writes are in the figure too, which is linear either way.
'use strict';
const net = require('node:net');
const { parseArgs } = require('node:util');
const path = require('node:path');

const { values: opts } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, sizes: { type: 'string', default: '1,4,16' } },
});
const ROUNDS = Number(opts.rounds);
const SIZES = opts.sizes.split(',').map(Number);
const root = path.join(__dirname, '..');

async function once(ss, mib) {
  const line = Buffer.alloc(mib * 1024 * 1024, 0x61);
  line[line.length - 1] = 0x0a;
  let cpu = null;
  class H extends ss.StreamRequestHandler {
    static rbufsize = 8192;
    async handle() {
      await this.rfile.read(1);
      const start = process.cpuUsage();
      const got = await this.rfile.readline();
      const used = process.cpuUsage(start);
      if (got.length !== line.length - 1) throw new Error(`read ${got.length} bytes`);
      cpu = (used.user + used.system) / 1000;
    }
  }
  const server = new ss.TCPServer(['127.0.0.1', 0], H);
  try {
    const serving = server.handleRequest();
    const c = net.connect(server.serverAddress[1], '127.0.0.1');
    c.on('error', () => {});
    c.end(line);
    await serving;
    c.destroy();
  } finally {
    await server.serverClose();
  }
  if (cpu === null) throw new Error('the handler did not finish');
  return cpu;
}

(async () => {
  console.log(`Node ${process.version}; CPU ms of the server for one readline(), median of ${ROUNDS}`);
  console.log('| transport | ' + SIZES.map((s) => `${s} MiB`).join(' | ') + ` | ${SIZES[SIZES.length - 1]} MiB / ${SIZES[0]} MiB |`);
  console.log('|---|' + SIZES.map(() => '--:|').join('') + '--:|');
  for (const [name, mod] of [['native', 'dist/index.js'], ['js', 'dist/js.js']]) {
    const ss = require(path.join(root, mod));
    const medians = [];
    for (const mib of SIZES) {
      const runs = [];
      for (let r = 0; r < ROUNDS; r++) runs.push(await once(ss, mib));
      runs.sort((a, b) => a - b);
      medians.push(runs[Math.floor(runs.length / 2)]);
    }
    const ratio = medians[medians.length - 1] / medians[0];
    console.log(`| ${name} | ${medians.map((m) => m.toFixed(1)).join(' | ')} | ${ratio.toFixed(1)}× |`);
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
