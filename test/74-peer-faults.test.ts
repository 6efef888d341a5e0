// Issue 5, peer faults on every path: clients that reset (ECONNRESET),
// close before the server writes (EPIPE, and never a SIGPIPE), half-close,
// leave before the reply, read slowly, send slowly (slow-loris against a
// handler timeout), or reset while still in the accept queue. Real sockets
// on 127.0.0.1, ::1 and Unix paths; TCP and Unix stream servers, plain and
// Threading, StreamRequestHandler and BaseRequestHandler, both transports.
//
// How a "reset" is made: on TCP, socket.resetAndDestroy() (SO_LINGER 0: an
// RST). Unix stream sockets have no RST; the Linux equivalent is closing a
// socket that has unread data in its receive queue, which sets ECONNRESET
// on the peer. So the handlers below always send a greeting first, and the
// clients are paused from creation, so that the greeting stays unread.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import * as os from 'node:os';

import {
  fdsBackTo,
  targetOf,
  closed,
  connect,
  deferred,
  fdCount,
  haveIPv6Loopback,
  HOST,
  readToEnd,
  ROOT,
  serveInBackground,
  SockReader,
  TempDir,
  transports,
  until,
  withTimeout,
  type Deferred,
  type SS,
} from './helpers';

type SysErr = Error & { code?: string; errno?: number; syscall?: string };
type PathKind = 'tcp' | 'tcp6' | 'unix';
type Target = [string, number] | string;

const ERRNO = os.constants.errno as Record<string, number>;
const PATHS: PathKind[] = haveIPv6Loopback() ? ['tcp', 'tcp6', 'unix'] : ['tcp', 'unix'];
const MiB = 1 << 20;

/** Asserts Node's system-error shape: code among `codes`, errno its negative number, a syscall. */
function expectSystemError(e: unknown, codes: string[], what: string): void {
  const err = e as SysErr;
  expect(err, `${what}: an Error`).to.be.instanceOf(Error);
  expect(codes, `${what}: code of ${err.stack}`).to.include(err.code);
  expect(err.errno, `${what}: errno`).to.equal(-ERRNO[err.code as string]);
  expect(err.syscall, `${what}: syscall`).to.be.a('string').and.not.equal('');
}

/** A node:net client connected to `target` that reads nothing until resumed. */
function connectPaused(target: Target): Promise<net.Socket> {
  return withTimeout(
    new Promise<net.Socket>((resolve, reject) => {
      const s = typeof target === 'string' ? net.connect({ path: target }) : net.connect({ host: target[0], port: target[1] });
      s.pause(); // before 'connect': node:net then never starts reading
      s.once('error', reject);
      s.once('connect', () => {
        s.off('error', reject);
        s.on('error', () => undefined);
        resolve(s);
      });
    }),
    5000,
    `connect to ${JSON.stringify(target)}`,
  );
}

/** Resets the connection: an RST on TCP; on Unix, a close with unread data (ECONNRESET at the peer). */
async function reset(s: net.Socket, kind: PathKind): Promise<void> {
  if (kind === 'unix') s.destroy();
  else s.resetAndDestroy();
  await closed(s);
}



/**
 * Stops the loop (if any) and closes the server, each bounded; returns what
 * went wrong instead of throwing, so that a test's own failure is the one
 * reported. Tests assert the list is empty after their finally block.
 */
async function stopAndClose(server: any, loop?: { stop(): Promise<void> }): Promise<string[]> {
  const problems: string[] = [];
  if (loop) await loop.stop().catch((e: Error) => problems.push(e.message));
  await withTimeout(Promise.resolve(server.serverClose()), 5000, 'serverClose()').catch((e: Error) => problems.push(e.message));
  return problems;
}

interface Made {
  server: any;
  errors: SysErr[];
  /** shutdownRequest() calls: requests the server is done with. */
  done(): number;
  target: Target;
}

/** A server of the path's kind, plain or Threading, that records handleError() and counts finished requests. */
function makeServer(ss: SS, kind: PathKind, threading: boolean, Handler: any, tmp: TempDir, extra: Record<string, unknown> = {}): Made {
  const errors: SysErr[] = [];
  let done = 0;
  const Base: new (...args: any[]) => any =
    kind === 'unix' ? (threading ? ss.ThreadingUnixStreamServer : ss.UnixStreamServer) : threading ? ss.ThreadingTCPServer : ss.TCPServer;
  class Server extends Base {
    handleError(_r: unknown, _a: unknown, e: unknown): void {
      errors.push(e as SysErr);
    }
    shutdownRequest(r: unknown): unknown {
      done++;
      return super.shutdownRequest(r);
    }
  }
  const address = kind === 'unix' ? tmp.path() : [kind === 'tcp6' ? '::1' : HOST, 0];
  const options = kind === 'tcp6' ? { addressFamily: ss.constants.AF_INET6, ...extra } : extra;
  const server = new Server(address, Handler, options);
  return { server, errors, done: () => done, target: targetOf(server) };
}

/** Reads from a BaseRequestHandler's request through the first '\n' or to EOF (bounded). */
async function recvLine(request: any): Promise<Buffer> {
  let got = Buffer.alloc(0);
  for (let i = 0; i < 10_000 && !got.includes(0x0a); i++) {
    const b: Buffer = await request.recv(4096);
    if (b.length === 0) break;
    got = Buffer.concat([got, b]);
  }
  return got;
}

/** Reads from a BaseRequestHandler's request to EOF (bounded). */
async function recvAll(request: any): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < 100_000; i++) {
    const b: Buffer = await request.recv(65536);
    if (b.length === 0) break;
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

type HandlerKind = 'stream' | 'base';
const HANDLERS: HandlerKind[] = ['stream', 'base'];

/**
 * The I/O a handler does, the same through rfile/wfile (StreamRequestHandler)
 * and through request.recv()/sendAll() (BaseRequestHandler).
 */
interface Io {
  readLine(): Promise<Buffer>;
  readAll(): Promise<Buffer>;
  write(data: Buffer | string): Promise<void>;
}

/** A handler class of `kind` whose handle() is `body(io, handler)`. */
function handlerOf(ss: SS, kind: HandlerKind, body: (io: Io, h: any) => Promise<void>, settings: Record<string, unknown> = {}): any {
  if (kind === 'stream') {
    const H = class extends ss.StreamRequestHandler {
      override async handle(): Promise<void> {
        await body(
          {
            readLine: () => this.rfile.readline(),
            readAll: () => this.rfile.read(),
            write: async (d) => {
              await this.wfile.write(d);
            },
          },
          this,
        );
      }
    };
    Object.assign(H, settings);
    return H;
  }
  return class extends ss.BaseRequestHandler {
    override async handle(): Promise<void> {
      const req = this.request as any;
      await body({ readLine: () => recvLine(req), readAll: () => recvAll(req), write: (d) => req.sendAll(d) }, this);
    }
  };
}

/** A deterministic pseudo-random payload and its SHA-256. */
function payload(size: number, seed: string): { data: Buffer; sha: string } {
  const data = Buffer.alloc(size);
  let block = crypto.createHash('sha256').update(seed).digest();
  for (let off = 0; off < size; off += block.length) {
    block.copy(data, off);
    block = crypto.createHash('sha256').update(block).digest();
  }
  return { data, sha: crypto.createHash('sha256').update(data).digest('hex') };
}

const sha256 = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

/** One normal exchange: greeting-less line echo through `target`. */
async function exchange(target: Target, line: string): Promise<string> {
  const c = await connect(target);
  try {
    const reader = new SockReader(c);
    c.write(line);
    return (await reader.readLine()).toString();
  } finally {
    c.destroy();
    await closed(c);
  }
}

for (const { name, ss, caps } of transports) {
  describe(`peer faults (${name})`, function () {
    this.timeout(60_000);
    const tmp = new TempDir('ss-faults-');
    after(() => tmp.cleanup());

    before(async () => {
      // Descriptors a process opens once and keeps (libuv's EMFILE reserve
      // at its first stream handle, ...) are opened here, before any baseline.
      for (const kind of PATHS) {
        const echo = handlerOf(ss, 'stream', async (io) => io.write(await io.readLine()));
        const m = makeServer(ss, kind, true, echo, tmp);
        const loop = serveInBackground(m.server);
        let problems: string[] = [];
        expect(await exchange(m.target, 'warm\n')).to.equal('warm\n');
        await loop.stop();
        await m.server.serverClose();
      }
    });

    // ------------------------------------------------------------ ECONNRESET

    for (const kind of PATHS) {
      for (const threading of [false, true]) {
        for (const hk of HANDLERS) {
          const cls = `${threading ? 'Threading' : ''}${kind === 'unix' ? 'UnixStreamServer' : 'TCPServer'}${kind === 'tcp6' ? ' (::1)' : ''}`;
          it(`ECONNRESET before the read, during the read, during a write: handleError() gets it, serving goes on, no leak — ${cls}, ${hk} handler`, async () => {
            type Mode = 'gate-read' | 'read' | 'write' | 'normal';
            let mode: Mode = 'normal';
            let started: Deferred<void> = deferred();
            let gate: Deferred<void> = deferred();
            const outcomes: string[] = [];
            const H = handlerOf(ss, hk, async (io) => {
              await io.write('hi\n'); // stays unread in the paused client
              if (mode === 'write') {
                let sent = 0;
                started.resolve(); // the first write below blocks: the client reads nothing
                for (let i = 0; i < 64; i++) {
                  await io.write(Buffer.alloc(MiB, 0x77));
                  sent += MiB;
                }
                outcomes.push(`wrote ${sent}`); // only if the peer read it all: a failure
                return;
              }
              started.resolve();
              if (mode === 'gate-read') await withTimeout(gate.promise, 5000, 'the gate');
              const line = await io.readLine();
              outcomes.push(line.length === 0 ? 'eof' : `line ${line.toString()}`);
              await io.write(`echo ${line.toString()}`);
            });
            const baseline = fdCount();
            const m = makeServer(ss, kind, threading, H, tmp);
            const loop = serveInBackground(m.server);
            let problems: string[] = [];
            try {
              for (const m2 of ['gate-read', 'read', 'write'] as Mode[]) {
                mode = m2;
                started = deferred();
                gate = deferred();
                const before = m.errors.length;
                const doneBefore = m.done();
                const c = await connectPaused(m.target);
                c.write('partial, no newline');
                await withTimeout(started.promise, 5000, `${m2}: the handler to start`);
                await reset(c, kind);
                gate.resolve();
                await until(() => m.done() > doneBefore, `${m2}: the request to end`, 5000);
                const codes = m2 === 'write' ? ['ECONNRESET', 'EPIPE'] : ['ECONNRESET'];
                if (caps.resetIsError || m2 === 'write' || m.errors.length > before) {
                  expect(m.errors.length, `${m2}: errors (outcomes ${outcomes.join(', ')})`).to.equal(before + 1);
                  expectSystemError(m.errors[before], codes, m2);
                } else {
                  // libuv read the reset as EOF: the handler saw what was sent, then the end.
                  expect(outcomes.pop(), `${m2}: what the handler read`).to.equal('line partial, no newline');
                }
              }
              // The server serves on.
              mode = 'normal';
              for (let i = 0; i < 3; i++) {
                const c = await connect(m.target);
                const reader = new SockReader(c);
                c.write(`ping ${i}\n`);
                expect((await reader.readLine()).toString()).to.equal('hi\n');
                expect((await reader.readLine()).toString()).to.equal(`echo ping ${i}\n`);
                c.destroy();
                await closed(c);
              }
              expect(outcomes.filter((o) => !o.startsWith('line ping'))).to.deep.equal([]);
            } finally {
              gate.resolve();
              problems = await stopAndClose(m.server, loop);
            }
            expect(problems, 'stopping and closing the server').to.deep.equal([]);
            await fdsBackTo(baseline, 'after the resets');
          });
        }
      }
    }

    // ------------------------------------------------------------ EPIPE

    for (const kind of PATHS) {
      for (const threading of [false, true]) {
        for (const hk of HANDLERS) {
          const cls = `${threading ? 'Threading' : ''}${kind === 'unix' ? 'UnixStreamServer' : 'TCPServer'}${kind === 'tcp6' ? ' (::1)' : ''}`;
          it(`EPIPE: writing to a peer that has closed rejects with EPIPE/ECONNRESET into handleError(), serving goes on — ${cls}, ${hk} handler`, async () => {
            let read: Deferred<void> = deferred();
            let gone: Deferred<void> = deferred();
            let normal = false;
            let written = -1;
            const H = handlerOf(ss, hk, async (io) => {
              const line = await io.readLine();
              if (normal) return io.write(`echo ${line.toString()}`);
              read.resolve();
              await withTimeout(gone.promise, 5000, 'the client to close');
              written = 0;
              // Bounded: 64 MiB at most; the peer is gone, so the first
              // writes after its RST (TCP) or at once (Unix) must fail.
              for (let i = 0; i < 64; i++) {
                await io.write(Buffer.alloc(MiB, 0x70));
                written += MiB;
              }
            });
            const baseline = fdCount();
            const m = makeServer(ss, kind, threading, H, tmp);
            const loop = serveInBackground(m.server);
            let problems: string[] = [];
            try {
              for (let round = 0; round < 2; round++) {
                read = deferred();
                gone = deferred();
                const before = m.errors.length;
                const doneBefore = m.done();
                const c = await connect(m.target);
                c.write('request\n');
                await withTimeout(read.promise, 5000, 'the handler to read');
                c.destroy(); // an orderly close (FIN): nothing unread on our side
                await closed(c);
                gone.resolve();
                await until(() => m.done() > doneBefore, 'the request to end', 5000);
                expect(m.errors.length).to.equal(before + 1);
                expectSystemError(m.errors[before], ['EPIPE', 'ECONNRESET'], `round ${round}`);
                expect(written).to.be.below(64 * MiB);
              }
              normal = true;
              expect(await exchange(m.target, 'after\n')).to.equal('echo after\n');
            } finally {
              gone.resolve();
              problems = await stopAndClose(m.server, loop);
            }
            expect(problems, 'stopping and closing the server').to.deep.equal([]);
            await fdsBackTo(baseline, 'after EPIPE');
          });
        }
      }
    }

    it('EPIPE never raises SIGPIPE (a server process counting SIGPIPEs, TCP and Unix)', async function () {
      // Node ignores SIGPIPE by default, so a SIGPIPE would go unseen; the
      // child process installs a listener, which makes each one count.
      const entry = `${ROOT}/dist/${name === 'js' ? 'js' : 'index'}.js`;
      const script = `
        const lib = require(${JSON.stringify(entry)});
        const net = require('net');
        let sigpipes = 0;
        process.on('SIGPIPE', () => { sigpipes++; });
        const turn = () => new Promise((r) => setImmediate(r));
        async function one(Server, address, connectTo) {
          const errors = [];
          let readDone, gone;
          const read = new Promise((r) => { readDone = r; });
          const goneP = new Promise((r) => { gone = r; });
          class S extends Server { handleError(r, a, e) { errors.push(e.code); } }
          class H extends lib.StreamRequestHandler {
            async handle() {
              await this.rfile.readline();
              readDone();
              await goneP;
              for (let i = 0; i < 64; i++) await this.wfile.write(Buffer.alloc(1 << 20));
            }
          }
          const server = new S(address, H);
          const serving = server.handleRequest();
          const c = net.connect(connectTo(server.serverAddress));
          c.on('error', () => {});
          await new Promise((r) => c.once('connect', r));
          c.write('x\\n');
          await read;
          c.destroy();
          await new Promise((r) => c.once('close', r));
          gone();
          await serving;
          await server.serverClose();
          return errors;
        }
        (async () => {
          const tcp = await one(lib.TCPServer, ['127.0.0.1', 0], (a) => ({ host: a[0], port: a[1] }));
          const unix = await one(lib.UnixStreamServer, ${JSON.stringify(tmp.path('sigpipe'))}, (a) => ({ path: a }));
          // Signals reach JavaScript through libuv's one signal pipe, in
          // order: once a SIGUSR2 sent after a SIGPIPE of our own is seen,
          // every SIGPIPE before it has been counted, ours included.
          let barrier = false;
          process.on('SIGUSR2', () => { barrier = true; });
          process.kill(process.pid, 'SIGPIPE');
          process.kill(process.pid, 'SIGUSR2');
          for (let i = 0; i < 100000 && !barrier; i++) await turn();
          console.log(JSON.stringify({ tcp, unix, barrier, counted: sigpipes }));
          process.exit(0);
        })().catch((e) => { console.error(e); process.exit(2); });
      `;
      const out = await withTimeout(
        new Promise<string>((resolve, reject) =>
          execFile(process.execPath, ['-e', script], { timeout: 20_000 }, (error, stdout, stderr) =>
            error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
          ),
        ),
        25_000,
        'the server process',
      );
      const report = JSON.parse(out.trim().split('\n').pop() as string);
      expect(report.barrier, 'the signals were delivered').to.equal(true);
      expect(report.counted, 'the SIGPIPE counter counts (our own one at least)').to.be.at.least(1);
      report.sigpipes = report.counted - 1;
      expect(report.tcp).to.have.length(1);
      expect(['EPIPE', 'ECONNRESET']).to.include(report.tcp[0]);
      expect(report.unix).to.have.length(1);
      expect(['EPIPE', 'ECONNRESET']).to.include(report.unix[0]);
      // The process survived either way (Node ignores SIGPIPE by default);
      // the native transport never raises it at all (MSG_NOSIGNAL).
      if (name === 'native') expect(report.sigpipes, 'SIGPIPEs raised').to.equal(0);
      else if (report.sigpipes !== 0) {
        // node:net writes with write(2), which raises SIGPIPE; Node ignores it.
        this.test!.title += ` [js: ${report.sigpipes} SIGPIPE raised and ignored, as node:net does]`;
      }
    });

    // ------------------------------------------------------------ half-close

    for (const kind of PATHS) {
      for (const threading of [false, true]) {
        for (const hk of HANDLERS) {
          const cls = `${threading ? 'Threading' : ''}${kind === 'unix' ? 'UnixStreamServer' : 'TCPServer'}${kind === 'tcp6' ? ' (::1)' : ''}`;
          it(`half-close: the client sends, shuts down writing; the server reads to EOF and its whole reply arrives — ${cls}, ${hk} handler`, async () => {
            const reply = payload(MiB + 17, `reply ${kind}`);
            const H = handlerOf(ss, hk, async (io) => {
              const all = await io.readAll();
              await io.write(`${all.length} ${sha256(all)}\n`);
              await io.write(reply.data);
            });
            const request = payload(300_001, `request ${kind}`);
            const baseline = fdCount();
            const m = makeServer(ss, kind, threading, H, tmp);
            const loop = serveInBackground(m.server);
            let problems: string[] = [];
            try {
              for (let i = 0; i < 3; i++) {
                const c = await connect(m.target);
                const got = readToEnd(c, 10_000);
                c.end(request.data); // write, then shutdown(SHUT_WR)
                const all = await got;
                c.destroy();
                const nl = all.indexOf(0x0a);
                expect(all.subarray(0, nl + 1).toString()).to.equal(`${request.data.length} ${request.sha}\n`);
                const body = all.subarray(nl + 1);
                expect(body.length).to.equal(reply.data.length);
                expect(sha256(body)).to.equal(reply.sha);
              }
              expect(m.errors).to.deep.equal([]);
            } finally {
              problems = await stopAndClose(m.server, loop);
            }
            expect(problems, 'stopping and closing the server').to.deep.equal([]);
            await fdsBackTo(baseline, 'after half-closes');
          });
        }
      }
    }

    // ------------------------------------------------------------ gone before the reply

    for (const kind of PATHS) {
      for (const threading of [false, true]) {
        const cls = `${threading ? 'Threading' : ''}${kind === 'unix' ? 'UnixStreamServer' : 'TCPServer'}${kind === 'tcp6' ? ' (::1)' : ''}`;
        it(`200 clients that connect, send and leave at once: nothing leaks, the server still answers — ${cls}`, async () => {
          const N = 200;
          const H = handlerOf(ss, 'stream', async (io) => {
            const line = await io.readLine();
            await io.write(Buffer.alloc(64 * 1024, 0x61));
            await io.write(`echo ${line.toString()}`);
          });
          const baseline = fdCount();
          const m = makeServer(ss, kind, threading, H, tmp, { requestQueueSize: 64 });
          const loop = serveInBackground(m.server);
          let problems: string[] = [];
          try {
            const leave = async (i: number): Promise<void> => {
              const c = net.connect(typeof m.target === 'string' ? { path: m.target } : { host: m.target[0], port: m.target[1] });
              c.on('error', () => undefined);
              await withTimeout(new Promise((r) => c.once('connect', r)), 5000, `connect ${i}`);
              c.write(`leaving ${i}\n`);
              c.destroy();
              await closed(c);
            };
            // At most 8 in flight, so the listen backlog never overflows.
            let next = 0;
            const worker = async (): Promise<void> => {
              while (next < N) {
                const i = next++;
                await leave(i);
                await until(() => m.done() >= i + 1 - 8, `request ${i - 8} to end`, 5000);
              }
            };
            await Promise.all(Array.from({ length: threading ? 8 : 1 }, worker));
            await until(() => m.done() >= N, `all ${N} requests to end (${m.done()} did)`, 10_000);
            for (const e of m.errors) expectSystemError(e, ['ECONNRESET', 'EPIPE'], 'a client gone');
            const c = await connect(m.target);
            const reader = new SockReader(c);
            c.write('still there?\n');
            await reader.readExactly(64 * 1024);
            expect((await reader.readLine()).toString()).to.equal('echo still there?\n');
            c.destroy();
            await closed(c);
            if (threading) await until(() => m.server._threads.size === 0, 'no request task left', 5000);
          } finally {
            problems = await stopAndClose(m.server, loop);
          }
          expect(problems, 'stopping and closing the server').to.deep.equal([]);
          await fdsBackTo(baseline, `after ${N} clients left`);
        });
      }
    }

    // ------------------------------------------------------------ slow readers

    const big = payload(8 * MiB, 'eight MiB');
    for (const kind of PATHS) {
      for (const hk of HANDLERS) {
        it(`slow reader of an 8 MiB reply: every byte arrives intact; destroyed midway: the write rejects into handleError(), no leak — ${kind}, ${hk} handler`, async () => {
          let writes: Deferred<string> = deferred();
          const H = handlerOf(ss, hk, async (io) => {
            const line = await io.readLine();
            try {
              await io.write(big.data);
              writes.resolve('completed');
            } catch (e) {
              writes.resolve(`rejected ${(e as SysErr).code}`);
              throw e;
            }
            void line;
          });
          const baseline = fdCount();
          const m = makeServer(ss, kind, true, H, tmp);
          const loop = serveInBackground(m.server);
          let problems: string[] = [];
          try {
            // 1. Intact: read 256 KiB, pause ~5 ms, and so on (bounded by the size).
            const c = await connectPaused(m.target);
            const chunks: Buffer[] = [];
            let got = 0;
            let pauses = 0;
            const all = withTimeout(
              new Promise<void>((resolve, reject) => {
                let sincePause = 0;
                c.on('data', (d: Buffer) => {
                  chunks.push(d);
                  got += d.length;
                  sincePause += d.length;
                  if (got >= big.data.length) resolve();
                  else if (sincePause >= 256 * 1024 && pauses < 64) {
                    sincePause = 0;
                    pauses++;
                    c.pause();
                    setTimeout(() => c.resume(), 5);
                  }
                });
                c.once('error', reject);
                c.once('close', () => resolve());
              }),
              30_000,
              'the 8 MiB reply',
            );
            c.write('send it\n');
            // Start slow: let the server fill the socket buffers and wait on EAGAIN.
            setTimeout(() => c.resume(), 20);
            await all;
            expect(await withTimeout(writes.promise, 5000, 'the write')).to.equal('completed');
            const body = Buffer.concat(chunks);
            expect(body.length).to.equal(big.data.length);
            expect(sha256(body)).to.equal(big.sha);
            expect(pauses).to.be.greaterThan(4);
            c.destroy();
            await closed(c);

            // 2. Destroyed midway (after 1 MiB): the write rejects.
            writes = deferred();
            const before = m.errors.length;
            const d = await connectPaused(m.target);
            let dGot = 0;
            const midway = deferred();
            d.on('data', (b: Buffer) => {
              dGot += b.length;
              if (dGot >= MiB) midway.resolve();
            });
            d.write('send it\n');
            d.resume();
            await withTimeout(midway.promise, 10_000, '1 MiB of the reply');
            d.destroy(); // unread data: an RST on TCP, ECONNRESET/EPIPE on Unix
            await closed(d);
            const outcome = await withTimeout(writes.promise, 10_000, 'the write to fail');
            expect(outcome).to.match(/^rejected (EPIPE|ECONNRESET)$/);
            await until(() => m.errors.length > before, 'handleError()', 5000);
            expectSystemError(m.errors[before], ['EPIPE', 'ECONNRESET'], 'write to a destroyed reader');

            // 3. The server serves on.
            writes = deferred();
            const e = await connect(m.target);
            const whole = readToEnd(e, 10_000);
            e.write('again\n');
            const again = await whole;
            expect(sha256(again)).to.equal(big.sha);
            e.destroy();
            await until(() => m.server._threads.size === 0, 'no request task left', 5000);
          } finally {
            problems = await stopAndClose(m.server, loop);
          }
          expect(problems, 'stopping and closing the server').to.deep.equal([]);
          await fdsBackTo(baseline, 'after the slow readers');
        });
      }
    }

    // ------------------------------------------------------------ slow-loris

    for (const kind of PATHS) {
      it(`slow-loris against a handler timeout (ThreadingMixIn): the read times out (ETIMEDOUT), others are served meanwhile; the timeout bounds each read, not the request — ${kind}`, async () => {
        let lorisActive = 0;
        const H = handlerOf(
          ss,
          'stream',
          async (io) => {
            const first = await io.readLine();
            if (first.toString() !== 'loris\n') return io.write(`echo ${first.toString()}`);
            lorisActive++;
            try {
              const line = await io.readLine(); // the slow part
              await io.write(`slow ${line.toString()}`);
            } finally {
              lorisActive--;
            }
          },
          { timeout: 0.4 },
        );
        const baseline = fdCount();
        const m = makeServer(ss, kind, true, H, tmp);
        const loop = serveInBackground(m.server);
        let problems: string[] = [];
        const timers = new Set<NodeJS.Timeout>();
        /** A client sending `text` one byte every `gapMs` (bounded by the text's length). */
        const loris = async (text: string, gapMs: number): Promise<{ reply: string; sent: number }> => {
          const c = await connect(m.target);
          const reply = readToEnd(c, 15_000);
          c.write('loris\n');
          let sent = 0;
          const drip = (): void => {
            if (sent >= text.length || c.destroyed || !c.writable) return;
            c.write(text[sent++]);
            const t = setTimeout(() => {
              timers.delete(t);
              drip();
            }, gapMs);
            timers.add(t);
          };
          drip();
          const r = (await reply).toString();
          c.destroy();
          return { reply: r, sent };
        };
        try {
          // Gaps longer than the timeout: the second byte never comes in time.
          const slow = loris('abcdefghij\n', 1500);
          await until(() => lorisActive === 1, 'the slow-loris handler to run', 5000);
          for (let i = 0; i < 5; i++) expect(await exchange(m.target, `other ${i}\n`)).to.equal(`echo other ${i}\n`);
          expect(lorisActive, 'the others were served while the slow-loris was being read').to.equal(1);
          const cut = await slow;
          expect(cut.reply).to.equal('');
          expect(cut.sent).to.be.below(4);
          expect(m.errors).to.have.length(1);
          expect(m.errors[0].code).to.equal('ETIMEDOUT');
          expect(m.errors[0].errno).to.equal(-ERRNO.ETIMEDOUT);
          expect(m.errors[0].syscall).to.equal('recv');

          // Gaps shorter than the timeout: each read is in time, so the
          // request is served, however long it takes in all (as in Python,
          // where settimeout() bounds each operation).
          const patient = await loris('0123456789\n', 60);
          expect(patient.reply).to.equal('slow 0123456789\n');
          expect(m.errors).to.have.length(1);
        } finally {
          for (const t of timers) clearTimeout(t);
          problems = await stopAndClose(m.server, loop);
        }
        expect(problems, 'stopping and closing the server').to.deep.equal([]);
        await fdsBackTo(baseline, 'after the slow-loris');
      });
    }

    // ------------------------------------------------------------ reset in the accept queue

    for (const kind of PATHS) {
      it(`a connection reset while still in the accept queue (ECONNABORTED on accept): the next connection is served normally — ${kind}`, async () => {
        const seen: string[] = [];
        const H = handlerOf(ss, 'base', async (io, h) => {
          let line: Buffer;
          try {
            line = await io.readLine();
          } catch (e) {
            seen.push(`read ${(e as SysErr).code}`);
            throw e;
          }
          seen.push(line.length === 0 ? 'eof' : `line ${line.toString().trim()}`);
          if (line.length > 0) await io.write(`echo ${line.toString()}`);
          void h;
        });
        const baseline = fdCount();
        const m = makeServer(ss, kind, false, H, tmp);
        let loop: { stop(): Promise<void> } | undefined;
        let problems: string[] = [];
        try {
          // Not serving yet: the connections wait in the listen backlog.
          const doomed: net.Socket[] = [];
          for (let i = 0; i < 3; i++) {
            const c = await connectPaused(m.target);
            c.write(`doomed ${i}`);
            doomed.push(c);
          }
          for (const c of doomed) await reset(c, kind);
          const good = await connect(m.target);
          const reader = new SockReader(good);
          good.write('good\n');
          loop = serveInBackground(m.server);
          expect((await reader.readLine(10_000)).toString()).to.equal('echo good\n');
          good.destroy();
          await closed(good);
          await until(() => seen.includes('line good'), 'the good request', 5000);
          // What became of the doomed ones: dropped by accept (ECONNABORTED),
          // or accepted and then a reset, or EOF, for the handler.
          for (const s of seen) expect(s).to.match(/^(read ECONNRESET|eof|line good|line doomed \d)$/);
          for (const e of m.errors) expectSystemError(e, ['ECONNRESET', 'ECONNABORTED', 'ENOTCONN', 'EPIPE'], 'a doomed connection');
          expect(seen.filter((s) => s === 'line good')).to.have.length(1);
        } finally {
          problems = await stopAndClose(m.server, loop);
        }
        expect(problems, 'stopping and closing the server').to.deep.equal([]);
        await fdsBackTo(baseline, 'after the aborted connections');
      });
    }
  });
}
