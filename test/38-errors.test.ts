/**
 * System errors, bad input, descriptor leaks, address reuse, the backlog,
 * and misbehaving clients.
 */
import { expect } from 'chai';
import * as childProcess from 'node:child_process';
import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as path from 'node:path';

import {
  closed,
  connect,
  deferred,
  expectUnsupported,
  fdCount,
  HOST,
  readToEnd,
  SockReader,
  serveInBackground,
  streamExchange,
  TempDir,
  timeWaitOnPort,
  transports,
  until,
  withTimeout,
} from './helpers';

type SysErr = Error & { code?: string; errno?: number; syscall?: string; address?: string; port?: number; path?: string };

function catchError(fn: () => unknown): SysErr {
  try {
    fn();
  } catch (e) {
    return e as SysErr;
  }
  throw new Error('expected an error, none was thrown');
}

for (const { name, ss, caps } of transports) {
  describe(`errors and bad input (${name})`, () => {
    const tmp = new TempDir();
    after(() => tmp.cleanup());

    class Echo extends ss.StreamRequestHandler {
      override async handle(): Promise<void> {
        await this.wfile.write(await this.rfile.readline());
      }
    }

    describe('system errors', () => {
      it("EADDRINUSE (TCP) has Node's shape: code, errno -98, syscall, address, port", async () => {
        const a = new ss.TCPServer([HOST, 0], Echo);
        try {
          const port = (a.serverAddress as [string, number])[1];
          const e = catchError(() => new ss.TCPServer([HOST, port], Echo));
          expect(e).to.be.instanceOf(Error);
          expect(e.code).to.equal('EADDRINUSE');
          expect(e.errno).to.equal(-98);
          expect(e.syscall).to.equal('bind');
          expect(e.address).to.equal(HOST);
          expect(e.port).to.equal(port);
          expect(e.message).to.include('EADDRINUSE');
        } finally {
          await a.serverClose();
        }
      });

      it('EADDRINUSE (UDP)', async () => {
        const a = new ss.UDPServer([HOST, 0], ss.DatagramRequestHandler);
        try {
          const port = (a.serverAddress as [string, number])[1];
          const e = catchError(() => new ss.UDPServer([HOST, port], ss.DatagramRequestHandler));
          expect(e.code).to.equal('EADDRINUSE');
          expect(e.errno).to.equal(-98);
          expect(e.syscall).to.equal('bind');
          expect(e.port).to.equal(port);
        } finally {
          await a.serverClose();
        }
      });

      it('a Unix path in use: EADDRINUSE, with the path', async () => {
        const p = tmp.path();
        // Python's behaviour (the file stays after close) where the transport can keep it.
        const a = new ss.UnixStreamServer(p, Echo, caps.keepsSocketFile ? { unlinkOnClose: false } : {});
        try {
          const makers: Array<() => unknown> = [() => new ss.UnixStreamServer(p, Echo)];
          const dgram = (): unknown => new ss.UnixDatagramServer(p, ss.DatagramRequestHandler);
          // Without Unix datagram sockets the refusal comes first, before any bind.
          if (caps.unixDatagram) makers.push(dgram);
          else expectUnsupported(dgram, 'UnixDatagramServer on a path in use');
          for (const make of makers) {
            const e = catchError(make);
            expect(e.code).to.equal('EADDRINUSE');
            expect(e.errno).to.equal(-98);
            expect(e.syscall).to.equal('bind');
            expect(e.path ?? e.address).to.equal(p);
          }
        } finally {
          await a.serverClose();
        }
        if (caps.keepsSocketFile) {
          // With unlinkOnClose false, as in Python, the stale socket file still blocks binding.
          expect(fs.existsSync(p)).to.equal(true);
          expect(catchError(() => new ss.UnixStreamServer(p, Echo)).code).to.equal('EADDRINUSE');
          fs.unlinkSync(p);
        } else {
          // libuv removes a bound pipe's file when the handle closes: the path is free again.
          expect(fs.existsSync(p)).to.equal(false);
          await new ss.UnixStreamServer(p, Echo).serverClose();
        }
      });

      it('a failing bind (EADDRINUSE) 1024 times leaks no descriptor', async () => {
        const a = new ss.TCPServer([HOST, 0], Echo);
        try {
          const addr = a.serverAddress as [string, number];
          const before = fdCount();
          for (let i = 0; i < 1024; i++) {
            expect(catchError(() => new ss.TCPServer(addr, Echo)).code).to.equal('EADDRINUSE');
          }
          expect(fdCount()).to.equal(before);
        } finally {
          await a.serverClose();
        }
      });
    });

    describe("an error made in a loop callback carries the stack of the handler's call", () => {
      // Made in a timer or readiness callback, its stack would show only the
      // loop; it must point at the handler that awaited (sharp's rule).
      const here = path.basename(__filename);
      for (const how of ['request.recv()', 'rfile.readline()', 'wfile.write()'] as const) {
        it(`${how} timing out: ETIMEDOUT, its stack names the handler`, async () => {
          const errors: SysErr[] = [];
          class StackProbeHandler extends ss.StreamRequestHandler {
            static override timeout = 0.05;
            override async handle(): Promise<void> {
              if (how === 'request.recv()') await this.request.recv(10);
              else if (how === 'rfile.readline()') await this.rfile.readline();
              // A reply the client never reads: the write waits until the timeout.
              else for (let i = 0; i < 64; i++) await this.wfile.write(Buffer.alloc(1024 * 1024));
            }
          }
          class Server extends ss.TCPServer {
            override handleError(_r: unknown, _a: unknown, error: unknown): void {
              errors.push(error as SysErr);
            }
          }
          const server = new Server([HOST, 0], StackProbeHandler);
          try {
            const c = await connect(server.serverAddress as [string, number]);
            c.pause();
            try {
              await withTimeout(server.handleRequest(), 10000, 'handleRequest()');
            } finally {
              c.destroy();
            }
          } finally {
            await server.serverClose();
          }
          expect(errors).to.have.length(1);
          expect(errors[0].code).to.equal('ETIMEDOUT');
          expect(errors[0].stack).to.match(/^Error: \w+ ETIMEDOUT/);
          expect(errors[0].stack).to.include('StackProbeHandler.handle');
          expect(errors[0].stack).to.include(here);
        });
      }
    });

    describe('bad input: thrown at once, nothing leaked (1024 times each)', () => {
      const cases: Array<[string, () => unknown, Array<new (...a: never[]) => Error>]> = [
        ['port -1', () => new ss.TCPServer([HOST, -1], Echo), [RangeError]],
        ['port 65536', () => new ss.TCPServer([HOST, 65536], Echo), [RangeError]],
        ['port 1.5', () => new ss.TCPServer([HOST, 1.5], Echo), [RangeError, TypeError]],
        ["port 'x'", () => new ss.TCPServer([HOST, 'x' as unknown as number], Echo), [TypeError]],
        ['UDP port 65536', () => new ss.UDPServer([HOST, 65536], ss.DatagramRequestHandler), [RangeError]],
        ['a string address for TCP', () => new ss.TCPServer('127.0.0.1:80', Echo), [TypeError]],
        ['[host] without a port', () => new ss.TCPServer([HOST] as unknown as [string, number], Echo), [TypeError]],
        ['a numeric host', () => new ss.TCPServer([127 as unknown as string, 0], Echo), [TypeError]],
        ['an IP address for a Unix server', () => new ss.UnixStreamServer([HOST, 0], Echo), [TypeError]],
        [
          'a Unix path longer than sun_path',
          () => new ss.UnixStreamServer(tmp.dir + '/' + 'p'.repeat(200), Echo),
          [RangeError, TypeError, Error],
        ],
        // Settings checked once the socket exists: it must be closed too.
        ['maxPacketSize -1', () => new ss.UDPServer([HOST, 0], ss.DatagramRequestHandler, { maxPacketSize: -1 }), [RangeError]],
        ["serveThread 'yes'", () => new ss.TCPServer([HOST, 0], Echo, { serveThread: 'yes' as unknown as boolean }), [TypeError]],
        [
          "serveThread 'yes', bindAndActivate false",
          () => new ss.TCPServer([HOST, 0], Echo, { serveThread: 'yes' as unknown as boolean, bindAndActivate: false }),
          [TypeError],
        ],
      ];
      for (const [what, make, types] of cases) {
        it(what, () => {
          const before = fdCount();
          for (let i = 0; i < 1024; i++) {
            const e = catchError(make);
            expect(
              types.some((t) => e instanceof t),
              `${what}: ${e?.constructor?.name}: ${e?.message}`,
            ).to.equal(true);
          }
          expect(fdCount()).to.equal(before);
        });
      }
    });

    describe('address reuse', () => {
      it('allowReuseAddress false: EADDRINUSE on a port left in TIME_WAIT; true: binds', async () => {
        class Quick extends ss.BaseRequestHandler {}
        // Linux lets SO_REUSEADDR bind over a TIME_WAIT socket only when that
        // socket had it too, so the first server sets it (a restarted server).
        const a = new ss.TCPServer([HOST, 0], Quick, { allowReuseAddress: true });
        const port = (a.serverAddress as [string, number])[1];
        try {
          // The server closes first (shutdownRequest), so TIME_WAIT is on its port.
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
        if (caps.reuseAddressOff) {
          const e = catchError(() => new ss.TCPServer([HOST, port], Echo));
          expect(e.code).to.equal('EADDRINUSE');
        } else {
          // The documented difference: SO_REUSEADDR is always set on TCP
          // listeners (libuv), so allowReuseAddress false binds here too.
          expect(timeWaitOnPort(port), 'still in TIME_WAIT').to.be.greaterThan(0);
          const c = new ss.TCPServer([HOST, port], Echo);
          try {
            expect((c.serverAddress as [string, number])[1]).to.equal(port);
            expect(c.socket.getSockOpt(ss.constants.SOL_SOCKET, ss.constants.SO_REUSEADDR)).to.equal(1);
          } finally {
            await c.serverClose();
          }
        }
        const b = new ss.TCPServer([HOST, port], Echo, { allowReuseAddress: true });
        try {
          expect((b.serverAddress as [string, number])[1]).to.equal(port);
          const reply = streamExchange([HOST, port], 'reused\n');
          await withTimeout(b.handleRequest(), 5000, 'handleRequest()');
          expect((await reply).toString()).to.equal('reused\n');
        } finally {
          await b.serverClose();
        }
      });

      it(`allowReusePort: two servers share a port; without it, EADDRINUSE${caps.reusePort ? '' : ' (allowReusePort refused)'}`, async () => {
        if (!caps.reusePort) {
          expectUnsupported(() => new ss.TCPServer([HOST, 0], Echo, { allowReusePort: true }), 'allowReusePort (TCP)');
          expectUnsupported(
            () => new ss.UDPServer([HOST, 0], ss.DatagramRequestHandler, { allowReusePort: true }),
            'allowReusePort (UDP)',
          );
          const only = new ss.TCPServer([HOST, 0], Echo);
          try {
            expect(catchError(() => new ss.TCPServer(only.serverAddress as [string, number], Echo)).code).to.equal('EADDRINUSE');
          } finally {
            await only.serverClose();
          }
          return;
        }
        const a = new ss.TCPServer([HOST, 0], Echo, { allowReusePort: true });
        try {
          const port = (a.serverAddress as [string, number])[1];
          const b = new ss.TCPServer([HOST, port], Echo, { allowReusePort: true });
          await b.serverClose();
          expect(catchError(() => new ss.TCPServer([HOST, port], Echo)).code).to.equal('EADDRINUSE');
        } finally {
          await a.serverClose();
        }
      });
    });

    describe('requestQueueSize is the listen() backlog', () => {
      function ssBacklog(port: number): number | null {
        try {
          const out = childProcess
            .execFileSync('ss', ['-ltnH', `sport = :${port}`], { timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] })
            .toString()
            .trim();
          const f = out.split('\n')[0].split(/\s+/);
          return f[0] === 'LISTEN' ? Number(f[2]) : null;
        } catch {
          return null;
        }
      }

      it('TCP: the kernel reports the backlog (ss Send-Q)', async function () {
        class Server extends ss.TCPServer {
          static override requestQueueSize = 17;
        }
        const servers = [
          new ss.TCPServer([HOST, 0], Echo),
          new Server([HOST, 0], Echo),
          new ss.TCPServer([HOST, 0], Echo, { requestQueueSize: 1 }),
        ];
        try {
          const backlogs = servers.map((s) => ssBacklog((s.serverAddress as [string, number])[1]));
          if (backlogs.some((b) => b === null)) this.skip(); // no usable `ss` here
          expect(backlogs).to.deep.equal([5, 17, 1]);
        } finally {
          for (const s of servers) await s.serverClose();
        }
      });

      it(`Unix: connections beyond the backlog are refused with EAGAIN${caps.realBacklog ? '' : ' (here: all accepted as they come)'}`, async () => {
        const p = tmp.path();
        const server = new ss.UnixStreamServer(p, Echo, { requestQueueSize: 2 });
        const socks: net.Socket[] = [];
        let refusedAt = -1;
        if (!caps.realBacklog) {
          // The documented difference: node:net accepts connections as they
          // come, so requestQueueSize only bounds what is not accepted yet.
          try {
            for (let i = 0; i < 10; i++) socks.push(await connect(p));
            const readers = socks.map((s, i) => {
              s.write(`conn ${i}\n`);
              return new SockReader(s);
            });
            for (let i = 0; i < 10; i++) await withTimeout(server.handleRequest(), 5000, `handleRequest() ${i}`);
            for (let i = 0; i < 10; i++) expect((await readers[i].readLine()).toString()).to.equal(`conn ${i}\n`);
          } finally {
            for (const s of socks) s.destroy();
            await server.serverClose();
          }
          return;
        }
        try {
          for (let i = 0; i < 10; i++) {
            try {
              socks.push(await connect(p));
            } catch (e) {
              expect((e as SysErr).code).to.equal('EAGAIN');
              refusedAt = i;
              break;
            }
          }
          // Linux queues backlog + 1 connections on a Unix socket.
          expect(refusedAt).to.equal(3);
        } finally {
          for (const s of socks) s.destroy();
          await server.serverClose();
        }
      });
    });

    describe('misbehaving clients', () => {
      it('a client that resets mid-request does not disturb the server', async () => {
        const errors: unknown[] = [];
        const midRequest = deferred<void>();
        class Server extends ss.TCPServer {
          override handleError(_r: unknown, _a: unknown, e: unknown): void {
            errors.push(e);
          }
        }
        class H extends ss.StreamRequestHandler {
          override async handle(): Promise<void> {
            const first = await this.rfile.readline();
            if (first.toString() === 'reset-me\n') {
              midRequest.resolve();
              const more = await this.rfile.readline(); // the reset lands here
              await this.wfile.write(more);
              return;
            }
            await this.wfile.write(first);
          }
        }
        const server = new Server([HOST, 0], H);
        const loop = serveInBackground(server, 0.05);
        try {
          const c = await connect(server.serverAddress as [string, number]);
          c.write('reset-me\n');
          await withTimeout(midRequest.promise, 3000, 'the handler to be mid-request');
          c.resetAndDestroy();
          await closed(c);
          for (let i = 0; i < 3; i++) {
            const reply = await streamExchange(server.serverAddress as [string, number], `next ${i}\n`);
            expect(reply.toString()).to.equal(`next ${i}\n`);
          }
          expect(errors.length).to.be.at.most(1);
        } finally {
          await loop.stop();
          await server.serverClose();
        }
      });

      it('clients that connect and reset at once do not disturb the server', async () => {
        const errors: unknown[] = [];
        class Server extends ss.TCPServer {
          override handleError(_r: unknown, _a: unknown, e: unknown): void {
            errors.push(e);
          }
        }
        const server = new Server([HOST, 0], Echo);
        const loop = serveInBackground(server, 0.05);
        try {
          for (let i = 0; i < 10; i++) {
            const c = await connect(server.serverAddress as [string, number]);
            c.write('partial');
            c.resetAndDestroy();
            await closed(c);
          }
          const reply = await streamExchange(server.serverAddress as [string, number], 'after resets\n');
          expect(reply.toString()).to.equal('after resets\n');
        } finally {
          await loop.stop();
          await server.serverClose();
        }
      });

      it("a reset reaches handleError() as ECONNRESET (Python's ConnectionResetError)", async () => {
        const errors: unknown[] = [];
        const midRequest = deferred<void>();
        class Server extends ss.TCPServer {
          override handleError(_r: unknown, _a: unknown, e: unknown): void {
            errors.push(e);
          }
        }
        class H extends ss.StreamRequestHandler {
          override async handle(): Promise<void> {
            await this.rfile.readline();
            midRequest.resolve();
            await this.rfile.readline(); // waiting here when the reset comes
          }
        }
        const server = new Server([HOST, 0], H);
        try {
          const serving = server.handleRequest();
          const c = await connect(server.serverAddress as [string, number]);
          c.write('first\n');
          await withTimeout(midRequest.promise, 3000, 'the handler to be mid-request');
          c.resetAndDestroy();
          await closed(c);
          await withTimeout(serving, 5000, 'handleRequest()');
          expect(errors).to.have.length(1);
          const e = errors[0] as SysErr;
          expect(`${e.code} (${e.syscall}): ${e.message}`).to.match(/^ECONNRESET /);
          expect(e.errno).to.equal(-104);
        } finally {
          await server.serverClose();
        }
      });

      it('a client that sends nothing and closes: the handler sees EOF', async () => {
        let line: Buffer | undefined;
        class H extends ss.StreamRequestHandler {
          override async handle(): Promise<void> {
            line = await this.rfile.readline();
          }
        }
        const server = new ss.TCPServer([HOST, 0], H);
        try {
          const c = await connect(server.serverAddress as [string, number]);
          c.end();
          await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
          c.destroy();
          expect(line?.length).to.equal(0);
        } finally {
          await server.serverClose();
        }
      });
    });
  });
}
