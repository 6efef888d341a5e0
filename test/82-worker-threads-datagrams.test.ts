// Issue 10: ThreadingMixIn's workerThreads on datagram servers (UDP, Unix
// datagram). The main thread takes each datagram and runs verifyRequest();
// a worker gets the payload (copied once, transferred) and the sender, and
// replies on its own dup() of the server's socket. Handlers are in
// test/fixtures/worker-handlers.js (DatagramCommands). Every wait is
// bounded; nothing sleeps to synchronise.
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMainThread } from 'node:worker_threads';

import { fdCount, fdsBackTo, HOST, nativeAddon, ROOT, TempDir, transports, UdpClient, UnixDgramClient, until, withTimeout } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'worker-handlers.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { DatagramCommands } = require(FIXTURE) as { DatagramCommands: Any };

const native = transports.find((t) => t.name === 'native')!;
const js = transports.find((t) => t.name === 'js')!;
const ss = native.ss as Any;

function threadCount(): number {
  return fs.readdirSync('/proc/self/task').length;
}

/** A datagram client of either kind, and the address the server sees it by. */
interface Client {
  clientAddress: unknown;
  send(data: Buffer | string): Promise<void>;
  recv(ms?: number): Promise<string>;
  close(): void;
}

async function udpClient(server: Any): Promise<Client> {
  const c = await UdpClient.open();
  const to = server.serverAddress as [string, number];
  return {
    clientAddress: c.address(),
    send: (data) => c.send(data, to),
    recv: async (ms = 10_000) => (await c.recv(ms))[0].toString().trim(),
    close: () => c.close(),
  };
}

let unixClients = 0;
function unixClient(tmp: TempDir): (server: Any) => Promise<Client> {
  return async (server: Any) => {
    const c = new UnixDgramClient(tmp.path(`client-${unixClients++}`));
    return {
      clientAddress: c.path,
      send: async (data) => void c.sendTo(data, server.serverAddress),
      recv: async (ms = 10_000) => (await c.recv(ms))[0].toString().trim(),
      close: () => c.close(),
    };
  };
}

describe('82 worker threads (ThreadingMixIn workerThreads), datagram servers', function () {
  this.timeout(60_000);
  const tmp = new TempDir('ss-wdgram-');
  after(() => tmp.cleanup());

  let server: Any;
  let loop: Promise<void> | null = null;
  let errors: Array<{ request: unknown; clientAddress: unknown; error: Any; isMain: boolean }>;
  let verified: unknown[];

  /** Records the main-thread hooks; refuses a datagram while `refuse` is set. */
  function recording(Base: Any): Any {
    return class extends Base {
      refuse = false;
      verifyRequest(_request: Any, clientAddress: Any): boolean {
        verified.push({ clientAddress, isMain: isMainThread });
        return !this.refuse;
      }
      handleError(request: unknown, clientAddress: unknown, error: Any): void {
        errors.push({ request, clientAddress, error, isMain: isMainThread });
      }
    };
  }

  const kinds: Array<{ name: string; cls: () => Any; address: () => Any; client: (server: Any) => Promise<Client> }> = [
    { name: 'ThreadingUDPServer', cls: () => recording(ss.ThreadingUDPServer), address: () => [HOST, 0], client: udpClient },
    { name: 'ThreadingUnixDatagramServer', cls: () => recording(ss.ThreadingUnixDatagramServer), address: () => tmp.path(), client: unixClient(tmp) },
  ];

  async function start(kind: (typeof kinds)[number], options: Record<string, unknown> = {}): Promise<void> {
    server = new (kind.cls())(kind.address(), DatagramCommands, { workerThreads: 2, ...options });
    loop = server.serveForever(0.05);
    await withTimeout(server._workerPool().start(), 20_000, 'workers ready');
  }

  beforeEach(() => {
    errors = [];
    verified = [];
  });

  afterEach(async () => {
    if (server !== undefined) {
      await server.shutdown();
      if (loop !== null) await withTimeout(loop.catch(() => {}), 10_000, 'loop end');
      await withTimeout(server.serverClose(), 20_000, 'serverClose');
    }
    server = undefined;
    loop = null;
  });

  for (const kind of kinds) {
    describe(kind.name, () => {
      it('the handler runs in a worker and sees the view: address, settings, class, workerData', async () => {
        const workerData = { greeting: 'hi' };
        await start(kind, { workerData });
        const c = await kind.client(server);
        try {
          await c.send('view');
          const view = JSON.parse(await c.recv());
          expect(view.isMainThread).to.equal(false);
          expect(view.threadId).to.be.oneOf(server._workerPool().threadIds);
          expect(view.serverAddress).to.deep.equal(server.serverAddress);
          expect(view.workerThreads).to.equal(2);
          expect(view.maxPacketSize).to.equal(server.maxPacketSize);
          expect(view.handler).to.equal('DatagramCommands');
          expect(view.workerData).to.deep.equal(workerData);
          expect(view.truncated).to.equal(false);
          expect(verified).to.deep.equal([{ clientAddress: c.clientAddress, isMain: true }]);
        } finally {
          c.close();
        }
      });

      it('light datagrams are answered while a heavy one computes (200 ms, CPU-bound)', async () => {
        await start(kind);
        const heavy = await kind.client(server);
        const light = await kind.client(server);
        try {
          await heavy.send('heavy');
          expect(await heavy.recv()).to.equal('STARTED');
          const latencies: number[] = [];
          for (let i = 0; i < 3; i++) {
            const t0 = performance.now();
            await light.send(`light ${i}`);
            expect(await light.recv()).to.equal(`LIGHT ${i}`);
            latencies.push(performance.now() - t0);
          }
          expect(await heavy.recv()).to.equal('HEAVY');
          expect(Math.max(...latencies), `light latencies ${latencies.map((l) => l.toFixed(1)).join(', ')} ms`).to.be.below(120);
        } finally {
          heavy.close();
          light.close();
        }
      });

      it('payloads arrive whole: 300 datagrams of 65–6 000 bytes sent back to back, each answered with its own', async () => {
        await start(kind);
        const c = await kind.client(server);
        try {
          const expected = new Set<string>();
          const COUNT = 300;
          for (let i = 0; i < COUNT; i++) {
            // Distinct content and length, many longer than the pool's room
            // (512 bytes) and than one pool (8 KiB is not reached: 6 000).
            const len = 65 + ((i * 197) % 5936);
            const text = `${i.toString(36)}-`.padEnd(len, String.fromCharCode(97 + (i % 26)));
            expected.add(`${len} ${text.toUpperCase()}`);
            await c.send(text);
            // A few in flight at a time: the client's receive buffer must hold the replies.
            if (i % 8 === 7) for (let k = 0; k < 8; k++) expect(expected.delete(await c.recv())).to.equal(true);
          }
          for (let k = 0; k < COUNT % 8; k++) expect(expected.delete(await c.recv())).to.equal(true);
          expect(expected.size).to.equal(0);
        } finally {
          c.close();
        }
      });

      it('a datagram longer than maxPacketSize arrives truncated, and says so', async () => {
        await start(kind, { maxPacketSize: 100 });
        const c = await kind.client(server);
        try {
          await c.send('view'.padEnd(300, ' '));
          const view = JSON.parse(await c.recv());
          expect(view.truncated).to.equal(true);
          expect(view.isMainThread).to.equal(false);
        } finally {
          c.close();
        }
      });
    });
  }

  describe('what runs where, and the life cycle (UDP)', () => {
    const udp = kinds[0];

    it('verifyRequest on the main thread, before the handoff: a refused datagram never reaches a worker', async () => {
      await start(udp, { workerThreads: 1 });
      const c = await udp.client(server);
      try {
        server.refuse = true;
        await c.send('refused');
        await until(() => verified.length === 1, 'verifyRequest for the first datagram', 10_000);
        server.refuse = false;
        await c.send('accepted');
        // One worker runs its datagrams in order: had the first reached it, its reply would come first.
        expect(await c.recv()).to.equal('ACCEPTED');
        expect(verified).to.deep.equal([
          { clientAddress: c.clientAddress, isMain: true },
          { clientAddress: c.clientAddress, isMain: true },
        ]);
      } finally {
        c.close();
      }
    });

    it('handleError on the main thread, with the worker\'s error (code kept), request null', async () => {
      await start(udp);
      const c = await udp.client(server);
      try {
        await c.send('throw');
        await until(() => errors.length === 1, 'handleError', 10_000);
        const [e] = errors;
        expect(e.isMain).to.equal(true);
        expect(e.request).to.equal(null);
        expect(e.clientAddress).to.deep.equal(c.clientAddress);
        expect(e.error.message).to.equal('datagram handler failed');
        expect(e.error.code).to.equal('E_TEST_HANDLER');
        // finish() ran after the failed handle() and sent what wfile had:
        // nothing, as Python's DatagramRequestHandler does.
        expect(await c.recv()).to.equal('');
        await c.send('after');
        expect(await c.recv()).to.equal('AFTER');
      } finally {
        c.close();
      }
    });

    it('a worker that dies is replaced; its datagram is reported ERR_SOCKETSERVER_WORKER_EXIT; its reply socket is closed', async () => {
      await start(udp);
      const fds = fdCount();
      const idsBefore = server._workerPool().threadIds;
      const c = await udp.client(server);
      try {
        await c.send('exit');
        await until(() => errors.length === 1, 'handleError', 10_000);
        const [e] = errors;
        expect(e.error.code).to.equal('ERR_SOCKETSERVER_WORKER_EXIT');
        expect(e.error.message).to.contain('code 3');
        expect(e.clientAddress).to.deep.equal(c.clientAddress);
        await until(() => server._workerPool().threadIds.length === 2, 'a replacement worker', 10_000);
        expect(server._workerPool().threadIds.filter((id: number) => !idsBefore.includes(id))).to.have.length(1);
        for (let i = 0; i < 4; i++) {
          await c.send(`after ${i}`);
          expect(await c.recv()).to.equal(`AFTER ${i}`);
        }
      } finally {
        c.close();
      }
      // The dead worker's reply socket closed with it; its replacement has one: as many as before.
      await fdsBackTo(fds, 'descriptors after the worker died and was replaced');
    });

    it('shutdown() from a handler in a worker stops serveForever()', async () => {
      await start(udp);
      const c = await udp.client(server);
      try {
        await c.send('shutdown');
        expect(await c.recv()).to.equal('OK');
        await withTimeout(loop!, 10_000, 'serveForever() to stop');
        loop = null;
      } finally {
        c.close();
      }
    });

    it('3 000 datagrams, then serverClose(): descriptors (reply sockets too) and threads back at their baseline', async function () {
      this.timeout(120_000);
      const fds0 = fdCount();
      const threads0 = threadCount();
      await start(udp);
      const clients = await Promise.all(Array.from({ length: 8 }, () => udp.client(server)));
      try {
        const PER_CLIENT = 375;
        await withTimeout(
          Promise.all(
            clients.map(async (c, k) => {
              for (let i = 0; i < PER_CLIENT; i++) {
                await c.send(`c${k}r${i}`);
                expect(await c.recv()).to.equal(`C${k}R${i}`);
              }
            }),
          ),
          100_000,
          '3 000 datagrams',
        );
      } finally {
        for (const c of clients) c.close();
      }
      await server.shutdown();
      await loop;
      loop = null;
      await server.serverClose();
      server = undefined;
      await fdsBackTo(fds0, 'descriptors after 3 000 datagrams and serverClose()');
      await until(() => threadCount() <= threads0, `threads back to ${threads0} (now ${threadCount()})`, 10_000);
    });

    it('the js transport refuses workerThreads on datagram servers: ERR_SOCKETSERVER_UNSUPPORTED', () => {
      const jss = js.ss as Any;
      for (const cls of ['ThreadingUDPServer', 'ThreadingUnixDatagramServer']) {
        const address = cls === 'ThreadingUDPServer' ? [HOST, 0] : tmp.path('js-dgram');
        let thrown: Any;
        try {
          new jss[cls](address, DatagramCommands, { workerThreads: 1 });
        } catch (e) {
          thrown = e;
        }
        expect(thrown?.code, cls).to.equal('ERR_SOCKETSERVER_UNSUPPORTED');
      }
    });
  });

  describe('the native reply socket: Listener.dup() and new Listener(family, type, fd)', () => {
    const addon = (): Any => nativeAddon();

    it('dup() gives a new descriptor of the socket; a Listener adopts it and sends from the same address', async () => {
      const { AF_INET, SOCK_DGRAM } = addon().constants;
      const original = new (addon().Listener)(AF_INET, SOCK_DGRAM);
      original.bind([HOST, 0]);
      const fd = original.dup();
      expect(fd).to.not.equal(original.fileno());
      const copy = new (addon().Listener)(AF_INET, SOCK_DGRAM, fd);
      const peer = await UdpClient.open();
      try {
        expect(copy.fileno()).to.equal(fd);
        expect(copy.getSockName()).to.deep.equal(original.getSockName());
        // Closing the original leaves the copy working: it replies from the server's address.
        original.close();
        expect(copy.sendTo(Buffer.from('from the copy'), peer.address())).to.equal(13);
        const [data, rinfo] = await peer.recv(5000);
        expect(data.toString()).to.equal('from the copy');
        expect(rinfo.port).to.equal(copy.getSockName()[1]);
      } finally {
        copy.close();
        original.close();
        peer.close();
      }
    });

    it('adopting a descriptor of another family or type: TypeError ERR_INVALID_ARG_VALUE, and the descriptor stays open', () => {
      const { AF_INET, AF_UNIX, SOCK_DGRAM, SOCK_STREAM } = addon().constants;
      const stream = new (addon().Listener)(AF_INET, SOCK_STREAM);
      const fd = stream.dup();
      try {
        for (const [family, type] of [[AF_INET, SOCK_DGRAM], [AF_UNIX, SOCK_STREAM]]) {
          let thrown: Any;
          try {
            new (addon().Listener)(family, type, fd);
          } catch (e) {
            thrown = e;
          }
          expect(thrown).to.be.instanceOf(TypeError);
          expect(thrown.code).to.equal('ERR_INVALID_ARG_VALUE');
          expect(fs.fstatSync(fd).isSocket(), 'still open').to.equal(true);
        }
        // Not a socket at all: the system error, as getsockopt() gives it.
        const file = fs.openSync(__filename, 'r');
        try {
          let thrown: Any;
          try {
            new (addon().Listener)(AF_INET, SOCK_DGRAM, file);
          } catch (e) {
            thrown = e;
          }
          expect(thrown.code).to.equal('ENOTSOCK');
          expect(thrown.syscall).to.equal('getsockopt');
        } finally {
          fs.closeSync(file);
        }
      } finally {
        fs.closeSync(fd);
        stream.close();
      }
    });
  });
});
