/**
 * The handler's fast paths (issue 13, item 1): readline(), read(n), line
 * iteration and recv() answer from what is buffered without an async step
 * of their own, and wfile.write() collects the replies to a pipelining
 * client (one whose next requests rfile already holds) into one send. Each
 * test shows that what a handler sees is unchanged: the bytes and their
 * order, coded errors, EOF and timeouts, and that a handler whose awaits
 * never wait still lets the other handlers of a ThreadingMixIn server run.
 * Real sockets on 127.0.0.1, both transports.
 */
import { expect } from 'chai';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as os from 'node:os';

import { closed, connect, deferred, HOST, readToEnd, serveInBackground, SockReader, transports, turns, until, withTimeout, type SS } from './helpers';

type SysErr = Error & { code?: string; errno?: number; syscall?: string };
const ERRNO = os.constants.errno as Record<string, number>;

/** Node's system-error shape; `syscalls`: the ones allowed (the js transport's writes say 'write'). */
function expectSystemError(e: unknown, codes: string[], syscalls: string[]): void {
  const err = e as SysErr;
  expect(err, 'an Error').to.be.instanceOf(Error);
  expect(codes, `code of ${err.stack}`).to.include(err.code);
  expect(err.errno, 'errno').to.equal(-ERRNO[err.code as string]);
  expect(syscalls, 'syscall').to.include(err.syscall);
}

/** The kernel's largest TCP send plus receive buffers: what loopback can hold in flight. */
function tcpBufferMax(): number {
  const max = (f: string): number => Number(fs.readFileSync(f, 'utf8').trim().split(/\s+/)[2]);
  return max('/proc/sys/net/ipv4/tcp_wmem') + max('/proc/sys/net/ipv4/tcp_rmem');
}

/** Reply `i` of the ordering test: sizes from 1 byte to 40 KiB, so both queued and direct writes occur. */
function replyOf(i: number): Buffer {
  const sizes = [1, 7, 100, 4096, 16383, 16384, 40000];
  const b = Buffer.alloc(sizes[i % sizes.length], 0x61 + (i % 26));
  if (b.length >= 8) b.write(`<${i % 100000}>`.padEnd(8, '.'), 0, 8, 'latin1');
  return b;
}

const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

for (const { name, ss } of transports) {
  describe(`handler fast paths (${name})`, function () {
    this.timeout(60_000);

    /** A TCP server (Threading when asked) recording handleError()s; stop() shuts it down and closes it. */
    function serve(s: SS, Handler: unknown, threading = false) {
      const errors: unknown[] = [];
      const Base = (threading ? s.ThreadingTCPServer : s.TCPServer) as unknown as typeof s.TCPServer;
      class Server extends Base {
        override handleError(_r: unknown, _a: unknown, error: unknown): void {
          errors.push(error);
        }
      }
      const server = new Server([HOST, 0], Handler as never);
      const loop = serveInBackground(server);
      return {
        errors,
        target: server.serverAddress as [string, number],
        async stop(): Promise<void> {
          await loop.stop();
          await server.serverClose();
        },
      };
    }

    it('pipelined requests: the replies arrive whole and in order, whatever mix of write(), flush(), sendAll() and sizes', async () => {
      const N = 3000;
      class H extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          for (let i = 0; ; i++) {
            const line = await this.rfile.readline();
            if (line.length === 0) return;
            expect(line.toString()).to.equal(`req ${i}\n`);
            const reply = replyOf(i);
            if (i % 11 === 5) await this.request.sendAll(reply);
            else if (i % 13 === 6) await this.wfile.write(reply.toString('latin1')); // a string (ASCII: the same bytes)
            else await this.wfile.write(reply);
            if (i % 17 === 3) await this.wfile.flush();
          }
        }
      }
      const srv = serve(ss, H);
      try {
        const c = await connect(srv.target);
        const all = readToEnd(c, 30000);
        // One write: the server's reads hold many requests at once (pipelining).
        c.end(Buffer.from(Array.from({ length: N }, (_, i) => `req ${i}\n`).join('')));
        const got = await all;
        const expected = Buffer.concat(Array.from({ length: N }, (_, i) => replyOf(i)));
        expect(got.length).to.equal(expected.length);
        expect(sha(got)).to.equal(sha(expected));
      } finally {
        await srv.stop();
      }
      expect(srv.errors).to.deep.equal([]);
    });

    it('a write() copies: the handler may reuse its buffer as soon as the write resolved', async () => {
      const N = 500;
      class H extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          const scratch = Buffer.alloc(12);
          for (let i = 0; i < N; i++) {
            await this.rfile.readline();
            scratch.write(`reply ${String(i).padStart(4, '0')}\n`, 'latin1');
            await this.wfile.write(scratch.subarray(0, 11));
            scratch.fill(0x78); // garbage in the same memory before it is (maybe) sent
          }
        }
      }
      const srv = serve(ss, H);
      try {
        const c = await connect(srv.target);
        const all = readToEnd(c, 30000);
        c.end('x\n'.repeat(N));
        const got = (await all).toString('latin1');
        expect(got).to.equal(Array.from({ length: N }, (_, i) => `reply ${String(i).padStart(4, '0')}\n`).join(''));
      } finally {
        await srv.stop();
      }
      expect(srv.errors).to.deep.equal([]);
    });

    it('readline(), read(n), recv() and iteration from the buffer: same bytes, same EOF', async () => {
      const seen: string[] = [];
      class H extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          seen.push((await this.rfile.readline()).toString()); // 'a\n'
          seen.push((await this.rfile.read(3)).toString()); // 'bcd'
          seen.push((await this.rfile.readline(2)).toString()); // 'ef' (limit)
          seen.push((await this.rfile.readline()).toString()); // 'g\n'
          seen.push((await this.rfile.read(0)).toString()); // ''
          for await (const line of this.rfile) seen.push(`it:${line.toString()}`); // 'h\n', 'i\n', 'tail'
          seen.push(`eof:${(await this.rfile.readline()).length}:${(await this.rfile.read(5)).length}:${(await this.rfile.read()).length}`);
          seen.push(`recv:${(await this.request.recv(10)).length}`);
        }
      }
      const srv = serve(ss, H);
      try {
        const c = await connect(srv.target);
        const all = readToEnd(c);
        c.end('a\nbcdefg\nh\ni\ntail');
        await all;
      } finally {
        await srv.stop();
      }
      expect(srv.errors).to.deep.equal([]);
      expect(seen).to.deep.equal(['a\n', 'bcd', 'ef', 'g\n', '', 'it:h\n', 'it:i\n', 'it:tail', 'eof:0:0:0', 'recv:0']);
    });

    it('tryReadline() and tryRead(): what readline()/read() would give when that needs no wait, else null and nothing consumed', async () => {
      const seen: unknown[] = [];
      const sent = deferred();
      class H extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          const rf = this.rfile;
          seen.push((await rf.readline()).toString()); // 'a\n': the rest of the first write is buffered now
          seen.push(rf.tryReadline()?.toString()); // 'b\n'
          seen.push(rf.tryRead(2)?.toString()); // 'cd'
          seen.push(rf.tryReadline(3)?.toString()); // 'efg' (limit)
          seen.push(rf.tryReadline()?.toString()); // '\n'
          seen.push(rf.tryReadline()); // 'h' has no end of line yet: null
          seen.push(rf.tryRead(5)); // only 'h' is there: null
          sent.resolve();
          seen.push((await rf.readline()).toString()); // 'hij\n': the 'h' was not consumed
          seen.push((rf.tryRead(3) ?? (await rf.read(3))).toString()); // 'klm'
          seen.push((rf.tryReadline() ?? (await rf.readline())).toString()); // 'end' then EOF
          seen.push(rf.tryReadline()?.length, rf.tryRead()?.length, rf.tryRead(4)?.length); // at EOF: empty, not null
          rf.close();
          try {
            rf.tryReadline();
          } catch (error) {
            seen.push((error as SysErr).code);
          }
        }
      }
      const srv = serve(ss, H);
      try {
        const c = await connect(srv.target);
        const all = readToEnd(c);
        c.write('a\nb\ncdefg\nh');
        await withTimeout(sent.promise, 5000, 'the handler to try');
        c.end('ij\nklmend');
        await all;
      } finally {
        await srv.stop();
      }
      expect(srv.errors).to.deep.equal([]);
      expect(seen).to.deep.equal(['a\n', 'b\n', 'cd', 'efg', '\n', null, null, 'hij\n', 'klm', 'end', 0, 0, 0, 'ERR_SOCKETSERVER_CLOSED']);
    });

    it('a read that must wait sends the queued replies first, and times out as before (ETIMEDOUT, coded)', async () => {
      let timedOut: unknown = null;
      class H extends ss.StreamRequestHandler {
        static override timeout = 0.3;
        override async handle(): Promise<void> {
          // Two requests in one read: the first reply is queued (the second request is buffered).
          await this.rfile.readline();
          await this.wfile.write('one\n');
          await this.rfile.readline();
          await this.wfile.write('two\n');
          try {
            await this.rfile.readline(); // nothing comes: the replies must have gone out before this waits
          } catch (error) {
            timedOut = error;
          }
          await this.wfile.write('timed out\n');
        }
      }
      const srv = serve(ss, H);
      try {
        const c = await connect(srv.target);
        const reader = new SockReader(c);
        c.write('1\n2\n');
        expect((await reader.readLine()).toString()).to.equal('one\n');
        expect((await reader.readLine()).toString()).to.equal('two\n');
        expect((await reader.readLine()).toString()).to.equal('timed out\n');
        c.destroy();
        await closed(c);
      } finally {
        await srv.stop();
      }
      expectSystemError(timedOut, ['ETIMEDOUT'], ['recv']);
      expect(srv.errors).to.deep.equal([]);
    });

    it('a failed send of queued replies is reported, coded, to the handler\'s next call, and serving goes on', async () => {
      const gate = deferred();
      const read = deferred();
      const writes: string[] = [];
      class H extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          const first = await this.rfile.readline(); // the three requests are buffered now
          if (first.toString() === 'ping\n') return void (await this.wfile.write('pong\n'));
          read.resolve();
          await gate.promise; // meanwhile the client resets
          for (let i = 0; i < 3; i++) {
            // The first two are queued (more input is buffered); the third sends them all, and fails.
            try {
              await this.wfile.write(`reply ${i}\n`);
              writes.push(`ok ${i}`);
            } catch (error) {
              writes.push(`failed ${i}: ${(error as SysErr).code}`);
              throw error;
            }
            if (i < 2) await this.rfile.readline();
          }
          await this.rfile.readline();
        }
      }
      const srv = serve(ss, H);
      try {
        const c: net.Socket = await connect(srv.target);
        c.write('a\nb\nc\n');
        await withTimeout(read.promise, 5000, 'the handler to read');
        c.resetAndDestroy();
        await closed(c);
        gate.resolve();
        await until(() => srv.errors.length > 0, 'the error to reach handleError()', 5000);
        // A second client is served.
        const d = await connect(srv.target);
        const reader = new SockReader(d);
        d.write('ping\n');
        expect((await reader.readLine()).toString()).to.equal('pong\n');
        d.destroy();
        await closed(d);
      } finally {
        gate.resolve();
        await srv.stop();
      }
      expect(srv.errors.length, `errors (writes ${writes.join(', ')})`).to.equal(1);
      expectSystemError(srv.errors[0], ['ECONNRESET', 'EPIPE'], ['send', 'write']);
      // The third write sends all three and fails; where the transport learns it
      // only later (node:net tells the write's callback), the next call reports it.
      expect(writes.slice(0, 2)).to.deep.equal(['ok 0', 'ok 1']);
      expect(['ok 2', `failed 2: ${(srv.errors[0] as SysErr).code}`]).to.include(writes[2]);
    });

    it('a client that pipelines and does not read: writes wait once the kernel is full (bounded), then nothing is lost', async () => {
      const N = 20000;
      const SIZE = 2048;
      let stalledAt = -1;
      const resumed = deferred();
      class H extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          const reply = Buffer.alloc(SIZE, 0x72);
          for (let i = 0; i < N; i++) {
            const line = await this.rfile.readline();
            if (line.length === 0) return;
            reply.writeUInt32BE(i, 0);
            const write = this.wfile.write(reply);
            if (stalledAt < 0) {
              // A write the kernel cannot take is still pending after a few turns of the loop.
              const pending = await Promise.race([write.then(() => false), turns(3).then(() => true)]);
              if (pending) {
                stalledAt = i;
                resumed.resolve();
              }
            }
            await write;
          }
        }
      }
      const srv = serve(ss, H);
      try {
        const c = await connect(srv.target);
        c.pause();
        c.write('r\n'.repeat(N));
        await withTimeout(resumed.promise, 20000, 'a write to wait');
        // What was taken before the handler had to wait: the kernel's buffers and the 64 KiB queue, not more.
        expect(stalledAt * SIZE).to.be.below(tcpBufferMax() + 256 * 1024);
        const all = readToEnd(c, 30000);
        c.resume();
        c.end();
        const got = await all;
        expect(got.length).to.equal(N * SIZE);
        for (let i = 0; i < N; i += 997) expect(got.readUInt32BE(i * SIZE)).to.equal(i);
      } finally {
        await srv.stop();
      }
      expect(stalledAt).to.be.above(0);
      expect(srv.errors).to.deep.equal([]);
    });

    it('ThreadingMixIn: a handler whose reads never wait (a flood already in the kernel) still lets another client be served', async () => {
      const LINES = 32768; // 31 bytes each: 1 MiB, in the kernel before the handler reads; read 64 KiB per loop turn at most
      let floodLines = 0;
      let floodAtOther = -1;
      let handlers = 0;
      let other: net.Socket | null = null;
      const otherWaiting = deferred();
      const gate = deferred();
      class H extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          if (handlers++ === 0) {
            // The first connection: the other client's.
            otherWaiting.resolve();
            await this.rfile.readline();
            floodAtOther = floodLines;
            await this.wfile.write('served\n');
            return;
          }
          await gate.promise;
          for (let line = await this.rfile.readline(); line.length > 0; line = await this.rfile.readline()) {
            // The other client's request reaches the kernel now, while this handler's reads never wait.
            if (++floodLines === 10) (other as net.Socket).write('other\n');
          }
          await this.wfile.write(`${floodLines}\n`);
        }
      }
      const srv = serve(ss, H, true);
      try {
        other = await connect(srv.target);
        const reader = new SockReader(other);
        await withTimeout(otherWaiting.promise, 5000, 'the other handler to wait for its request');
        const flood = await connect(srv.target);
        const floodReply = readToEnd(flood, 30000);
        await withTimeout(
          new Promise<void>((resolve) => flood.end(Buffer.alloc(31 * LINES, 'abcdefghijklmnopqrstuvwxyz0123\n'), resolve)),
          10000,
          'the flood to be in the kernel',
        );
        gate.resolve();
        expect((await reader.readLine(20000)).toString()).to.equal('served\n');
        other.destroy();
        await closed(other);
        expect((await floodReply).toString()).to.equal(`${LINES}\n`);
      } finally {
        gate.resolve();
        await srv.stop();
      }
      expect(srv.errors).to.deep.equal([]);
      // Native: at most 64 KiB read without a turn of the loop, plus the read that crossed it.
      // js: node:net hands over what it read in one poll phase (many 64 KiB reads) before others run.
      const bound = name === 'native' ? Math.ceil((72 * 1024) / 31) : LINES / 2;
      expect(floodAtOther, 'flood lines read when the other client was served').to.be.within(10, bound);
    });
  });
}
