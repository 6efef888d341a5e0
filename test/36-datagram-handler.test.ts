/** DatagramRequestHandler: packet, socket, rfile, wfile (API.md "Request handlers"). */
import { expect } from 'chai';

import { expectUnsupported, HOST, TempDir, transports, UdpClient, UnixDgramClient, withTimeout } from './helpers';

for (const { name, ss, caps } of transports) {
  describe(`DatagramRequestHandler (${name})`, () => {
    const tmp = new TempDir();
    after(() => tmp.cleanup());

    /** One datagram to a UDP server; returns the replies received (up to `replies`). */
    async function udpOne(
      Handler: new (...a: never[]) => object,
      data: Buffer | string,
      replies = 1,
      options: Record<string, unknown> = {},
    ): Promise<{ replies: Buffer[]; errors: unknown[]; server: { serverAddress: unknown; fileno(): number } }> {
      const errors: unknown[] = [];
      class Server extends ss.UDPServer {
        override handleError(_r: unknown, _a: unknown, error: unknown): void {
          errors.push(error);
        }
      }
      const server = new Server([HOST, 0], Handler as never, options);
      const c = await UdpClient.open();
      const got: Buffer[] = [];
      try {
        await c.send(data, server.serverAddress as [string, number]);
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        for (let i = 0; i < replies; i++) got.push((await c.recv())[0]);
      } finally {
        c.close();
        await server.serverClose();
      }
      return { replies: got, errors, server };
    }

    it('setup(): packet, socket (= request[1], the server socket), clientAddress', async () => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const seen: any = {};
      class H extends ss.DatagramRequestHandler {
        override async handle(): Promise<void> {
          seen.packet = this.packet;
          seen.request = this.request;
          seen.socket = this.socket;
          seen.clientAddress = this.clientAddress;
          seen.serverFileno = (this.server as unknown as { socket: { fileno(): number } }).socket.fileno();
          seen.socketFileno = this.socket.fileno();
          await this.wfile.write('ok');
        }
      }
      const { replies, errors } = await udpOne(H, 'the packet');
      expect(errors).to.deep.equal([]);
      expect(replies.map(String)).to.deep.equal(['ok']);
      expect(Buffer.isBuffer(seen.packet)).to.equal(true);
      expect(seen.packet.toString()).to.equal('the packet');
      expect(seen.request).to.be.an('array').with.length(2);
      expect(seen.request[0].toString()).to.equal('the packet');
      expect(seen.request[1]).to.equal(seen.socket);
      expect(seen.socketFileno).to.equal(seen.serverFileno);
      expect(seen.clientAddress[0]).to.equal(HOST);
    });

    it('rfile.read() / readline() read from the packet', async () => {
      const got: string[] = [];
      class H extends ss.DatagramRequestHandler {
        override async handle(): Promise<void> {
          got.push((await this.rfile.readline()).toString());
          got.push((await this.rfile.readline(2)).toString());
          got.push((await this.rfile.read(3)).toString());
          got.push((await this.rfile.read()).toString());
          got.push((await this.rfile.readline()).toString());
        }
      }
      const { errors } = await udpOne(H, 'first\nsecond\nthird', 0);
      expect(errors).to.deep.equal([]);
      expect(got).to.deep.equal(['first\n', 'se', 'con', 'd\nthird', '']);
    });

    it('wfile collects; finish() sends it as one datagram to clientAddress', async () => {
      const counts: unknown[] = [];
      class H extends ss.DatagramRequestHandler {
        override async handle(): Promise<void> {
          const p = this.wfile.write('a');
          expect(p).to.be.instanceOf(Promise);
          counts.push(await p);
          counts.push(await this.wfile.write(Buffer.from('bc')));
          counts.push(await this.wfile.write('def'));
        }
      }
      const { replies, errors } = await udpOne(H, 'x');
      expect(errors).to.deep.equal([]);
      expect(replies.map(String)).to.deep.equal(['abcdef']);
      expect(counts).to.deep.equal([1, 2, 3]);
    });

    it('the socket can also answer directly with sendTo()', async () => {
      let sent: unknown;
      class H extends ss.DatagramRequestHandler {
        override async handle(): Promise<void> {
          sent = await this.socket.sendTo(Buffer.from('direct'), this.clientAddress);
          await this.wfile.write('buffered');
        }
      }
      const { replies, errors } = await udpOne(H, 'x', 2);
      expect(errors).to.deep.equal([]);
      expect(sent).to.equal(6);
      expect(replies.map(String)).to.deep.equal(['direct', 'buffered']);
    });

    it('a datagram larger than maxPacketSize is cut to maxPacketSize', async () => {
      let len = -1;
      class H extends ss.DatagramRequestHandler {
        override async handle(): Promise<void> {
          len = this.packet.length;
          await this.wfile.write(this.packet);
        }
      }
      const { replies, errors } = await udpOne(H, Buffer.alloc(100, 'p'), 1, { maxPacketSize: 16 });
      expect(errors).to.deep.equal([]);
      expect(len).to.equal(16);
      expect(replies[0].length).to.equal(16);
    });

    it('the default maxPacketSize is 8192', async () => {
      let len = -1;
      class H extends ss.DatagramRequestHandler {
        override async handle(): Promise<void> {
          len = this.packet.length;
          await this.wfile.write('ok');
        }
      }
      const { errors } = await udpOne(H, Buffer.alloc(10000, 'p'));
      expect(errors).to.deep.equal([]);
      expect(len).to.equal(8192);
    });

    it('a handler error reaches handleError(); the server keeps serving', async () => {
      let n = 0;
      class H extends ss.DatagramRequestHandler {
        override async handle(): Promise<void> {
          if (n++ === 0) throw new RangeError('bad datagram');
          await this.wfile.write(this.packet);
        }
      }
      const errors: unknown[] = [];
      class Server extends ss.UDPServer {
        override handleError(_r: unknown, _a: unknown, e: unknown): void {
          errors.push(e);
        }
      }
      const server = new Server([HOST, 0], H);
      const loop = server.serveForever(0.05);
      const c = await UdpClient.open();
      try {
        await c.send('first', server.serverAddress as [string, number]);
        await c.send('second', server.serverAddress as [string, number]);
        // As in Python, finish() runs after the failed handle() and sends
        // what wfile collected: an empty datagram.
        expect((await c.recv())[0].toString()).to.equal('');
        expect((await c.recv())[0].toString()).to.equal('second');
        expect(errors).to.have.length(1);
        expect(errors[0]).to.be.instanceOf(RangeError);
      } finally {
        c.close();
        await withTimeout(server.shutdown(), 3000, 'shutdown()');
        await loop;
        await server.serverClose();
      }
    });

    it(`Unix datagram: the reply goes to the sender path${caps.unixDatagram ? '' : ' (refused)'}`, async () => {
      class H extends ss.DatagramRequestHandler {
        override async handle(): Promise<void> {
          const line = await this.rfile.readline();
          await this.wfile.write(line.toString().toUpperCase());
        }
      }
      const p = tmp.path();
      if (!caps.unixDatagram) return void expectUnsupported(() => new ss.UnixDatagramServer(p, H), 'UnixDatagramServer');
      const server = new ss.UnixDatagramServer(p, H);
      const c = new UnixDgramClient(tmp.path('client'));
      try {
        c.sendTo('shout\n', p);
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        const [data, from] = await c.recv();
        expect(data.toString()).to.equal('SHOUT\n');
        expect(from).to.equal(p);
      } finally {
        c.close();
        await server.serverClose();
      }
    });
  });
}
