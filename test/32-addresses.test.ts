/** Addresses: serverAddress, port 0, host forms, Unix paths, abstract names, IPv6. */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as net from 'node:net';

import {
  abstractName,
  connect,
  expectUnsupported,
  haveIPv6Loopback,
  nativeAddon,
  havePython,
  HOST,
  pythonUnixStreamExchange,
  readToEnd,
  streamExchange,
  TempDir,
  transports,
  UdpClient,
  UnixDgramClient,
  withTimeout,
} from './helpers';

for (const { name, ss, caps } of transports) {
  describe(`addresses (${name})`, () => {
    const tmp = new TempDir();
    after(() => tmp.cleanup());

    const seen: { clientAddress?: unknown } = {};
    class Echo extends ss.StreamRequestHandler {
      override async handle(): Promise<void> {
        seen.clientAddress = this.clientAddress;
        await this.wfile.write(await this.rfile.readline());
      }
    }
    class DgramEcho extends ss.DatagramRequestHandler {
      override async handle(): Promise<void> {
        seen.clientAddress = this.clientAddress;
        await this.wfile.write(this.packet);
      }
    }

    it('serverAddress deep-equals socket.getSockName() for the four servers', async () => {
      const servers = [
        new ss.TCPServer([HOST, 0], Echo),
        new ss.UDPServer([HOST, 0], DgramEcho),
        new ss.UnixStreamServer(tmp.path(), Echo),
      ];
      if (caps.unixDatagram) servers.push(new ss.UnixDatagramServer(tmp.path(), DgramEcho) as never);
      else expectUnsupported(() => new ss.UnixDatagramServer(tmp.path(), DgramEcho), 'UnixDatagramServer');
      try {
        for (const s of servers) expect(s.serverAddress).to.deep.equal(s.socket.getSockName());
      } finally {
        for (const s of servers) await s.serverClose();
      }
    });

    it('port 0 picks a free port, known right after construction', async () => {
      const a = new ss.TCPServer([HOST, 0], Echo);
      const b = new ss.TCPServer([HOST, 0], Echo);
      const u = new ss.UDPServer([HOST, 0], DgramEcho);
      try {
        for (const s of [a, b, u]) {
          const [host, port] = s.serverAddress as [string, number];
          expect(host).to.equal(HOST);
          expect(port).to.be.a('number').within(1, 65535);
        }
        expect((a.serverAddress as [string, number])[1]).to.not.equal((b.serverAddress as [string, number])[1]);
        // The port is really the one listening.
        const reply = streamExchange(a.serverAddress as [string, number], 'port\n');
        await withTimeout(a.handleRequest(), 5000, 'handleRequest()');
        expect((await reply).toString()).to.equal('port\n');
      } finally {
        await a.serverClose();
        await b.serverClose();
        await u.serverClose();
      }
    });

    it("host '' means any address", async () => {
      const s = new ss.TCPServer(['', 0], Echo);
      try {
        const [host, port] = s.serverAddress as [string, number];
        expect(host).to.equal('0.0.0.0');
        const reply = streamExchange([HOST, port], 'any\n');
        await withTimeout(s.handleRequest(), 5000, 'handleRequest()');
        expect((await reply).toString()).to.equal('any\n');
      } finally {
        await s.serverClose();
      }
    });

    it('a host with a NUL byte is refused (TypeError), not cut short at the NUL', () => {
      for (const host of ['127.0.0.1\0junk', '\0', 'localhost\0.example']) {
        expect(() => new ss.TCPServer([host, 0], Echo), JSON.stringify(host))
          .to.throw(TypeError)
          .with.property('code', 'ERR_INVALID_ARG_VALUE');
        expect(() => new ss.UDPServer([host, 0], DgramEcho), JSON.stringify(host))
          .to.throw(TypeError)
          .with.property('code', 'ERR_INVALID_ARG_VALUE');
      }
    });

    if (name === 'native') {
      it('the addon itself refuses a host with a NUL byte (bind, sendTo), and a Unix path with one', () => {
        const native = nativeAddon();
        const { AF_INET, AF_INET6, AF_UNIX, SOCK_DGRAM } = native.constants;
        for (const [family, host] of [[AF_INET, '127.0.0.1\0junk'], [AF_INET6, '::1\0junk']] as const) {
          const l = new native.Listener(family, SOCK_DGRAM);
          try {
            expect(() => l.bind([host, 0])).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
            expect(() => l.sendTo(Buffer.from('x'), [host, 9])).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
          } finally {
            l.close();
          }
        }
        const u = new native.Listener(AF_UNIX, SOCK_DGRAM);
        try {
          expect(() => u.bind('/tmp/a\0b')).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
        } finally {
          u.close();
        }
      });
    }

    it("a host name is resolved ('localhost')", async () => {
      const s = new ss.TCPServer(['localhost', 0], Echo);
      try {
        expect((s.serverAddress as [string, number])[0]).to.equal('127.0.0.1');
      } finally {
        await s.serverClose();
      }
    });

    it('clientAddress of a TCP request is the peer [host, port]', async () => {
      const s = new ss.TCPServer([HOST, 0], Echo);
      try {
        const c = await connect(s.serverAddress as [string, number]);
        const local: [string, number] = [c.localAddress!, c.localPort!];
        const done = readToEnd(c);
        c.write('x\n');
        await withTimeout(s.handleRequest(), 5000, 'handleRequest()');
        await done;
        c.destroy();
        expect(seen.clientAddress).to.deep.equal(local);
      } finally {
        await s.serverClose();
      }
    });

    it("clientAddress of a Unix stream request is '' (unnamed peer), as in Python", async () => {
      const p = tmp.path();
      const s = new ss.UnixStreamServer(p, Echo);
      try {
        const reply = streamExchange(p, 'u\n');
        await withTimeout(s.handleRequest(), 5000, 'handleRequest()');
        expect((await reply).toString()).to.equal('u\n');
        expect(seen.clientAddress).to.equal('');
      } finally {
        await s.serverClose();
      }
    });

    it(`clientAddress of a Unix datagram request is the sender's path${caps.unixDatagram ? '' : ' (refused)'}`, async () => {
      const p = tmp.path();
      if (!caps.unixDatagram) return void expectUnsupported(() => new ss.UnixDatagramServer(p, DgramEcho), 'UnixDatagramServer');
      const s = new ss.UnixDatagramServer(p, DgramEcho);
      const c = new UnixDgramClient(tmp.path('client'));
      try {
        c.sendTo('hi', p);
        await withTimeout(s.handleRequest(), 5000, 'handleRequest()');
        const [data, from] = await c.recv();
        expect(data.toString()).to.equal('hi');
        expect(from).to.equal(p);
        expect(seen.clientAddress).to.equal(c.path);
      } finally {
        c.close();
        await s.serverClose();
      }
    });

    describe(`Unix abstract names${caps.abstractNames ? '' : ' (refused: ERR_SOCKETSERVER_UNSUPPORTED)'}`, () => {
      function inProcNetUnix(abstract: string): string[] {
        // /proc/net/unix shows every NUL of an abstract name as '@'.
        const shown = abstract.replace(/\0/g, '@');
        return fs
          .readFileSync('/proc/net/unix', 'utf8')
          .split('\n')
          .map((l) => l.trim().split(/\s+/).slice(7).join(' '))
          .filter((p) => p.startsWith(shown));
      }

      it('UnixStreamServer binds the exact name; a client reaches it', async function () {
        const n = abstractName('stream');
        if (!caps.abstractNames) return void expectUnsupported(() => new ss.UnixStreamServer(n, Echo), 'an abstract name');
        const s = new ss.UnixStreamServer(n, Echo);
        try {
          expect(s.serverAddress).to.equal(n);
          expect(s.socket.getSockName()).to.equal(n);
          // Exact length: no NUL padding after the name.
          expect(inProcNetUnix(n)).to.deep.equal([n.replace(/\0/g, '@')]);
          if (!havePython()) this.skip(); // the client is python3's: node:net pads the name on Node 20
          const reply = pythonUnixStreamExchange(n, 'abstract\n');
          await withTimeout(s.handleRequest(), 10000, 'handleRequest()');
          expect((await reply).toString()).to.equal('abstract\n');
        } finally {
          await s.serverClose();
        }
      });

      /**
       * Asks the running Node whether node:net binds (and so connects to) an
       * abstract name with its exact length, or pads it with NULs to the
       * size of sun_path (libuv before 1.48: Node 20): a node:net server on
       * a fresh name, as /proc/net/unix then shows it.
       */
      async function nodeNetUsesExactNames(): Promise<boolean> {
        const n = abstractName('probe');
        const probe = net.createServer();
        await new Promise<void>((resolve, reject) => {
          probe.once('error', reject);
          probe.listen(n, resolve);
        });
        try {
          const shown = inProcNetUnix(n);
          expect(shown, 'the node:net probe server in /proc/net/unix').to.have.length(1);
          return shown[0] === n.replace(/\0/g, '@');
        } finally {
          await new Promise<void>((resolve) => probe.close(() => resolve()));
        }
      }

      it('a node:net client reaches an exact-length name exactly when the running Node uses exact-length names', async () => {
        const n = abstractName('padded');
        if (!caps.abstractNames) return void expectUnsupported(() => new ss.UnixStreamServer(n, Echo), 'an abstract name');
        const exact = await nodeNetUsesExactNames();
        const s = new ss.UnixStreamServer(n, Echo);
        try {
          const err = await new Promise<Error & { code?: string }>((resolve) => {
            const c = net.connect({ path: n });
            c.on('connect', () => {
              c.destroy();
              resolve(Object.assign(new Error('connected'), { code: 'CONNECTED' }));
            });
            c.on('error', (e) => resolve(e));
          });
          // Padded, node:net asks for another name (ours plus NULs): refused.
          expect(err.code, `node:net ${exact ? 'uses exact names' : 'pads names'} on ${process.version}`).to.equal(
            exact ? 'CONNECTED' : 'ECONNREFUSED',
          );
        } finally {
          await s.serverClose();
        }
      });

      it('UnixDatagramServer binds the exact name; a client reaches it', async () => {
        const n = abstractName('dgram');
        if (!caps.unixDatagram) return void expectUnsupported(() => new ss.UnixDatagramServer(n, DgramEcho), 'UnixDatagramServer');
        const s = new ss.UnixDatagramServer(n, DgramEcho);
        const c = new UnixDgramClient(abstractName('dgram-client'));
        try {
          expect(s.serverAddress).to.equal(n);
          expect(s.socket.getSockName()).to.equal(n);
          c.sendTo('abs', n);
          await withTimeout(s.handleRequest(), 5000, 'handleRequest()');
          const [data, from] = await c.recv();
          expect(data.toString()).to.equal('abs');
          expect(from).to.equal(n);
          expect(seen.clientAddress).to.equal(c.path);
        } finally {
          c.close();
          await s.serverClose();
        }
      });

      it('serverClose() frees the name (it can be bound again)', async () => {
        const n = abstractName('rebind');
        if (!caps.abstractNames) return void expectUnsupported(() => new ss.UnixStreamServer(n, Echo), 'an abstract name');
        const a = new ss.UnixStreamServer(n, Echo);
        await a.serverClose();
        const b = new ss.UnixStreamServer(n, Echo);
        await b.serverClose();
      });
    });

    describe('IPv6', () => {
      let v6 = false;
      before(() => {
        v6 = haveIPv6Loopback();
      });

      it('TCPServer on ::1 (skipped when ::1 cannot be bound here)', async function () {
        if (!v6) this.skip(); // no IPv6 loopback on this machine
        class V6 extends ss.TCPServer {
          static override addressFamily = ss.constants.AF_INET6;
        }
        const s = new V6(['::1', 0], Echo);
        try {
          const addr = s.serverAddress as [string, number, number, number];
          expect(addr[0]).to.equal('::1');
          expect(addr).to.have.length(4);
          expect(addr).to.deep.equal(s.socket.getSockName());
          const reply = streamExchange(['::1', addr[1]], 'six\n');
          await withTimeout(s.handleRequest(), 5000, 'handleRequest()');
          expect((await reply).toString()).to.equal('six\n');
        } finally {
          await s.serverClose();
        }
      });

      it('UDPServer on ::1 (skipped when ::1 cannot be bound here)', async function () {
        if (!v6) this.skip(); // no IPv6 loopback on this machine
        class V6 extends ss.UDPServer {
          static override addressFamily = ss.constants.AF_INET6;
        }
        const s = new V6(['::1', 0], DgramEcho);
        const c = await UdpClient.open('udp6', '::1');
        try {
          const addr = s.serverAddress as [string, number, number, number];
          expect(addr[0]).to.equal('::1');
          await c.send('six', ['::1', addr[1]]);
          await withTimeout(s.handleRequest(), 5000, 'handleRequest()');
          expect((await c.recv())[0].toString()).to.equal('six');
        } finally {
          c.close();
          await s.serverClose();
        }
      });
    });
  });
}
