// Issue 5, load: 1 000 connections open at once against a ThreadingTCPServer
// with requestQueueSize 1024, on each transport. The clients run in a
// child process (node:net) and send only once all 1 000 are connected; the
// server's handler holds every request at a gate until 1 000 handlers have
// started, so all 1 000 connections are accepted and open in the server at
// the same moment (the test checks the descriptor count then). Each client
// sends its own line (its number, then 200 to 4 000 random bytes, binary
// included); the reply must be that line with a-z upper-cased, byte for
// byte. Afterwards the server's descriptors are back to where they were.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

import { HOST, deferred, fdCount, transports, until, withTimeout } from './helpers';
import { exitOf, killAndWait } from './proc-helpers';

const N = 1000;
const GATE_MS = 30000;

/** a-z to A-Z, every other byte as it is (the handler's transform, and the client's expectation). */
function asciiUpper(buf: Buffer): Buffer {
  const out = Buffer.from(buf);
  for (let i = 0; i < out.length; i++) if (out[i] >= 0x61 && out[i] <= 0x7a) out[i] -= 0x20;
  return out;
}

const CLIENT = String.raw`
const net = require('net');
const crypto = require('crypto');
const port = Number(process.argv[1]);
const n = Number(process.argv[2]);
const t0 = Date.now();
function upper(buf) {
  const out = Buffer.from(buf);
  for (let i = 0; i < out.length; i++) if (out[i] >= 0x61 && out[i] <= 0x7a) out[i] -= 0x20;
  return out;
}
const res = { connected: 0, ok: 0, wrong: [], errors: {}, dataBeforeAllConnected: 0,
              allConnectedMs: null, firstReplyMs: null, ms: null, bytesSent: 0 };
let done = 0;
function finish() {
  res.ms = Date.now() - t0;
  process.stdout.write(JSON.stringify(res) + '\n');
  process.exit(0);
}
const deadline = setTimeout(() => { res.timedOut = n - done; finish(); }, 40000);
const socks = [];
for (let i = 0; i < n; i++) {
  // Random bytes, binary included, with no newline: the line is the request.
  const rnd = crypto.randomBytes(200 + crypto.randomInt(3800));
  for (let k = 0; k < rnd.length; k++) if (rnd[k] === 0x0a) rnd[k] = 0x20;
  const line = Buffer.concat([Buffer.from('req ' + i + ' '), rnd, Buffer.from('\n')]);
  const s = net.connect({ port, host: '127.0.0.1' });
  const chunks = [];
  let over = false;
  const end = () => {
    if (over) return;
    over = true;
    const got = Buffer.concat(chunks);
    if (got.equals(upper(line))) res.ok++;
    else if (res.wrong.length < 5) res.wrong.push({ i, expectedLen: line.length, gotLen: got.length });
    else res.wrong.push({ i });
    if (++done === n) { clearTimeout(deadline); finish(); }
  };
  s.on('connect', () => {
    if (++res.connected === n) {
      res.allConnectedMs = Date.now() - t0;
      // Everyone is connected: now, and only now, every client sends.
      for (const [sock, l] of socks) { sock.write(l); res.bytesSent += l.length; }
    }
  });
  s.on('data', (d) => {
    if (res.connected < n) res.dataBeforeAllConnected++;
    if (res.firstReplyMs === null) res.firstReplyMs = Date.now() - t0;
    chunks.push(d);
  });
  s.on('end', end);
  s.on('close', end);
  s.on('error', (e) => { res.errors[e.code] = (res.errors[e.code] || 0) + 1; });
  socks.push([s, line]);
}
`;

/** The soft RLIMIT_NOFILE of this process (Node raises it to the hard limit at start-up). */
function nofileLimit(): number {
  const m = /^Max open files\s+(\d+|unlimited)\s+/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
  return m === null || m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

describe('load: 1000 concurrent connections on a ThreadingTCPServer (requestQueueSize 1024)', function () {
  this.timeout(90000);
  this.slow(10000);

  for (const t of transports) {
    it(`${t.name}: all 1000 open at once, every reply verified byte for byte, descriptors back afterwards`, async function () {
      const need = fdCount() + N + 200;
      const limit = nofileLimit();
      if (limit < need) {
        // The server (this process) holds N connections at once; node already raised the soft limit to the hard one.
        console.log(`      skipped: RLIMIT_NOFILE is ${limit}, this test needs ${need} (raise the hard limit: ulimit -Hn)`);
        this.skip();
      }
      const ss = t.ss;
      const before = fdCount();
      const gate = deferred<void>();
      const gateTimer = setTimeout(() => gate.reject(new Error(`gate: not all ${N} handlers started within ${GATE_MS} ms`)), GATE_MS);
      let started = 0;
      let finished = 0;
      let peak = 0;
      let fdsAtGate = 0;
      const errors: unknown[] = [];

      class Handler extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          started++;
          peak = Math.max(peak, started - finished);
          if (started === N) {
            fdsAtGate = fdCount();
            gate.resolve();
          }
          try {
            await gate.promise;
            const line = await this.rfile.readline(65536);
            await this.wfile.write(asciiUpper(line));
          } finally {
            finished++;
          }
        }
      }
      class Server extends ss.ThreadingTCPServer {
        override handleError(_request: unknown, _address: unknown, error: unknown): void {
          errors.push(error);
        }
      }
      const server = new Server([HOST, 0], Handler, { requestQueueSize: 1024 });
      expect(server.requestQueueSize).to.equal(1024);
      const loop = server.serveForever(0.05);
      const client = spawn(process.execPath, ['-e', CLIENT, String((server.serverAddress as [string, number])[1]), String(N)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      client.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      client.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      try {
        const [code] = await exitOf(client, 60000);
        expect(code, `client exit; stderr: ${err}`).to.equal(0);
        const res = JSON.parse(out.trim());
        const detail = JSON.stringify({ ...res, wrong: res.wrong.slice(0, 5), started, finished, peak, errors: errors.slice(0, 3).map(String) });
        expect(res.connected, detail).to.equal(N);
        expect(res.dataBeforeAllConnected, detail).to.equal(0);
        expect(res.errors, detail).to.deep.equal({});
        expect(res.wrong, detail).to.deep.equal([]);
        expect(res.ok, detail).to.equal(N);
        expect(started, detail).to.equal(N);
        expect(peak, detail).to.equal(N); // all 1000 in the server at once
        expect(fdsAtGate - before, detail).to.be.at.least(N); // each with its own open descriptor
        expect(errors, detail).to.deep.equal([]);
      } finally {
        clearTimeout(gateTimer);
        await killAndWait(client);
        await withTimeout(server.shutdown(), 10000, 'shutdown()');
        await withTimeout(loop, 10000, 'serveForever() to end');
        await withTimeout(Promise.resolve(server.serverClose()), 20000, 'serverClose()');
      }
      await until(() => fdCount() === before, `descriptors back to ${before} (now ${fdCount()})`, 5000);
      expect(finished).to.equal(N);
    });
  }
});
