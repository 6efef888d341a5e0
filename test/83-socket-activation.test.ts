// Issue 11: socket activation. listenFds() reads what a service manager
// passed (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES), and the `fileno` server
// option adopts a bound socket instead of making one. The real tool is
// systemd's own `systemd-socket-activate`: it listens, waits for the first
// connection or datagram, then execs the server with the descriptors, as
// systemd does for a .socket unit. Every wait is bounded.
import { expect } from 'chai';
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

import { connect, HOST, nativeAddon, readToEnd, requireTool, ROOT, TempDir, transports, UdpClient, UnixDgramClient, withTimeout } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const native = transports.find((t) => t.name === 'native')!;
const js = transports.find((t) => t.name === 'js')!;
const ss = native.ss as Any;
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'activated-server.js');

/** A port free a moment ago, of the given protocol. */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, HOST, resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

interface Activated {
  child: ChildProcess;
  /** The server's first stdout line, parsed. */
  report: () => Promise<Any>;
  exited: Promise<number | null>;
}

/** Starts `systemd-socket-activate ARGS -- node FIXTURE`; resolves once it listens. */
async function activate(args: string[]): Promise<Activated> {
  const child = spawn('systemd-socket-activate', [...args, '--', process.execPath, FIXTURE], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if ((stderr.match(/Listening on/g) ?? []).length >= args.filter((a) => a === '-l').length) resolve();
      });
      void exited.then((code) => reject(new Error(`systemd-socket-activate exited (${code}): ${stderr}`)));
    }),
    10_000,
    'systemd-socket-activate to listen',
  );
  const report = async (): Promise<Any> => {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        const check = (): void => { if (stdout.includes('\n')) resolve(); };
        child.stdout!.on('data', check);
        check();
        void exited.then((code) => reject(new Error(`the server exited (${code}) before reporting: ${stderr}`)));
      }),
      10_000,
      'the activated server to report',
    );
    return JSON.parse(stdout.split('\n')[0]);
  };
  return { child, report, exited };
}

describe('83 socket activation: listenFds() and the fileno option', function () {
  this.timeout(30_000);
  const tmp = new TempDir('ss-activation-');
  after(() => tmp.cleanup());
  const { AF_INET, AF_UNIX, SOCK_STREAM, SOCK_DGRAM } = ss.constants;

  describe('with systemd-socket-activate', function () {
    before(function () {
      requireTool(this, 'systemd-socket-activate');
    });

    it('TCP: the descriptor, its name and kind; close-on-exec; the variables removed; serverAddress read from the socket', async () => {
      const port = await freePort();
      const server = await activate(['-l', `${HOST}:${port}`, '--fdname=web']);
      try {
        const sock = await connect([HOST, port]);
        sock.end('hello\n');
        expect((await readToEnd(sock, 10_000)).toString()).to.equal('HELLO\n');
        const report = await server.report();
        expect(report.fds).to.deep.equal([{ fd: 3, name: 'web', family: AF_INET, type: SOCK_STREAM }]);
        expect(report.cloexec).to.deep.equal([true]);
        expect(report.env, 'LISTEN_* removed from process.env').to.deep.equal([]);
        expect(report.servers).to.deep.equal([{ class: 'TCPServer', serverAddress: [HOST, port], addressFamily: AF_INET }]);
        expect(await withTimeout(server.exited, 10_000, 'exit')).to.equal(0);
      } finally {
        server.child.kill();
      }
    });

    it('UDP (--datagram): the first datagram, which woke the service, is served', async () => {
      const port = await freePort();
      const server = await activate(['--datagram', '-l', `${HOST}:${port}`]);
      const client = await UdpClient.open();
      try {
        await client.send('datagram', [HOST, port]);
        expect((await client.recv(10_000))[0].toString()).to.equal('DATAGRAM');
        const report = await server.report();
        expect(report.fds).to.deep.equal([{ fd: 3, name: 'unknown', family: AF_INET, type: SOCK_DGRAM }]);
        expect(report.servers[0]).to.deep.include({ class: 'UDPServer', serverAddress: [HOST, port] });
        expect(await withTimeout(server.exited, 10_000, 'exit')).to.equal(0);
      } finally {
        client.close();
        server.child.kill();
      }
    });

    it('Unix stream and Unix datagram, two descriptors at once; the socket files are not removed by the server', async () => {
      const streamPath = tmp.path('stream');
      const dgramPath = tmp.path('dgram');
      // The tool's --datagram applies to every -l: two stream sockets in one run here…
      const server = await activate(['-l', streamPath, '-l', `${streamPath}-2`, '--fdname=one:two']);
      try {
        for (const p of [streamPath, `${streamPath}-2`]) {
          const sock = await connect(p);
          sock.end(`unix ${path.basename(p)}\n`);
          expect((await readToEnd(sock, 10_000)).toString()).to.equal(`UNIX ${path.basename(p).toUpperCase()}\n`);
        }
        const report = await server.report();
        expect(report.fds).to.deep.equal([
          { fd: 3, name: 'one', family: AF_UNIX, type: SOCK_STREAM },
          { fd: 4, name: 'two', family: AF_UNIX, type: SOCK_STREAM },
        ]);
        expect(report.servers.map((s: Any) => [s.class, s.serverAddress])).to.deep.equal([
          ['UnixStreamServer', streamPath],
          ['UnixStreamServer', `${streamPath}-2`],
        ]);
        expect(await withTimeout(server.exited, 10_000, 'exit')).to.equal(0);
        // The service manager made the files; serverClose() left them.
        expect(fs.statSync(streamPath).isSocket()).to.equal(true);
      } finally {
        server.child.kill();
      }
      // …and Unix datagram in its own run.
      const dserver = await activate(['--datagram', '-l', dgramPath]);
      const client = new UnixDgramClient(tmp.path('client'));
      try {
        client.sendTo('unix datagram', dgramPath);
        expect((await client.recv(10_000))[0].toString()).to.equal('UNIX DATAGRAM');
        const report = await dserver.report();
        expect(report.fds).to.deep.equal([{ fd: 3, name: 'unknown', family: AF_UNIX, type: SOCK_DGRAM }]);
        expect(report.servers[0]).to.deep.include({ class: 'UnixDatagramServer', serverAddress: dgramPath });
        expect(await withTimeout(dserver.exited, 10_000, 'exit')).to.equal(0);
        expect(fs.statSync(dgramPath).isSocket()).to.equal(true);
      } finally {
        client.close();
        dserver.child.kill();
      }
    });
  });

  describe('listenFds()', () => {
    const saved = { ...process.env };
    afterEach(() => {
      for (const name of ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES']) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    });

    it('not activated: empty', () => {
      delete process.env.LISTEN_PID;
      delete process.env.LISTEN_FDS;
      expect(ss.listenFds()).to.deep.equal([]);
    });

    it('LISTEN_PID of another process (inherited variables): empty, and the variables are removed', () => {
      Object.assign(process.env, { LISTEN_PID: String(process.pid + 1), LISTEN_FDS: '1', LISTEN_FDNAMES: 'x' });
      expect(ss.listenFds()).to.deep.equal([]);
      expect(['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'].filter((n) => n in process.env)).to.deep.equal([]);
    });

    it('malformed variables: ERR_SOCKETSERVER_LISTEN_FDS, and the variables are removed', () => {
      for (const env of [
        { LISTEN_PID: 'abc', LISTEN_FDS: '1' },
        { LISTEN_PID: String(process.pid), LISTEN_FDS: '-1' },
        { LISTEN_PID: String(process.pid), LISTEN_FDS: '2', LISTEN_FDNAMES: 'only-one' },
      ]) {
        Object.assign(process.env, env);
        let thrown: Any;
        try {
          ss.listenFds();
        } catch (e) {
          thrown = e;
        }
        expect(thrown?.code, JSON.stringify(env)).to.equal('ERR_SOCKETSERVER_LISTEN_FDS');
        expect('LISTEN_FDS' in process.env).to.equal(false);
      }
    });

    it('the js entry exports it too', () => {
      expect((js.ss as Any).listenFds).to.equal(ss.listenFds);
    });
  });

  describe('the fileno option', () => {
    const addon = (): Any => nativeAddon();

    it('adopts a bound, listening socket: serverAddress from it, the address given ignored; serverClose() closes it', async () => {
      const l = new (addon().Listener)(AF_INET, SOCK_STREAM);
      l.bind([HOST, 0]);
      l.listen(5);
      const fd = l.dup();
      l.close();
      const server = new ss.TCPServer(['203.0.113.1', 1], ss.StreamRequestHandler, { fileno: fd });
      try {
        expect(server.fileno()).to.equal(fd);
        expect(server.serverAddress[0]).to.equal(HOST);
      } finally {
        await server.serverClose();
      }
      expect(() => fs.fstatSync(fd), 'closed by serverClose()').to.throw(/EBADF/);
    });

    it('wrong family, wrong type, or a stream socket not listening: TypeError ERR_INVALID_ARG_VALUE; the descriptor stays open', () => {
      const unixStream = new (addon().Listener)(AF_UNIX, SOCK_STREAM);
      const inetDgram = new (addon().Listener)(AF_INET, SOCK_DGRAM);
      const inetStream = new (addon().Listener)(AF_INET, SOCK_STREAM);
      try {
        for (const [cls, l, why] of [
          ['TCPServer', unixStream, /AF_UNIX/],
          ['UnixStreamServer', inetStream, /AF_INET/],
          ['TCPServer', inetDgram, /SOCK_DGRAM/],
          ['TCPServer', inetStream, /not listening/],
        ] as const) {
          let thrown: Any;
          try {
            new ss[cls](null, ss.StreamRequestHandler, { fileno: l.fileno() });
          } catch (e) {
            thrown = e;
          }
          expect(thrown, cls).to.be.instanceOf(TypeError);
          expect(thrown.code).to.equal('ERR_INVALID_ARG_VALUE');
          expect(thrown.message).to.match(why);
          expect(fs.fstatSync(l.fileno()).isSocket()).to.equal(true);
        }
      } finally {
        unixStream.close();
        inetDgram.close();
        inetStream.close();
      }
    });

    it('not a descriptor number: TypeError or RangeError; not a socket: ENOTSOCK', () => {
      for (const [fileno, code] of [['3', 'ERR_INVALID_ARG_TYPE'], [-1, 'ERR_OUT_OF_RANGE'], [1.5, 'ERR_OUT_OF_RANGE']] as const) {
        let thrown: Any;
        try {
          new ss.TCPServer(null, ss.StreamRequestHandler, { fileno });
        } catch (e) {
          thrown = e;
        }
        expect(thrown?.code, String(fileno)).to.equal(code);
      }
      const file = fs.openSync(FIXTURE, 'r');
      try {
        let thrown: Any;
        try {
          new ss.TCPServer(null, ss.StreamRequestHandler, { fileno: file });
        } catch (e) {
          thrown = e;
        }
        expect(thrown?.code).to.equal('ENOTSOCK');
      } finally {
        fs.closeSync(file);
      }
    });

    it('the js transport refuses it: ERR_SOCKETSERVER_UNSUPPORTED', () => {
      let thrown: Any;
      try {
        new (js.ss as Any).TCPServer(null, ss.StreamRequestHandler, { fileno: 3 });
      } catch (e) {
        thrown = e;
      }
      expect(thrown?.code).to.equal('ERR_SOCKETSERVER_UNSUPPORTED');
    });
  });
});
