/**
 * Port of CPython's Lib/test/test_socketserver.py SocketServerTest, for the
 * synchronous servers (TCPServer, UDPServer, UnixStreamServer,
 * UnixDatagramServer). The Threading and Forking cases come with the mix-ins.
 */
import { expect } from 'chai';

import {
  Address,
  connect,
  fdCount,
  HOST,
  SockReader,
  TempDir,
  TEST_STR,
  transports,
  UdpClient,
  UnixDgramClient,
  withTimeout,
} from './helpers';

for (const { name, ss } of transports) {
  describe(`SocketServerTest (${name})`, () => {
    const tmp = new TempDir();
    after(() => tmp.cleanup());

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    type AnyClass = new (...args: any[]) => any;

    function pickaddr(family: number): Address {
      return family === ss.constants.AF_INET ? [HOST, 0] : tmp.path('unix_socket');
    }

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    function makeServer(addr: Address, svrcls: AnyClass, hdlrbase: AnyClass): any {
      const errors: unknown[] = [];
      class MyServer extends svrcls {
        errors = errors;
        // Python re-raises here; the test records and fails instead.
        handleError(request: unknown, clientAddress: unknown, error?: unknown): void {
          errors.push(error ?? new Error('handleError called'));
          this.closeRequest(request);
        }
      }
      class MyHandler extends hdlrbase {
        async handle(): Promise<void> {
          const line = await this.rfile.readline();
          await this.wfile.write(line);
        }
      }
      const server = new MyServer(addr, MyHandler);
      expect(server.serverAddress).to.deep.equal(server.socket.getSockName());
      return server;
    }

    async function runServer(
      svrcls: AnyClass,
      hdlrbase: AnyClass,
      testfunc: (family: number, addr: Address) => Promise<void>,
    ): Promise<void> {
      const server = makeServer(pickaddr((svrcls as unknown as { addressFamily: number }).addressFamily), svrcls, hdlrbase);
      try {
        const addr = server.serverAddress as Address;
        const loop: Promise<void> = server.serveForever(0.01);
        loop.catch(() => undefined);
        try {
          for (let i = 0; i < 3; i++) await testfunc((svrcls as unknown as { addressFamily: number }).addressFamily, addr);
        } finally {
          await withTimeout(server.shutdown(), 5000, 'shutdown()');
          await withTimeout(loop, 5000, 'serveForever() to stop');
        }
        expect(server.errors).to.deep.equal([]);
        await server.serverClose();
        expect(server.socket.fileno()).to.equal(-1);
      } finally {
        await server.serverClose();
      }
    }

    async function streamExamine(_family: number, addr: Address): Promise<void> {
      const s = await connect(addr);
      try {
        const reader = new SockReader(s);
        s.write(TEST_STR);
        const buf = await reader.readLine();
        expect(buf.toString()).to.equal(TEST_STR.toString());
      } finally {
        s.destroy();
      }
    }

    async function dgramExamine(family: number, addr: Address): Promise<void> {
      if (family === ss.constants.AF_UNIX) {
        const c = new UnixDgramClient(pickaddr(family) as string);
        try {
          c.sendTo(TEST_STR, addr as string);
          const [buf] = await c.recv();
          expect(buf.toString()).to.equal(TEST_STR.toString());
        } finally {
          c.close();
        }
      } else {
        const c = await UdpClient.open();
        try {
          await c.send(TEST_STR, addr as [string, number]);
          const [buf] = await c.recv();
          expect(buf.toString()).to.equal(TEST_STR.toString());
        } finally {
          c.close();
        }
      }
    }

    it('test_TCPServer', () => runServer(ss.TCPServer, ss.StreamRequestHandler, streamExamine));
    it('test_UnixStreamServer', () => runServer(ss.UnixStreamServer, ss.StreamRequestHandler, streamExamine));
    it('test_UDPServer', () => runServer(ss.UDPServer, ss.DatagramRequestHandler, dgramExamine));
    it('test_UnixDatagramServer', () => runServer(ss.UnixDatagramServer, ss.DatagramRequestHandler, dgramExamine));

    it('test_shutdown: shutdown() always makes serveForever() return (issue #2302)', async () => {
      class MyServer extends ss.TCPServer {}
      class MyHandler extends ss.StreamRequestHandler {}
      const servers: InstanceType<typeof MyServer>[] = [];
      try {
        for (let i = 0; i < 20; i++) servers.push(new MyServer([HOST, 0], MyHandler));
        const loops: Promise<void>[] = [];
        const stops: Promise<void>[] = [];
        for (const s of servers) {
          loops.push(s.serveForever(0.01));
          stops.push(s.shutdown());
        }
        await withTimeout(Promise.all(loops), 5000, 'all loops to stop');
        await withTimeout(Promise.all(stops), 5000, 'all shutdown() calls to resolve');
      } finally {
        for (const s of servers) await s.serverClose();
      }
    });

    it('test_tcpserver_bind_leak: a failing constructor closes its socket (issue #22435)', () => {
      const before = fdCount();
      for (let i = 0; i < 1024; i++) {
        expect(() => new ss.TCPServer([HOST, -1], ss.StreamRequestHandler)).to.throw(RangeError);
      }
      expect(fdCount()).to.equal(before);
    });

    it('test_context_manager: await using closes the server', async () => {
      let server: InstanceType<typeof ss.TCPServer> | undefined;
      {
        await using s = new ss.TCPServer([HOST, 0], ss.StreamRequestHandler);
        server = s;
        expect(s.socket.fileno()).to.be.greaterThan(-1);
      }
      expect(server.socket.fileno()).to.equal(-1);
    });
  });
}
