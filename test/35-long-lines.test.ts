/**
 * Long lines and long reads (issue 12, item 3): rfile.readline() and
 * read() of data that spans many recv()s return every byte in order, and
 * cost linear work. The cost is asserted by what it allocates, counted
 * deterministically (never by a clock): reading a line of n bytes that
 * arrives in 8 KiB reads may allocate a few times n, not a copy of all
 * that came so far per read (that was ~n²/16 KiB: 1 GiB for 4 MiB).
 */
import { expect } from 'chai';
import * as crypto from 'node:crypto';
import type * as net from 'node:net';

import { connect, HOST, readToEnd, transports, withTimeout } from './helpers';

/** Deterministic bytes with no '\n' in them. */
function noNewlines(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = 0x20 + ((i * 31 + seed) % 90);
  return b;
}

const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

/**
 * Counts the bytes that Buffer.allocUnsafe() and Buffer.concat() hand out
 * while `counting` is true: the reader's own allocations for a line.
 */
class AllocationCounter {
  bytes = 0;
  counting = false;
  #restore: (() => void) | null = null;
  install(): void {
    const { allocUnsafe, concat } = Buffer;
    const self = this;
    Buffer.allocUnsafe = function (size: number) {
      if (self.counting) self.bytes += size;
      return allocUnsafe.call(Buffer, size);
    } as typeof Buffer.allocUnsafe;
    Buffer.concat = function (list: readonly Uint8Array[], total?: number) {
      const out = concat.call(Buffer, list, total);
      if (self.counting) self.bytes += out.length;
      return out;
    } as typeof Buffer.concat;
    this.#restore = () => {
      Buffer.allocUnsafe = allocUnsafe;
      Buffer.concat = concat;
    };
  }
  uninstall(): void {
    this.#restore?.();
    this.#restore = null;
  }
}

for (const { name, ss } of transports) {
  describe(`long lines and reads (${name})`, function () {
    this.timeout(60000);

    /** One request on a TCP server; the client writes `data` in pieces, then ends. */
    async function oneRequest(Handler: new (...a: never[]) => object, data: Buffer, piece = 65536): Promise<{ errors: unknown[]; reply: Buffer }> {
      const errors: unknown[] = [];
      class Server extends ss.TCPServer {
        override handleError(_r: unknown, _a: unknown, error: unknown): void {
          errors.push(error);
        }
      }
      const server = new Server([HOST, 0], Handler as never);
      let reply: Buffer = Buffer.alloc(0);
      try {
        const serving = server.handleRequest();
        serving.catch(() => undefined);
        const sock: net.Socket = await connect(server.serverAddress as [string, number]);
        try {
          const end = readToEnd(sock, 30000);
          for (let off = 0; off < data.length; off += piece) sock.write(data.subarray(off, off + piece));
          sock.end();
          reply = await end;
          await withTimeout(serving, 30000, 'handleRequest()');
        } finally {
          sock.destroy();
        }
      } finally {
        await server.serverClose();
      }
      return { errors, reply };
    }

    for (const rbufsize of [-1, 0, 1024]) {
      it(`readline() returns a 2 MiB line whole, then the rest (rbufsize ${rbufsize})`, async () => {
        const line = Buffer.concat([noNewlines(2 * 1024 * 1024 + 17, rbufsize + 2), Buffer.from('\n')]);
        const got: Buffer[] = [];
        class H extends ss.StreamRequestHandler {
          static override rbufsize = rbufsize;
          override async handle(): Promise<void> {
            got.push(await this.rfile.readline());
            got.push(await this.rfile.readline());
            got.push(await this.rfile.readline());
          }
        }
        // Unbuffered reads one byte per recv(): a shorter line keeps that bounded in time.
        const data = rbufsize === 0 ? Buffer.concat([line.subarray(-65537), Buffer.from('tail')]) : Buffer.concat([line, Buffer.from('tail')]);
        const { errors } = await oneRequest(H, data, 7000);
        expect(errors).to.deep.equal([]);
        const expected = rbufsize === 0 ? line.subarray(-65537) : line;
        expect(got[0].length).to.equal(expected.length);
        expect(sha(got[0])).to.equal(sha(expected));
        expect(got[1].toString()).to.equal('tail');
        expect(got[2].length).to.equal(0);
      });
    }

    it('readline(limit) on a long line returns limit bytes at a time, in order, across many reads', async () => {
      const body = noNewlines(300000, 5);
      const got: Buffer[] = [];
      class H extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          for (let i = 0; i < 10; i++) {
            const part = await this.rfile.readline(100000);
            if (part.length === 0) break;
            got.push(part);
          }
        }
      }
      const { errors } = await oneRequest(H, Buffer.concat([body, Buffer.from('\nend\n')]), 3000);
      expect(errors).to.deep.equal([]);
      expect(got.map((b) => b.length)).to.deep.equal([100000, 100000, 100000, 1, 4]);
      expect(sha(Buffer.concat(got.slice(0, 3)))).to.equal(sha(body));
      expect(got[3].toString()).to.equal('\n');
      expect(got[4].toString()).to.equal('end\n');
    });

    it('read(n) and read() to EOF return every byte in order across many reads', async () => {
      const data = noNewlines(3 * 1024 * 1024, 9);
      const got: Buffer[] = [];
      class H extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          got.push(await this.rfile.readline(10)); // a head taken first, so the rest spans head and appended reads
          got.push(await this.rfile.read(1000000));
          got.push(await this.rfile.read());
          got.push(await this.rfile.read());
        }
      }
      const { errors } = await oneRequest(H, data, 5000);
      expect(errors).to.deep.equal([]);
      expect(got.map((b) => b.length)).to.deep.equal([10, 1000000, data.length - 1000010, 0]);
      expect(sha(Buffer.concat(got))).to.equal(sha(data));
    });

    for (const [what, size] of [
      ['readline() of a 4 MiB line', 4 * 1024 * 1024],
      ['read() to EOF of 4 MiB', 4 * 1024 * 1024],
    ] as const) {
      it(`${what} arriving in 8 KiB reads allocates at most 4× its size (linear, not a copy per read)`, async () => {
        const counter = new AllocationCounter();
        const body = noNewlines(size, 3);
        const data = what.startsWith('readline') ? Buffer.concat([body, Buffer.from('\n')]) : body;
        let length = -1;
        class H extends ss.StreamRequestHandler {
          static override rbufsize = 8192;
          override async handle(): Promise<void> {
            // The first byte in, so the whole line spans reads that arrive while it is read.
            await this.rfile.read(1);
            counter.counting = true;
            try {
              length = (what.startsWith('readline') ? await this.rfile.readline() : await this.rfile.read()).length;
            } finally {
              counter.counting = false;
            }
          }
        }
        counter.install();
        try {
          const { errors } = await oneRequest(H, data, 8192);
          expect(errors).to.deep.equal([]);
        } finally {
          counter.uninstall();
        }
        expect(length).to.equal(data.length - 1);
        expect(counter.bytes, `bytes allocated for ${data.length} bytes`).to.be.at.most(4 * data.length);
      });
    }
  });
}
