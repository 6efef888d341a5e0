/** Port of CPython's MiscTestCase. */
import { expect } from 'chai';

import { API_NAMES, closed, SYNC_NAMES, connect, HOST, transports, until, withTimeout } from './helpers';

for (const { name, ss } of transports) {
  describe(`MiscTestCase (${name})`, () => {
    it('test_all: the module exports the names of API.md, and only documented extensions besides', () => {
      // API.md: "Extend it freely; do not rename or drop anything here."
      // The extensions are the classes of the objects handlers receive
      // (README "API in brief") and API.md's extension sections
      // ("deployment": listenFds); anything else exported is an accident.
      const EXTENSIONS = [
        'ServerSocket', 'StreamSocket',
        'SocketReader', 'SocketWriter', 'BufferedSocketWriter', 'BytesReader', 'BytesWriter',
        'listenFds',
      ];
      const exported = Object.keys(ss).filter((k) => k !== 'default' && k !== '__esModule');
      expect(exported).to.include.members([...API_NAMES]);
      expect(exported.filter((k) => !API_NAMES.includes(k)).sort()).to.deep.equal([...EXTENSIONS].sort());
    });

    it('test_shutdown_request_called_if_verify_request_false (issue #26309)', async () => {
      class MyServer extends ss.TCPServer {
        shutdownCalled = 0;
        override verifyRequest(): boolean {
          return false;
        }
        override shutdownRequest(request: unknown): void {
          this.shutdownCalled += 1;
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          (super.shutdownRequest as any).call(this, request);
        }
      }
      const server = new MyServer([HOST, 0], ss.StreamRequestHandler);
      try {
        const s = await connect(server.serverAddress as [string, number]);
        s.destroy();
        await closed(s);
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        expect(server.shutdownCalled).to.equal(1);
      } finally {
        await server.serverClose();
      }
    });

    it('test_threads_reaped: finished request tasks are not kept (issue #37193)', async () => {
      class MyServer extends ss.ThreadingMixIn(ss.TCPServer) {}
      const server = new MyServer([HOST, 0], ss.StreamRequestHandler);
      try {
        for (let n = 0; n < 10; n++) {
          const s = await connect(server.serverAddress as [string, number]);
          try {
            await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
          } finally {
            s.destroy();
            await closed(s);
          }
        }
        expect(server._threads.size).to.be.lessThan(10);
        // Each task leaves the set when it finishes: in the end none is kept.
        await until(() => server._threads.size === 0, 'all request tasks finished and dropped');
      } finally {
        await server.serverClose();
      }
    });
  });
}
