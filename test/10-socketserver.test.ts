/**
 * Port of CPython's Lib/test/test_socketserver.py SocketServerTest: the
 * synchronous servers (TCPServer, UDPServer, UnixStreamServer,
 * UnixDatagramServer), and the same four with ThreadingMixIn and ForkingMixIn.
 *
 * The Forking cases run their clients in a python3 process (CPython's own
 * stream_examine / dgram_examine): a forked child is a copy of this whole
 * process, so a client loop living here would be copied into every child.
 */
import { expect } from 'chai';
import * as childProcess from 'node:child_process';
import * as fs from 'node:fs';

import {
  Address,
  connect,
  expectUnsupported,
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
import { exitOf, killAndWait, withClient } from './proc-helpers';

for (const { name, ss, caps } of transports) {
  describe(`SocketServerTest (${name})`, () => {
    const tmp = new TempDir();
    after(() => tmp.cleanup());
    // A transport that cannot fork refuses the Forking classes, and one
    // without Unix datagram sockets the Unix datagram classes: at
    // construction, with ERR_SOCKETSERVER_UNSUPPORTED and nothing leaked.
    const canFork = caps.fork;

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
        // Forking: the child's handleError runs in the child; its exit status tells.
        childExited(pid: number, code: number | null, signal: number | null): void {
          if (code !== 0) errors.push(new Error(`child ${pid} exited with code ${code}, signal ${signal}`));
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
        await server.serverClose();
        expect(server.socket.fileno()).to.equal(-1);
        if ('activeChildren' in server) {
          // bpo-31151: serverClose() waits until all children completed.
          expect(server.activeChildren === null || server.activeChildren.size === 0, 'activeChildren empty').to.equal(true);
          expect(server.activeChildren).to.not.equal(null); // three requests were forked
        }
        expect(server.errors).to.deep.equal([]);
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

    /** Out-of-process clients for the Forking servers: CPython's examine functions in python3. */
    async function pyStreamExamine(_family: number, addr: Address): Promise<void> {
      await withClient(async (c) => {
        const r = await c.call({ op: 'stream_examine', addr, data: TEST_STR.toString() });
        expect(r.data).to.equal(TEST_STR.toString());
      });
    }

    async function pyDgramExamine(family: number, addr: Address): Promise<void> {
      await withClient(async (c) => {
        const bind = family === ss.constants.AF_UNIX ? pickaddr(family) : undefined;
        const r = await c.call({ op: 'dgram_examine', addr, bind, data: TEST_STR.toString() });
        expect(r.data).to.equal(TEST_STR.toString());
      });
    }

    /**
     * CPython's simple_subprocess: a child process of our own, not the
     * server's, exits (status 72) while the server runs; the server must not
     * reap it (Issue 1540386), so its 'exit' event still reports 72.
     */
    async function simpleSubprocess(fn: () => Promise<void>): Promise<void> {
      const child = childProcess.spawn('python3', ['-c', 'import os; os._exit(72)'], { stdio: 'ignore' });
      try {
        const status = exitOf(child);
        status.catch(() => undefined);
        await fn();
        expect(await status).to.deep.equal([72, null]);
      } finally {
        await killAndWait(child);
      }
    }

    function refused(svrcls: AnyClass, hdlrbase: AnyClass): void {
      const addr = pickaddr((svrcls as unknown as { addressFamily: number }).addressFamily);
      expectUnsupported(() => makeServer(addr, svrcls, hdlrbase), `constructing ${svrcls.name}`);
      if (typeof addr === 'string') expect(fs.existsSync(addr), 'no socket file made').to.equal(false);
    }

    it('test_TCPServer', () => runServer(ss.TCPServer, ss.StreamRequestHandler, streamExamine));
    it('test_ThreadingTCPServer', () => runServer(ss.ThreadingTCPServer, ss.StreamRequestHandler, streamExamine));
    it(`test_ForkingTCPServer${canFork ? '' : ' (refused: no fork)'}`, () => {
      if (!canFork) return refused(ss.ForkingTCPServer, ss.StreamRequestHandler);
      return simpleSubprocess(() => runServer(ss.ForkingTCPServer, ss.StreamRequestHandler, pyStreamExamine));
    });
    it('test_UnixStreamServer', () => runServer(ss.UnixStreamServer, ss.StreamRequestHandler, streamExamine));
    it('test_ThreadingUnixStreamServer', () =>
      runServer(ss.ThreadingUnixStreamServer, ss.StreamRequestHandler, streamExamine));
    it(`test_ForkingUnixStreamServer${canFork ? '' : ' (refused: no fork)'}`, () => {
      if (!canFork) return refused(ss.ForkingUnixStreamServer, ss.StreamRequestHandler);
      return simpleSubprocess(() => runServer(ss.ForkingUnixStreamServer, ss.StreamRequestHandler, pyStreamExamine));
    });
    it('test_UDPServer', () => runServer(ss.UDPServer, ss.DatagramRequestHandler, dgramExamine));
    it('test_ThreadingUDPServer', () => runServer(ss.ThreadingUDPServer, ss.DatagramRequestHandler, dgramExamine));
    it(`test_ForkingUDPServer${canFork ? '' : ' (refused: no fork)'}`, () => {
      if (!canFork) return refused(ss.ForkingUDPServer, ss.DatagramRequestHandler);
      return simpleSubprocess(() => runServer(ss.ForkingUDPServer, ss.DatagramRequestHandler, pyDgramExamine));
    });
    it(`test_UnixDatagramServer${caps.unixDatagram ? '' : ' (refused: no Unix datagram sockets)'}`, () => {
      if (!caps.unixDatagram) return refused(ss.UnixDatagramServer, ss.DatagramRequestHandler);
      return runServer(ss.UnixDatagramServer, ss.DatagramRequestHandler, dgramExamine);
    });
    it(`test_ThreadingUnixDatagramServer${caps.unixDatagram ? '' : ' (refused: no Unix datagram sockets)'}`, () => {
      if (!caps.unixDatagram) return refused(ss.ThreadingUnixDatagramServer, ss.DatagramRequestHandler);
      return runServer(ss.ThreadingUnixDatagramServer, ss.DatagramRequestHandler, dgramExamine);
    });
    it(`test_ForkingUnixDatagramServer${canFork && caps.unixDatagram ? '' : ' (refused)'}`, () => {
      if (!canFork || !caps.unixDatagram) return refused(ss.ForkingUnixDatagramServer, ss.DatagramRequestHandler);
      return runServer(ss.ForkingUnixDatagramServer, ss.DatagramRequestHandler, pyDgramExamine);
    });

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

    it('test_close_immediately: a ThreadingMixIn server closed right away', async () => {
      class MyServer extends ss.ThreadingMixIn(ss.TCPServer) {}
      const server = new MyServer([HOST, 0], (() => undefined) as never);
      await withTimeout(Promise.resolve(server.serverClose()), 5000, 'serverClose()');
      expect(server.socket.fileno()).to.equal(-1);
      expect(server._threads.size).to.equal(0);
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
