/**
 * The js transport (`socketserver/js`), its listening socket:
 * requestQueueSize is only the kernel backlog of what is not accepted yet,
 * and fileno() is -1 until bind(); tested for js with the native transport
 * for contrast. js-helpers.ts lists the js transport's other test files.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import type * as net from 'node:net';

import { connect, fdCount, HOST, SockReader, SS, TempDir, withTimeout } from './helpers';
import { AnyServer, handlers, js, native, SysErr } from './js-helpers';

/** What /proc/self/fd/<fd> is ('socket:[inode]' for a socket). */
function fdTarget(fd: number): string {
  return fs.readlinkSync(`/proc/self/fd/${fd}`);
}

describe('the js transport: refusals and documented differences (native for contrast)', () => {
  const tmp = new TempDir('ss-js-');
  after(() => tmp.cleanup());

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
});
