// Issue 11, item 1: the PROXY protocol (v1, v2) on the servers, with
// headers written here byte for byte from HAProxy's spec
// (proxy-protocol.txt). test/87 puts a real HAProxy in front. The parser's
// own cases (every malformed form, every split) are native/test and the
// fuzz target's; here: what the server does with a header. Every wait is
// bounded; nothing sleeps to synchronise.
import { expect } from 'chai';
import * as net from 'node:net';
import * as path from 'node:path';

import { connect, HOST, ROOT, SockReader, TempDir, transports, turns, UdpClient, until, withTimeout } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const native = transports.find((t) => t.name === 'native')!;
const js = transports.find((t) => t.name === 'js')!;
const ss = native.ss as Any;

const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function ipv4(host: string): Buffer {
  return Buffer.from(host.split('.').map(Number));
}

function ipv6(host: string): Buffer {
  // Enough for the test's addresses: groups, one "::".
  const [head, tail] = host.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}

function port(p: number): Buffer {
  return Buffer.from([p >> 8, p & 0xff]);
}

function tlv(type: number, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([Buffer.from([type, v.length >> 8, v.length & 0xff]), v]);
}

/** A v2 header: command 0 LOCAL / 1 PROXY, family byte (0x11 TCP4, 0x21 TCP6, 0x12 UDP4, 0x31 Unix stream), addresses, TLVs. */
function v2(command: number, family: number, addresses: Buffer, tlvs: Buffer[] = []): Buffer {
  const body = Buffer.concat([addresses, ...tlvs]);
  return Buffer.concat([SIGNATURE, Buffer.from([0x20 | command, family]), port(body.length), body]);
}

const tcp4 = (src: string, dst: string, sp: number, dp: number): Buffer => Buffer.concat([ipv4(src), ipv4(dst), port(sp), port(dp)]);

class Report extends ss.StreamRequestHandler {
  async handle(): Promise<void> {
    const line = (await this.rfile.readline()).toString();
    const { proxy } = this.request as Any;
    const tlvs = proxy === null ? null : { ...proxy.tlvs, uniqueId: proxy.tlvs.uniqueId?.toString('hex'), raw: proxy.tlvs.raw.map(([t, v]: [number, Buffer]) => [t, v.toString('hex')]) };
    await this.wfile.write(`${JSON.stringify({ line, clientAddress: this.clientAddress, proxy: proxy === null ? null : { ...proxy, tlvs } })}\n`);
  }
}

/** Connects, writes each piece (in order), reads to EOF. */
async function send(target: Any, ...pieces: Array<Buffer | string>): Promise<string> {
  const sock = await connect(target);
  try {
    const reader = new SockReader(sock);
    for (const p of pieces) sock.write(p);
    return (await withTimeout(reader.readToEnd(10_000), 10_000, 'the reply')).toString();
  } finally {
    sock.destroy();
  }
}

describe('86 PROXY protocol on the servers (headers written by hand)', function () {
  this.timeout(30_000);
  const tmp = new TempDir('ss-proxy-');
  after(() => tmp.cleanup());

  let server: Any;
  let loop: Promise<void> | null;
  let errors: Array<{ clientAddress: Any; error: Any; request: Any }>;

  function start(cls: Any, options: Record<string, unknown>, handler: Any = Report, address: Any = [HOST, 0]): Any {
    errors = [];
    server = new cls(address, handler, options);
    server.handleError = (request: Any, clientAddress: Any, error: Any) => {
      errors.push({ request, clientAddress, error });
    };
    loop = server.serveForever(0.05);
    return server;
  }

  afterEach(async () => {
    if (server !== undefined) {
      await server.shutdown();
      await withTimeout(loop!, 10_000, 'loop');
      await server.serverClose();
    }
    server = undefined;
  });

  const target = (): Any => (typeof server.serverAddress === 'string' ? server.serverAddress : [HOST, server.serverAddress[1]]);

  for (const cls of ['TCPServer', 'ThreadingTCPServer']) {
    describe(cls, () => {
      it('v1 TCP4: clientAddress is the original client; request.proxy; the request bytes after the header, in the same segment, intact', async () => {
        start(ss[cls], { proxyProtocol: 'v1' });
        const reply = JSON.parse(await send(target(), 'PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nhello world\n'));
        expect(reply.line).to.equal('hello world\n');
        expect(reply.clientAddress).to.deep.equal(['192.0.2.1', 56324]);
        expect(reply.proxy).to.deep.equal({
          version: 1,
          command: 'PROXY',
          source: ['192.0.2.1', 56324],
          destination: ['198.51.100.2', 443],
          tlvs: { raw: [] },
        });
      });

      it('v2 TCP6 with TLVs: ALPN, authority, unique id, SSL (version, CN), and every TLV raw in order', async () => {
        start(ss[cls], { proxyProtocol: 'v2' });
        const ssl = Buffer.concat([Buffer.from([0x07]), Buffer.from([0, 0, 0, 0]), tlv(0x21, 'TLSv1.3'), tlv(0x22, 'client.example')]);
        const header = v2(1, 0x21, Buffer.concat([ipv6('2001:db8::1'), ipv6('2001:db8::2'), port(40000), port(8443)]), [
          tlv(0x01, 'h2'),
          tlv(0x02, 'example.com'),
          tlv(0x05, Buffer.from('0102030405', 'hex')),
          tlv(0x20, ssl),
          tlv(0xe0, 'custom'),
        ]);
        const reply = JSON.parse(await send(target(), Buffer.concat([header, Buffer.from('after\n')])));
        expect(reply.line).to.equal('after\n');
        expect(reply.clientAddress).to.deep.equal(['2001:db8::1', 40000, 0, 0]);
        expect(reply.proxy.version).to.equal(2);
        expect(reply.proxy.destination).to.deep.equal(['2001:db8::2', 8443, 0, 0]);
        const t = reply.proxy.tlvs;
        expect(t.alpn).to.equal('h2');
        expect(t.authority).to.equal('example.com');
        expect(t.uniqueId).to.equal('0102030405');
        expect(t.ssl).to.deep.equal({ client: 7, verify: 0, version: 'TLSv1.3', cn: 'client.example' });
        expect(t.raw.map(([type]: [number]) => type)).to.deep.equal([0x01, 0x02, 0x05, 0x20, 0xe0]);
        expect(t.raw[4][1]).to.equal(Buffer.from('custom').toString('hex'));
      });

      it('a header that has not arrived when the connection is taken is waited for; it may come in pieces', async () => {
        start(ss[cls], { proxyProtocol: 'any' });
        const sock = await connect(target());
        try {
          const reader = new SockReader(sock);
          // Taken with nothing sent yet: the server must wait for the header.
          await until(() => server._inFlight() === 1, 'the connection taken', 10_000);
          const header = v2(1, 0x11, tcp4('203.0.113.7', '203.0.113.8', 1234, 80));
          sock.write(header.subarray(0, 5));
          await turns(20);
          sock.write(header.subarray(5, 17));
          await turns(20);
          sock.write(Buffer.concat([header.subarray(17), Buffer.from('pieces\n')]));
          const reply = JSON.parse((await withTimeout(reader.readToEnd(10_000), 10_000, 'reply')).toString());
          expect(reply.line).to.equal('pieces\n');
          expect(reply.clientAddress).to.deep.equal(['203.0.113.7', 1234]);
        } finally {
          sock.destroy();
        }
      });

      it('LOCAL (a health check) and v1 UNKNOWN: clientAddress stays the real peer, source and destination null', async () => {
        start(ss[cls], { proxyProtocol: 'any' });
        for (const header of [v2(0, 0x00, Buffer.alloc(0)), Buffer.from('PROXY UNKNOWN\r\n')]) {
          const sock = await connect(target());
          const peer = [HOST, sock.localPort];
          const reader = new SockReader(sock);
          sock.write(Buffer.concat([header, Buffer.from('check\n')]));
          const reply = JSON.parse((await withTimeout(reader.readToEnd(10_000), 10_000, 'reply')).toString());
          sock.destroy();
          expect(reply.clientAddress).to.deep.equal(peer);
          expect(reply.proxy).to.deep.include({ command: 'LOCAL', source: null, destination: null });
        }
      });

      it('malformed, the wrong version, or EOF inside the header: closed, handleError(request, realPeer, ERR_SOCKETSERVER_PROXY_PROTOCOL); it serves on', async () => {
        start(ss[cls], { proxyProtocol: 'v1' });
        const bad: Array<[Buffer | string, RegExp]> = [
          ['GET / HTTP/1.1\r\n\r\n', /not a PROXY protocol v1 header/],
          ['PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n', /port/],
          [v2(1, 0x11, tcp4('1.1.1.1', '2.2.2.2', 1, 2)), /a v2 header\?/],
          ['PROXY TCP4 1.2.3', /truncated|ended|closed/i],
        ];
        for (const [i, [bytes, message]] of bad.entries()) {
          const sock = await connect(target());
          const peer = [HOST, sock.localPort];
          const reader = new SockReader(sock);
          sock.end(bytes);
          expect((await withTimeout(reader.readToEnd(10_000), 10_000, 'EOF')).length, `case ${i}`).to.equal(0);
          sock.destroy();
          await until(() => errors.length === i + 1, `handleError for case ${i}`, 10_000);
          const e = errors[i];
          expect(e.error.code, `case ${i}`).to.equal('ERR_SOCKETSERVER_PROXY_PROTOCOL');
          expect(e.error.message, `case ${i}`).to.match(message);
          expect(e.clientAddress, `case ${i}`).to.deep.equal(peer);
        }
        expect(JSON.parse(await send(target(), 'PROXY TCP4 9.9.9.9 8.8.8.8 9 8\r\nstill\n')).clientAddress).to.deep.equal(['9.9.9.9', 9]);
      });

      it('no complete header within proxyTimeout: closed and reported', async () => {
        start(ss[cls], { proxyProtocol: 'v1', proxyTimeout: 0.3 });
        const sock = await connect(target());
        const reader = new SockReader(sock);
        sock.write('PROXY TCP4 ');
        const t0 = performance.now();
        expect((await withTimeout(reader.readToEnd(10_000), 10_000, 'EOF')).length).to.equal(0);
        expect(performance.now() - t0).to.be.within(200, 5000);
        sock.destroy();
        await until(() => errors.length === 1, 'handleError', 10_000);
        expect(errors[0].error.code).to.equal('ERR_SOCKETSERVER_PROXY_PROTOCOL');
        expect(errors[0].error.message).to.contain('no complete header within 0.3 s');
      });

      it('proxyTrusted: a peer outside the list is refused and reported; one inside is served', async () => {
        start(ss[cls], { proxyProtocol: 'v1', proxyTrusted: ['10.0.0.0/8', '2001:db8::/32'] });
        expect(await send(target(), 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nx\n')).to.equal('');
        await until(() => errors.length === 1, 'handleError', 10_000);
        expect(errors[0].error.code).to.equal('ERR_SOCKETSERVER_PROXY_PROTOCOL');
        expect(errors[0].error.message).to.contain('proxyTrusted');
        await server.shutdown();
        await loop;
        await server.serverClose();
        start(ss[cls], { proxyProtocol: 'v1', proxyTrusted: ['192.0.2.1', '127.0.0.0/8'] });
        expect(JSON.parse(await send(target(), 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nx\n')).clientAddress).to.deep.equal(['1.2.3.4', 1]);
      });
    });
  }

  it('ThreadingTCPServer: a connection still waiting for its header does not hold up the next one', async () => {
    start(ss.ThreadingTCPServer, { proxyProtocol: 'v1', proxyTimeout: 10 });
    const waiting = await connect(target());
    try {
      await until(() => server._inFlight() === 1, 'the first connection taken', 10_000);
      const reply = JSON.parse(await send(target(), 'PROXY TCP4 1.1.1.1 2.2.2.2 3 4\r\nnext\n'));
      expect(reply.line).to.equal('next\n');
      expect(server._inFlight()).to.equal(1);
    } finally {
      waiting.destroy();
    }
  });

  it("a Unix stream server: Unix peers are trusted by 'unix'; the header's addresses replace the unnamed peer", async () => {
    start(ss.ThreadingUnixStreamServer, { proxyProtocol: 'v2', proxyTrusted: ['unix'] }, Report, tmp.path());
    const header = v2(1, 0x11, tcp4('198.51.100.9', '198.51.100.10', 5555, 80));
    const reply = JSON.parse(await send(server.serverAddress, Buffer.concat([header, Buffer.from('unix\n')])));
    expect(reply.clientAddress).to.deep.equal(['198.51.100.9', 5555]);
  });

  it('worker threads: the handler in a worker gets the header and the request bytes that came with it', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Commands } = require(path.join(ROOT, 'test', 'fixtures', 'worker-handlers.js'));
    start(ss.ThreadingTCPServer, { proxyProtocol: 'v1', workerThreads: 2 }, Commands);
    await withTimeout(server._workerPool().start(), 20_000, 'workers');
    const out = await send(target(), 'PROXY TCP4 192.0.2.50 192.0.2.51 6000 7000\r\nproxied\n');
    expect(out).to.equal('PROXIED\n');
    const view = JSON.parse(await send(target(), 'PROXY TCP4 192.0.2.50 192.0.2.51 6001 7000\r\nview\n'));
    expect(view.isMainThread).to.equal(false);
    expect(view.clientAddress).to.deep.equal(['192.0.2.50', 6001]);
    expect(view.proxy).to.deep.include({ version: 1, command: 'PROXY', source: ['192.0.2.50', 6001] });
  });

  describe('UDPServer (v2)', () => {
    class DgramReport extends ss.DatagramRequestHandler {
      handle(): void {
        (this.server as Any).seen.push({ data: this.packet.toString(), clientAddress: this.clientAddress, proxy: (this.request as Any).proxy });
      }
      finish(): void {}
    }

    it('the header is taken off each datagram: clientAddress, request.proxy; a bad one is reported and dropped', async () => {
      start(ss.UDPServer, { proxyProtocol: 'v2' }, DgramReport);
      server.seen = [];
      const c = await UdpClient.open();
      try {
        const header = v2(1, 0x12, tcp4('192.0.2.77', '192.0.2.78', 5353, 53));
        await c.send(Buffer.concat([header, Buffer.from('query')]), server.serverAddress);
        await until(() => server.seen.length === 1, 'the datagram', 10_000);
        expect(server.seen[0].data).to.equal('query');
        expect(server.seen[0].clientAddress).to.deep.equal(['192.0.2.77', 5353]);
        expect(server.seen[0].proxy).to.deep.include({ version: 2, command: 'PROXY', destination: ['192.0.2.78', 53] });
        await c.send('no header', server.serverAddress);
        await until(() => errors.length === 1, 'handleError', 10_000);
        expect(errors[0].error.code).to.equal('ERR_SOCKETSERVER_PROXY_PROTOCOL');
        expect(errors[0].clientAddress).to.deep.equal(c.address());
        await c.send(Buffer.concat([header, Buffer.from('again')]), server.serverAddress);
        await until(() => server.seen.length === 2, 'the next datagram', 10_000);
        expect(server.seen[1].data).to.equal('again');
      } finally {
        c.close();
      }
    });
  });

  describe('settings', () => {
    it('checked at construction: coded errors, and no descriptor left', () => {
      const cases: Array<[Any, Record<string, unknown>, string]> = [
        [ss.TCPServer, { proxyProtocol: 'v3' }, 'ERR_INVALID_ARG_VALUE'],
        [ss.TCPServer, { proxyProtocol: true }, 'ERR_INVALID_ARG_VALUE'],
        [ss.TCPServer, { proxyProtocol: 'v1', proxyTrusted: '10.0.0.0/8' }, 'ERR_INVALID_ARG_TYPE'],
        [ss.TCPServer, { proxyProtocol: 'v1', proxyTrusted: ['not an address'] }, 'ERR_INVALID_ARG_VALUE'],
        [ss.TCPServer, { proxyProtocol: 'v1', proxyTrusted: ['10.0.0.0/33'] }, 'ERR_INVALID_ARG_VALUE'],
        [ss.TCPServer, { proxyProtocol: 'v1', proxyTimeout: 0 }, 'ERR_OUT_OF_RANGE'],
        [ss.TCPServer, { proxyProtocol: 'v1', proxyTimeout: '3' }, 'ERR_INVALID_ARG_TYPE'],
        [ss.UDPServer, { proxyProtocol: 'v1' }, 'ERR_INVALID_ARG_VALUE'],
        [(js.ss as Any).TCPServer, { proxyProtocol: 'v1' }, 'ERR_SOCKETSERVER_UNSUPPORTED'],
      ];
      for (const [cls, options, code] of cases) {
        let thrown: Any;
        try {
          new cls([HOST, 0], Report, options);
        } catch (e) {
          thrown = e;
        }
        expect(thrown?.code, JSON.stringify(options)).to.equal(code);
      }
    });

    it('defaults: off, every peer trusted, 3 s', () => {
      expect([ss.TCPServer.proxyProtocol, ss.TCPServer.proxyTrusted, ss.TCPServer.proxyTimeout]).to.deep.equal([false, null, 3]);
      const s = new ss.UDPServer([HOST, 0], Report);
      expect(s.proxyProtocol).to.equal(false);
      void s.serverClose();
    });
  });

  it('the request bytes after a header are recv()ed whole, as if the header had never been there (a large request)', async () => {
    class Sum extends ss.StreamRequestHandler {
      async handle(): Promise<void> {
        let n = 0;
        for (;;) {
          const chunk = await this.request.recv(65536);
          if (chunk.length === 0) break;
          n += chunk.length;
        }
        await this.wfile.write(`${n}\n`);
      }
    }
    start(ss.TCPServer, { proxyProtocol: 'v2' }, Sum);
    const body = Buffer.alloc(200_000, 0x61);
    const sock = net.connect((server.serverAddress as Any)[1], HOST);
    await new Promise<void>((resolve) => sock.on('connect', resolve));
    const reader = new SockReader(sock);
    sock.end(Buffer.concat([v2(1, 0x11, tcp4('1.2.3.4', '5.6.7.8', 1, 2)), body]));
    expect((await withTimeout(reader.readToEnd(10_000), 10_000, 'reply')).toString()).to.equal('200000\n');
    sock.destroy();
  });
});
