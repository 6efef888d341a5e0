// Issue 13, item 2 ("Datagram bursts"): while a handler runs, the transport
// keeps reading datagrams into a queue of its own, as node:dgram reads into
// memory, so that a burst larger than the kernel's receive buffer is not
// lost. The queue holds at most maxQueuedDatagrams datagrams and
// maxQueuedBytes payload bytes; a datagram that finds it full is read and
// dropped (tail drop, as the kernel drops), and counted in the server's
// droppedDatagrams.
//
// The bursts are paced by what the kernel says, not by time: after each
// small batch the sender waits until the server's socket has nothing left
// in its receive buffer (rx_queue in /proc/net/udp), which happens only if
// the transport reads while the handler is held. The kernel's own drop
// count for the socket must stay 0: every drop is the transport's, counted.
import { expect } from 'chai';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

import { deferred, fdCount, HOST, serveInBackground, TempDir, transports, turns, UdpClient, UnixDgramClient, until, withTimeout } from './helpers';
import type { Deferred, SS } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyServer = any;

/** The kernel's view of the UDP socket bound to 127.0.0.1:port: bytes in its receive buffer, and datagrams it dropped. */
function udpSocketState(port: number): { rxQueue: number; drops: number } {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of fs.readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local) return { rxQueue: parseInt(f[4].split(':')[1], 16), drops: Number(f[f.length - 1]) };
  }
  throw new Error(`no UDP socket bound to ${HOST}:${port} in /proc/net/udp`);
}

/** A datagram of exactly `size` bytes that names its place in the burst. */
function payload(i: number, size = 100): Buffer {
  return Buffer.from(`burst ${String(i).padStart(5, '0')} `.padEnd(size, '.'));
}

/**
 * Sends the datagrams a few at a time; after each batch, waits until the
 * server's transport has taken them out of the kernel's receive buffer.
 */
async function sendPaced(sock: dgram.Socket, port: number, datagrams: Buffer[], batch: number): Promise<void> {
  for (let i = 0; i < datagrams.length; i += batch) {
    await Promise.all(
      datagrams.slice(i, i + batch).map(
        (d) => new Promise<void>((resolve, reject) => sock.send(d, port, HOST, (e) => (e ? reject(e) : resolve()))),
      ),
    );
    await until(() => udpSocketState(port).rxQueue === 0, `the transport to read datagrams ${i}-${i + batch - 1} while the handler is held`, 5000);
  }
}

async function openSender(): Promise<dgram.Socket> {
  const sock = dgram.createSocket('udp4');
  sock.on('error', () => undefined);
  await new Promise<void>((resolve) => sock.bind(0, HOST, resolve));
  return sock;
}

/**
 * A datagram server whose first request holds its handler until `gate` is
 * released, recording every payload it handles; with `rcvbuf`, its socket's
 * SO_RCVBUF is set that small after bind (Linux doubles it).
 */
interface Held {
  server: AnyServer;
  port: number;
  handled: string[];
  gate: Deferred<void>;
  stop(): Promise<void>;
}

/** Starts a held server and sends it its first datagram, which the handler holds. */
async function holding(ss: SS, options: Record<string, unknown>, sender: dgram.Socket, rcvbuf?: number): Promise<Held> {
  const handled: string[] = [];
  const first = deferred<void>();
  const gate = deferred<void>();
  class Hold extends ss.BaseRequestHandler {
    override async handle(): Promise<void> {
      const [data] = this.request as unknown as [Buffer];
      handled.push(data.toString());
      if (handled.length === 1) {
        first.resolve();
        await gate.promise;
      }
    }
  }
  class Server extends ss.UDPServer {
    override serverBind(): void {
      super.serverBind();
      if (rcvbuf !== undefined) this.socket.setSockOpt(ss.constants.SOL_SOCKET, ss.constants.SO_RCVBUF, rcvbuf);
    }
  }
  const server = new Server([HOST, 0], Hold, options);
  const loop = serveInBackground(server, 0.05);
  const held: Held = {
    server,
    port: (server.serverAddress as [string, number])[1],
    handled,
    gate,
    async stop() {
      gate.resolve();
      await loop.stop();
      await server.serverClose();
    },
  };
  await new Promise<void>((resolve, reject) => sender.send('first', held.port, HOST, (e) => (e ? reject(e) : resolve())));
  await withTimeout(first.promise, 5000, 'the first datagram to reach the held handler');
  return held;
}

/** A UDPServer that records the payload of each datagram it handles, and a client. */
async function recordingServer(ss: SS): Promise<{ server: AnyServer; seen: string[]; client: UdpClient; to: [string, number] }> {
  const seen: string[] = [];
  class Record extends ss.BaseRequestHandler {
    override handle(): void {
      seen.push((this.request as unknown as [Buffer])[0].toString());
    }
  }
  const server = new ss.UDPServer([HOST, 0], Record);
  return { server, seen, client: await UdpClient.open(), to: server.serverAddress as [string, number] };
}

/** A receive buffer this small (8 KiB once Linux doubles it) holds about nine 100-byte datagrams. */
const SMALL_RCVBUF = 4096;

for (const { name, ss, caps } of transports) {
  describe(`datagram queue while handlers run (${name})`, () => {
    it('the settings: maxQueuedDatagrams 4096 and maxQueuedBytes 2 MiB by default, statics and options of the datagram servers only', async () => {
      expect(ss.UDPServer.maxQueuedDatagrams).to.equal(4096);
      expect(ss.UDPServer.maxQueuedBytes).to.equal(2 * 1024 * 1024);
      expect(ss.ThreadingUDPServer.maxQueuedDatagrams).to.equal(4096);
      class Small extends ss.UDPServer {
        static override maxQueuedDatagrams = 7;
      }
      const a = new Small([HOST, 0], ss.BaseRequestHandler);
      const b = new ss.UDPServer([HOST, 0], ss.BaseRequestHandler, { maxQueuedBytes: 1000 });
      try {
        expect(a.maxQueuedDatagrams).to.equal(7);
        expect(a.maxQueuedBytes).to.equal(2 * 1024 * 1024);
        expect(b.maxQueuedBytes).to.equal(1000);
        expect(a.droppedDatagrams).to.equal(0);
      } finally {
        await a.serverClose();
        await b.serverClose();
      }
      for (const option of ['maxQueuedDatagrams', 'maxQueuedBytes', 'droppedDatagrams']) {
        let error: (Error & { code?: string }) | undefined;
        try {
          new ss.TCPServer([HOST, 0], ss.BaseRequestHandler, { [option]: 10 });
        } catch (e) {
          error = e as Error;
        }
        expect(error, `TCPServer refuses ${option}`).to.be.instanceOf(TypeError);
        expect(error?.code).to.equal('ERR_INVALID_ARG_TYPE');
      }
    });

    it('settings out of range are RangeError ERR_OUT_OF_RANGE at construction, and the socket is closed first', () => {
      const cases: Array<[string, unknown, string]> = [
        ['maxQueuedDatagrams', 0, 'maxQueuedDatagrams must be an integer >= 1 and <= 1048576, got 0'],
        ['maxQueuedDatagrams', 1.5, 'maxQueuedDatagrams must be an integer >= 1 and <= 1048576, got 1.5'],
        ['maxQueuedDatagrams', 1048577, 'maxQueuedDatagrams must be an integer >= 1 and <= 1048576, got 1048577'],
        ['maxQueuedDatagrams', '10', 'maxQueuedDatagrams must be an integer >= 1 and <= 1048576, got 10'],
        ['maxQueuedBytes', -1, 'maxQueuedBytes must be an integer >= 0 and <= 1073741824, got -1'],
        ['maxQueuedBytes', NaN, 'maxQueuedBytes must be an integer >= 0 and <= 1073741824, got NaN'],
        ['maxQueuedBytes', 2 ** 30 + 1, 'maxQueuedBytes must be an integer >= 0 and <= 1073741824, got 1073741825'],
        ['maxQueuedBytes', undefined, 'maxQueuedBytes must be an integer >= 0 and <= 1073741824, got undefined'],
      ];
      const before = fdCount();
      for (const [setting, value, message] of cases) {
        let error: (Error & { code?: string }) | undefined;
        try {
          new ss.UDPServer([HOST, 0], ss.BaseRequestHandler, { [setting]: value });
        } catch (e) {
          error = e as Error;
        }
        expect(error, `${setting} ${String(value)}`).to.be.instanceOf(RangeError);
        expect(error?.code).to.equal('ERR_OUT_OF_RANGE');
        expect(error?.message).to.equal(message);
      }
      expect(fdCount()).to.equal(before);
    });

    it('a burst of 1 000 datagrams, 100 times what the receive buffer holds, sent while the handler is held: all arrive, in order', async function () {
      this.timeout(30000);
      const N = 1000;
      const sender = await openSender();
      const held = await holding(ss, {}, sender, SMALL_RCVBUF);
      try {
        const burst = Array.from({ length: N }, (_, i) => payload(i));
        await sendPaced(sender, held.port, burst, 4);
        expect(held.handled, 'nothing more is handled while the handler is held').to.have.length(1);
        held.gate.resolve();
        await until(() => held.handled.length === 1 + N, `all ${N} datagrams of the burst to be handled`, 10000);
        expect(held.handled.slice(1)).to.deep.equal(burst.map(String));
        expect(held.server.droppedDatagrams).to.equal(0);
        expect(udpSocketState(held.port).drops, 'datagrams the kernel dropped').to.equal(0);
      } finally {
        sender.close();
        await held.stop();
      }
    });

    for (const [setting, value] of [
      ['maxQueuedDatagrams', 10],
      ['maxQueuedBytes', 1000],
    ] as const) {
      it(`${setting} ${value}: of 50 datagrams of 100 bytes sent while the handler is held, the first 10 wait and arrive in order, exactly 40 are dropped and counted`, async () => {
        const sender = await openSender();
        const held = await holding(ss, { [setting]: value }, sender);
        try {
          const burst = Array.from({ length: 50 }, (_, i) => payload(i));
          await sendPaced(sender, held.port, burst, 5);
          expect(held.server.droppedDatagrams).to.equal(40);
          held.gate.resolve();
          await until(() => held.handled.length === 11, 'the 10 queued datagrams to be handled', 5000);
          // The server serves on: a datagram sent now is handled next.
          await new Promise<void>((resolve, reject) => sender.send('after', held.port, HOST, (e) => (e ? reject(e) : resolve())));
          await until(() => held.handled.length === 12, 'the datagram sent afterwards to be handled', 5000);
          expect(held.handled).to.deep.equal(['first', ...burst.slice(0, 10).map(String), 'after']);
          expect(udpSocketState(held.port).drops, 'datagrams the kernel dropped').to.equal(0);
        } finally {
          sender.close();
          await held.stop();
        }
        // Still readable once the server is closed.
        expect(held.server.droppedDatagrams).to.equal(40);
      });
    }

    it('a datagram larger than maxQueuedBytes is still taken into an empty queue', async () => {
      const sender = await openSender();
      const held = await holding(ss, { maxQueuedBytes: 10 }, sender);
      try {
        await sendPaced(sender, held.port, [payload(0, 500), payload(1, 5)], 2);
        expect(held.server.droppedDatagrams).to.equal(1);
        held.gate.resolve();
        await until(() => held.handled.length === 2, 'the large datagram to be handled', 5000);
        expect(held.handled[1]).to.equal(payload(0, 500).toString());
      } finally {
        sender.close();
        await held.stop();
      }
    });

    it('a flood of 20 000 × 8 KiB (156 MiB) while the handler is held: the queue stops at maxQueuedBytes, the rest is dropped and counted, memory stays bounded', async function () {
      this.timeout(60000);
      const FLOOD = 20_000;
      const SIZE = 8192;
      const QUEUED = (2 * 1024 * 1024) / SIZE; // the default maxQueuedBytes holds 256 of them
      // Far below the flood's 156 MiB; what V8's young generation may take
      // under the sender's allocations included. Under AddressSanitizer
      // freed memory waits in quarantine: RSS tells nothing there.
      const GROWTH_LIMIT_MIB = /libasan/.test(process.env.LD_PRELOAD ?? '') ? Infinity : 40;
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as () => void;
      const rssAnon = (): number => {
        gc();
        const m = /RssAnon:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
        return m ? Number(m[1]) / 1024 : 0;
      };
      const sender = await openSender();
      const held = await holding(ss, {}, sender);
      try {
        const before = rssAnon();
        const data = Buffer.alloc(SIZE, 0x66);
        let peak = before;
        for (let sent = 0; sent < FLOOD; sent += 1000) {
          await sendPaced(sender, held.port, Array(1000).fill(data), 8);
          peak = Math.max(peak, rssAnon());
        }
        const growth = peak - before;
        expect(held.server.droppedDatagrams).to.equal(FLOOD - QUEUED);
        expect(growth, `anonymous RSS grew by ${growth.toFixed(1)} MiB`).to.be.below(GROWTH_LIMIT_MIB);
        held.gate.resolve();
        await until(() => held.handled.length === 1 + QUEUED, `the ${QUEUED} queued datagrams to be handled`, 10000);
        await turns(10);
        expect(held.handled).to.have.length(1 + QUEUED);
      } finally {
        sender.close();
        await held.stop();
      }
    });

    it('handleRequest() without serveForever(): datagrams sent between calls are served in the order sent (the queue, then the kernel)', async () => {
      const { server, seen, client, to } = await recordingServer(ss);
      try {
        await client.send('one', to);
        await withTimeout(server.handleRequest(), 5000, 'the first handleRequest()');
        // The serve thread (native) now reads between calls; some of these
        // wait in its queue, the rest in the kernel's buffer.
        const burst = Array.from({ length: 100 }, (_, i) => payload(i).toString());
        for (const text of burst) await client.send(text, to);
        for (let i = 0; i < burst.length; i++) await withTimeout(server.handleRequest(), 5000, `handleRequest() ${i}`);
        expect(seen).to.deep.equal(['one', ...burst]);
      } finally {
        client.close();
        await server.serverClose();
      }
    });

    it('shutdown(), then serveForever() again: the datagrams sent in between are served, in order', async () => {
      const { server, seen, client, to } = await recordingServer(ss);
      try {
        let loop = serveInBackground(server, 0.05);
        await client.send('before', to);
        await until(() => seen.length === 1, 'the first datagram to be handled', 5000);
        await loop.stop();
        const between = Array.from({ length: 50 }, (_, i) => `between ${i}`);
        for (const text of between) await client.send(text, to);
        loop = serveInBackground(server, 0.05);
        await until(() => seen.length === 51, 'the datagrams sent in between to be handled', 5000);
        expect(seen).to.deep.equal(['before', ...between]);
        await loop.stop();
      } finally {
        client.close();
        await server.serverClose();
      }
    });

    if (caps.fork) {
      it('ForkingUDPServer: a burst of 20 requests, each answered by its child while the parent keeps reading', async function () {
        this.timeout(30000);
        class Reply extends ss.DatagramRequestHandler {
          override async handle(): Promise<void> {
            await this.wfile.write(`pid ${process.pid} ${this.packet.toString()}`);
          }
        }
        const server = new ss.ForkingUDPServer([HOST, 0], Reply);
        const client = await UdpClient.open();
        const loop = serveInBackground(server, 0.05);
        try {
          const to = server.serverAddress as [string, number];
          for (let i = 0; i < 20; i++) await client.send(`n${i}`, to);
          const replies: string[] = [];
          for (let i = 0; i < 20; i++) replies.push((await client.recv(10000))[0].toString());
          expect(replies.map((r) => r.split(' ')[2]).sort()).to.deep.equal(Array.from({ length: 20 }, (_, i) => `n${i}`).sort());
          expect(replies.every((r) => Number(r.split(' ')[1]) !== process.pid), 'every reply from a child').to.equal(true);
        } finally {
          client.close();
          await loop.stop();
          await withTimeout(Promise.resolve(server.serverClose()), 15000, 'serverClose()');
        }
      });
    }

    if (caps.unixDatagram) {
      it('a Unix datagram server whose handler is held: senders get past the kernel\'s queue of max_dgram_qlen, all 200 datagrams arrive in order', async function () {
        this.timeout(30000);
        const tmp = new TempDir('ss-dgram-queue-');
        const handled: string[] = [];
        const first = deferred<void>();
        const gate = deferred<void>();
        class Hold extends ss.BaseRequestHandler {
          override async handle(): Promise<void> {
            handled.push((this.request as unknown as [Buffer])[0].toString());
            if (handled.length === 1) {
              first.resolve();
              await gate.promise;
            }
          }
        }
        const server = new ss.UnixDatagramServer(tmp.path('server'), Hold);
        const client = new UnixDgramClient(tmp.path('client'));
        const loop = serveInBackground(server, 0.05);
        try {
          const to = server.serverAddress as string;
          client.sendTo('first', to);
          await withTimeout(first.promise, 5000, 'the first datagram to reach the held handler');
          // A Unix datagram sender is held back (EAGAIN) once the receiver
          // has max_dgram_qlen (10 here) unread; the server reads on.
          const burst = Array.from({ length: 200 }, (_, i) => `unix ${i}`);
          for (const text of burst) {
            let sent = false;
            for (let attempt = 0; attempt < 10000 && !sent; attempt++) {
              try {
                client.sendTo(text, to);
                sent = true;
              } catch {
                await turns(1); // would block: the serve thread has not read yet
              }
            }
            expect(sent, `${text} sent`).to.equal(true);
          }
          expect(handled).to.have.length(1);
          gate.resolve();
          await until(() => handled.length === 201, 'the 200 datagrams to be handled', 10000);
          expect(handled).to.deep.equal(['first', ...burst]);
          expect(server.droppedDatagrams).to.equal(0);
        } finally {
          gate.resolve();
          client.close();
          await loop.stop();
          await server.serverClose();
          tmp.cleanup();
        }
      });
    }
  });
}
