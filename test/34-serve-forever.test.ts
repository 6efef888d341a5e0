/** serveForever(), shutdown(), serverClose(), Symbol.asyncDispose. */
import { expect } from 'chai';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

import {
  closed,
  connect,
  deferred,
  expectUnsupported,
  fdCount,
  HOST,
  readToEnd,
  streamExchange,
  TempDir,
  transports,
  turns,
  udpExchange,
  withTimeout,
} from './helpers';

for (const { name, ss, caps } of transports) {
  describe(`serveForever / shutdown / serverClose (${name})`, () => {
    const tmp = new TempDir();
    after(() => tmp.cleanup());

    class Echo extends ss.StreamRequestHandler {
      override async handle(): Promise<void> {
        await this.wfile.write(await this.rfile.readline());
      }
    }
    class DgramEcho extends ss.DatagramRequestHandler {
      override async handle(): Promise<void> {
        await this.wfile.write(this.packet);
      }
    }

    /** A TCP server whose serviceActions() resolves a promise on each call. */
    function withServiceHook(): { server: InstanceType<typeof ss.TCPServer>; next: () => Promise<void> } {
      let d = deferred<void>();
      class Server extends ss.TCPServer {
        override serviceActions(): void {
          d.resolve();
        }
      }
      return {
        server: new Server([HOST, 0], Echo),
        next: () => {
          const p = d.promise;
          return p.then(() => {
            d = deferred<void>();
          });
        },
      };
    }

    it('handleRequest() with timeout Infinity waits for the request (no overflow of the wait)', async () => {
      const server = new ss.UDPServer([HOST, 0], DgramEcho);
      try {
        server.timeout = Infinity;
        const handled = server.handleRequest();
        const reply = await udpExchange(server.serverAddress as [string, number], 'inf');
        await withTimeout(handled, 5000, 'handleRequest()');
        expect(reply.toString()).to.equal('inf');
      } finally {
        await server.serverClose();
      }
    });

    it('shutdown() wakes a loop waiting with pollInterval 10 s at once', async () => {
      const { server, next } = withServiceHook();
      try {
        const loop = server.serveForever(10);
        // One request, so the loop is surely back waiting afterwards.
        const served = next();
        expect((await streamExchange(server.serverAddress, 'a\n')).toString()).to.equal('a\n');
        await withTimeout(served, 5000, 'serviceActions() after the request');
        await turns(5);
        const t0 = Date.now();
        await withTimeout(server.shutdown(), 3000, 'shutdown()');
        await withTimeout(loop, 3000, 'serveForever() to resolve');
        expect(Date.now() - t0).to.be.below(1000);
      } finally {
        await server.serverClose();
      }
    });

    it('shutdown() of a UDP / Unix loop also wakes it at once', async () => {
      const servers = [new ss.UDPServer([HOST, 0], DgramEcho), new ss.UnixStreamServer(tmp.path(), Echo)];
      if (caps.unixDatagram) servers.push(new ss.UnixDatagramServer(tmp.path(), DgramEcho) as never);
      else expectUnsupported(() => new ss.UnixDatagramServer(tmp.path(), DgramEcho), 'UnixDatagramServer');
      try {
        for (const s of servers) {
          const loop = s.serveForever(10);
          await turns(5);
          const t0 = Date.now();
          await withTimeout(s.shutdown(), 3000, 'shutdown()');
          await withTimeout(loop, 3000, 'serveForever() to resolve');
          expect(Date.now() - t0).to.be.below(1000);
        }
      } finally {
        for (const s of servers) await s.serverClose();
      }
    });

    it('shutdown() right after serveForever() (same tick) stops that loop', async () => {
      const server = new ss.TCPServer([HOST, 0], Echo);
      try {
        const loop = server.serveForever(10);
        const stop = server.shutdown();
        await withTimeout(loop, 3000, 'serveForever() to resolve');
        await withTimeout(stop, 3000, 'shutdown() to resolve');
      } finally {
        await server.serverClose();
      }
    });

    it('shutdown() with no loop running resolves at once', async () => {
      const server = new ss.TCPServer([HOST, 0], Echo);
      try {
        await withTimeout(server.shutdown(), 1000, 'shutdown() without a loop');
        // ...and does not stop a later loop.
        const loop = server.serveForever(0.01);
        expect((await streamExchange(server.serverAddress, 'later\n')).toString()).to.equal('later\n');
        await withTimeout(server.shutdown(), 3000, 'shutdown()');
        await withTimeout(loop, 3000, 'serveForever()');
      } finally {
        await server.serverClose();
      }
    });

    it('serveForever() may be called again after shutdown()', async () => {
      const server = new ss.TCPServer([HOST, 0], Echo);
      try {
        for (let round = 0; round < 3; round++) {
          const loop = server.serveForever(10);
          expect((await streamExchange(server.serverAddress, `round ${round}\n`)).toString()).to.equal(`round ${round}\n`);
          await withTimeout(server.shutdown(), 3000, 'shutdown()');
          await withTimeout(loop, 3000, 'serveForever()');
        }
        // handleRequest() works after a loop too.
        const reply = streamExchange(server.serverAddress, 'after\n');
        await withTimeout(server.handleRequest(), 3000, 'handleRequest()');
        expect((await reply).toString()).to.equal('after\n');
      } finally {
        await server.serverClose();
      }
    });

    it('shutdown() from inside a handler (not awaited) stops the loop after that handler', async () => {
      let handled = 0;
      let shutdownDone: Promise<void> | undefined;
      const handlerDone = deferred<void>();
      class Stopper extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          handled++;
          shutdownDone = (this.server as unknown as { shutdown(): Promise<void> }).shutdown();
          // The handler goes on after asking; the loop stops after it.
          await this.wfile.write(Buffer.from('bye\n'));
          handlerDone.resolve();
        }
      }
      const server = new ss.TCPServer([HOST, 0], Stopper);
      try {
        const loop = server.serveForever(10);
        const reply = await streamExchange(server.serverAddress, ''); // no unread data: no reset
        expect(reply.toString()).to.equal('bye\n');
        await withTimeout(loop, 3000, 'serveForever() to stop after the handler');
        expect(handlerDone.settled).to.equal(true);
        expect(shutdownDone).to.not.equal(undefined);
        await withTimeout(shutdownDone!, 3000, "the handler's shutdown() to resolve");
        expect(handled).to.equal(1);
      } finally {
        await server.serverClose();
      }
    });

    it('serveForever() does not use timeout / handleTimeout()', async () => {
      let timeouts = 0;
      let actions = 0;
      const enough = deferred<void>();
      class Server extends ss.UDPServer {
        static override timeout = 0.001;
        override handleTimeout(): void {
          timeouts++;
        }
        override serviceActions(): void {
          if (++actions === 3) enough.resolve();
        }
      }
      const server = new Server([HOST, 0], DgramEcho);
      try {
        const loop = server.serveForever(0.02);
        await withTimeout(enough.promise, 3000, 'three serviceActions() calls');
        expect((await udpExchange(server.serverAddress as [string, number], 'u')).toString()).to.equal('u');
        await withTimeout(server.shutdown(), 3000, 'shutdown()');
        await loop;
        expect(timeouts).to.equal(0);
      } finally {
        await server.serverClose();
      }
    });

    it('serverClose() is idempotent; socket.fileno() is -1 after', async () => {
      const before = fdCount();
      const servers = [
        new ss.TCPServer([HOST, 0], Echo),
        new ss.UDPServer([HOST, 0], DgramEcho),
        new ss.UnixStreamServer(tmp.path(), Echo),
      ];
      if (caps.unixDatagram) servers.push(new ss.UnixDatagramServer(tmp.path(), DgramEcho) as never);
      else expectUnsupported(() => new ss.UnixDatagramServer(tmp.path(), DgramEcho), 'UnixDatagramServer');
      for (const s of servers) {
        expect(s.socket.fileno()).to.be.greaterThan(-1);
        await s.serverClose();
        expect(s.socket.fileno()).to.equal(-1);
        await s.serverClose();
        await s.serverClose();
        expect(s.socket.fileno()).to.equal(-1);
      }
      expect(fdCount()).to.equal(before);
    });

    it('serverClose() of a TCP server refuses new connections', async () => {
      const server = new ss.TCPServer([HOST, 0], Echo);
      const addr = server.serverAddress as [string, number];
      await server.serverClose();
      let code: string | undefined;
      try {
        const c = await connect(addr);
        c.destroy();
      } catch (e) {
        code = (e as { code?: string }).code;
      }
      expect(code).to.equal('ECONNREFUSED');
    });

    it('Symbol.asyncDispose calls serverClose()', async () => {
      let calls = 0;
      class Server extends ss.TCPServer {
        override serverClose(): void | Promise<void> {
          calls++;
          return super.serverClose();
        }
      }
      const server = new Server([HOST, 0], Echo);
      try {
        expect(server[Symbol.asyncDispose]).to.be.a('function');
        await server[Symbol.asyncDispose]();
        expect(calls).to.equal(1);
        expect(server.socket.fileno()).to.equal(-1);
      } finally {
        await server.serverClose();
      }
      let inner: InstanceType<typeof Server> | undefined;
      {
        await using s2 = new Server([HOST, 0], Echo);
        inner = s2;
      }
      expect(inner.socket.fileno()).to.equal(-1);
      expect(calls).to.equal(3);
    });

    it('finished requests and their handlers are garbage-collectable', async () => {
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as () => void;
      const refs: Array<WeakRef<object>> = [];
      class Tracked extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          refs.push(new WeakRef(this), new WeakRef(this.request as object));
          await this.wfile.write(await this.rfile.readline());
        }
      }
      const server = new ss.TCPServer([HOST, 0], Tracked);
      try {
        const loop = server.serveForever(0.05);
        for (let i = 0; i < 5; i++) {
          expect((await streamExchange(server.serverAddress, `gc ${i}\n`)).toString()).to.equal(`gc ${i}\n`);
        }
        await withTimeout(server.shutdown(), 3000, 'shutdown()');
        await loop;
        for (let i = 0; i < 3; i++) {
          const n = 5 + i * 2;
          const reply = streamExchange(server.serverAddress, `gc ${n}\n`);
          await withTimeout(server.handleRequest(), 3000, 'handleRequest()');
          await reply;
        }
        expect(refs).to.have.length(16);
        // WeakRefs hold their targets until the current job ends.
        for (let i = 0; i < 5 && refs.some((r) => r.deref() !== undefined); i++) {
          await turns(2);
          gc();
        }
        const alive = refs.filter((r) => r.deref() !== undefined).length;
        expect(alive, 'handlers/requests still reachable').to.equal(0);
      } finally {
        await server.serverClose();
      }
    });

    it('a loop serves many requests in a row and stops cleanly', async () => {
      const server = new ss.TCPServer([HOST, 0], Echo);
      try {
        const loop = server.serveForever(0.5);
        for (let i = 0; i < 50; i++) {
          const c = await connect(server.serverAddress as [string, number]);
          const got = readToEnd(c);
          c.write(`req ${i}\n`);
          expect((await got).toString()).to.equal(`req ${i}\n`);
          c.destroy();
          await closed(c);
        }
        await withTimeout(server.shutdown(), 3000, 'shutdown()');
        await withTimeout(loop, 3000, 'serveForever()');
      } finally {
        await server.serverClose();
      }
    });
  });
}

// serveThread: false — the native transport waits on the main loop instead
// of its serve thread; the js transport always does and accepts the option.
for (const { name, ss, caps } of transports) {
  describe(`serveThread: false (${name})`, () => {
    const tmp = new TempDir();
    after(() => tmp.cleanup());

    class Echo extends ss.StreamRequestHandler {
      override async handle(): Promise<void> {
        await this.wfile.write(await this.rfile.readline());
      }
    }
    class DgramEcho extends ss.DatagramRequestHandler {
      override async handle(): Promise<void> {
        await this.wfile.write(this.packet);
      }
    }
    const opts = { serveThread: false };

    it('serves TCP, UDP, Unix stream (and Unix datagram) requests, one after another and at once', async () => {
      const tcp = new ss.TCPServer([HOST, 0], Echo, opts);
      const threaded = new ss.ThreadingTCPServer([HOST, 0], Echo, { ...opts, requestQueueSize: 128 });
      const udp = new ss.UDPServer([HOST, 0], DgramEcho, opts);
      const unix = new ss.UnixStreamServer(tmp.path(), Echo, opts);
      const servers = [tcp, threaded, udp, unix];
      const loops = servers.map((s) => s.serveForever(10));
      try {
        for (let i = 0; i < 20; i++) {
          expect((await streamExchange(tcp.serverAddress, `t${i}\n`)).toString()).to.equal(`t${i}\n`);
          expect((await udpExchange(udp.serverAddress as [string, number], `u${i}`)).toString()).to.equal(`u${i}`);
          expect((await streamExchange(unix.serverAddress, `x${i}\n`)).toString()).to.equal(`x${i}\n`);
        }
        const many = await Promise.all(Array.from({ length: 50 }, (_, i) => streamExchange(threaded.serverAddress, `m${i}\n`)));
        expect(many.map(String)).to.deep.equal(Array.from({ length: 50 }, (_, i) => `m${i}\n`));
      } finally {
        await Promise.all(servers.map((s) => withTimeout(s.shutdown(), 3000, 'shutdown()')));
        await Promise.all(loops);
        for (const s of servers) await s.serverClose();
      }
    });

    it('shutdown() wakes the loop at once; serverClose() alone ends it too', async () => {
      const a = new ss.TCPServer([HOST, 0], Echo, opts);
      const b = new ss.UDPServer([HOST, 0], DgramEcho, opts);
      try {
        const loopA = a.serveForever(10);
        await turns(5);
        const t0 = Date.now();
        await withTimeout(a.shutdown(), 3000, 'shutdown()');
        await withTimeout(loopA, 3000, 'serveForever() after shutdown()');
        expect(Date.now() - t0).to.be.below(1000);
        const loopB = b.serveForever(10);
        await turns(5);
        await b.serverClose();
        await withTimeout(loopB, 3000, 'serveForever() after serverClose()');
      } finally {
        await a.serverClose();
        await b.serverClose();
      }
    });

    it('handleRequest() honours timeout: handleTimeout() when nothing comes, the request when one does', async () => {
      let timeouts = 0;
      class Server extends ss.UDPServer {
        override handleTimeout(): void {
          timeouts++;
        }
      }
      const server = new Server([HOST, 0], DgramEcho, { ...opts, timeout: 0.05 });
      try {
        await withTimeout(server.handleRequest(), 3000, 'handleRequest() timing out');
        expect(timeouts).to.equal(1);
        server.timeout = null;
        const handled = server.handleRequest();
        expect((await udpExchange(server.serverAddress as [string, number], 'late')).toString()).to.equal('late');
        await withTimeout(handled, 3000, 'handleRequest()');
        expect(timeouts).to.equal(1);
      } finally {
        await server.serverClose();
      }
    });

    it('an idle serving loop keeps the process alive only while it serves, and leaks no descriptor', async function () {
      if (!caps.unixDatagram) this.skip();  // native only: the poll watch is the addon's
      const baseline = fdCount();
      for (let i = 0; i < 20; i++) {
        const s = new ss.UnixDatagramServer(tmp.path(), DgramEcho, opts);
        const loop = s.serveForever(10);
        await turns(2);
        await s.shutdown();
        await loop;
        await s.serverClose();
      }
      expect(fdCount()).to.equal(baseline);
    });

    it('serveThread must be a boolean', () => {
      expect(() => new ss.TCPServer([HOST, 0], Echo, { serveThread: 'no' as never })).to.throw(TypeError, /serveThread/);
    });
  });
}
