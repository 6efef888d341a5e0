/**
 * The capabilities the test suite goes by (helpers.ts' Caps) are the
 * transports' real ones: each is probed by the operation behind it.
 * js-helpers.ts lists the js transport's other test files.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import type * as net from 'node:net';

import {
  abstractName,
  Caps,
  closed,
  connect,
  deferred,
  HOST,
  SS,
  TempDir,
  transports,
  UNSUPPORTED,
  withTimeout,
} from './helpers';
import { forkSupported } from './proc-helpers';
import { AnyServer, SysErr } from './js-helpers';

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
