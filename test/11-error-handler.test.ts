/**
 * Port of CPython's ErrorHandlerTest, synchronous cases: an ordinary
 * exception from the handler goes to handleError().
 */
import { expect } from 'chai';

import { connect, closed, HOST, transports, withTimeout } from './helpers';

for (const { name, ss } of transports) {
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
    it.skip('test_threading_handled / test_forking_handled: the mix-ins come in a later issue');
  });
}
