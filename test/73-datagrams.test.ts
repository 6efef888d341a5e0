// Issue 5, datagrams: larger than maxPacketSize → cut to it as Python does,
// and detectable (MSG_TRUNC); empty datagrams; a Unix datagram client gone
// before the reply.
import { expect } from 'chai';
import * as fs from 'node:fs';

import { HOST, TempDir, transports, UdpClient, UnixDgramClient, withTimeout } from './helpers';

for (const { name, ss, caps } of transports) {
  describe(`datagrams (${name})`, () => {
    const tmp = new TempDir('ss-dgram-');
    after(() => tmp.cleanup());

    it('a datagram longer than maxPacketSize is cut to it, and request.truncated / this.truncated say so', async () => {
      const seen: Array<{ length: number; truncated: boolean | undefined; flag: boolean; pair: number }> = [];
      class Echo extends ss.DatagramRequestHandler {
        override async handle(): Promise<void> {
          seen.push({ length: this.packet.length, truncated: this.request.truncated, flag: this.truncated, pair: this.request.length });
          await this.wfile.write(`${this.packet.length} ${this.truncated}`);
        }
      }
      const server = new ss.UDPServer([HOST, 0], Echo, { maxPacketSize: 100 });
      const client = await UdpClient.open();
      try {
        const to = server.serverAddress as [string, number];
        for (const size of [250, 100, 10]) {
          await client.send(Buffer.alloc(size, 0x61), to);
          await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
          const [reply] = await client.recv();
          expect(reply.toString()).to.equal(size > 100 ? '100 true' : `${size} false`);
        }
        expect(seen.map((s) => s.truncated)).to.deep.equal([true, false, false]);
        expect(seen.map((s) => s.flag)).to.deep.equal([true, false, false]);
        // The request is still Python's pair: the flag is not an element.
        expect(seen.every((s) => s.pair === 2)).to.equal(true);
      } finally {
        client.close();
        await server.serverClose();
      }
    });

    it('a datagram larger than the read pool takes (maxPacketSize 65536): all of it arrives', async () => {
      class Echo extends ss.DatagramRequestHandler {
        override async handle(): Promise<void> {
          const sum = this.packet.reduce((a, b) => (a + b) % 65521, 0);
          await this.wfile.write(`${this.packet.length} ${sum} ${this.truncated}`);
        }
      }
      const server = new ss.UDPServer([HOST, 0], Echo, { maxPacketSize: 65536 });
      const client = await UdpClient.open();
      try {
        const to = server.serverAddress as [string, number];
        for (const size of [30000, 20]) {
          const data = Buffer.alloc(size, 0);
          for (let i = 0; i < size; i++) data[i] = (i * 7) & 0xff;
          const sum = data.reduce((a, b) => (a + b) % 65521, 0);
          await client.send(data, to);
          await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
          const [reply] = await client.recv();
          expect(reply.toString()).to.equal(`${size} ${sum} false`);
        }
      } finally {
        client.close();
        await server.serverClose();
      }
    });

    it('an empty datagram is a request with an empty packet; the empty reply goes back', async () => {
      let got: Buffer | undefined;
      class Echo extends ss.DatagramRequestHandler {
        override async handle(): Promise<void> {
          got = this.packet;
          await this.wfile.write(this.rfile.read());
        }
      }
      const server = new ss.UDPServer([HOST, 0], Echo);
      const client = await UdpClient.open();
      try {
        const to = server.serverAddress as [string, number];
        await client.send(Buffer.alloc(0), to);
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        const [reply] = await client.recv();
        expect(got?.length).to.equal(0);
        expect(reply.length).to.equal(0);
        // ... and the server serves on.
        await client.send('next', to);
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        expect((await client.recv())[0].toString()).to.equal('next');
      } finally {
        client.close();
        await server.serverClose();
      }
    });

    it('a Unix datagram client gone before the reply: the error reaches handleError(), the server serves on', async function () {
      if (!caps.unixDatagram) this.skip(); // no Unix datagram sockets on this transport (refusal tested in 60)
      const errors: Array<string | undefined> = [];
      class Echo extends ss.DatagramRequestHandler {
        override async handle(): Promise<void> {
          await this.wfile.write(this.packet.toString().toUpperCase());
        }
      }
      class Server extends ss.UnixDatagramServer {
        override handleError(request: unknown, address: unknown, error: unknown): void {
          errors.push((error as NodeJS.ErrnoException).code);
        }
      }
      const server = new Server(tmp.path(), Echo);
      const gone = new UnixDgramClient(tmp.path());
      const stays = new UnixDgramClient(tmp.path());
      try {
        gone.sendTo('bye', server.serverAddress as string);
        gone.close();
        fs.rmSync(gone.path, { force: true });
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        expect(errors).to.have.length(1);
        expect(['ENOENT', 'ECONNREFUSED']).to.include(errors[0]);
        stays.sendTo('still here', server.serverAddress as string);
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        expect((await stays.recv())[0].toString()).to.equal('STILL HERE');
      } finally {
        stays.close();
        await server.serverClose();
      }
    });
  });
}

// The native transport remembers the last sender's address so that a reply
// to it skips parsing the host again (sendToLast); replies to any other
// address must still go exactly where they are addressed.
for (const { name, ss, caps } of transports) {
  describe(`datagram replies go where they are addressed (${name})`, () => {
    const tmp = new TempDir('ss-reply-');
    after(() => tmp.cleanup());

    /** A Threading server whose handlers all wait until `count` requests were taken, then reply with `reply()`. */
    function holdingServer<S>(Server: new (...a: any[]) => S, address: unknown, count: number,
      reply: (h: { packet: Buffer; clientAddress: unknown }) => unknown): { server: S; released: Promise<void> } {
      let taken = 0;
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      class H extends ss.DatagramRequestHandler {
        override async handle(): Promise<void> {
          if (++taken === count) release();
          await withTimeout(released, 5000, 'all requests taken');
          const to = reply(this);
          await this.socket.sendTo(Buffer.from(`re ${this.packet.toString()}`), to as never);
        }
      }
      return { server: new Server(address, H), released };
    }

    /** Makes the server; if that throws, closes the clients first (an open socket would keep mocha alive). */
    function guarded<T>(make: () => T, clients: Array<{ close(): void }>): T {
      try {
        return make();
      } catch (error) {
        for (const c of clients) c.close();
        throw error;
      }
    }

    it('UDP: replies after later datagrams were taken, from other hosts and ports, to addresses the handler builds', async () => {
      // Three senders: two on 127.0.0.1 (same host, other ports), one on 127.0.0.2.
      const a = await UdpClient.open('udp4', '127.0.0.1');
      const b = await UdpClient.open('udp4', '127.0.0.1');
      const c = await UdpClient.open('udp4', '127.0.0.2');
      // a's reply goes to a fresh [host, port] array; b's to 'localhost'; c's to clientAddress.
      const { server } = guarded(() => holdingServer(ss.ThreadingUDPServer, [HOST, 0], 3, (h) => {
        const [host, port] = h.clientAddress as [string, number];
        const who = h.packet.toString();
        if (who === 'a') return [`${host}`, port];
        if (who === 'b') return ['localhost', port];
        return h.clientAddress;
      }), [a, b, c]);
      const loop = (server as any).serveForever(0.05);
      try {
        const to = (server as any).serverAddress as [string, number];
        await a.send('a', to);
        await b.send('b', to);
        await c.send('c', to);
        const got = await Promise.all([a.recv(), b.recv(), c.recv()]);
        expect(got.map(([d]) => d.toString())).to.deep.equal(['re a', 're b', 're c']);
        for (const [, rinfo] of got) expect(rinfo.port).to.equal(to[1]);
      } finally {
        await (server as any).shutdown();
        await loop;
        await (server as any).serverClose();
        a.close();
        b.close();
        c.close();
      }
    });

    it('UDP over IPv6: [host, port, flowinfo, scopeId] replies reach each sender', async function () {
      const a = await UdpClient.open('udp6', '::1').catch(() => null);
      if (a === null) this.skip();
      const b = await UdpClient.open('udp6', '::1').catch((e) => {
        a!.close();
        throw e;
      });
      class V6 extends ss.ThreadingUDPServer {
        static override addressFamily = ss.constants.AF_INET6;
      }
      const { server } = guarded(() => holdingServer(V6, ['::1', 0], 2, (h) => h.clientAddress), [a!, b]);
      const loop = (server as any).serveForever(0.05);
      try {
        const to = (server as any).serverAddress as [string, number];
        await a!.send('a', to);
        await b.send('b', to);
        const got = await Promise.all([a!.recv(), b.recv()]);
        expect(got.map(([d]) => d.toString())).to.deep.equal(['re a', 're b']);
      } finally {
        await (server as any).shutdown();
        await loop;
        await (server as any).serverClose();
        a!.close();
        b.close();
      }
    });

    it('Unix datagrams: replies after later datagrams were taken reach each bound sender', async function () {
      if (!caps.unixDatagram) this.skip();
      const a = new UnixDgramClient(tmp.path('a'));
      const b = new UnixDgramClient(tmp.path('b'));
      const { server } = guarded(() => holdingServer(ss.ThreadingUnixDatagramServer, tmp.path('srv'), 2, (h) => h.clientAddress), [a, b]);
      const loop = (server as any).serveForever(0.05);
      try {
        const to = (server as any).serverAddress as string;
        a.sendTo('a', to);
        b.sendTo('b', to);
        const got = await Promise.all([a.recv(), b.recv()]);
        expect(got.map(([d]) => d.toString())).to.deep.equal(['re a', 're b']);
      } finally {
        await (server as any).shutdown();
        await loop;
        await (server as any).serverClose();
        a.close();
        b.close();
      }
    });
  });
}
