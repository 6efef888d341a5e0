/** The connected socket a stream handler gets as `request` (API.md "Connected stream socket"). */
import { expect } from 'chai';
import type * as net from 'node:net';

import { connect, deferred, HOST, readToEnd, SockReader, TempDir, transports, withTimeout } from './helpers';

for (const { name, ss } of transports) {
  describe(`connected socket (${name})`, () => {
    const tmp = new TempDir();
    after(() => tmp.cleanup());
    const C = ss.constants;

    type Req = InstanceType<typeof ss.StreamRequestHandler>['request'];

    /**
     * Runs `body(request, handler)` as handle() of a BaseRequestHandler for
     * one connection, with `client` on the other end. Returns handleError()'s errors.
     */
    async function withConnection(
      body: (req: Req, h: InstanceType<typeof ss.BaseRequestHandler>) => Promise<void>,
      client: (sock: net.Socket, server: InstanceType<typeof ss.TCPServer>) => Promise<void>,
      unixPath?: string,
    ): Promise<unknown[]> {
      const errors: unknown[] = [];
      const Base = unixPath ? ss.UnixStreamServer : ss.TCPServer;
      class Server extends Base {
        override handleError(_r: unknown, _a: unknown, error: unknown): void {
          errors.push(error);
        }
      }
      class H extends ss.BaseRequestHandler {
        override async handle(): Promise<void> {
          await body(this.request, this);
        }
      }
      const server = new Server(unixPath ?? [HOST, 0], H);
      try {
        const serving = server.handleRequest();
        serving.catch(() => undefined);
        const sock = await connect(server.serverAddress as [string, number]);
        try {
          await client(sock, server);
          await withTimeout(serving, 5000, 'handleRequest()');
        } finally {
          sock.destroy();
        }
      } finally {
        await server.serverClose();
      }
      return errors;
    }

    it('recv(), send(), sendAll(); recv() gives an empty Buffer at EOF', async () => {
      const got: Buffer[] = [];
      let sent = -1;
      const errors = await withConnection(
        async (req) => {
          for (let i = 0; i < 100; i++) {
            const b = await req.recv(3);
            expect(Buffer.isBuffer(b)).to.equal(true);
            expect(b.length).to.be.at.most(3);
            got.push(b);
            if (b.length === 0) break;
          }
          sent = await req.send(Buffer.from('sent'));
          await req.sendAll(Buffer.alloc(300000, 'a'));
        },
        async (c) => {
          const end = readToEnd(c);
          c.end('hello');
          const all = await end;
          expect(all.subarray(0, sent).toString()).to.equal('sent'.slice(0, sent));
          expect(all.length).to.equal(sent + 300000);
        },
      );
      expect(errors).to.deep.equal([]);
      expect(sent).to.be.within(1, 4);
      expect(Buffer.concat(got).toString()).to.equal('hello');
      expect(got[got.length - 1].length).to.equal(0);
    });

    it('getPeerName() / getSockName()', async () => {
      let peer: unknown;
      let sockName: unknown;
      let clientAddress: unknown;
      let local: unknown;
      let serverAddress: unknown;
      const errors = await withConnection(
        async (req, h) => {
          peer = req.getPeerName();
          sockName = req.getSockName();
          clientAddress = h.clientAddress;
        },
        async (c, server) => {
          local = [c.localAddress, c.localPort];
          serverAddress = server.serverAddress;
          await readToEnd(c);
        },
      );
      expect(errors).to.deep.equal([]);
      expect(peer).to.deep.equal(local);
      expect(clientAddress).to.deep.equal(local);
      expect(sockName).to.deep.equal(serverAddress);
    });

    it('Unix: getPeerName() is the unnamed peer, getSockName() the server path', async () => {
      let peer: unknown;
      let sockName: unknown;
      const p = tmp.path();
      const errors = await withConnection(
        async (req) => {
          peer = req.getPeerName();
          sockName = req.getSockName();
        },
        async (c) => {
          await readToEnd(c);
        },
        p,
      );
      expect(errors).to.deep.equal([]);
      expect(peer).to.equal('');
      expect(sockName).to.equal(p);
    });

    it('setSockOpt()', async () => {
      let keepalive: number | undefined;
      const errors = await withConnection(
        async (req) => {
          req.setSockOpt(C.SOL_SOCKET, (C as unknown as { SO_KEEPALIVE?: number }).SO_KEEPALIVE ?? 9, 1);
          req.setSockOpt(C.IPPROTO_TCP, C.TCP_NODELAY, true);
          const r = req as unknown as { getSockOpt?: (l: number, n: number) => number };
          if (typeof r.getSockOpt === 'function') keepalive = r.getSockOpt(C.SOL_SOCKET, 9);
        },
        async (c) => {
          await readToEnd(c);
        },
      );
      expect(errors).to.deep.equal([]);
      if (keepalive !== undefined) expect(keepalive).to.not.equal(0);
    });

    it('shutdown(SHUT_WR): the client sees EOF, and can still send', async () => {
      const clientSawEof = deferred<void>();
      let after: Buffer | undefined;
      const errors = await withConnection(
        async (req) => {
          await req.sendAll(Buffer.from('half'));
          req.shutdown(C.SHUT_WR);
          await withTimeout(clientSawEof.promise, 3000, 'the client to see EOF');
          after = await req.recv(100);
        },
        async (c) => {
          const r = new SockReader(c);
          c.allowHalfOpen = true;
          expect((await r.readToEnd()).toString()).to.equal('half');
          clientSawEof.resolve();
          c.end('after eof');
        },
      );
      expect(errors).to.deep.equal([]);
      expect(after?.toString()).to.equal('after eof');
    });

    it('close(): fileno() is -1; closing again, and the server closing it too, is harmless', async () => {
      const filenos: number[] = [];
      const errors = await withConnection(
        async (req) => {
          filenos.push(req.fileno());
          req.close();
          filenos.push(req.fileno());
          req.close();
          filenos.push(req.fileno());
        },
        async (c) => {
          expect((await readToEnd(c)).length).to.equal(0);
        },
      );
      expect(errors).to.deep.equal([]);
      expect(filenos[0]).to.be.greaterThan(2);
      expect(filenos.slice(1)).to.deep.equal([-1, -1]);
    });

    it('the request is closed after the handler (fileno() -1)', async () => {
      let req: Req | undefined;
      const errors = await withConnection(
        async (r) => {
          req = r;
        },
        async (c) => {
          await readToEnd(c);
        },
      );
      expect(errors).to.deep.equal([]);
      expect(req!.fileno()).to.equal(-1);
    });

    it('timeout: recv() that outlasts it rejects with ETIMEDOUT', async () => {
      let err: (Error & { code?: string }) | undefined;
      let defaultTimeout: unknown;
      const errors = await withConnection(
        async (req) => {
          defaultTimeout = req.timeout;
          req.timeout = 0.05;
          expect(req.timeout).to.equal(0.05);
          const t0 = Date.now();
          try {
            await req.recv(10);
          } catch (e) {
            err = e as Error & { code?: string };
          }
          expect(Date.now() - t0).to.be.at.least(40);
          // The socket still works after a timeout.
          req.timeout = null;
          await req.sendAll(Buffer.from('still here'));
        },
        async (c) => {
          expect((await readToEnd(c)).toString()).to.equal('still here');
        },
      );
      expect(errors).to.deep.equal([]);
      expect(defaultTimeout).to.equal(null);
      expect(err).to.be.instanceOf(Error);
      expect(err!.code).to.equal('ETIMEDOUT');
    });

    it('timeout: sendAll() that outlasts it (peer not reading) rejects with ETIMEDOUT', async () => {
      let err: (Error & { code?: string }) | undefined;
      const gaveUp = deferred<void>();
      const errors = await withConnection(
        async (req) => {
          req.timeout = 0.2;
          try {
            await req.sendAll(Buffer.alloc(64 << 20)); // more than any socket buffer
          } catch (e) {
            err = e as Error & { code?: string };
          } finally {
            gaveUp.resolve();
          }
        },
        async (c) => {
          c.pause(); // not reading
          await withTimeout(gaveUp.promise, 5000, 'sendAll() to time out');
        },
      );
      expect(errors).to.deep.equal([]);
      expect(err?.code).to.equal('ETIMEDOUT');
    });

    it('datagram socket: sendTo(), fileno(), getSockName()', async () => {
      // Covered with a live exchange in 36-datagram-handler; here the attributes.
      const server = new ss.UDPServer([HOST, 0], ss.DatagramRequestHandler);
      try {
        expect(server.socket.fileno()).to.be.greaterThan(2);
        expect(server.socket.getSockName()).to.deep.equal(server.serverAddress);
        expect(server.socket.sendTo).to.be.a('function');
        const n = await server.socket.sendTo(Buffer.from('to self'), server.serverAddress);
        expect(n).to.equal(7);
      } finally {
        await server.serverClose();
      }
    });
  });
}
