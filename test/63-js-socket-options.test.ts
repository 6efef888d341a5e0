/**
 * The js transport (`socketserver/js`), socket options: allowReusePort
 * refused, allowReuseAddress false not honoured by TCP servers, and the few
 * setSockOpt() / getSockOpt() options it has; tested for js with the same
 * options on the native transport for contrast.
 * js-helpers.ts lists the js transport's other test files.
 */
import { expect } from 'chai';

import {
  closed,
  connect,
  expectUnsupported,
  HOST,
  readToEnd,
  SS,
  streamExchange,
  TempDir,
  timeWaitOnPort,
  udpExchange,
  UNSUPPORTED,
  until,
  withTimeout,
} from './helpers';
import { AnyClass, AnyServer, catchError, handlers, js, jsT, native, nativeT, SysErr } from './js-helpers';

/** A port of `ss`'s TCP servers left with a socket in TIME_WAIT (its first server set SO_REUSEADDR). */
async function portInTimeWait(ss: SS): Promise<number> {
  const a = new ss.TCPServer([HOST, 0], ss.BaseRequestHandler, { allowReuseAddress: true });
  const port = (a.serverAddress as [string, number])[1];
  try {
    const serving = a.handleRequest();
    const c = await connect([HOST, port]);
    const eof = readToEnd(c);
    await withTimeout(serving, 5000, 'handleRequest()');
    expect((await eof).length).to.equal(0);
    c.destroy();
    await closed(c);
    await until(() => timeWaitOnPort(port) > 0, `a TIME_WAIT socket on port ${port}`);
  } finally {
    await a.serverClose();
  }
  return port;
}

describe('the js transport: refusals and documented differences (native for contrast)', () => {
  const tmp = new TempDir('ss-js-');
  after(() => tmp.cleanup());
  const C = native.constants;

  describe('allowReusePort', () => {
    it('js: allowReusePort true (option or static) is refused at construction, TCP and UDP, nothing leaked', () => {
      class Static extends js.TCPServer {
        static override allowReusePort = true;
      }
      expectUnsupported(() => new js.TCPServer([HOST, 0], js.StreamRequestHandler, { allowReusePort: true }), 'TCP option');
      expectUnsupported(() => new js.UDPServer([HOST, 0], js.DatagramRequestHandler, { allowReusePort: true }), 'UDP option');
      expectUnsupported(() => new Static([HOST, 0], js.StreamRequestHandler), 'TCP static');
      expectUnsupported(
        () => new js.ThreadingTCPServer([HOST, 0], js.StreamRequestHandler, { allowReusePort: true }),
        'ThreadingTCPServer option',
      );
    });

    it('native: two servers share a port, TCP and UDP', async () => {
      for (const [Cls, H] of [
        [native.TCPServer, native.StreamRequestHandler],
        [native.UDPServer, native.DatagramRequestHandler],
      ] as Array<[AnyClass, AnyClass]>) {
        const a = new Cls([HOST, 0], H, { allowReusePort: true });
        try {
          const b = new Cls(a.serverAddress, H, { allowReusePort: true });
          expect(b.serverAddress).to.deep.equal(a.serverAddress);
          await b.serverClose();
        } finally {
          await a.serverClose();
        }
      }
    });
  });

  describe('allowReuseAddress false', () => {
    it('js, TCP: not honoured: SO_REUSEADDR reads 1, and a port in TIME_WAIT is bound again', async () => {
      const server = new js.TCPServer([HOST, 0], js.StreamRequestHandler);
      try {
        expect((server as AnyServer).allowReuseAddress).to.equal(false);
        expect(server.socket.getSockOpt(C.SOL_SOCKET, C.SO_REUSEADDR)).to.equal(1);
      } finally {
        await server.serverClose();
      }
      const port = await portInTimeWait(js);
      const again = new js.TCPServer([HOST, port], js.StreamRequestHandler);
      try {
        expect((again.serverAddress as [string, number])[1]).to.equal(port);
      } finally {
        await again.serverClose();
      }
    });

    it('native, TCP: honoured: SO_REUSEADDR reads 0, and a port in TIME_WAIT is EADDRINUSE', async () => {
      const server = new native.TCPServer([HOST, 0], native.StreamRequestHandler);
      try {
        expect(server.socket.getSockOpt(C.SOL_SOCKET, C.SO_REUSEADDR)).to.equal(0);
      } finally {
        await server.serverClose();
      }
      const port = await portInTimeWait(native);
      expect(catchError(() => new native.TCPServer([HOST, port], native.StreamRequestHandler)).code).to.equal('EADDRINUSE');
    });

    for (const t of [jsT, nativeT]) {
      it(`${t.name}, UDP: honoured: SO_REUSEADDR 0 and EADDRINUSE; true on both: they share the port`, async () => {
        const { ss } = t;
        const a = new ss.UDPServer([HOST, 0], ss.DatagramRequestHandler);
        try {
          expect(a.socket.getSockOpt(C.SOL_SOCKET, C.SO_REUSEADDR)).to.equal(0);
          expect(catchError(() => new ss.UDPServer(a.serverAddress, ss.DatagramRequestHandler)).code).to.equal('EADDRINUSE');
        } finally {
          await a.serverClose();
        }
        const b = new ss.UDPServer([HOST, 0], ss.DatagramRequestHandler, { allowReuseAddress: true });
        try {
          expect(b.socket.getSockOpt(C.SOL_SOCKET, C.SO_REUSEADDR)).to.equal(1);
          const c = new ss.UDPServer(b.serverAddress, ss.DatagramRequestHandler, { allowReuseAddress: true });
          expect(c.serverAddress).to.deep.equal(b.serverAddress);
          await c.serverClose();
        } finally {
          await b.serverClose();
        }
      });
    }
  });

  describe('setSockOpt() / getSockOpt()', () => {
    type Outcome = number | string;
    /** Runs `op`; its value, or the error code it throws. */
    function outcome(op: () => unknown): Outcome {
      try {
        const v = op();
        return typeof v === 'number' ? v : 'ok';
      } catch (e) {
        return String((e as SysErr).code);
      }
    }

    /** Socket options tried on a connection, in the handler. */
    async function onConnection(ss: SS): Promise<Record<string, Outcome>> {
      const seen: Record<string, Outcome> = {};
      class H extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          const r = this.request as unknown as {
            setSockOpt(l: number, n: number, v: number): void;
            getSockOpt(l: number, n: number): number;
          };
          seen.setNoDelay = outcome(() => r.setSockOpt(C.IPPROTO_TCP, C.TCP_NODELAY, 1));
          seen.getNoDelay = outcome(() => r.getSockOpt(C.IPPROTO_TCP, C.TCP_NODELAY));
          seen.setKeepAlive = outcome(() => r.setSockOpt(C.SOL_SOCKET, C.SO_KEEPALIVE, 1));
          seen.getKeepAlive = outcome(() => r.getSockOpt(C.SOL_SOCKET, C.SO_KEEPALIVE));
          seen.setKeepAliveOff = outcome(() => r.setSockOpt(C.SOL_SOCKET, C.SO_KEEPALIVE, 0));
          seen.getKeepAliveOff = outcome(() => r.getSockOpt(C.SOL_SOCKET, C.SO_KEEPALIVE));
          seen.setRcvBuf = outcome(() => r.setSockOpt(C.SOL_SOCKET, C.SO_RCVBUF, 65536));
          seen.getRcvBuf = outcome(() => r.getSockOpt(C.SOL_SOCKET, C.SO_RCVBUF));
          seen.getReuseAddr = outcome(() => r.getSockOpt(C.SOL_SOCKET, C.SO_REUSEADDR));
          await this.wfile.write(await this.rfile.readline());
        }
      }
      const server = new ss.TCPServer([HOST, 0], H);
      try {
        const reply = streamExchange(server.serverAddress, 'opts\n');
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        expect((await reply).toString()).to.equal('opts\n');
      } finally {
        await server.serverClose();
      }
      return seen;
    }

    /** Socket options tried on a UDP server socket before and after bind, and on a TCP listener. */
    async function onServers(ss: SS): Promise<Record<string, Outcome>> {
      const seen: Record<string, Outcome> = {};
      const udp = new ss.UDPServer([HOST, 0], handlers(ss).DgramEcho, { bindAndActivate: false });
      const unbound = new ss.UDPServer([HOST, 0], ss.DatagramRequestHandler, { bindAndActivate: false });
      const tcp = new ss.TCPServer([HOST, 0], ss.StreamRequestHandler);
      try {
        seen.udpReuseAddrBeforeBind = outcome(() => udp.socket.setSockOpt(C.SOL_SOCKET, C.SO_REUSEADDR, 1));
        seen.udpGetReuseAddr = outcome(() => udp.socket.getSockOpt(C.SOL_SOCKET, C.SO_REUSEADDR));
        seen.udpRcvBufBeforeBind = outcome(() => unbound.socket.setSockOpt(C.SOL_SOCKET, C.SO_RCVBUF, 65536));
        udp.serverBind();
        udp.serverActivate();
        seen.udpReuseAddrAfterBind = outcome(() => udp.socket.setSockOpt(C.SOL_SOCKET, C.SO_REUSEADDR, 1));
        seen.udpSetRcvBuf = outcome(() => udp.socket.setSockOpt(C.SOL_SOCKET, C.SO_RCVBUF, 65536));
        seen.udpGetRcvBuf = outcome(() => udp.socket.getSockOpt(C.SOL_SOCKET, C.SO_RCVBUF));
        seen.udpSetSndBuf = outcome(() => udp.socket.setSockOpt(C.SOL_SOCKET, C.SO_SNDBUF, 65536));
        seen.udpGetSndBuf = outcome(() => udp.socket.getSockOpt(C.SOL_SOCKET, C.SO_SNDBUF));
        seen.udpKeepAlive = outcome(() => udp.socket.setSockOpt(C.SOL_SOCKET, C.SO_KEEPALIVE, 1));
        // The datagram server still serves after its options changed.
        const reply = udpExchange(udp.serverAddress as [string, number], 'after opts');
        await withTimeout(udp.handleRequest(), 5000, 'handleRequest()');
        expect((await reply).toString()).to.equal('after opts');
        seen.tcpSetReuseAddr = outcome(() => tcp.socket.setSockOpt(C.SOL_SOCKET, C.SO_REUSEADDR, 1));
        seen.tcpGetReuseAddr = outcome(() => tcp.socket.getSockOpt(C.SOL_SOCKET, C.SO_REUSEADDR));
        seen.tcpGetRcvBuf = outcome(() => tcp.socket.getSockOpt(C.SOL_SOCKET, C.SO_RCVBUF));
        seen.tcpSetRcvBuf = outcome(() => tcp.socket.setSockOpt(C.SOL_SOCKET, C.SO_RCVBUF, 65536));
      } finally {
        await udp.serverClose();
        await unbound.serverClose();
        await tcp.serverClose();
      }
      return seen;
    }

    it('js, connections: TCP_NODELAY and SO_KEEPALIVE only; anything else is refused', async () => {
      const seen = await onConnection(js);
      expect(seen).to.deep.equal({
        setNoDelay: 'ok',
        getNoDelay: 1,
        setKeepAlive: 'ok',
        getKeepAlive: 1,
        setKeepAliveOff: 'ok',
        getKeepAliveOff: 0,
        setRcvBuf: UNSUPPORTED,
        getRcvBuf: UNSUPPORTED,
        getReuseAddr: UNSUPPORTED,
      });
    });

    it('native, connections: any option', async () => {
      const seen = await onConnection(native);
      expect(seen.getNoDelay).to.equal(1);
      expect(seen.getKeepAlive).to.equal(1);
      expect(seen.getKeepAliveOff).to.equal(0);
      expect(seen.setRcvBuf).to.equal('ok');
      expect(seen.getRcvBuf).to.be.a('number').at.least(65536);
      expect(seen.getReuseAddr).to.be.a('number');
    });

    it('js, server sockets: SO_REUSEADDR before bind, SO_RCVBUF / SO_SNDBUF after bind (datagram); anything else is refused', async () => {
      const seen = await onServers(js);
      expect(seen.udpGetRcvBuf).to.be.a('number').at.least(65536);
      expect(seen.udpGetSndBuf).to.be.a('number').at.least(65536);
      delete seen.udpGetRcvBuf;
      delete seen.udpGetSndBuf;
      expect(seen).to.deep.equal({
        udpReuseAddrBeforeBind: 'ok',
        udpGetReuseAddr: 1,
        udpRcvBufBeforeBind: UNSUPPORTED,
        udpReuseAddrAfterBind: UNSUPPORTED,
        udpSetRcvBuf: 'ok',
        udpSetSndBuf: 'ok',
        udpKeepAlive: UNSUPPORTED,
        // A TCP listener: SO_REUSEADDR is always on (setting it is accepted), nothing else.
        tcpSetReuseAddr: 'ok',
        tcpGetReuseAddr: 1,
        tcpGetRcvBuf: UNSUPPORTED,
        tcpSetRcvBuf: UNSUPPORTED,
      });
    });

    it('native, server sockets: any option, before or after bind', async () => {
      const seen = await onServers(native);
      for (const k of ['udpReuseAddrBeforeBind', 'udpRcvBufBeforeBind', 'udpReuseAddrAfterBind', 'udpSetRcvBuf', 'udpSetSndBuf', 'udpKeepAlive', 'tcpSetReuseAddr', 'tcpSetRcvBuf']) {
        expect(seen[k], k).to.equal('ok');
      }
      expect(seen.udpGetReuseAddr).to.equal(1);
      expect(seen.udpGetRcvBuf).to.be.a('number').at.least(65536);
      expect(seen.udpGetSndBuf).to.be.a('number').at.least(65536);
      expect(seen.tcpGetReuseAddr).to.equal(1);
      expect(seen.tcpGetRcvBuf).to.be.a('number').greaterThan(0);
    });
  });
});
