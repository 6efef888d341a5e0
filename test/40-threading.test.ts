/**
 * ThreadingMixIn (API.md "Mix-ins", DESIGN.md "Threading"): each request is
 * its own concurrent task; daemonThreads, blockOnClose, `_threads`.
 * CPython's own Threading cases are in 10-socketserver (test_Threading*,
 * test_close_immediately), 11-error-handler (test_threading_handled) and
 * 13-misc (test_threads_reaped).
 */
import { expect } from 'chai';
import * as childProcess from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

import {
  captureStderr,
  closed,
  connect,
  deferred,
  HOST,
  ROOT,
  serveInBackground,
  SockReader,
  TempDir,
  transports,
  turns,
  UdpClient,
  until,
  withTimeout,
} from './helpers';

/** A handler's working time: a timer inside the handler, not a synchronisation. */
function work(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

for (const { name, ss } of transports) {
  describe(`ThreadingMixIn (${name})`, () => {
    const tmp = new TempDir('ss-thr-');
    after(() => tmp.cleanup());

    describe('settings', () => {
      it('daemonThreads false and blockOnClose true by default, statics and instances', () => {
        expect(ss.ThreadingTCPServer.daemonThreads).to.equal(false);
        expect(ss.ThreadingTCPServer.blockOnClose).to.equal(true);
        const server = new ss.ThreadingTCPServer([HOST, 0], ss.StreamRequestHandler, { bindAndActivate: false });
        try {
          expect(server.daemonThreads).to.equal(false);
          expect(server.blockOnClose).to.equal(true);
          expect(server.timeout).to.equal(null);
          expect(server._threads.size).to.equal(0);
        } finally {
          void server.serverClose();
        }
      });

      it('a subclass static and an options object override them', async () => {
        class Daemonic extends ss.ThreadingMixIn(ss.TCPServer) {
          static override daemonThreads = true;
        }
        const a = new Daemonic([HOST, 0], ss.StreamRequestHandler);
        const b = new ss.ThreadingUDPServer([HOST, 0], ss.DatagramRequestHandler, { blockOnClose: false, daemonThreads: true });
        try {
          expect(a.daemonThreads).to.equal(true);
          expect(a.blockOnClose).to.equal(true);
          expect(b.daemonThreads).to.equal(true);
          expect(b.blockOnClose).to.equal(false);
          expect(ss.ThreadingUDPServer.daemonThreads, 'the static is untouched').to.equal(false);
        } finally {
          await a.serverClose();
          await b.serverClose();
        }
      });
    });

    describe('concurrency', () => {
      /**
       * Two clients, each sends a line; the handler records its start, then
       * waits for the other request's handler to start (an event), giving up
       * after `patienceMs` of work, then records its end and replies.
       */
      async function twoSlowRequests(
        Server: typeof ss.TCPServer,
        patienceMs: number,
      ): Promise<Array<{ line: string; start: number; end: number; sawOther: boolean }>> {
        const records: Array<{ line: string; start: number; end: number; sawOther: boolean }> = [];
        const startedEvents = [deferred(), deferred()];

        class SlowHandler extends ss.StreamRequestHandler {
          override async handle(): Promise<void> {
            const line = (await this.rfile.readline()).toString().trim();
            const start = performance.now();
            const me = records.length;
            records.push({ line, start, end: 0, sawOther: false });
            startedEvents[me].resolve();
            const other = startedEvents[1 - me];
            const sawOther = await Promise.race([other.promise.then(() => true), work(patienceMs).then(() => other.settled)]);
            records[me].sawOther = sawOther;
            records[me].end = performance.now();
            await this.wfile.write(`${line} done\n`);
          }
        }

        const server = new Server([HOST, 0], SlowHandler);
        const socks: net.Socket[] = [];
        try {
          const loop = serveInBackground(server);
          try {
            const addr = server.serverAddress as [string, number];
            for (let i = 0; i < 2; i++) socks.push(await connect(addr));
            const replies = socks.map((s) => new SockReader(s));
            socks.forEach((s, i) => s.write(`req${i}\n`));
            const got = await Promise.all(replies.map((r) => r.readLine(10000)));
            expect(got.map(String).sort()).to.deep.equal(['req0 done\n', 'req1 done\n']);
          } finally {
            for (const s of socks) s.destroy();
            await loop.stop();
          }
        } finally {
          await server.serverClose();
        }
        expect(records).to.have.length(2);
        return records.sort((a, b) => a.start - b.start);
      }

      it('two slow requests overlap under ThreadingTCPServer', async () => {
        const [first, second] = await twoSlowRequests(ss.ThreadingTCPServer as unknown as typeof ss.TCPServer, 3000);
        expect(first.sawOther, 'the first handler saw the second one start').to.equal(true);
        expect(second.sawOther).to.equal(true);
        expect(second.start, 'the second started before the first ended').to.be.lessThan(first.end);
      });

      it('and do not overlap under the plain TCPServer', async () => {
        const [first, second] = await twoSlowRequests(ss.TCPServer, 150);
        expect(first.sawOther, 'the first handler never saw the second one start').to.equal(false);
        expect(second.start, 'the second started after the first ended').to.be.at.least(first.end);
      });

      it('ThreadingUDPServer: two datagrams are handled concurrently', async () => {
        const started = [deferred(), deferred()];
        let order = 0;
        class H extends ss.DatagramRequestHandler {
          override async handle(): Promise<void> {
            const me = order++;
            started[me].resolve();
            // The first waits for the second to start: only concurrency lets it.
            await withTimeout(started[1 - me].promise, 5000, 'the other datagram handler to start');
            await this.wfile.write(Buffer.concat([this.packet as Buffer, Buffer.from(' ok')]));
          }
        }
        const server = new ss.ThreadingUDPServer([HOST, 0], H);
        const clients: UdpClient[] = [];
        try {
          const loop = serveInBackground(server);
          try {
            for (let i = 0; i < 2; i++) clients.push(await UdpClient.open());
            await clients[0].send('a', server.serverAddress as [string, number]);
            await withTimeout(started[0].promise, 5000, 'first handler');
            await clients[1].send('b', server.serverAddress as [string, number]);
            const [a, b] = await Promise.all(clients.map((c) => c.recv()));
            expect(a[0].toString()).to.equal('a ok');
            expect(b[0].toString()).to.equal('b ok');
          } finally {
            for (const c of clients) c.close();
            await loop.stop();
          }
        } finally {
          await server.serverClose();
        }
      });

      it('ThreadingUnixStreamServer: 20 requests are all in flight at once', async () => {
        const N = 20;
        let inFlight = 0;
        let most = 0;
        const all = deferred();
        class H extends ss.StreamRequestHandler {
          override async handle(): Promise<void> {
            await this.rfile.readline();
            inFlight++;
            most = Math.max(most, inFlight);
            if (inFlight === N) all.resolve();
            await withTimeout(all.promise, 10000, 'all 20 handlers to be in flight');
            await this.wfile.write('ok\n');
            inFlight--;
          }
        }
        const server = new ss.ThreadingUnixStreamServer(tmp.path('many'), H, { requestQueueSize: 32 });
        const socks: net.Socket[] = [];
        try {
          const loop = serveInBackground(server);
          try {
            for (let i = 0; i < N; i++) socks.push(await connect(server.serverAddress as string));
            const readers = socks.map((s) => new SockReader(s));
            for (const s of socks) s.write('x\n');
            const got = await Promise.all(readers.map((r) => r.readLine(10000)));
            expect(got.map(String)).to.deep.equal(new Array(N).fill('ok\n'));
            expect(most).to.equal(N);
          } finally {
            for (const s of socks) s.destroy();
            await loop.stop();
          }
        } finally {
          await server.serverClose();
        }
      });

      it('a handler may await shutdown(): the loop does not wait for it', async () => {
        class H extends ss.StreamRequestHandler<InstanceType<typeof ss.ThreadingTCPServer>> {
          override async handle(): Promise<void> {
            await this.rfile.readline();
            await withTimeout(this.server.shutdown(), 5000, 'shutdown() from a handler');
            await this.wfile.write('stopped\n');
          }
        }
        const server = new ss.ThreadingTCPServer([HOST, 0], H);
        let sock: net.Socket | undefined;
        try {
          const loop: Promise<void> = server.serveForever(0.5);
          loop.catch(() => undefined);
          sock = await connect(server.serverAddress as [string, number]);
          const r = new SockReader(sock);
          sock.write('stop\n');
          expect((await r.readLine()).toString()).to.equal('stopped\n');
          await withTimeout(loop, 5000, 'serveForever() to resolve');
        } finally {
          sock?.destroy();
          await server.serverClose();
        }
      });

      it('200 connections in quick succession, 50 datagrams at once: all answered, nothing kept', async () => {
        class Up extends ss.StreamRequestHandler {
          override async handle(): Promise<void> {
            const line = await this.rfile.readline();
            await this.wfile.write(line.toString().toUpperCase());
          }
        }
        class UpD extends ss.DatagramRequestHandler {
          override async handle(): Promise<void> {
            await this.wfile.write((this.packet as Buffer).toString().toUpperCase());
          }
        }
        const tcp = new ss.ThreadingTCPServer([HOST, 0], Up, { requestQueueSize: 64 });
        const udp = new ss.ThreadingUDPServer([HOST, 0], UpD);
        const client = await UdpClient.open();
        try {
          const loops = [serveInBackground(tcp), serveInBackground(udp)];
          try {
            const addr = tcp.serverAddress as [string, number];
            for (let round = 0; round < 4; round++) {
              const replies = await Promise.all(
                [...Array(50).keys()].map(async (i) => {
                  const s = await connect(addr);
                  try {
                    const r = new SockReader(s);
                    s.write(`r${round}c${i}\n`);
                    return (await r.readLine()).toString();
                  } finally {
                    s.destroy();
                  }
                }),
              );
              expect(replies).to.deep.equal([...Array(50).keys()].map((i) => `R${round}C${i}\n`));
            }
            const uaddr = udp.serverAddress as [string, number];
            await Promise.all([...Array(50).keys()].map((i) => client.send(`d${i}`, uaddr)));
            const got: string[] = [];
            for (let i = 0; i < 50; i++) got.push((await client.recv())[0].toString());
            expect(got.sort()).to.deep.equal([...Array(50).keys()].map((i) => `D${i}`).sort());
            await until(() => tcp._threads.size === 0 && udp._threads.size === 0, 'all request tasks to finish');
          } finally {
            for (const l of loops) await l.stop();
          }
        } finally {
          client.close();
          await tcp.serverClose();
          await udp.serverClose();
        }
      });
    });

    describe('processRequest, _threads, serverClose', () => {
      /** A server whose handler waits for `gate`; `started`/`finished` tell where it is. */
      function gatedServer(options: Record<string, unknown> = {}) {
        const started = deferred();
        const gate = deferred();
        const finished = deferred();
        class Gated extends ss.StreamRequestHandler {
          override async handle(): Promise<void> {
            started.resolve();
            await gate.promise;
            await this.wfile.write('released\n');
          }
          override async finish(): Promise<void> {
            await super.finish();
            finished.resolve();
          }
        }
        const server = new ss.ThreadingTCPServer([HOST, 0], Gated, options);
        return { server, started, gate, finished };
      }

      it('handleRequest() returns once the request is dispatched; _threads holds it until it finishes', async () => {
        const { server, started, gate, finished } = gatedServer();
        let sock: net.Socket | undefined;
        try {
          sock = await connect(server.serverAddress as [string, number]);
          const reader = new SockReader(sock);
          await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
          await withTimeout(started.promise, 5000, 'handler start');
          expect(finished.settled, 'the handler is still running').to.equal(false);
          expect(server._threads.size).to.equal(1);
          const [task] = [...server._threads];
          expect(task).to.be.instanceOf(Promise);
          gate.resolve();
          expect((await reader.readLine()).toString()).to.equal('released\n');
          await withTimeout(task, 5000, 'the request task');
          await until(() => server._threads.size === 0, 'the finished task to leave _threads');
        } finally {
          gate.resolve();
          sock?.destroy();
          await server.serverClose();
        }
      });

      it('serverClose() with daemonThreads false waits for an in-flight request', async () => {
        const { server, started, gate, finished } = gatedServer({ daemonThreads: false });
        let sock: net.Socket | undefined;
        try {
          sock = await connect(server.serverAddress as [string, number]);
          await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
          await withTimeout(started.promise, 5000, 'handler start');
          let closeDone = false;
          const closing = Promise.resolve(server.serverClose()).then(() => {
            closeDone = true;
          });
          await turns(20);
          expect(server.socket.fileno(), 'the listening socket is closed first').to.equal(-1);
          expect(closeDone, 'serverClose() is still waiting').to.equal(false);
          gate.resolve();
          await withTimeout(closing, 5000, 'serverClose()');
          expect(finished.settled, 'the request finished before serverClose() resolved').to.equal(true);
          expect(server._threads.size).to.equal(0);
        } finally {
          gate.resolve();
          sock?.destroy();
          await server.serverClose();
        }
      });

      for (const options of [{ daemonThreads: true }, { blockOnClose: false }]) {
        it(`serverClose() with ${JSON.stringify(options)} does not wait for an in-flight request`, async () => {
          const { server, started, gate, finished } = gatedServer(options);
          let sock: net.Socket | undefined;
          try {
            sock = await connect(server.serverAddress as [string, number]);
            const reader = new SockReader(sock);
            await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
            await withTimeout(started.promise, 5000, 'handler start');
            expect(server._threads.size, 'such requests are not tracked').to.equal(0);
            await withTimeout(Promise.resolve(server.serverClose()), 5000, 'serverClose()');
            expect(server.socket.fileno()).to.equal(-1);
            expect(finished.settled, 'the request is still running').to.equal(false);
            // The request still completes after the server is closed.
            gate.resolve();
            expect((await reader.readLine()).toString()).to.equal('released\n');
            await withTimeout(finished.promise, 5000, 'the request to finish');
          } finally {
            gate.resolve();
            sock?.destroy();
            await server.serverClose();
          }
        });
      }

      it('shutdown() stops the loop without waiting for in-flight requests; serverClose() then waits', async () => {
        const { server, started, gate, finished } = gatedServer();
        let sock: net.Socket | undefined;
        try {
          const loop = serveInBackground(server);
          sock = await connect(server.serverAddress as [string, number]);
          await withTimeout(started.promise, 5000, 'handler start');
          await loop.stop();
          expect(finished.settled, 'the request is still running after shutdown()').to.equal(false);
          const closing = Promise.resolve(server.serverClose());
          gate.resolve();
          await withTimeout(closing, 5000, 'serverClose()');
          expect(finished.settled).to.equal(true);
        } finally {
          gate.resolve();
          sock?.destroy();
          await server.serverClose();
        }
      });
    });

    describe('errors', () => {
      it('an error in one request goes to handleError(); the others and the loop go on', async () => {
        const handled: unknown[] = [];
        class H extends ss.StreamRequestHandler {
          override async handle(): Promise<void> {
            const line = (await this.rfile.readline()).toString().trim();
            if (line === 'bad') throw new RangeError('bad request');
            await this.wfile.write(`${line}!\n`);
          }
        }
        class S extends ss.ThreadingMixIn(ss.TCPServer) {
          override handleError(_request: unknown, _address: unknown, error: unknown): void {
            handled.push(error);
          }
        }
        const server = new S([HOST, 0], H);
        try {
          const loop = serveInBackground(server);
          try {
            const addr = server.serverAddress as [string, number];
            const socks = await Promise.all([connect(addr), connect(addr), connect(addr)]);
            try {
              const readers = socks.map((s) => new SockReader(s));
              ['one', 'bad', 'two'].forEach((l, i) => socks[i].write(`${l}\n`));
              expect((await readers[0].readLine()).toString()).to.equal('one!\n');
              expect((await readers[2].readLine()).toString()).to.equal('two!\n');
              expect((await readers[1].readToEnd()).length, 'the failed request is closed').to.equal(0);
            } finally {
              for (const s of socks) s.destroy();
            }
            await until(() => handled.length === 1, 'handleError()');
            expect(handled[0]).to.be.instanceOf(RangeError);
            // Still serving.
            const s = await connect(addr);
            try {
              const r = new SockReader(s);
              s.write('three\n');
              expect((await r.readLine()).toString()).to.equal('three!\n');
            } finally {
              s.destroy();
            }
          } finally {
            await loop.stop();
          }
        } finally {
          await server.serverClose();
        }
      });

      it('an error escaping handleError() in a request task is reported on stderr, and serving goes on', async () => {
        const done = deferred();
        class H extends ss.StreamRequestHandler {
          override async handle(): Promise<void> {
            const line = (await this.rfile.readline()).toString().trim();
            if (line === 'bad') throw new RangeError('bad request');
            await this.wfile.write(`${line}!\n`);
          }
        }
        class S extends ss.ThreadingMixIn(ss.TCPServer) {
          override handleError(): void {
            throw new TypeError('handleError failed too');
          }
          override async shutdownRequest(request: never): Promise<void> {
            await super.shutdownRequest(request);
            done.resolve();
          }
        }
        const server = new S([HOST, 0], H);
        try {
          const addr = server.serverAddress as [string, number];
          const text = await captureStderr(async () => {
            const s = await connect(addr);
            try {
              s.write('bad\n');
              await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
              await withTimeout(done.promise, 5000, 'shutdownRequest() of the failed request');
              await until(() => server._threads.size === 0, 'the task to end');
            } finally {
              s.destroy();
              await closed(s);
            }
          });
          expect(text).to.include('handleError failed too');
          const s = await connect(addr);
          try {
            const r = new SockReader(s);
            s.write('next\n');
            await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
            expect((await r.readLine()).toString()).to.equal('next!\n');
          } finally {
            s.destroy();
          }
        } finally {
          await server.serverClose();
        }
      });
    });
  });
}

describe('ThreadingMixIn / ForkingMixIn types', () => {
  const tmp = new TempDir('ss-types-');
  after(() => tmp.cleanup());

  it("a mix-in applied to a user's own server class type-checks (API.md: mix-ins are functions of a base class)", async function () {
    this.timeout(60000);
    const file = path.join(tmp.dir, 'mixin-types.ts');
    const dist = path.join(ROOT, 'dist', 'index.js').replace(/\\/g, '/');
    fs.writeFileSync(
      file,
      [
        `import { TCPServer, UnixStreamServer, ThreadingMixIn, ForkingMixIn, StreamRequestHandler } from '${dist}';`,
        'class ThreadedTCP extends ThreadingMixIn(TCPServer) {}',
        // Python: class MyServer(ThreadingMixIn, MyTCPServer) on a user's subclass.
        'class MyTCPServer extends TCPServer { static override allowReuseAddress = true; }',
        'class MyUnixServer extends UnixStreamServer {}',
        'class Threaded extends ThreadingMixIn(MyTCPServer) {}',
        'class Forked extends ForkingMixIn(MyUnixServer) {}',
        "const s = new Threaded(['127.0.0.1', 0], StreamRequestHandler, { bindAndActivate: false, daemonThreads: true });",
        'void s; void ThreadedTCP; void Forked;',
        '',
      ].join('\n'),
    );
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = [
      tsc, '--noEmit', '--strict', '--noImplicitOverride', '--target', 'es2022', '--module', 'commonjs',
      '--moduleResolution', 'node', '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types'), file,
    ];
    const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
      childProcess.execFile(process.execPath, args, { timeout: 50000 }, (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, text: stdout + stderr }),
      );
    });
    expect(out.text, 'tsc diagnostics').to.equal('');
    expect(out.code).to.equal(0);
  });
});
