#!/usr/bin/env node
// Fork stress (DESIGN.md "Fork"): N requests to a ForkingTCPServer whose
// children each allocate and collect >= 50 MB while the parent allocates
// too. Counts children that hang (killed by the watchdog, SIGALRM), crash
// (any other signal or a bad status), or answer wrongly. All must be 0.
//
//   node bench/fork-stress.js [--forks 2000] [--child-mb 50] [--concurrency 4] [--watchdog 20] [--deadline 600]
//
// Prints one JSON line; exits 1 unless every request was answered by a child
// that exited with status 0.
'use strict';
const net = require('node:net');
const { spawn } = require('node:child_process');
const { ForkingTCPServer, StreamRequestHandler } = require('../dist/index.js');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const FORKS = arg('forks', 2000);
const CHILD_MB = arg('child-mb', 50);
const CONCURRENCY = arg('concurrency', 4);
const WATCHDOG = arg('watchdog', 20);
const DEADLINE_MS = arg('deadline', 600) * 1000;

class Handler extends StreamRequestHandler {
  async handle() {
    const line = (await this.rfile.readline()).toString().trim();
    // Allocate and drop CHILD_MB of JS arrays in four rounds, so the
    // child's GC (and V8's platform workers, were they not parked) runs.
    let kept = 0;
    for (let round = 0; round < 4; round++) {
      const junk = [];
      for (let i = 0; i < (CHILD_MB * 1024) / 4 / 16; i++) junk.push(new Array(2048).fill(round));
      kept += junk.length;
    }
    await this.wfile.write(`${process.pid} ${line.toUpperCase()} ${kept}\n`);
  }
}

const stats = { forks: 0, exited: 0, hangs: 0, crashes: 0, forkUs: [], sweepUs: [], parkUs: [] };

class StressServer extends ForkingTCPServer {
  static requestQueueSize = 128;
  static maxChildren = CONCURRENCY * 2;
  static childTimeout = WATCHDOG;

  childExited(pid, code, signal) {
    stats.exited++;
    if (signal === 14) stats.hangs++; // SIGALRM: the watchdog fired
    else if (code !== 0) stats.crashes++;
  }

  async processRequest(request, address) {
    await super.processRequest(request, address);
    // Only the parent gets here: the child ends inside processRequest.
    const s = this.transport.processes.stats();
    stats.forks++;
    stats.forkUs.push(s.forkUs);
    stats.sweepUs.push(s.sweepUs);
    stats.parkUs.push(s.parkUs);
  }
}

// The clients run in a process of their own: a forked child is a copy of
// its parent, pending callbacks included, so clients living in the server's
// process would be copied into every child.
function request(port, i) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(`req ${i}\n`));
    let got = '';
    s.setTimeout((WATCHDOG + 10) * 1000, () => s.destroy(new Error('client timeout')));
    s.on('data', (d) => { got += d; });
    s.on('close', () => resolve(got));
    s.on('error', () => {});
  });
}

async function runClients(port) {
  const result = { ok: 0, wrong: 0 };
  const started = Date.now();
  let next = 0;
  async function worker() {
    while (next < FORKS && Date.now() - started < DEADLINE_MS) {
      const i = next++;
      const reply = await request(port, i);
      if (new RegExp(`^\\d+ REQ ${i} \\d+\\n$`).test(reply)) result.ok++;
      else result.wrong++;
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  process.stdout.write(JSON.stringify(result));
}

function clients(port) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, '--client', String(port), ...process.argv.slice(2)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('error', reject);
    child.on('exit', (code) => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`client process exited ${code}: ${out}`));
      }
    });
  });
}

function median(a) {
  if (a.length === 0) return 0;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  const server = new StressServer(['127.0.0.1', 0], Handler);
  const loop = server.serveForever(0.05);
  // The parent allocates while it forks.
  let parentJunk = [];
  const churn = setInterval(() => {
    parentJunk.push(Buffer.alloc(256 * 1024), new Array(10000).fill(1));
    if (parentJunk.length > 400) parentJunk = [];
  }, 1);
  const started = Date.now();
  const result = await clients(server.serverAddress[1]);
  clearInterval(churn);
  await server.shutdown();
  await loop;
  await server.serverClose();
  const seconds = (Date.now() - started) / 1000;
  const out = {
    requests: FORKS, ok: result.ok, wrong: result.wrong,
    forks: stats.forks, exited: stats.exited, hangs: stats.hangs, crashes: stats.crashes,
    seconds, forksPerSecond: +(stats.forks / seconds).toFixed(1),
    medianUs: { park: median(stats.parkUs), sweep: median(stats.sweepUs), fork: median(stats.forkUs) },
    leftChildren: server.activeChildren ? server.activeChildren.size : 0,
  };
  console.log(JSON.stringify(out));
  const clean = out.ok === FORKS && out.forks === FORKS && out.exited === FORKS && !out.hangs && !out.crashes && !out.leftChildren;
  process.exitCode = clean ? 0 : 1;
}

const clientAt = process.argv.indexOf('--client');
(clientAt > 0 ? runClients(Number(process.argv[clientAt + 1])) : main()).catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
