/**
 * Port of CPython's ErrorHandlerTest: an ordinary exception from the
 * handler goes to handleError(), with TCPServer, ThreadingMixIn and
 * ForkingMixIn. The forking case logs to a file, as CPython does (TESTFN):
 * the child's handleError() runs in the child, and the parent reads the file.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';

import { connect, closed, deferred, expectUnsupported, HOST, TempDir, transports, withTimeout } from './helpers';

for (const { name, ss, caps } of transports) {
  describe(`ErrorHandlerTest (${name})`, () => {
    class ValueError extends Error {}

    /** Python's BaseErrorTestServer + BadHandler, with a log array for TESTFN. */
    async function baseErrorTestServer(raise: 'throw' | 'reject'): Promise<string[]> {
      const log: string[] = [];

      class BadHandler extends ss.BaseRequestHandler {
        override handle(): Promise<void> | void {
          log.push('Handler called');
          if (raise === 'throw') throw new ValueError('Test error');
          return Promise.reject(new ValueError('Test error'));
        }
      }

      class BaseErrorTestServer extends ss.TCPServer {
        override handleError(): void {
          log.push('Error handled');
        }
      }

      const server = new BaseErrorTestServer([HOST, 0], BadHandler);
      try {
        const c = await connect(server.serverAddress as [string, number]);
        c.end();
        try {
          await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        } finally {
          c.destroy();
          await closed(c);
        }
      } finally {
        await server.serverClose();
      }
      return log;
    }

    function checkResult(log: string[], handled: boolean): void {
      expect(log).to.deep.equal(handled ? ['Handler called', 'Error handled'] : ['Handler called']);
    }

    it('test_sync_handled (handle() throws)', async () => {
      checkResult(await baseErrorTestServer('throw'), true);
    });

    it('test_sync_handled (handle() rejects)', async () => {
      checkResult(await baseErrorTestServer('reject'), true);
    });

    it.skip('test_sync_not_handled: JS has no SystemExit/KeyboardInterrupt that bypasses handleError');

    it('test_threading_handled', async () => {
      const log: string[] = [];
      const done = deferred();

      class BadHandler extends ss.BaseRequestHandler {
        override handle(): void {
          log.push('Handler called');
          throw new ValueError('Test error');
        }
      }

      class ThreadingErrorTestServer extends ss.ThreadingMixIn(ss.TCPServer) {
        override handleError(): void {
          log.push('Error handled');
        }
        override async shutdownRequest(request: never): Promise<void> {
          await super.shutdownRequest(request);
          done.resolve();
        }
      }

      const server = new ThreadingErrorTestServer([HOST, 0], BadHandler);
      try {
        const c = await connect(server.serverAddress as [string, number]);
        c.end();
        try {
          await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        } finally {
          c.destroy();
          await closed(c);
        }
      } finally {
        await server.serverClose();
      }
      await withTimeout(done.promise, 5000, 'shutdownRequest() of the request task'); // wait_done()
      checkResult(log, true);
    });

    it.skip('test_threading_not_handled: JS has no SystemExit/KeyboardInterrupt that bypasses handleError');

    describe('forking', () => {
      const tmp = new TempDir('ss-err-');
      after(() => tmp.cleanup());
      it(`test_forking_handled: the child logs both lines, and exits with status 1${caps.fork ? '' : ' (refused: no fork)'}`, async () => {
        if (!caps.fork) {
          class ForkingErrorTestServer extends ss.ForkingMixIn(ss.TCPServer) {}
          expectUnsupported(() => new ForkingErrorTestServer([HOST, 0], ss.BaseRequestHandler), 'ForkingMixIn(TCPServer)');
          return;
        }
        const TESTFN = tmp.path('log');
        const exits: Array<[number, number | null, number | null]> = [];

        class BadHandler extends ss.BaseRequestHandler {
          override handle(): void {
            fs.appendFileSync(TESTFN, 'Handler called\n');
            throw new ValueError('Test error');
          }
        }

        class ForkingErrorTestServer extends ss.ForkingMixIn(ss.TCPServer) {
          override handleError(): void {
            fs.appendFileSync(TESTFN, 'Error handled\n');
          }
          override childExited(pid: number, code: number | null, signal: number | null): void {
            exits.push([pid, code, signal]);
          }
        }

        const server = new ForkingErrorTestServer([HOST, 0], BadHandler);
        try {
          // As CPython: connect and close, then handle the request. The
          // client is done before the fork, so the child copies nothing of it.
          const c = await connect(server.serverAddress as [string, number]);
          c.destroy();
          await closed(c);
          await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
          expect(server.activeChildren?.size).to.equal(1);
        } finally {
          await withTimeout(Promise.resolve(server.serverClose()), 10000, 'serverClose()'); // waits for the child
        }
        expect(fs.readFileSync(TESTFN, 'utf8')).to.equal('Handler called\nError handled\n');
        expect(server.activeChildren?.size).to.equal(0);
        expect(exits).to.have.length(1);
        expect(exits[0][0]).to.not.equal(process.pid);
        expect(exits[0].slice(1)).to.deep.equal([1, null]);
      });

      it.skip('test_forking_not_handled: JS has no SystemExit/KeyboardInterrupt that bypasses handleError');
    });
  });
}
