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
