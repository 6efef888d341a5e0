/**
 * The js transport (`socketserver/js`): each refusal and documented
 * difference of lib/js-transport.ts, tested for js, with the same operation
 * on the native transport for contrast; that the capabilities the other
 * test files go by are the transports' real ones; that socketserver/js
 * loads without the addon; its CommonJS and ESM faces; and `instanceof`
 * along Python's hierarchy within the js module.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as path from 'node:path';

import {
  abstractName,
  API_NAMES,
  Caps,
  closed,
  connect,
  deferred,
  expectUnsupported,
  fdCount,
  HOST,
  readToEnd,
  ROOT,
  SockReader,
  SS,
  streamExchange,
  TempDir,
  timeWaitOnPort,
  transports,
  TransportUnderTest,
  udpExchange,
  UNSUPPORTED,
  unixDgramExchange,
  until,
  withTimeout,
} from './helpers';
import { forkSupported } from './proc-helpers';

type JS = typeof import('../dist/js.js');
type SysErr = Error & { code?: string; errno?: number; syscall?: string };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyServer = any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyClass = new (...args: any[]) => any;

function transport(name: string): TransportUnderTest {
  const t = transports.find((x) => x.name === name);
  if (t === undefined) throw new Error(`no transport ${name} under test`);
  return t;
}
const nativeT = transport('native');
const jsT = transport('js');
const native = nativeT.ss;
const js = jsT.ss;
const jsMod = js as unknown as JS;

function catchError(fn: () => unknown): SysErr {
  try {
    fn();
  } catch (e) {
    return e as SysErr;
  }
  throw new Error('expected an error, none was thrown');
}

/** What /proc/self/fd/<fd> is ('socket:[inode]' for a socket). */
function fdTarget(fd: number): string {
  return fs.readlinkSync(`/proc/self/fd/${fd}`);
}

/** Abstract names bound now, from /proc/net/unix (NULs shown as '@'). */
function abstractBound(n: string): boolean {
  const shown = n.replace(/\0/g, '@');
  return fs
    .readFileSync('/proc/net/unix', 'utf8')
    .split('\n')
    .some((l) => l.trim().split(/\s+/).slice(7).join(' ') === shown);
}

/** Runs `node -e code` in ROOT; resolves with its exit code and output (bounded). */
function runNode(
  code: string,
  env: NodeJS.ProcessEnv = {},
  args: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...args, '-e', code],
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 15000 },
      (error, stdout, stderr) => {
        const status = error ? ((error as { code?: unknown }).code as number | null) : 0;
        resolve({ code: typeof status === 'number' ? status : null, stdout, stderr });
      },
    );
  });
}

/** Echo handlers of a module. */
function handlers(ss: SS): { Echo: AnyClass; DgramEcho: AnyClass } {
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
  return { Echo, DgramEcho };
}

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

  describe('Unix datagram servers', () => {
    it('js: UnixDatagramServer and ThreadingUnixDatagramServer are refused at construction, before any descriptor', () => {
      class Mine extends jsMod.ThreadingMixIn(jsMod.UnixDatagramServer) {}
      const classes: Array<[string, AnyClass]> = [
        ['UnixDatagramServer', js.UnixDatagramServer],
        ['ThreadingUnixDatagramServer', js.ThreadingUnixDatagramServer],
        ['ThreadingMixIn(UnixDatagramServer) of a user', Mine],
      ];
      for (const [what, Cls] of classes) {
        for (const options of [{}, { bindAndActivate: false }]) {
          const p = tmp.path('dgram');
          const e = expectUnsupported(() => new Cls(p, js.DatagramRequestHandler, options), `${what} ${JSON.stringify(options)}`);
          expect(e.message, what).to.match(/Unix datagram/);
          expect(fs.existsSync(p), `${what}: no socket file`).to.equal(false);
        }
      }
    });

    it('native: both serve a datagram', async () => {
      const { DgramEcho } = handlers(native);
      for (const Cls of [native.UnixDatagramServer, native.ThreadingUnixDatagramServer]) {
        const server = new Cls(tmp.path('dgram'), DgramEcho);
        try {
          const reply = unixDgramExchange(tmp, server.serverAddress as string, 'unix dgram');
          await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
          expect((await reply)[0].toString()).to.equal('unix dgram');
        } finally {
          await server.serverClose();
        }
      }
    });
  });

  describe('ForkingMixIn', () => {
    const cases: Array<[string, () => string | [string, number]]> = [
      ['ForkingTCPServer', () => [HOST, 0]],
      ['ForkingUDPServer', () => [HOST, 0]],
      ['ForkingUnixStreamServer', () => tmp.path('fork')],
      ['ForkingUnixDatagramServer', () => tmp.path('fork')],
    ];

    it('js: the four Forking servers and ForkingMixIn(TCPServer) of a user are refused at construction, nothing leaked', () => {
      class Mine extends jsMod.ForkingMixIn(jsMod.TCPServer) {}
      const all: Array<[string, AnyClass, string | [string, number]]> = cases.map(([n, addr]) => [
        n,
        (js as unknown as Record<string, AnyClass>)[n],
        addr(),
      ]);
      all.push(['ForkingMixIn(TCPServer) of a user', Mine, [HOST, 0]]);
      for (const [what, Cls, addr] of all) {
        for (const options of [{}, { bindAndActivate: false }]) {
          expectUnsupported(() => new Cls(addr, js.BaseRequestHandler, options), `${what} ${JSON.stringify(options)}`);
          if (typeof addr === 'string') expect(fs.existsSync(addr), `${what}: no socket file`).to.equal(false);
        }
      }
      expect(forkSupported(js)).to.equal(false);
    });

    it('native: they are constructed', async () => {
      for (const [what, addr] of cases) {
        const Cls = (native as unknown as Record<string, AnyClass>)[what];
        const server: AnyServer = new Cls(addr(), native.BaseRequestHandler);
        try {
          expect(server.activeChildren, what).to.equal(null);
        } finally {
          await server.serverClose();
        }
      }
      expect(forkSupported(native)).to.equal(true);
    });
  });

  describe("Linux abstract names ('\\0name')", () => {
    it('js: UnixStreamServer and ThreadingUnixStreamServer refuse them at construction, nothing bound or leaked', () => {
      for (const Cls of [js.UnixStreamServer, js.ThreadingUnixStreamServer]) {
        const n = abstractName('js');
        const e = expectUnsupported(() => new Cls(n, js.StreamRequestHandler), `${Cls.name} on an abstract name`);
        expect(e.message).to.match(/abstract/);
        expect(abstractBound(n)).to.equal(false);
      }
    });

    it('js: with bindAndActivate false, serverBind() refuses the name', async () => {
      const before = fdCount();
      const n = abstractName('js-lazy');
      const server = new js.UnixStreamServer(n, js.StreamRequestHandler, { bindAndActivate: false });
      try {
        expect(catchError(() => server.serverBind()).code).to.equal(UNSUPPORTED);
        expect(abstractBound(n)).to.equal(false);
      } finally {
        await server.serverClose();
      }
      expect(fdCount()).to.equal(before);
    });

    it('native: both bind the exact name', async () => {
      for (const Cls of [native.UnixStreamServer, native.ThreadingUnixStreamServer]) {
        const n = abstractName('native');
        const server = new Cls(n, native.StreamRequestHandler);
        try {
          expect(server.serverAddress).to.equal(n);
          expect(abstractBound(n)).to.equal(true);
        } finally {
          await server.serverClose();
        }
        expect(abstractBound(n)).to.equal(false);
      }
    });
  });

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

  describe('requestQueueSize', () => {
    async function connectMany(p: string, n: number): Promise<{ socks: net.Socket[]; refusedAt: number; code?: string }> {
      const socks: net.Socket[] = [];
      for (let i = 0; i < n; i++) {
        try {
          socks.push(await connect(p));
        } catch (e) {
          return { socks, refusedAt: i, code: (e as SysErr).code };
        }
      }
      return { socks, refusedAt: -1 };
    }

    it('js: only the kernel backlog of what is not accepted yet: 8 connections to a backlog of 1 are all accepted and served', async () => {
      const { Echo } = handlers(js);
      const p = tmp.path('backlog');
      const server = new js.UnixStreamServer(p, Echo, { requestQueueSize: 1 });
      const { socks, refusedAt } = await connectMany(p, 8);
      try {
        expect(refusedAt).to.equal(-1);
        const readers = socks.map((s, i) => {
          s.write(`c${i}\n`);
          return new SockReader(s);
        });
        for (let i = 0; i < socks.length; i++) await withTimeout(server.handleRequest(), 5000, `handleRequest() ${i}`);
        for (let i = 0; i < socks.length; i++) expect((await readers[i].readLine()).toString()).to.equal(`c${i}\n`);
      } finally {
        for (const s of socks) s.destroy();
        await server.serverClose();
      }
    });

    it('native: the backlog bounds the queue: refused (EAGAIN) after backlog + 1', async () => {
      const p = tmp.path('backlog');
      const server = new native.UnixStreamServer(p, native.StreamRequestHandler, { requestQueueSize: 1 });
      const { socks, refusedAt, code } = await connectMany(p, 8);
      try {
        expect(refusedAt).to.equal(2);
        expect(code).to.equal('EAGAIN');
      } finally {
        for (const s of socks) s.destroy();
        await server.serverClose();
      }
    });
  });

  describe('fileno()', () => {
    function lazyServers(ss: SS): AnyServer[] {
      return [
        new ss.TCPServer([HOST, 0], ss.StreamRequestHandler, { bindAndActivate: false }),
        new ss.UDPServer([HOST, 0], ss.DatagramRequestHandler, { bindAndActivate: false }),
        new ss.UnixStreamServer(tmp.path('fileno'), ss.StreamRequestHandler, { bindAndActivate: false }),
      ];
    }

    it('js: -1 until bind(), then a real socket descriptor, -1 after serverClose()', async () => {
      const before = fdCount();
      for (const server of lazyServers(js)) {
        expect(server.fileno(), server.constructor.name).to.equal(-1);
        expect(server.socket.fileno()).to.equal(-1);
        server.serverBind();
        const fd = server.fileno();
        expect(fd, server.constructor.name).to.be.greaterThan(2);
        expect(fdTarget(fd)).to.match(/^socket:\[\d+\]$/);
        server.serverActivate();
        expect(server.fileno()).to.equal(fd);
        await server.serverClose();
        expect(server.fileno()).to.equal(-1);
      }
      expect(fdCount()).to.equal(before);
    });

    it('native: a socket descriptor from construction, the same after bind(), -1 after serverClose()', async () => {
      for (const server of lazyServers(native)) {
        const fd = server.fileno();
        expect(fd, server.constructor.name).to.be.greaterThan(2);
        expect(fdTarget(fd)).to.match(/^socket:\[\d+\]$/);
        server.serverBind();
        expect(server.fileno()).to.equal(fd);
        await server.serverClose();
        expect(server.fileno()).to.equal(-1);
      }
    });
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

  describe('host names', () => {
    /** A name /etc/hosts maps to a 127.x address, other than 'localhost'. */
    function hostsName(): string | undefined {
      let text = '';
      try {
        text = fs.readFileSync('/etc/hosts', 'utf8');
      } catch {
        return undefined;
      }
      for (const line of text.split('\n')) {
        const [ip, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
        if (!ip || !/^127\.\d+\.\d+\.\d+$/.test(ip)) continue;
        const n = names.find((x) => x.toLowerCase() !== 'localhost');
        if (n) return n;
      }
      return undefined;
    }
    const NO_SUCH_HOST = 'no-such-host.invalid';

    for (const t of [jsT, nativeT]) {
      it(`${t.name}: IP literals, '', 'localhost' and /etc/hosts names bind`, async () => {
        const { ss } = t;
        const cases: Array<[string, string]> = [
          [HOST, HOST],
          ['', '0.0.0.0'],
          ['localhost', '127.0.0.1'],
        ];
        const fromHosts = hostsName();
        if (fromHosts !== undefined) cases.push([fromHosts, '']);
        for (const [host, expected] of cases) {
          for (const make of [
            () => new ss.TCPServer([host, 0], ss.StreamRequestHandler),
            () => new ss.UDPServer([host, 0], ss.DatagramRequestHandler),
          ]) {
            const s: AnyServer = make();
            try {
              const bound = (s.serverAddress as [string, number])[0];
              if (expected) expect(bound, host).to.equal(expected);
              else expect(bound, host).to.match(/^127\./);
            } finally {
              await s.serverClose();
            }
          }
        }
      });
    }

    it('js: any other name is refused (no synchronous DNS), TCP and UDP, nothing leaked', () => {
      for (const make of [
        () => new js.TCPServer([NO_SUCH_HOST, 0], js.StreamRequestHandler),
        () => new js.UDPServer([NO_SUCH_HOST, 0], js.DatagramRequestHandler),
      ]) {
        const e = expectUnsupported(make, NO_SUCH_HOST);
        expect(e.message).to.include(NO_SUCH_HOST);
      }
    });

    it('native: any other name goes to the resolver (getaddrinfo): a resolver error, not a refusal', () => {
      const before = fdCount();
      for (const make of [
        () => new native.TCPServer([NO_SUCH_HOST, 0], native.StreamRequestHandler),
        () => new native.UDPServer([NO_SUCH_HOST, 0], native.DatagramRequestHandler),
      ]) {
        const e = catchError(make);
        expect(e.code).to.not.equal(UNSUPPORTED);
        expect(e.message).to.match(/getaddrinfo|ENOTFOUND|EAI_/);
      }
      expect(fdCount()).to.equal(before);
    });
  });
});

describe('the capabilities the test suite goes by are the real ones', () => {
  const tmp = new TempDir('ss-caps-');
  after(() => tmp.cleanup());

  /** Tries the operation behind each capability. */
  const probes: Record<keyof Caps, (ss: SS) => Promise<boolean> | boolean> = {
    async unixDatagram(ss) {
      return works(() => new ss.UnixDatagramServer(tmp.path(), ss.DatagramRequestHandler));
    },
    async abstractNames(ss) {
      return works(() => new ss.UnixStreamServer(abstractName('caps'), ss.StreamRequestHandler));
    },
    async reusePort(ss) {
      return works(() => new ss.TCPServer([HOST, 0], ss.StreamRequestHandler, { allowReusePort: true }));
    },
    fork: (ss) => forkSupported(ss),
    async keepsSocketFile(ss) {
      const p = tmp.path();
      let server: InstanceType<typeof ss.UnixStreamServer>;
      try {
        server = new ss.UnixStreamServer(p, ss.StreamRequestHandler, { unlinkOnClose: false });
      } catch (e) {
        expect((e as SysErr).code).to.equal(UNSUPPORTED);
        return false;
      }
      await server.serverClose();
      const kept = fs.existsSync(p);
      fs.rmSync(p, { force: true });
      return kept;
    },
    async reuseAddressOff(ss) {
      const s = new ss.TCPServer([HOST, 0], ss.StreamRequestHandler);
      try {
        return s.socket.getSockOpt(ss.constants.SOL_SOCKET, ss.constants.SO_REUSEADDR) === 0;
      } finally {
        await s.serverClose();
      }
    },
    async realBacklog(ss) {
      const p = tmp.path();
      const s = new ss.UnixStreamServer(p, ss.StreamRequestHandler, { requestQueueSize: 1 });
      const socks: net.Socket[] = [];
      try {
        for (let i = 0; i < 4; i++) socks.push(await connect(p));
        return false;
      } catch (e) {
        expect((e as SysErr).code).to.equal('EAGAIN');
        return true;
      } finally {
        for (const c of socks) c.destroy();
        await s.serverClose();
      }
    },
    async filenoBeforeBind(ss) {
      const s = new ss.TCPServer([HOST, 0], ss.StreamRequestHandler, { bindAndActivate: false });
      try {
        return s.fileno() > -1;
      } finally {
        await s.serverClose();
      }
    },
    async sockOpts(ss) {
      const s = new ss.TCPServer([HOST, 0], ss.StreamRequestHandler);
      try {
        return works(() => s.socket.getSockOpt(ss.constants.SOL_SOCKET, ss.constants.SO_RCVBUF));
      } finally {
        await s.serverClose();
      }
    },
    async hostNames(ss) {
      try {
        await (new ss.TCPServer(['no-such-host.invalid', 0], ss.StreamRequestHandler) as AnyServer).serverClose();
        return true;
      } catch (e) {
        return (e as SysErr).code !== UNSUPPORTED;
      }
    },
    async resetIsError(ss) {
      // A Unix client that sends, then closes with the server's greeting
      // unread: Linux sets ECONNRESET on the server's end, behind the data.
      const p = tmp.path();
      let seen = '';
      const greeted = deferred<void>();
      const closedClient = deferred<void>();
      class H extends ss.BaseRequestHandler {
        override async handle(): Promise<void> {
          await this.request.sendAll('greeting\n');
          greeted.resolve();
          await closedClient.promise;
          try {
            for (let i = 0; i < 100 && (await this.request.recv(100)).length > 0; i++);
            seen = 'eof';
          } catch (e) {
            seen = (e as SysErr).code ?? 'error';
          }
        }
      }
      const s = new ss.UnixStreamServer(p, H);
      try {
        const c = await connect(p);
        c.pause();
        const serving = s.handleRequest();
        await withTimeout(greeted.promise, 5000, 'the greeting');
        c.write('partial');
        c.destroy();
        await closed(c);
        closedClient.resolve();
        await withTimeout(serving, 5000, 'handleRequest()');
        return seen === 'ECONNRESET';
      } finally {
        closedClient.resolve();
        await s.serverClose();
      }
    },
  };

  /** True when `make` succeeds (its server, if any, is closed); false when refused. */
  async function works(make: () => unknown): Promise<boolean> {
    let made: unknown;
    try {
      made = make();
    } catch (e) {
      if ((e as SysErr).code === UNSUPPORTED) return false;
      throw e;
    }
    const s = made as { serverClose?: () => unknown };
    if (s !== null && typeof s === 'object' && typeof s.serverClose === 'function') await s.serverClose();
    return true;
  }

  for (const t of transports) {
    it(`${t.name}: every declared capability matches what the transport does`, async () => {
      const found: Record<string, boolean> = {};
      for (const k of Object.keys(probes) as Array<keyof Caps>) found[k] = await probes[k](t.ss);
      expect(found).to.deep.equal({ ...t.caps });
    });
  }
});

describe('socketserver/js loads without the native addon', () => {
  const MISSING = path.join(ROOT, 'build', 'no-such-dir', 'socketserver.node');
  const env = { SOCKETSERVER_NATIVE: MISSING };

  it('with SOCKETSERVER_NATIVE naming a missing file, dist/js.js serves a TCP request, and no addon is loaded', async () => {
    const code = `
      const net = require('node:net');
      const fs = require('node:fs');
      const ss = require(${JSON.stringify(jsT.cjs)});
      class Up extends ss.StreamRequestHandler {
        async handle() { await this.wfile.write((await this.rfile.readline()).toString().toUpperCase()); }
      }
      const server = new ss.TCPServer(['127.0.0.1', 0], Up);
      const c = net.connect({ host: '127.0.0.1', port: server.serverAddress[1] });
      let got = '';
      c.on('data', (d) => { got += d; });
      c.on('end', async () => {
        c.destroy();
        await server.serverClose();
        const addons = Object.keys(require.cache).filter((k) => k.endsWith('.node'));
        const mapped = fs.readFileSync('/proc/self/maps', 'utf8').includes('socketserver.node');
        process.stdout.write(JSON.stringify({ got, addons, mapped }));
      });
      c.write('served without the addon\\n');
      server.handleRequest();
    `;
    const r = await runNode(code, env);
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal({ got: 'SERVED WITHOUT THE ADDON\n', addons: [], mapped: false });
  });

  it('dist/index.js loads there too, but constructing a server fails with an error naming the missing addon', async () => {
    const code = `
      const ss = require(${JSON.stringify(nativeT.cjs)});
      let out;
      try {
        new ss.TCPServer(['127.0.0.1', 0], ss.StreamRequestHandler);
        out = { constructed: true };
      } catch (e) {
        out = { constructed: false, isError: e instanceof Error, code: e.code, message: e.message };
      }
      process.stdout.write(JSON.stringify(out));
    `;
    const r = await runNode(code, env);
    expect(r.code, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout) as { constructed: boolean; isError: boolean; code?: string; message: string };
    expect(out.constructed).to.equal(false);
    expect(out.isError).to.equal(true);
    expect(out.message).to.include(MISSING);
  });
});

describe('socketserver/js: CommonJS and ESM', () => {
  // Compiled by tsc to require(); this keeps a real ESM import().
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const esmImport = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<Record<string, unknown>>;

  async function serveOne(ss: SS): Promise<string> {
    const { Echo } = handlers(ss);
    const server = new ss.TCPServer([HOST, 0], Echo);
    try {
      const reply = streamExchange(server.serverAddress, 'format\n');
      await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
      return (await reply).toString();
    } finally {
      await server.serverClose();
    }
  }

  it('CommonJS: dist/js.js has the API and serves', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const cjs = require(jsT.cjs) as SS;
    for (const n of API_NAMES) expect(cjs, n).to.have.property(n);
    expect(await serveOne(cjs)).to.equal('format\n');
  });

  it('ESM: dist/js.mjs has the API, the same classes, and serves', async () => {
    const m = await esmImport(jsT.esm);
    for (const n of API_NAMES) expect(m, n).to.have.property(n);
    for (const n of API_NAMES) expect(m[n], n).to.equal((js as unknown as Record<string, unknown>)[n]);
    expect(await serveOne(m as unknown as SS)).to.equal('format\n');
  });

  it("'socketserver/js' resolves through the package exports, from require() and from import", async () => {
    const code = `
      const viaRequire = require('socketserver/js');
      import('socketserver/js').then((viaImport) => {
        process.stdout.write(JSON.stringify({
          cjs: require.resolve('socketserver/js'),
          same: viaImport.TCPServer === viaRequire.TCPServer,
          names: Object.keys(viaImport).sort(),
        }));
      });
    `;
    const r = await runNode(code);
    expect(r.code, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout) as { cjs: string; same: boolean; names: string[] };
    expect(out.cjs).to.equal(jsT.cjs);
    expect(out.same).to.equal(true);
    expect(out.names).to.include.members(API_NAMES);
  });
});

describe("socketserver/js: instanceof follows Python's hierarchy within the module", () => {
  const tmp = new TempDir('ss-inst-');
  after(() => tmp.cleanup());

  it('a js UnixStreamServer is an instance of js.TCPServer and js.BaseServer', async () => {
    const s = new jsMod.UnixStreamServer(tmp.path(), jsMod.StreamRequestHandler);
    try {
      expect(s).to.be.instanceOf(jsMod.UnixStreamServer);
      expect(s).to.be.instanceOf(jsMod.TCPServer);
      expect(s).to.be.instanceOf(jsMod.BaseServer);
      expect(s).to.not.be.instanceOf(jsMod.UDPServer);
    } finally {
      await s.serverClose();
    }
  });

  it('a js UDPServer is an instance of js.TCPServer (Python: UDPServer(TCPServer))', async () => {
    const s = new jsMod.UDPServer([HOST, 0], jsMod.DatagramRequestHandler);
    try {
      expect(s).to.be.instanceOf(jsMod.TCPServer);
      expect(s).to.be.instanceOf(jsMod.BaseServer);
      expect(s).to.not.be.instanceOf(jsMod.UnixStreamServer);
    } finally {
      await s.serverClose();
    }
  });

  it('a js ThreadingTCPServer is an instance of js.TCPServer and js.BaseServer; ThreadingUnixStreamServer of js.UnixStreamServer', async () => {
    const t = new jsMod.ThreadingTCPServer([HOST, 0], jsMod.StreamRequestHandler);
    const u = new jsMod.ThreadingUnixStreamServer(tmp.path(), jsMod.StreamRequestHandler);
    try {
      expect(t).to.be.instanceOf(jsMod.ThreadingTCPServer);
      expect(t).to.be.instanceOf(jsMod.TCPServer);
      expect(t).to.be.instanceOf(jsMod.BaseServer);
      expect(u).to.be.instanceOf(jsMod.UnixStreamServer);
      expect(u).to.be.instanceOf(jsMod.TCPServer);
    } finally {
      await t.serverClose();
      await u.serverClose();
    }
  });

  it("a user's subclass of js.TCPServer keeps the ordinary instanceof", async () => {
    class Mine extends jsMod.TCPServer {}
    class Other extends jsMod.TCPServer {}
    const mine = new Mine([HOST, 0], jsMod.StreamRequestHandler);
    const plain = new jsMod.TCPServer([HOST, 0], jsMod.StreamRequestHandler);
    const unix = new jsMod.UnixStreamServer(tmp.path(), jsMod.StreamRequestHandler);
    try {
      expect(mine).to.be.instanceOf(Mine);
      expect(mine).to.be.instanceOf(jsMod.TCPServer);
      expect(mine).to.be.instanceOf(jsMod.BaseServer);
      expect(mine).to.not.be.instanceOf(Other);
      expect(plain).to.not.be.instanceOf(Mine);
      expect(unix).to.not.be.instanceOf(Mine);
    } finally {
      await mine.serverClose();
      await plain.serverClose();
      await unix.serverClose();
    }
  });

  it('a native server is not an instance of the js classes', async () => {
    const s = new native.TCPServer([HOST, 0], native.StreamRequestHandler);
    try {
      expect(s).to.not.be.instanceOf(jsMod.TCPServer);
      expect(s).to.not.be.instanceOf(jsMod.BaseServer);
    } finally {
      await s.serverClose();
    }
  });
});
