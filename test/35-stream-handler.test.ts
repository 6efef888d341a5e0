/** StreamRequestHandler: rfile, wfile, settings (API.md "Request handlers"). */
import { expect } from 'chai';
import type * as net from 'node:net';

import { closed, connect, deferred, HOST, readToEnd, SockReader, transports, turns, withTimeout } from './helpers';

for (const { name, ss } of transports) {
  describe(`StreamRequestHandler (${name})`, () => {
    const C = ss.constants;

    /**
     * One request on a TCP server: the handler class, and a client function
     * run against the server's address. Returns the errors handleError() got.
     */
    async function oneRequest(
      Handler: new (...a: never[]) => object,
      client: (sock: net.Socket) => Promise<void>,
    ): Promise<unknown[]> {
      const errors: unknown[] = [];
      class Server extends ss.TCPServer {
        override handleError(_r: unknown, _a: unknown, error: unknown): void {
          errors.push(error);
        }
      }
      const server = new Server([HOST, 0], Handler as never);
      try {
        const serving = server.handleRequest();
        serving.catch(() => undefined);
        const sock = await connect(server.serverAddress as [string, number]);
        try {
          await client(sock);
          await withTimeout(serving, 5000, 'handleRequest()');
        } finally {
          sock.destroy();
        }
      } finally {
        await server.serverClose();
      }
      return errors;
    }

    const s = (b: Buffer | undefined): string | undefined => b?.toString();

    it('rfile.read(n): n bytes, fewer only at EOF', async () => {
      const got: Buffer[] = [];
      class H extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          got.push(await this.rfile.read(4));
          got.push(await this.rfile.read(10));
          got.push(await this.rfile.read(1));
        }
      }
      const errors = await oneRequest(H, async (c) => {
        const end = readToEnd(c);
        c.write('ab');
        await turns(3);
        c.write('cd');
        await turns(3);
        c.end('efg');
        await end;
      });
      expect(errors).to.deep.equal([]);
      expect(got.every((b) => Buffer.isBuffer(b))).to.equal(true);
      expect(got.map((b) => b.toString())).to.deep.equal(['abcd', 'efg', '']);
    });

    it('rfile.read(): everything to EOF (1 MiB)', async () => {
      let got: Buffer | undefined;
      const big = Buffer.alloc(1 << 20, 'x');
      class H extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          got = await this.rfile.read();
        }
      }
      const errors = await oneRequest(H, async (c) => {
        const end = readToEnd(c);
        c.write('head');
        c.end(big);
        await end;
      });
      expect(errors).to.deep.equal([]);
      expect(got!.length).to.equal(big.length + 4);
      expect(got!.subarray(0, 4).toString()).to.equal('head');
    });

    it('rfile.readline(limit?): through the newline, at most limit bytes, or to EOF', async () => {
      const got: Buffer[] = [];
      class H extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          got.push(await this.rfile.readline());
          got.push(await this.rfile.readline(2));
          got.push(await this.rfile.readline());
          got.push(await this.rfile.readline());
          got.push(await this.rfile.readline());
        }
      }
      const errors = await oneRequest(H, async (c) => {
        const end = readToEnd(c);
        c.end('one\ntwo\nthree');
        await end;
      });
      expect(errors).to.deep.equal([]);
      expect(got.map((b) => b.toString())).to.deep.equal(['one\n', 'tw', 'o\n', 'three', '']);
    });

    it('rfile.readlines() and for await', async () => {
      let lines: Buffer[] = [];
      const iterated: string[] = [];
      class H extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          const first = await this.rfile.readline();
          if (first.toString() === 'readlines\n') lines = await this.rfile.readlines();
          else for await (const line of this.rfile) iterated.push(line.toString());
        }
      }
      let errors = await oneRequest(H, async (c) => {
        const end = readToEnd(c);
        c.end('readlines\na\nb\nc');
        await end;
      });
      expect(errors).to.deep.equal([]);
      expect(lines.map((b) => b.toString())).to.deep.equal(['a\n', 'b\n', 'c']);
      errors = await oneRequest(H, async (c) => {
        const end = readToEnd(c);
        c.write('iterate\nx\n');
        await turns(2);
        c.end('y\nz');
        await end;
      });
      expect(errors).to.deep.equal([]);
      expect(iterated).to.deep.equal(['x\n', 'y\n', 'z']);
    });

    it('for await over rfile: a break keeps what follows for read(); iterating again after EOF yields nothing', async () => {
      const seen: string[] = [];
      let rest = '';
      let again = 0;
      class H extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          for await (const line of this.rfile) {
            seen.push(line.toString());
            if (line.toString() === 'stop\n') break;
          }
          rest = (await this.rfile.read()).toString();
          for await (const line of this.rfile) again += line.length;
        }
      }
      const errors = await oneRequest(H, async (c) => {
        const end = readToEnd(c);
        c.end('a\nstop\nb\nc');
        await end;
      });
      expect(errors).to.deep.equal([]);
      expect(seen).to.deep.equal(['a\n', 'stop\n']);
      expect(rest).to.equal('b\nc');
      expect(again).to.equal(0);
    });

    it('wfile.write() (unbuffered) returns the count and has sent the data when it resolves', async () => {
      const counts: number[] = [];
      const clientGotPing = deferred<void>();
      class H extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          counts.push(await this.wfile.write('ping\n'));
          // Without a flush, the client must see it now; else this times out.
          await withTimeout(clientGotPing.promise, 3000, 'the client to receive the unflushed write');
          counts.push(await this.wfile.write(Buffer.from('done\n')));
        }
      }
      const errors = await oneRequest(H, async (c) => {
        const r = new SockReader(c);
        expect((await r.readLine()).toString()).to.equal('ping\n');
        clientGotPing.resolve();
        expect((await r.readToEnd()).toString()).to.equal('done\n');
      });
      expect(errors).to.deep.equal([]);
      expect(counts).to.deep.equal([5, 5]);
    });

    it('wbufsize > 0 buffers until flush(); finish() flushes the rest', async () => {
      const counts: number[] = [];
      class H extends ss.StreamRequestHandler {
        static override wbufsize = 65536;
        override async handle(): Promise<void> {
          counts.push(await this.wfile.write('abc'));
          // Straight on the socket: arrives before the buffered bytes.
          await this.request.sendAll(Buffer.from('X'));
          await this.wfile.flush();
          counts.push(await this.wfile.write('tail'));
        }
      }
      let got = '';
      const errors = await oneRequest(H, async (c) => {
        got = (await readToEnd(c)).toString();
      });
      expect(errors).to.deep.equal([]);
      expect(got).to.equal('Xabctail');
      expect(counts).to.deep.equal([3, 4]);
    });

    it('an instance property wins over the static (wbufsize)', async () => {
      class H extends ss.StreamRequestHandler {
        static override wbufsize = 65536;
        override wbufsize = 0;
        override async handle(): Promise<void> {
          await this.wfile.write('abc');
          await this.request.sendAll(Buffer.from('X'));
        }
      }
      let got = '';
      const errors = await oneRequest(H, async (c) => {
        got = (await readToEnd(c)).toString();
      });
      expect(errors).to.deep.equal([]);
      expect(got).to.equal('abcX');
    });

    it('rbufsize 0: rfile reads no further than it must (the rest stays in the socket)', async () => {
      let line: Buffer | undefined;
      let rest = Buffer.alloc(0);
      class H extends ss.StreamRequestHandler {
        static override rbufsize = 0;
        override async handle(): Promise<void> {
          line = await this.rfile.readline();
          for (let i = 0; i < 100; i++) {
            const b = await this.request.recv(100);
            if (b.length === 0) break;
            rest = Buffer.concat([rest, b]);
          }
        }
      }
      const errors = await oneRequest(H, async (c) => {
        const end = readToEnd(c);
        c.end('line1\nrest');
        await end;
      });
      expect(errors).to.deep.equal([]);
      expect(s(line)).to.equal('line1\n');
      expect(rest.toString()).to.equal('rest');
    });

    it('timeout: a read that outlasts it fails with ETIMEDOUT, which reaches handleError()', async () => {
      let finished = false;
      class H extends ss.StreamRequestHandler {
        static override timeout = 0.05;
        override async handle(): Promise<void> {
          await this.rfile.readline();
        }
        override async finish(): Promise<void> {
          finished = true;
          await super.finish();
        }
      }
      const errors = await oneRequest(H, async (c) => {
        // Sends nothing; the server gives up and closes.
        await readToEnd(c, 5000);
      });
      expect(errors).to.have.length(1);
      expect((errors[0] as { code?: string }).code).to.equal('ETIMEDOUT');
      expect(finished).to.equal(true);
    });

    it('timeout as an instance property', async () => {
      class H extends ss.StreamRequestHandler {
        override timeout = 0.05;
        override async handle(): Promise<void> {
          await this.rfile.read(10);
        }
      }
      const errors = await oneRequest(H, async (c) => {
        await readToEnd(c, 5000);
      });
      expect(errors).to.have.length(1);
      expect((errors[0] as { code?: string }).code).to.equal('ETIMEDOUT');
    });

    it('disableNagleAlgorithm sets TCP_NODELAY on the connection', async function () {
      const seen: number[] = [];
      let supported = true;
      class H extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          const req = this.request as unknown as { getSockOpt?: (l: number, n: number) => number };
          if (typeof req.getSockOpt !== 'function') {
            supported = false;
            return;
          }
          seen.push(req.getSockOpt(C.IPPROTO_TCP, C.TCP_NODELAY));
        }
      }
      class Nagle extends H {
        static override disableNagleAlgorithm = true;
      }
      for (const cls of [H, Nagle]) {
        const errors = await oneRequest(cls, async (c) => {
          await readToEnd(c);
        });
        expect(errors).to.deep.equal([]);
      }
      if (!supported) this.skip(); // no request.getSockOpt() to observe it
      expect(seen[0]).to.equal(0);
      expect(seen[1]).to.not.equal(0);
    });

    it('setup() makes connection (= request), rfile, wfile; finish() closes both files', async () => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      let h: any;
      class H extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          // eslint-disable-next-line @typescript-eslint/no-this-alias
          h = this;
          expect(this.connection).to.equal(this.request);
          expect(this.rfile.closed).to.equal(false);
          expect(this.wfile.closed).to.equal(false);
          expect(this.wfile.fileno()).to.equal(this.request.fileno());
        }
      }
      const errors = await oneRequest(H, async (c) => {
        await readToEnd(c);
      });
      expect(errors).to.deep.equal([]);
      expect(h.wfile.closed).to.equal(true);
      expect(h.rfile.closed).to.equal(true);
    });

    it('finish() ignores a socket error while flushing (the client reset)', async () => {
      const clientGone = deferred<void>();
      const lineRead = deferred<void>();
      let finished = false;
      class H extends ss.StreamRequestHandler {
        static override wbufsize = 1 << 20;
        override async handle(): Promise<void> {
          await this.rfile.readline();
          lineRead.resolve();
          await withTimeout(clientGone.promise, 3000, 'the client reset');
          await this.wfile.write(Buffer.alloc(200000, 'z')); // held in the buffer
        }
        override async finish(): Promise<void> {
          await super.finish();
          finished = true;
        }
      }
      const errors = await oneRequest(H, async (c) => {
        c.write('go\n');
        await withTimeout(lineRead.promise, 3000, 'the handler to read the line');
        c.resetAndDestroy();
        await closed(c);
        clientGone.resolve();
      });
      expect(finished).to.equal(true);
      expect(errors).to.deep.equal([]);
    });
  });
}
