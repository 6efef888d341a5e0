// Issue 10: ThreadingMixIn's workerThreads on stream servers (datagram
// servers: test/82).
// The handlers live in test/fixtures/worker-handlers.{js,mjs}, modules a
// worker thread can import. Every wait is bounded; nothing sleeps to
// synchronise: the handlers say where they are ("STARTED", "WAITING").
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

import { connect, fdCount, fdsBackTo, HOST, nativeAddon, ROOT, SockReader, targetOf, TempDir, transports, turns, until, withTimeout } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'worker-handlers.js');
const MJS_FIXTURE = path.join(ROOT, 'test', 'fixtures', 'worker-handlers.mjs');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Commands } = require(FIXTURE) as { Commands: Any };

function threadCount(): number {
  return fs.readdirSync('/proc/self/task').length;
}

/** Sends one line on a new connection and reads lines until EOF. */
async function exchange(target: [string, number] | string, line: string): Promise<string[]> {
  const sock = await connect(target);
  try {
    const reader = new SockReader(sock);
    sock.write(`${line}\n`);
    const all = (await withTimeout(reader.readToEnd(10_000), 10_000, `reply to ${line}`)).toString();
    return all.split('\n').filter((l) => l !== '');
  } finally {
    sock.destroy();
  }
}

/** A connection kept open: its lines one at a time. */
async function open(target: [string, number] | string): Promise<{ sock: net.Socket; reader: SockReader; line(): Promise<string> }> {
  const sock = await connect(target);
  const reader = new SockReader(sock);
  return { sock, reader, line: async () => (await withTimeout(reader.readLine(), 10_000, 'a line')).toString().trim() };
}

const native = transports.find((t) => t.name === 'native')!;
const js = transports.find((t) => t.name === 'js')!;
const ss = native.ss as Any;

describe('81 worker threads (ThreadingMixIn workerThreads), stream servers', function () {
  this.timeout(60_000);
  const tmp = new TempDir('ss-workers-');
  after(() => tmp.cleanup());

  describe('settings', () => {
    it('workerThreads defaults to 0 and workerData to undefined, as statics and on instances', async () => {
      expect(ss.ThreadingTCPServer.workerThreads).to.equal(0);
      expect(ss.ThreadingTCPServer.workerData).to.equal(undefined);
      const server = new ss.ThreadingTCPServer([HOST, 0], Commands);
      try {
        expect(server.workerThreads).to.equal(0);
        expect(server.workerData).to.equal(undefined);
      } finally {
        await server.serverClose();
      }
    });

    it('invalid workerThreads: a coded RangeError or TypeError, before any descriptor is made', () => {
      const before = fdCount();
      const cases: [unknown, typeof Error, string][] = [
        [-1, RangeError, 'ERR_OUT_OF_RANGE'],
        [1.5, RangeError, 'ERR_OUT_OF_RANGE'],
        [NaN, RangeError, 'ERR_OUT_OF_RANGE'],
        [100000, RangeError, 'ERR_OUT_OF_RANGE'],
        ['2', TypeError, 'ERR_INVALID_ARG_TYPE'],
        [null, TypeError, 'ERR_INVALID_ARG_TYPE'],
      ];
      for (const [value, cls, code] of cases) {
        let thrown: Any;
        try {
          new ss.ThreadingTCPServer([HOST, 0], Commands, { workerThreads: value });
        } catch (e) {
          thrown = e;
        }
        expect(thrown, String(value)).to.be.instanceOf(cls);
        expect(thrown.code, String(value)).to.equal(code);
      }
      expect(fdCount()).to.equal(before);
    });

    it('a handler without `static module`: a TypeError that says what to add', () => {
      class NoModule extends ss.StreamRequestHandler {}
      let thrown: Any;
      try {
        new ss.ThreadingTCPServer([HOST, 0], NoModule, { workerThreads: 1 });
      } catch (e) {
        thrown = e;
      }
      expect(thrown).to.be.instanceOf(TypeError);
      expect(thrown.code).to.equal('ERR_INVALID_ARG_TYPE');
      expect(thrown.message).to.contain('static module = import.meta.url').and.contain('NoModule');
      // workerThreads 0 does not need it.
      const server = new ss.ThreadingTCPServer([HOST, 0], NoModule);
      return server.serverClose();
    });

    it('a relative module path, or a workerData that cannot be cloned: TypeError', () => {
      class Relative extends ss.StreamRequestHandler {
        static module = './handlers.js';
      }
      expect(() => new ss.ThreadingTCPServer([HOST, 0], Relative, { workerThreads: 1 })).to.throw(TypeError, /absolute path/);
      let thrown: Any;
      try {
        new ss.ThreadingTCPServer([HOST, 0], Commands, { workerThreads: 1, workerData: { f: () => 1 } });
      } catch (e) {
        thrown = e;
      }
      expect(thrown).to.be.instanceOf(TypeError);
      expect(thrown.code).to.equal('ERR_INVALID_ARG_TYPE');
      expect(thrown.message).to.contain('workerData');
    });

    it('the js transport refuses workerThreads > 0: ERR_SOCKETSERVER_UNSUPPORTED (0 is fine)', async () => {
      const jss = js.ss as Any;
      let thrown: Any;
      try {
        new jss.ThreadingTCPServer([HOST, 0], Commands, { workerThreads: 2 });
      } catch (e) {
        thrown = e;
      }
      expect(thrown?.code).to.equal('ERR_SOCKETSERVER_UNSUPPORTED');
      expect(thrown.message).to.contain('workerThreads');
      const server = new jss.ThreadingTCPServer([HOST, 0], Commands, { workerThreads: 0 });
      await server.serverClose();
    });

    it('no worker starts before serveForever() or handleRequest() needs one', async () => {
      const before = threadCount();
      const server = new ss.ThreadingTCPServer([HOST, 0], Commands, { workerThreads: 2 });
      try {
        expect(threadCount()).to.equal(before);
      } finally {
        await server.serverClose();
      }
    });
  });

  describe('serving', () => {
    let server: Any;
    let loop: Promise<void> | null = null;
    let errors: Array<{ request: unknown; clientAddress: unknown; error: Any; isMain: boolean }>;
    let verified: unknown[];
    let serviceActions: number;

    class Recording extends ss.ThreadingTCPServer {
      verifyRequest(request: Any, clientAddress: Any): boolean {
        verified.push(clientAddress);
        return (this as Any).refuseAll !== true;
      }
      handleError(request: unknown, clientAddress: unknown, error: Any): void {
        errors.push({ request, clientAddress, error, isMain: require('node:worker_threads').isMainThread });
      }
      serviceActions(): void {
        serviceActions++;
      }
    }

    beforeEach(() => {
      errors = [];
      verified = [];
      serviceActions = 0;
    });

    async function start(options: Record<string, unknown> = {}, cls: Any = Recording, handler: Any = Commands, address: Any = [HOST, 0]): Promise<void> {
      server = new cls(address, handler, { workerThreads: 2, ...options });
      loop = server.serveForever(0.05);
      // serveForever() started the pool first; this is the same start.
      await withTimeout(server._workerPool().start(), 20_000, 'workers ready');
    }

    afterEach(async () => {
      if (server !== undefined) {
        await server.shutdown();
        if (loop !== null) await withTimeout(loop.catch(() => {}), 10_000, 'loop end');
        await withTimeout(server.serverClose(), 20_000, 'serverClose');
      }
      server = undefined;
      loop = null;
    });

    it('light requests are answered while a heavy one computes (200 ms, CPU-bound)', async () => {
      await start();
      const heavy = await open(targetOf(server));
      heavy.sock.write('heavy\n');
      expect(await heavy.line()).to.equal('STARTED');
      // The heavy request computes now, on one worker; the light ones go to the other.
      const latencies: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        expect(await exchange(targetOf(server), `light ${i}`)).to.deep.equal([`LIGHT ${i}`]);
        latencies.push(performance.now() - t0);
      }
      const heavyEnd = heavy.line();
      expect(await heavyEnd).to.equal('HEAVY');
      heavy.sock.destroy();
      // Well under the 200 ms the heavy request holds its worker.
      expect(Math.max(...latencies), `light latencies ${latencies.map((l) => l.toFixed(1)).join(', ')} ms`).to.be.below(120);
    });

    it('one worker holds 40 open connections at once, each with a request in flight (keep-alive clients beyond the old bound of 32)', async () => {
      await start({ workerThreads: 1, requestQueueSize: 64 });
      const conns = [];
      for (let i = 0; i < 40; i++) {
        const c = await open(targetOf(server));
        c.sock.write('slow\n');
        conns.push(c);
      }
      // All 40 are in the one worker at the same time: each says WAITING before any goes on.
      for (const c of conns) expect(await c.line()).to.equal('WAITING');
      expect(server._workerPool().inFlight).to.equal(40);
      for (const c of conns) c.sock.write('go\n');
      for (const c of conns) expect(await c.line()).to.equal('SLOW');
      for (const c of conns) c.sock.destroy();
    });

    it('the handler runs in a worker and sees a view of the server: address, settings, class, workerData', async () => {
      const workerData = { greeting: 'hi', list: [1, 2, 3] };
      await start({ workerData });
      const [line] = await exchange(targetOf(server), 'view');
      const view = JSON.parse(line);
      expect(view.isMainThread).to.equal(false);
      expect(view.threadId).to.be.oneOf(server._workerPool().threadIds);
      expect(view.serverAddress).to.deep.equal(server.serverAddress);
      expect(view.workerThreads).to.equal(2);
      expect(view.blockOnClose).to.equal(true);
      expect(view.handler).to.equal('Commands');
      expect(view.workerData).to.deep.equal(workerData);
    });

    it('what runs where: verifyRequest on the main thread, before the handoff (a refused request never reaches a worker)', async () => {
      await start();
      server.refuseAll = true;
      const sock = await connect(targetOf(server));
      const port = sock.localPort;
      // Nothing written: a refused connection is closed unread.
      const reader = new SockReader(sock);
      expect((await withTimeout(reader.readToEnd(10_000), 10_000, 'EOF')).length).to.equal(0);
      sock.destroy();
      expect(verified).to.deep.include([HOST, port]);
      server.refuseAll = false;
      expect(await exchange(targetOf(server), 'ok')).to.deep.equal(['OK']);
    });

    it('what runs where: handleError on the main thread, with the worker\'s error (code kept), request null', async () => {
      await start();
      const sock = await connect(targetOf(server));
      const port = sock.localPort;
      const reader = new SockReader(sock);
      sock.write('throw\n');
      await withTimeout(reader.readToEnd(10_000), 10_000, 'EOF after the error');
      sock.destroy();
      await until(() => errors.length === 1, 'handleError', 10_000);
      const [e] = errors;
      expect(e.isMain).to.equal(true);
      expect(e.request).to.equal(null);
      expect(e.clientAddress).to.deep.equal([HOST, port]);
      expect(e.error.message).to.equal('handler failed');
      expect(e.error.code).to.equal('E_TEST_HANDLER');
      expect(e.error.stack).to.contain('worker-handlers.js');
    });

    it('what runs where: serviceActions on the main thread, after each request handed over', async () => {
      await start();
      const before = serviceActions;
      for (let i = 0; i < 3; i++) await exchange(targetOf(server), 'x');
      expect(serviceActions).to.be.at.least(before + 3);
    });

    it('what runs where: handleTimeout on the main thread, when handleRequest() waited in vain', async () => {
      let timedOut: boolean | null = null;
      class Timing extends Recording {
        handleTimeout(): void {
          timedOut = require('node:worker_threads').isMainThread;
        }
      }
      server = new (Timing as Any)([HOST, 0], Commands, { workerThreads: 1, timeout: 0.05 });
      await withTimeout(server.handleRequest(), 20_000, 'handleRequest');
      expect(timedOut).to.equal(true);
    });

    it('shutdown() from a handler in a worker stops serveForever()', async () => {
      await start();
      expect(await exchange(targetOf(server), 'shutdown')).to.deep.equal(['OK']);
      await withTimeout(loop!, 10_000, 'serveForever() to stop');
      loop = null;
    });

    for (const [how, code] of [['uncaught', 1], ['exit', 3]] as const) {
      it(`a worker that dies (${how}) is replaced; its request is closed and reported ERR_SOCKETSERVER_WORKER_EXIT`, async () => {
        await start();
        const idsBefore = server._workerPool().threadIds;
        const sock = await connect(targetOf(server));
        const port = sock.localPort;
        const reader = new SockReader(sock);
        sock.write(`${how}\n`);
        await withTimeout(reader.readToEnd(10_000), 10_000, 'EOF from the dead worker');
        sock.destroy();
        await until(() => errors.length === 1, 'handleError', 10_000);
        const [e] = errors;
        expect(e.request).to.equal(null);
        expect(e.clientAddress).to.deep.equal([HOST, port]);
        expect(e.error.code).to.equal('ERR_SOCKETSERVER_WORKER_EXIT');
        expect(e.error.message).to.contain(`code ${code}`);
        if (how === 'uncaught') expect(e.error.cause?.message).to.equal('uncaught in worker');
        // Replaced: two workers again, one new; the server serves on.
        await until(() => server._workerPool().threadIds.length === 2, 'a replacement worker', 10_000);
        expect(server._workerPool().threadIds.filter((id: number) => !idsBefore.includes(id))).to.have.length(1);
        for (let i = 0; i < 4; i++) expect(await exchange(targetOf(server), `after ${i}`)).to.deep.equal([`AFTER ${i}`]);
      });
    }

    it('a replacement that fails to start is retried until one starts; meanwhile the other worker serves', async () => {
      // A handler module that throws on import while its flag file exists.
      const modulePath = `${tmp.path('retry-handler')}.js`;
      const flag = `${modulePath}.broken`;
      fs.writeFileSync(
        modulePath,
        `'use strict';
const fs = require('node:fs');
if (fs.existsSync(${JSON.stringify(flag)})) throw new Error('broken on purpose');
const { StreamRequestHandler } = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
class Retry extends StreamRequestHandler {
  static module = __filename;
  async handle() {
    const line = (await this.rfile.readline()).toString().trim();
    if (line === 'exit') process.exit(5);
    await this.wfile.write(line.toUpperCase() + '\\n');
  }
}
module.exports = { Retry };
`,
      );
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { Retry } = require(modulePath) as { Retry: Any };
      await start({}, Recording, Retry);
      // What the pool reports goes to stderr: kept here while the test runs.
      let stderr = '';
      const write = process.stderr.write;
      (process.stderr as Any).write = (chunk: unknown, ...rest: unknown[]): boolean => {
        stderr += String(chunk);
        const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
        cb?.();
        return true;
      };
      const failures = (): number => stderr.split('broken on purpose').length - 1;
      try {
        fs.writeFileSync(flag, '');
        const sock = await connect(targetOf(server));
        sock.write('exit\n');
        await withTimeout(new SockReader(sock).readToEnd(10_000), 10_000, 'EOF from the dead worker');
        sock.destroy();
        await until(() => errors.length === 1, 'the dead worker\'s request reported', 10_000);
        // The replacement fails (more than once: 100 ms, then 200 ms later); the other worker serves.
        await until(() => failures() >= 2, 'two failed starts reported', 10_000);
        expect(server._workerPool().threadIds).to.have.length(1);
        expect(await exchange(targetOf(server), 'meanwhile')).to.deep.equal(['MEANWHILE']);
        fs.rmSync(flag);
        await until(() => server._workerPool().threadIds.length === 2, 'the replacement to start at last', 10_000);
      } finally {
        process.stderr.write = write;
      }
      expect(stderr).to.contain('Exception in the worker pool');
      for (let i = 0; i < 4; i++) expect(await exchange(targetOf(server), `after ${i}`)).to.deep.equal([`AFTER ${i}`]);
    });

    it('a request handed to a worker that dies before taking it: the main thread takes it back, closes and reports it', async () => {
      const gate = new SharedArrayBuffer(4);
      await start({ workerThreads: 1, workerData: { gate } });
      const fds = fdCount();
      const blocker = await open(targetOf(server));
      blocker.sock.write('gate-exit\n');
      expect(await blocker.line()).to.equal('STARTED');
      // The only worker is blocked: this request waits in its message queue, untaken.
      const queued = await connect(targetOf(server));
      const queuedPort = queued.localPort;
      const queuedEnd = new SockReader(queued).readToEnd(10_000);
      await until(() => server._workerPool().inFlight === 2, 'both requests handed over', 10_000);
      const view = new Int32Array(gate);
      Atomics.store(view, 0, 1);
      Atomics.notify(view, 0);
      expect((await queuedEnd).length, 'closed by the main thread').to.equal(0);
      await withTimeout(blocker.reader.readToEnd(10_000), 10_000, 'EOF for the blocked request');
      await until(() => errors.length === 2, 'both reported', 10_000);
      for (const e of errors) expect(e.error.code).to.equal('ERR_SOCKETSERVER_WORKER_EXIT');
      expect(errors.map((e) => e.clientAddress)).to.deep.include([HOST, queuedPort]);
      queued.destroy();
      blocker.sock.destroy();
      await until(() => server._workerPool().threadIds.length === 1, 'a replacement worker', 10_000);
      expect(await exchange(targetOf(server), 'again')).to.deep.equal(['AGAIN']);
      await fdsBackTo(fds, 'descriptors after the worker died and was replaced');
    });

    /**
     * Starts the server (with `options`), has one request wait in a worker
     * ('slow', answered 'WAITING'), then stops the loop: what the serverClose()
     * tests start from. `threads0`: the thread count without the two workers.
     */
    async function slowRequestThenStop(options?: Parameters<typeof start>[0]) {
      await start(options);
      const threads0 = threadCount() - 2;
      const slow = await open(targetOf(server));
      slow.sock.write('slow\n');
      expect(await slow.line()).to.equal('WAITING');
      await server.shutdown();
      await withTimeout(loop!, 10_000, 'loop end');
      loop = null;
      return { threads0, slow };
    }

    it('serverClose() with blockOnClose waits for the requests in flight, then ends the workers', async () => {
      const { threads0, slow } = await slowRequestThenStop();
      let closed = false;
      const closing = server.serverClose().then(() => { closed = true; });
      await turns(50);
      expect(closed, 'serverClose() waits for the request').to.equal(false);
      slow.sock.write('go\n');
      expect(await slow.line()).to.equal('SLOW');
      await withTimeout(closing, 10_000, 'serverClose');
      slow.sock.destroy();
      await until(() => threadCount() <= threads0, 'the workers to end', 10_000);
    });

    it('serverClose() with daemonThreads does not wait; the request still completes, then its worker ends', async () => {
      const { threads0, slow } = await slowRequestThenStop({ daemonThreads: true });
      await withTimeout(server.serverClose(), 10_000, 'serverClose (no wait)');
      expect(server._workerPool().inFlight).to.equal(1);
      slow.sock.write('go\n');
      expect(await slow.line()).to.equal('SLOW');
      slow.sock.destroy();
      await until(() => threadCount() <= threads0, 'the workers to end', 10_000);
    });

    it('a Unix stream server with workers', async () => {
      await start({}, ss.ThreadingUnixStreamServer, Commands, tmp.path());
      const [line] = await exchange(server.serverAddress, 'view');
      expect(JSON.parse(line).isMainThread).to.equal(false);
      expect(await exchange(server.serverAddress, 'unix')).to.deep.equal(['UNIX']);
    });

    it('an ES module handler (`static module = import.meta.url`)', async () => {
      const { MjsUpper } = (await import(MJS_FIXTURE)) as Any;
      await start({}, ss.ThreadingTCPServer, MjsUpper);
      const [line] = await exchange(targetOf(server), 'esm');
      const [word, id] = line.split(' ');
      expect(word).to.equal('ESM');
      expect(Number(id)).to.be.oneOf(server._workerPool().threadIds);
    });

    it('a class exported under another name only (`export { Aliased as Renamed }`) is found by its class name', async () => {
      const { Renamed } = (await import(MJS_FIXTURE)) as Any;
      expect(Renamed.name).to.equal('Aliased');
      await start({}, ss.ThreadingTCPServer, Renamed);
      const [line] = await exchange(targetOf(server), 'x');
      const [word, id] = line.split(' ');
      expect(word).to.equal('ALIASED');
      expect(Number(id)).to.be.oneOf(server._workerPool().threadIds);
    });

    it('handleRequest() starts the workers and hands one request over', async () => {
      server = new ss.ThreadingTCPServer([HOST, 0], Commands, { workerThreads: 1, timeout: 10 });
      const reply = exchange(targetOf(server), 'once');
      await withTimeout(server.handleRequest(), 20_000, 'handleRequest');
      expect(await reply).to.deep.equal(['ONCE']);
    });
  });

  describe('the native handoff: Connection.release() and adoptConnection()', () => {
    const addon = (): Any => nativeAddon();

    it('release() gives the descriptor up open; adoptConnection() owns it again', async () => {
      const { AF_INET, SOCK_STREAM } = addon().constants;
      const listener = new (addon().Listener)(AF_INET, SOCK_STREAM);
      let client: net.Socket | undefined;
      try {
        listener.bind([HOST, 0]);
        listener.listen(5);
        client = await connect([HOST, listener.getSockName()[1]]);
        await until(() => listener.readyNow(), 'the connection to be accepted');
        const conn = listener.take()[0];
        const fd = conn.fileno();
        expect(conn.release()).to.equal(fd);
        expect(conn.fileno()).to.equal(-1);
        expect(() => conn.release()).to.throw().with.property('code', 'EBADF');
        expect(fs.fstatSync(fd).isSocket(), 'still open').to.equal(true);
        const adopted = addon().adoptConnection(fd);
        expect(adopted.fileno()).to.equal(fd);
        expect(adopted.send(Buffer.from('hi'), 0)).to.equal(2);
        adopted.close();
        const reader = new SockReader(client);
        expect((await reader.readToEnd(5000)).toString()).to.equal('hi');
      } finally {
        client?.destroy();
        listener.close();
      }
    });

    it('adoptConnection() refuses what is not a stream socket, and leaves it open', () => {
      expect(() => addon().adoptConnection(-1)).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
      const file = fs.openSync(FIXTURE, 'r');
      try {
        expect(() => addon().adoptConnection(file)).to.throw().with.property('code', 'ENOTSOCK');
        expect(fs.fstatSync(file).isFile()).to.equal(true);
      } finally {
        fs.closeSync(file);
      }
      const { AF_INET, SOCK_DGRAM } = addon().constants;
      const dgram = new (addon().Listener)(AF_INET, SOCK_DGRAM);
      try {
        expect(() => addon().adoptConnection(dgram.fileno())).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
        expect(dgram.fileno()).to.be.greaterThan(2);
      } finally {
        dgram.close();
      }
    });
  });

  it('a module the workers cannot load: serveForever() rejects with the reason, no worker is left', async () => {
    class Missing extends ss.StreamRequestHandler {
      static module = path.join(ROOT, 'test', 'fixtures', 'no-such-module.js');
    }
    const server = new ss.ThreadingTCPServer([HOST, 0], Missing, { workerThreads: 2 });
    try {
      let thrown: Any;
      try {
        await withTimeout(server.serveForever(0.05), 20_000, 'serveForever');
      } catch (e) {
        thrown = e;
      }
      expect(thrown?.message).to.match(/no-such-module|Cannot find module/);
      expect(server._workerPool().threadIds, 'no worker left').to.deep.equal([]);
    } finally {
      await server.serverClose();
    }
  });

  it('3 000 requests leave descriptors and threads at their baseline', async function () {
    this.timeout(120_000);
    // Warm up: the first Worker and the first connections open descriptors that stay (libuv's reserve).
    {
      const warm = new ss.ThreadingTCPServer([HOST, 0], Commands, { workerThreads: 2 });
      const loop = warm.serveForever(0.05);
      expect(await exchange(targetOf(warm), 'warm')).to.deep.equal(['WARM']);
      await warm.shutdown();
      await loop;
      await warm.serverClose();
    }
    const fds0 = fdCount();
    const threads0 = threadCount();
    const server = new ss.ThreadingTCPServer([HOST, 0], Commands, { workerThreads: 2, requestQueueSize: 128 });
    const loop = server.serveForever(0.05);
    const target = targetOf(server);
    const TOTAL = 3000;
    const CONCURRENCY = 16;
    let next = 0;
    const t0 = performance.now();
    await withTimeout(
      Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < TOTAL) {
            const i = next++;
            expect(await exchange(target, `r${i}`)).to.deep.equal([`R${i}`]);
          }
        }),
      ),
      100_000,
      '3 000 requests',
    );
    const ms = performance.now() - t0;
    await server.shutdown();
    await loop;
    await server.serverClose();
    await fdsBackTo(fds0, 'descriptors after 3 000 requests');
    await until(() => threadCount() <= threads0, `threads back to ${threads0} (now ${threadCount()})`, 10_000);
    // For the report: connection-per-request rate through the workers.
    this.test!.title += ` (${Math.round(TOTAL / (ms / 1000))} req/s)`;
  });
});
