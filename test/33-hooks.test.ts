/**
 * The server hooks, called as Python calls them: order, verifyRequest,
 * handleError (default output), handler errors, timeouts, serviceActions.
 */
import { expect } from 'chai';

import {
  captureStderr,
  closed,
  connect,
  deferred,
  expectUnsupported,
  HOST,
  readToEnd,
  serveInBackground,
  streamExchange,
  TempDir,
  transports,
  udpExchange,
  unixDgramExchange,
  withTimeout,
} from './helpers';

for (const { name, ss, caps } of transports) {
  describe(`server hooks (${name})`, () => {
    const tmp = new TempDir();
    after(() => tmp.cleanup());

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    type AnyClass = new (...args: any[]) => any;

    /** A server class recording every hook, around a handler recording setup/handle/finish. */
    function recording(Base: AnyClass, log: string[]): AnyClass {
      return class extends Base {
        getRequest(...a: unknown[]): unknown {
          log.push('getRequest');
          return super.getRequest(...a);
        }
        verifyRequest(...a: unknown[]): unknown {
          log.push('verifyRequest');
          return super.verifyRequest(...a);
        }
        processRequest(...a: unknown[]): unknown {
          log.push('processRequest');
          return super.processRequest(...a);
        }
        finishRequest(...a: unknown[]): unknown {
          log.push('finishRequest');
          return super.finishRequest(...a);
        }
        shutdownRequest(...a: unknown[]): unknown {
          log.push('shutdownRequest');
          return super.shutdownRequest(...a);
        }
        closeRequest(...a: unknown[]): unknown {
          log.push('closeRequest');
          return super.closeRequest(...a);
        }
        handleTimeout(...a: unknown[]): unknown {
          log.push('handleTimeout');
          return super.handleTimeout(...a);
        }
        serviceActions(...a: unknown[]): unknown {
          log.push('serviceActions');
          return super.serviceActions(...a);
        }
        handleError(...a: unknown[]): unknown {
          log.push('handleError');
          return undefined;
        }
      };
    }

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    function recordingHandler(Base: AnyClass, log: string[], body?: (h: any) => Promise<void>): AnyClass {
      return class extends Base {
        constructor(...a: unknown[]) {
          super(...a);
          log.push('handler.constructor');
        }
        async setup(): Promise<void> {
          log.push('setup');
          await super.setup();
        }
        async handle(): Promise<void> {
          log.push('handle');
          if (body) await body(this);
        }
        async finish(): Promise<void> {
          log.push('finish');
          await super.finish();
        }
      };
    }

    const ONE_REQUEST = [
      'getRequest',
      'verifyRequest',
      'processRequest',
      'finishRequest',
      'handler.constructor',
      'setup',
      'handle',
      'finish',
      'shutdownRequest',
      'closeRequest',
    ];

    it('handleRequest(), TCP: hooks in Python order', async () => {
      const log: string[] = [];
      const Server = recording(ss.TCPServer, log);
      const Handler = recordingHandler(ss.StreamRequestHandler, log, async (h) => {
        await h.wfile.write(await h.rfile.readline());
      });
      const server = new Server([HOST, 0], Handler);
      try {
        const reply = streamExchange(server.serverAddress, 'order\n');
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        expect((await reply).toString()).to.equal('order\n');
        expect(log).to.deep.equal(ONE_REQUEST);
      } finally {
        await server.serverClose();
      }
    });

    it('handleRequest(), UDP: hooks in Python order', async () => {
      const log: string[] = [];
      const Server = recording(ss.UDPServer, log);
      const Handler = recordingHandler(ss.DatagramRequestHandler, log, async (h) => {
        await h.wfile.write(h.packet);
      });
      const server = new Server([HOST, 0], Handler);
      try {
        const reply = udpExchange(server.serverAddress, 'order');
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        expect((await reply).toString()).to.equal('order');
        expect(log).to.deep.equal(ONE_REQUEST);
      } finally {
        await server.serverClose();
      }
    });

    it(`handleRequest(), Unix datagram: hooks in Python order${caps.unixDatagram ? '' : ' (refused)'}`, async () => {
      const log: string[] = [];
      const Server = recording(ss.UnixDatagramServer, log);
      const Handler = recordingHandler(ss.DatagramRequestHandler, log, async (h) => {
        await h.wfile.write(h.packet);
      });
      if (!caps.unixDatagram) {
        expectUnsupported(() => new Server(tmp.path(), Handler), 'a UnixDatagramServer subclass');
        expect(log, 'no hook ran').to.deep.equal([]);
        return;
      }
      const server = new Server(tmp.path(), Handler);
      try {
        const reply = unixDgramExchange(tmp, server.serverAddress, 'order');
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        expect((await reply)[0].toString()).to.equal('order');
        expect(log).to.deep.equal(ONE_REQUEST);
      } finally {
        await server.serverClose();
      }
    });

    it('serveForever(): serviceActions() after each request', async () => {
      const log: string[] = [];
      const Server = recording(ss.UnixStreamServer, log);
      const Handler = recordingHandler(ss.StreamRequestHandler, log, async (h) => {
        await h.wfile.write(await h.rfile.readline());
      });
      const server = new Server(tmp.path(), Handler);
      // A long poll interval: serviceActions() here comes from the request.
      const loop = serveInBackground(server, 30);
      try {
        const reply = await streamExchange(server.serverAddress, 'sa\n');
        expect(reply.toString()).to.equal('sa\n');
        const after = deferred<void>();
        const orig = server.serviceActions;
        server.serviceActions = function (this: unknown, ...a: unknown[]) {
          const r = orig.apply(this, a);
          after.resolve();
          return r;
        };
        if (!log.includes('serviceActions')) await withTimeout(after.promise, 5000, 'serviceActions() after the request');
        const i = log.indexOf('closeRequest');
        expect(log.slice(0, i + 2)).to.deep.equal([...ONE_REQUEST, 'serviceActions']);
      } finally {
        await loop.stop();
        await server.serverClose();
      }
    });

    it('serveForever(): serviceActions() at least every pollInterval, and timeout is ignored', async () => {
      const log: string[] = [];
      let count = 0;
      const five = deferred<void>();
      class Server extends recording(ss.TCPServer, log) {
        serviceActions(...a: unknown[]): unknown {
          if (++count === 5) five.resolve();
          return super.serviceActions(...a);
        }
      }
      const server = new Server([HOST, 0], ss.StreamRequestHandler, { timeout: 0.005 });
      const loop = serveInBackground(server, 0.01);
      try {
        await withTimeout(five.promise, 3000, 'five serviceActions() calls with pollInterval 0.01');
        await loop.stop();
        expect(log).to.not.include('handleTimeout');
        expect(log).to.not.include('getRequest');
      } finally {
        await loop.stop().catch(() => undefined);
        await server.serverClose();
      }
    });

    it('verifyRequest() false: no handler; shutdownRequest() still called (issue 26309)', async () => {
      const log: string[] = [];
      class Server extends recording(ss.TCPServer, log) {
        verifyRequest(...a: unknown[]): boolean {
          super.verifyRequest(...a);
          return false;
        }
      }
      const Handler = recordingHandler(ss.StreamRequestHandler, log);
      const server = new Server([HOST, 0], Handler);
      try {
        const c = await connect(server.serverAddress);
        const got = readToEnd(c);
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        expect((await got).length).to.equal(0); // EOF, nothing sent
        c.destroy();
        expect(log).to.deep.equal(['getRequest', 'verifyRequest', 'shutdownRequest', 'closeRequest']);
      } finally {
        await server.serverClose();
      }
    });

    it('an async verifyRequest() resolving false is awaited (a Promise is not "true")', async () => {
      const log: string[] = [];
      class Server extends recording(ss.TCPServer, log) {
        async verifyRequest(): Promise<boolean> {
          log.push('verifyRequest');
          return false;
        }
      }
      const Handler = recordingHandler(ss.StreamRequestHandler, log);
      const server = new Server([HOST, 0], Handler);
      try {
        const c = await connect(server.serverAddress);
        const got = readToEnd(c);
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        await got;
        c.destroy();
        expect(log).to.deep.equal(['getRequest', 'verifyRequest', 'shutdownRequest', 'closeRequest']);
      } finally {
        await server.serverClose();
      }
    });

    it('the handler gets request, clientAddress, server', async () => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      let h: any;
      let peer: unknown;
      class Handler extends ss.BaseRequestHandler {
        override handle(): void {
          // eslint-disable-next-line @typescript-eslint/no-this-alias
          h = this;
          peer = (this.request as { getPeerName(): unknown }).getPeerName();
        }
      }
      const server = new ss.TCPServer([HOST, 0], Handler);
      try {
        const c = await connect(server.serverAddress as [string, number]);
        const local = [c.localAddress, c.localPort];
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        c.destroy();
        expect(h.server).to.equal(server);
        expect(h.clientAddress).to.deep.equal(local);
        expect(peer).to.deep.equal(local);
      } finally {
        await server.serverClose();
      }
    });

    it('default handleError() writes the Python-format report to stderr', async () => {
      class Bad extends ss.BaseRequestHandler {
        override handle(): void {
          throw new Error('the handler failed on purpose');
        }
      }
      const server = new ss.TCPServer([HOST, 0], Bad);
      let local: [string, number] = ['', 0];
      try {
        const out = await captureStderr(async () => {
          const c = await connect(server.serverAddress as [string, number]);
          local = [c.localAddress!, c.localPort!];
          await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
          c.destroy();
        });
        const lines = out.split('\n');
        if (lines[lines.length - 1] === '') lines.pop();
        const dashes = '-'.repeat(40);
        expect(lines[0]).to.equal(dashes);
        expect(lines[1]).to.match(/^Exception occurred during processing of request from /);
        expect(lines[1]).to.include(local[0]);
        expect(lines[1]).to.include(String(local[1]));
        expect(lines.slice(2, -1).join('\n')).to.include('the handler failed on purpose');
        expect(lines.slice(2, -1).join('\n')).to.match(/\n\s+at /); // a stack
        expect(lines[lines.length - 1]).to.equal(dashes);
      } finally {
        await server.serverClose();
      }
    });

    for (const how of ['throws', 'rejects'] as const) {
      it(`a handler that ${how}: handleError() then shutdownRequest(), and the server keeps serving`, async () => {
        const log: string[] = [];
        let n = 0;
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const errors: any[] = [];
        class Server extends recording(ss.TCPServer, log) {
          handleError(request: unknown, clientAddress: unknown, error: unknown): void {
            log.push('handleError');
            errors.push([request, clientAddress, error]);
          }
        }
        class Handler extends ss.StreamRequestHandler {
          override handle(): Promise<void> | void {
            if (n++ === 0) {
              if (how === 'throws') throw new TypeError('boom');
              return Promise.reject(new TypeError('boom'));
            }
            return (async () => {
              await this.wfile.write(await this.rfile.readline());
            })();
          }
        }
        const server = new Server([HOST, 0], Handler);
        const loop = serveInBackground(server, 0.05);
        try {
          // No data from this client: closing unread data would reset it.
          const c = await connect(server.serverAddress);
          const first = await readToEnd(c);
          c.destroy();
          expect(first.length).to.equal(0);
          const second = await streamExchange(server.serverAddress, 'second\n');
          expect(second.toString()).to.equal('second\n');
          expect(errors).to.have.length(1);
          expect(errors[0][2]).to.be.instanceOf(TypeError);
          expect(errors[0][2].message).to.equal('boom');
          const firstReq = log.slice(0, log.indexOf('closeRequest') + 1);
          expect(firstReq).to.deep.equal([
            'getRequest',
            'verifyRequest',
            'processRequest',
            'finishRequest',
            'handleError',
            'shutdownRequest',
            'closeRequest',
          ]);
        } finally {
          await loop.stop();
          await server.serverClose();
        }
      });
    }

    for (const how of ['throws', 'rejects'] as const) {
      it(`finish() runs when handle() ${how}, not when setup() ${how}`, async () => {
        const log: string[] = [];
        let fail: 'setup' | 'handle' = 'handle';
        class Server extends ss.TCPServer {
          override handleError(): void {
            log.push('handleError');
          }
        }
        class Handler extends ss.StreamRequestHandler {
          override setup(): Promise<void> | void {
            log.push('setup');
            if (fail === 'setup') {
              if (how === 'throws') throw new Error('setup failed');
              return Promise.reject(new Error('setup failed'));
            }
            return super.setup();
          }
          override handle(): Promise<void> | void {
            log.push('handle');
            if (how === 'throws') throw new Error('handle failed');
            return Promise.reject(new Error('handle failed'));
          }
          override async finish(): Promise<void> {
            log.push('finish');
            await super.finish();
          }
        }
        const server = new Server([HOST, 0], Handler);
        try {
          for (const which of ['handle', 'setup'] as const) {
            fail = which;
            log.length = 0;
            const c = await connect(server.serverAddress as [string, number]);
            await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
            c.destroy();
            await closed(c);
            expect(log, which).to.deep.equal(
              which === 'handle' ? ['setup', 'handle', 'finish', 'handleError'] : ['setup', 'handleError'],
            );
          }
        } finally {
          await server.serverClose();
        }
      });
    }

    it('handleRequest() with timeout: handleTimeout() when no request comes', async () => {
      const log: string[] = [];
      const Server = recording(ss.TCPServer, log);
      const server = new Server([HOST, 0], ss.StreamRequestHandler, { timeout: 0.05 });
      try {
        const t0 = Date.now();
        await withTimeout(server.handleRequest(), 3000, 'handleRequest() with timeout 0.05');
        expect(Date.now() - t0).to.be.at.least(40);
        expect(log).to.deep.equal(['handleTimeout']);
      } finally {
        await server.serverClose();
      }
    });

    it('handleRequest() with timeout, UDP and a static timeout: handleTimeout()', async () => {
      const log: string[] = [];
      class Server extends recording(ss.UDPServer, log) {
        static timeout = 0.02;
      }
      const server = new Server([HOST, 0], ss.DatagramRequestHandler);
      try {
        await withTimeout(server.handleRequest(), 3000, 'handleRequest() with timeout 0.02');
        expect(log).to.deep.equal(['handleTimeout']);
      } finally {
        await server.serverClose();
      }
    });

    it('the instance timeout is read at handleRequest() time', async () => {
      const log: string[] = [];
      const Server = recording(ss.TCPServer, log);
      const server = new Server([HOST, 0], ss.StreamRequestHandler);
      try {
        server.timeout = 0.01;
        await withTimeout(server.handleRequest(), 3000, 'handleRequest() with timeout 0.01');
        expect(log).to.deep.equal(['handleTimeout']);
      } finally {
        await server.serverClose();
      }
    });

    it('handleRequest() with a timeout still serves a request that comes in time', async () => {
      const log: string[] = [];
      const Server = recording(ss.TCPServer, log);
      class Echo extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          await this.wfile.write(await this.rfile.readline());
        }
      }
      const server = new Server([HOST, 0], Echo, { timeout: 5 });
      try {
        const reply = streamExchange(server.serverAddress, 'in time\n');
        await withTimeout(server.handleRequest(), 3000, 'handleRequest()');
        expect((await reply).toString()).to.equal('in time\n');
        expect(log).to.not.include('handleTimeout');
      } finally {
        await server.serverClose();
      }
    });

    it('async hooks are awaited (an async handleError() finishes before shutdownRequest())', async () => {
      const log: string[] = [];
      class Server extends ss.TCPServer {
        override async handleError(): Promise<void> {
          log.push('handleError:start');
          await new Promise<void>((r) => setImmediate(r));
          log.push('handleError:end');
        }
        override async shutdownRequest(request: unknown): Promise<void> {
          log.push('shutdownRequest');
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          await (super.shutdownRequest as any).call(this, request);
        }
      }
      class Bad extends ss.BaseRequestHandler {
        override handle(): void {
          throw new Error('x');
        }
      }
      const server = new Server([HOST, 0], Bad);
      try {
        const c = await connect(server.serverAddress as [string, number]);
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        c.destroy();
        expect(log).to.deep.equal(['handleError:start', 'handleError:end', 'shutdownRequest']);
      } finally {
        await server.serverClose();
      }
    });
  });
}
