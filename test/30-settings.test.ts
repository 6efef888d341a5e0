/** Class settings: statics, per-instance copies, options (API.md "Class settings"). */
import { expect } from 'chai';

import { expectUnsupported, HOST, TempDir, transports } from './helpers';

for (const { name, ss, caps } of transports) {
  describe(`class settings (${name})`, () => {
    const tmp = new TempDir();
    after(() => tmp.cleanup());
    const C = ss.constants;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const S = ss as any;

    it('BaseServer.timeout defaults to null', () => {
      expect(S.BaseServer.timeout).to.equal(null);
    });

    it('TCPServer statics', () => {
      expect(S.TCPServer.timeout).to.equal(null);
      expect(S.TCPServer.addressFamily).to.equal(C.AF_INET);
      expect(S.TCPServer.socketType).to.equal(C.SOCK_STREAM);
      expect(S.TCPServer.requestQueueSize).to.equal(5);
      expect(S.TCPServer.allowReuseAddress).to.equal(false);
      expect(S.TCPServer.allowReusePort).to.equal(false);
    });

    it('UDPServer statics', () => {
      expect(S.UDPServer.addressFamily).to.equal(C.AF_INET);
      expect(S.UDPServer.socketType).to.equal(C.SOCK_DGRAM);
      expect(S.UDPServer.allowReuseAddress).to.equal(false);
      expect(S.UDPServer.allowReusePort).to.equal(false);
      expect(S.UDPServer.maxPacketSize).to.equal(8192);
    });

    it('UnixStreamServer / UnixDatagramServer statics', () => {
      expect(S.UnixStreamServer.addressFamily).to.equal(C.AF_UNIX);
      expect(S.UnixStreamServer.socketType).to.equal(C.SOCK_STREAM);
      expect(S.UnixDatagramServer.addressFamily).to.equal(C.AF_UNIX);
      expect(S.UnixDatagramServer.socketType).to.equal(C.SOCK_DGRAM);
      expect(S.UnixDatagramServer.maxPacketSize).to.equal(8192);
    });

    it('handler statics: rbufsize -1, wbufsize 0, timeout null, disableNagleAlgorithm false', () => {
      expect(S.StreamRequestHandler.rbufsize).to.equal(-1);
      expect(S.StreamRequestHandler.wbufsize).to.equal(0);
      expect(S.StreamRequestHandler.timeout).to.equal(null);
      expect(S.StreamRequestHandler.disableNagleAlgorithm).to.equal(false);
    });

    it('an instance copies the statics', async () => {
      const server = new ss.TCPServer([HOST, 0], ss.StreamRequestHandler);
      try {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const s = server as any;
        expect(s.timeout).to.equal(null);
        expect(s.addressFamily).to.equal(C.AF_INET);
        expect(s.socketType).to.equal(C.SOCK_STREAM);
        expect(s.requestQueueSize).to.equal(5);
        expect(s.allowReuseAddress).to.equal(false);
        expect(s.allowReusePort).to.equal(false);
        expect(s.RequestHandlerClass).to.equal(ss.StreamRequestHandler);
      } finally {
        await server.serverClose();
      }
      const udp = new ss.UDPServer([HOST, 0], ss.DatagramRequestHandler);
      try {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const u = udp as any;
        expect(u.socketType).to.equal(C.SOCK_DGRAM);
        expect(u.maxPacketSize).to.equal(8192);
      } finally {
        await udp.serverClose();
      }
      if (!caps.unixDatagram) {
        // No Unix datagram sockets: the class keeps its statics, construction is refused.
        expectUnsupported(() => new ss.UnixDatagramServer(tmp.path(), ss.DatagramRequestHandler), 'UnixDatagramServer');
        return;
      }
      const unix = new ss.UnixDatagramServer(tmp.path(), ss.DatagramRequestHandler);
      try {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const u = unix as any;
        expect(u.addressFamily).to.equal(C.AF_UNIX);
        expect(u.socketType).to.equal(C.SOCK_DGRAM);
      } finally {
        await unix.serverClose();
      }
    });

    it("a subclass's static override reaches its instances, before binding", async () => {
      const seenAtBind: unknown[] = [];
      class MyServer extends ss.TCPServer {
        static override allowReuseAddress = true;
        static override requestQueueSize = 17;
        static override timeout: number | null = 1.5;
        override serverBind(): void {
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          const self = this as any;
          seenAtBind.push(self.allowReuseAddress, self.requestQueueSize, self.timeout);
          super.serverBind();
        }
      }
      const server = new MyServer([HOST, 0], ss.StreamRequestHandler);
      try {
        expect(seenAtBind).to.deep.equal([true, 17, 1.5]);
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const s = server as any;
        expect(s.allowReuseAddress).to.equal(true);
        expect(s.requestQueueSize).to.equal(17);
        expect(s.timeout).to.equal(1.5);
        // The base class is untouched.
        expect(S.TCPServer.allowReuseAddress).to.equal(false);
        expect(S.TCPServer.requestQueueSize).to.equal(5);
        expect(S.TCPServer.timeout).to.equal(null);
        const sock = server.socket as unknown as { getSockOpt?: (l: number, n: number) => number };
        if (typeof sock.getSockOpt === 'function') {
          expect(sock.getSockOpt(C.SOL_SOCKET, C.SO_REUSEADDR)).to.not.equal(0);
        }
      } finally {
        await server.serverClose();
      }
    });

    it('the options object overrides the statics, per instance, before binding', async () => {
      const seenAtBind: unknown[] = [];
      class MyServer extends ss.TCPServer {
        override serverBind(): void {
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          const self = this as any;
          seenAtBind.push(self.allowReuseAddress, self.requestQueueSize, self.timeout);
          super.serverBind();
        }
      }
      const server = new MyServer([HOST, 0], ss.StreamRequestHandler, {
        allowReuseAddress: true,
        requestQueueSize: 9,
        timeout: 2,
      });
      const other = new MyServer([HOST, 0], ss.StreamRequestHandler);
      try {
        expect(seenAtBind).to.deep.equal([true, 9, 2, false, 5, null]);
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const s = server as any;
        expect(s.allowReuseAddress).to.equal(true);
        expect(s.requestQueueSize).to.equal(9);
        expect(s.timeout).to.equal(2);
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        expect((other as any).requestQueueSize).to.equal(5);
        expect(S.TCPServer.requestQueueSize).to.equal(5);
        const sock = server.socket as unknown as { getSockOpt?: (l: number, n: number) => number };
        if (typeof sock.getSockOpt === 'function') {
          expect(sock.getSockOpt(C.SOL_SOCKET, C.SO_REUSEADDR)).to.not.equal(0);
          const sock2 = other.socket as unknown as { getSockOpt: (l: number, n: number) => number };
          // Without reuseAddressOff, SO_REUSEADDR is always set on TCP listeners (libuv).
          expect(sock2.getSockOpt(C.SOL_SOCKET, C.SO_REUSEADDR)).to.equal(caps.reuseAddressOff ? 0 : 1);
        }
      } finally {
        await server.serverClose();
        await other.serverClose();
      }
    });

    it('maxPacketSize is an option of the UDP servers', async () => {
      const udp = new ss.UDPServer([HOST, 0], ss.DatagramRequestHandler, { maxPacketSize: 100 });
      try {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        expect((udp as any).maxPacketSize).to.equal(100);
      } finally {
        await udp.serverClose();
      }
    });

    it('server and socket attributes', async () => {
      const server = new ss.TCPServer([HOST, 0], ss.StreamRequestHandler);
      try {
        expect(server.fileno()).to.equal(server.socket.fileno());
        expect(server.socket.fileno()).to.be.greaterThan(2);
        for (const m of ['fileno', 'getSockName', 'setSockOpt', 'close']) {
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          expect((server.socket as any)[m], m).to.be.a('function');
        }
        server.socket.setSockOpt(C.SOL_SOCKET, C.SO_REUSEADDR, 1);
      } finally {
        await server.serverClose();
      }
    });
  });
}
