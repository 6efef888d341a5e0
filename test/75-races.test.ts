// Issue 5, life-cycle races: shutdown() and serverClose() while requests
// are in flight and while clients connect; shutdown() before the loop,
// twice, from inside a handler; datagram servers shut down and closed while
// datagrams arrive. What API.md says, exactly:
// - shutdown() stops the loop and resolves once it has; at once when no
//   loop runs; from inside a handler it must not be awaited there, and the
//   loop stops after that handler.
// - serverClose() closes the listening socket; ThreadingMixIn with
//   blockOnClose (the default) then waits for in-flight non-daemon
//   requests; daemonThreads are not waited for.
// Nothing may hang: every wait here is bounded.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { expect } from 'chai';
import * as net from 'node:net';

import {
  fdsBackTo,
  targetOf,
  closed,
  connect,
  deferred,
  fdCount,
  HOST,
  serveInBackground,
  SockReader,
  TempDir,
  transports,
  turns,
  UdpClient,
  UnixDgramClient,
  until,
  withTimeout,
  type Deferred,
  type SS,
} from './helpers';

type SysErr = Error & { code?: string; errno?: number; syscall?: string };
type Kind = 'tcp' | 'unix';
type Target = [string, number] | string;



/** Resolves with whether `p` settled within `ms` (it keeps running either way). */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  return r;
}

/** True once `p` has settled, checked after letting the event loop turn `n` times. */
async function settledAfterTurns(p: Promise<unknown>, n: number): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await turns(n);
  return done;
}

/**
 * One client's whole exchange, bounded: connect, send a line, read to EOF.
 * Its outcome: 'reply <text>', 'eof' (closed with nothing), or an error code.
 */
function client(target: Target, line: string, ms = 8000): Promise<string> {
  return new Promise<string>((resolve) => {
    const s = typeof target === 'string' ? net.connect({ path: target }) : net.connect({ host: target[0], port: target[1] });
    let got = '';
    let settled = false;
    const finish = (outcome: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish('HANG'), ms);
    s.on('connect', () => s.write(line));
    s.on('data', (d: Buffer) => {
      got += d.toString();
    });
    s.on('error', (e: SysErr) => finish(got ? `reply ${got} then ${e.code}` : (e.code ?? 'error')));
    s.on('end', () => finish(got ? `reply ${got}` : 'eof'));
    s.on('close', () => finish(got ? `reply ${got}` : 'eof'));
  });
}

function streamServer(ss: SS, kind: Kind, threading: boolean): any {
  if (kind === 'unix') return threading ? ss.ThreadingUnixStreamServer : ss.UnixStreamServer;
  return threading ? ss.ThreadingTCPServer : ss.TCPServer;
}

for (const { name, ss, caps } of transports) {
  describe(`life-cycle races (${name})`, function () {
    this.timeout(60_000);
    const tmp = new TempDir('ss-races-');
    after(() => tmp.cleanup());
    const addressOf = (kind: Kind): Target => (kind === 'unix' ? tmp.path() : [HOST, 0]);

    before(async () => {
      // Descriptors a process opens once and keeps, opened before any baseline.
      for (const kind of ['tcp', 'unix'] as Kind[]) {
        const Server = streamServer(ss, kind, true);
        const s = new Server(addressOf(kind), class extends ss.StreamRequestHandler {
          override async handle(): Promise<void> {
            await this.wfile.write(await this.rfile.readline());
          }
        });
        const loop = serveInBackground(s);
        expect(await client(targetOf(s), 'warm\n')).to.equal('reply warm\n');
        await loop.stop();
        await s.serverClose();
      }
    });

    // ------------------------------------------------------------ in flight

    for (const kind of ['tcp', 'unix'] as Kind[]) {
      it(`shutdown() with 5 requests in flight (Threading, ${kind}): the loop stops at once, the requests finish, no reply lost; serverClose() waits for them`, async () => {
        const N = 5;
        const gate = deferred();
        const started: string[] = [];
        class H extends ss.StreamRequestHandler {
          override async handle(): Promise<void> {
            const line = (await this.rfile.readline()).toString();
            started.push(line);
            await withTimeout(gate.promise, 10_000, 'the gate');
            await this.wfile.write(`done ${line}`);
          }
        }
        const baseline = fdCount();
        const Server = streamServer(ss, kind, true);
        const server = new Server(addressOf(kind), H);
        const target = targetOf(server);
        const loop = serveInBackground(server, 10); // a long pollInterval: shutdown() must wake it
        try {
          const replies = Array.from({ length: N }, (_, i) => client(target, `req ${i}\n`, 15_000));
          await until(() => started.length === N, `${N} handlers waiting at the gate`, 5000);
          await withTimeout(server.shutdown(), 3000, 'shutdown() with requests in flight');
          expect(await settlesWithin(loop.done, 3000), 'serveForever() resolved').to.equal(true);
          expect(server._threads.size, 'requests still in flight').to.equal(N);
          // serverClose() waits for them (blockOnClose) ...
          const closing = Promise.resolve(server.serverClose());
          expect(await settledAfterTurns(closing, 50), 'serverClose() before the gate opens').to.equal(false);
          expect(server.socket.fileno(), 'the listening socket is closed at once').to.equal(-1);
          // ... and they all complete, every reply whole.
          gate.resolve();
          await withTimeout(closing, 5000, 'serverClose() once the requests are done');
          expect(server._threads.size).to.equal(0);
          const got = (await Promise.all(replies)).sort();
          expect(got).to.deep.equal(Array.from({ length: N }, (_, i) => `reply done req ${i}\n`).sort());
        } finally {
          gate.resolve();
          await withTimeout(Promise.resolve(server.serverClose()), 5000, 'serverClose()').catch(() => undefined);
        }
        await fdsBackTo(baseline, 'after shutdown with requests in flight');
      });

      it(`daemonThreads: serverClose() does not wait for in-flight requests, which still complete (${kind})`, async () => {
        const gate = deferred();
        let started = 0;
        class H extends ss.StreamRequestHandler {
          override async handle(): Promise<void> {
            const line = (await this.rfile.readline()).toString();
            started++;
            await withTimeout(gate.promise, 10_000, 'the gate');
            await this.wfile.write(`done ${line}`);
          }
        }
        const baseline = fdCount();
        const Server = streamServer(ss, kind, true);
        const server = new Server(addressOf(kind), H, { daemonThreads: true });
        const target = targetOf(server);
        const loop = serveInBackground(server);
        try {
          const replies = [client(target, 'a\n'), client(target, 'b\n')];
          await until(() => started === 2, 'two handlers at the gate', 5000);
          await loop.stop();
          await withTimeout(Promise.resolve(server.serverClose()), 1000, 'serverClose() not waiting for daemon requests');
          gate.resolve();
          expect((await Promise.all(replies)).sort()).to.deep.equal(['reply done a\n', 'reply done b\n']);
        } finally {
          gate.resolve();
          await withTimeout(Promise.resolve(server.serverClose()), 5000, 'serverClose()').catch(() => undefined);
        }
        await fdsBackTo(baseline, 'after daemon requests');
      });
    }

    // ------------------------------------------------------------ clients connecting

    for (const kind of ['tcp', 'unix'] as Kind[]) {
      for (const how of ['shutdown() then serverClose()', 'serverClose() alone, the loop running'] as const) {
        it(`${how} while 120 clients connect (Threading, ${kind}): each gets its reply or a connection error, none hangs; every started request is answered`, async () => {
          const N = 120;
          const started = new Set<string>();
          let handled = 0;
          class H extends ss.StreamRequestHandler {
            override async handle(): Promise<void> {
              const line = (await this.rfile.readline()).toString();
              if (line.length === 0) return;
              started.add(line);
              handled++;
              await turns(1); // in flight across a loop turn
              await this.wfile.write(`done ${line}`);
            }
          }
          const baseline = fdCount();
          const Server = streamServer(ss, kind, true);
          const server = new Server(addressOf(kind), H, { requestQueueSize: 128 });
          const target = targetOf(server);
          const loop = serveInBackground(server);
          let outcomes: string[] = [];
          try {
            const all: Array<Promise<string>> = [];
            // Waves of 20 clients at once; the close comes after the 40th request.
            let closing: Promise<unknown> | null = null;
            for (let wave = 0; wave < N / 20; wave++) {
              for (let i = 0; i < 20; i++) all.push(client(target, `c ${wave * 20 + i}\n`));
              if (closing === null && wave >= 1) {
                await until(() => handled >= 40, '40 requests handled', 5000);
                closing =
                  how === 'serverClose() alone, the loop running'
                    ? Promise.resolve(server.serverClose())
                    : server.shutdown().then(() => server.serverClose());
              }
              await turns(1);
            }
            outcomes = await withTimeout(Promise.all(all), 20_000, 'every client to finish');
            await withTimeout(closing as Promise<unknown>, 5000, 'the close');
            expect(await settlesWithin(loop.done, 5000), 'serveForever() settled').to.equal(true);
          } finally {
            await withTimeout(Promise.resolve(server.serverClose()), 5000, 'serverClose()').catch(() => undefined);
          }
          const replies = outcomes.filter((o) => o.startsWith('reply '));
          const failures = outcomes.filter((o) => !o.startsWith('reply '));
          expect(outcomes.filter((o) => o === 'HANG'), 'clients that hung').to.deep.equal([]);
          // A connection error, or a connection closed unanswered (taken from
          // the kernel but closed with the listener before a handler ran).
          for (const f of failures) expect(['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'EPIPE', 'eof']).to.include(f);
          // Every request a handler started was answered, in full.
          for (const line of started) expect(outcomes, `the reply to ${line.trim()}`).to.include(`reply done ${line}`);
          for (const r of replies) expect(r).to.match(/^reply done c \d+\n$/);
          expect(replies.length).to.equal(started.size);
          expect(replies.length).to.be.at.least(40);
          expect(server._threads.size).to.equal(0);
          await fdsBackTo(baseline, 'after the close with clients connecting');
        });
      }
    }

    // ------------------------------------------------------------ shutdown() calls

    for (const threading of [false, true]) {
      const cls = threading ? 'ThreadingTCPServer' : 'TCPServer';
      it(`shutdown() before serveForever(), twice at once, and again after (${cls}): each resolves, nothing hangs, the loop serves in between`, async () => {
        class H extends ss.StreamRequestHandler {
          override async handle(): Promise<void> {
            await this.wfile.write(`echo ${(await this.rfile.readline()).toString()}`);
          }
        }
        const Server = streamServer(ss, 'tcp', threading);
        const server = new Server([HOST, 0], H);
        const target = targetOf(server);
        try {
          // No loop: resolves at once, and leaves nothing behind that would stop the next loop.
          await withTimeout(server.shutdown(), 1000, 'shutdown() with no loop');
          await withTimeout(server.shutdown(), 1000, 'shutdown() with no loop, again');
          const loop = server.serveForever(10);
          expect(await client(target, 'one\n')).to.equal('reply echo one\n');
          // Twice at once: both resolve, with the loop stopped.
          const a = server.shutdown();
          const b = server.shutdown();
          await withTimeout(Promise.all([a, b]), 3000, 'two shutdown() calls');
          expect(await settlesWithin(loop, 1000), 'serveForever() resolved').to.equal(true);
          await loop;
          // After the loop: resolves at once again; the loop may be run again.
          await withTimeout(server.shutdown(), 1000, 'shutdown() after the loop stopped');
          const again = server.serveForever(10);
          expect(await client(target, 'two\n')).to.equal('reply echo two\n');
          await withTimeout(server.shutdown(), 3000, 'shutdown() of the second loop');
          await withTimeout(again, 1000, 'the second loop');
          // After serverClose(): resolves at once.
          await server.serverClose();
          await withTimeout(server.shutdown(), 1000, 'shutdown() after serverClose()');
        } finally {
          await withTimeout(Promise.resolve(server.serverClose()), 5000, 'serverClose()').catch(() => undefined);
        }
      });

      it(`shutdown() from inside a handler (${cls}), others in flight: the loop stops after it, every accepted request is answered`, async () => {
        const gate = deferred();
        let inFlight = 0;
        let shutdownFromHandler: Promise<void> | undefined;
        class H extends ss.StreamRequestHandler {
          override async handle(): Promise<void> {
            const line = (await this.rfile.readline()).toString();
            if (line === 'stop\n') {
              shutdownFromHandler = (this.server as any).shutdown(); // not awaited here, as API.md says
              await this.wfile.write('stopping\n');
              return;
            }
            inFlight++;
            await withTimeout(gate.promise, 10_000, 'the gate');
            await this.wfile.write(`done ${line}`);
          }
        }
        const Server = streamServer(ss, 'tcp', threading);
        const server = new Server([HOST, 0], H);
        const target = targetOf(server);
        const loop = server.serveForever(10);
        loop.catch(() => undefined);
        try {
          const waiting = threading ? [client(target, 'w1\n'), client(target, 'w2\n')] : [];
          if (threading) await until(() => inFlight === 2, 'two requests in flight', 5000);
          expect(await client(target, 'stop\n')).to.equal('reply stopping\n');
          expect(await settlesWithin(loop, 3000), 'serveForever() resolved after the handler').to.equal(true);
          await loop;
          expect(shutdownFromHandler).to.not.equal(undefined);
          await withTimeout(shutdownFromHandler as Promise<void>, 1000, "the handler's shutdown()");
          gate.resolve();
          expect((await Promise.all(waiting)).sort()).to.deep.equal(threading ? ['reply done w1\n', 'reply done w2\n'] : []);
          // The loop can be run again.
          const again = server.serveForever(10);
          const c = await connect(target);
          const reader = new SockReader(c);
          c.write('after\n');
          const r = (await reader.readLine()).toString();
          c.destroy();
          await closed(c);
          await withTimeout(server.shutdown(), 3000, 'shutdown()');
          await again;
          expect(r).to.equal('done after\n');
        } finally {
          gate.resolve();
          await withTimeout(Promise.resolve(server.serverClose()), 5000, 'serverClose()').catch(() => undefined);
        }
      });
    }

    for (const kind of ['tcp', 'unix'] as Kind[]) {
      for (const threading of [false, true]) {
        for (const when of ['after a request', 'in the same tick'] as const) {
          // serverClose() while the loop is armed, before the serve thread
          // reached poll(): the thread stops without reporting, so close()
          // itself answers the pending wait ("woken"; the socket is closed).
          it(`serverClose() ${when} of serveForever(), no shutdown() (${threading ? 'Threading' : 'plain'}, ${kind}): the loop ends, nothing hangs or leaks`, async () => {
            const baseline = fdCount();
            const Server = streamServer(ss, kind, threading);
            const server = new Server(addressOf(kind), class extends ss.StreamRequestHandler {
              override async handle(): Promise<void> {
                await this.wfile.write(await this.rfile.readline());
              }
            });
            const loop: Promise<void> = server.serveForever(10);
            loop.catch(() => undefined);
            if (when === 'after a request') {
              expect(await client(targetOf(server), 'first\n')).to.equal('reply first\n');
              await turns(5);
            }
            await withTimeout(Promise.resolve(server.serverClose()), 3000, 'serverClose()');
            expect(await settlesWithin(loop, 3000), 'serveForever() settled after serverClose()').to.equal(true);
            const outcome = await loop.then(
              () => 'resolved',
              (e: SysErr) => e.code,
            );
            expect(['resolved', 'ERR_SOCKETSERVER_CLOSED']).to.include(outcome);
            await withTimeout(server.shutdown(), 1000, 'shutdown() after');
            const refused = await client(targetOf(server), 'x\n', 3000);
            expect(['ECONNREFUSED', 'ENOENT']).to.include(refused);
            await fdsBackTo(baseline, 'after serverClose() under a running loop');
          });
        }
      }
    }

    // ------------------------------------------------------------ datagrams

    type DgramKind = 'udp' | 'unix-dgram';
    for (const kind of ['udp', 'unix-dgram'] as DgramKind[]) {
      for (const threading of [false, true]) {
        const cls = `${threading ? 'Threading' : ''}${kind === 'udp' ? 'UDPServer' : 'UnixDatagramServer'}`;
        it(`${cls}: shutdown() and serverClose() while datagrams arrive: the loop stops at once, in-flight requests finish, no crash or leak`, async function () {
          if (kind === 'unix-dgram' && !caps.unixDatagram) this.skip(); // refused at construction (tested in 60)
          const errors: SysErr[] = [];
          const gate: Deferred<void> = deferred();
          let handled = 0;
          let gated = 0;
          // Only the held requests reply: a client that reads nothing would
          // otherwise fill its queue and stall the server's sendto() (see the
          // test below for what then happens).
          class H extends ss.BaseRequestHandler<any> {
            override async handle(): Promise<void> {
              handled++;
              const [packet, socket] = this.request as [Buffer, any];
              if (!threading || !packet.toString().startsWith('hold')) return;
              gated++;
              await withTimeout(gate.promise, 10_000, 'the gate');
              await socket.sendTo(packet, this.clientAddress);
            }
          }
          const Base: new (...args: any[]) => any =
            kind === 'udp' ? (threading ? ss.ThreadingUDPServer : ss.UDPServer) : threading ? ss.ThreadingUnixDatagramServer : ss.UnixDatagramServer;
          class Server extends Base {
            handleError(_r: unknown, _a: unknown, e: unknown): void {
              errors.push(e as SysErr);
            }
          }
          const baseline = fdCount();
          const server = new Server(kind === 'udp' ? [HOST, 0] : tmp.path(), H);
          const to = server.serverAddress;
          const udp = kind === 'udp' ? await UdpClient.open() : null;
          const unix = kind === 'unix-dgram' ? new UnixDgramClient(tmp.path('client')) : null;
          let sent = 0;
          const send = async (text: string): Promise<void> => {
            try {
              if (udp) await udp.send(text, to);
              else unix!.sendTo(text, to);
              sent++;
            } catch {
              // would block, or the server is gone (ECONNREFUSED/ENOENT): a datagram lost, as datagrams may be
            }
          };
          let stopBlast = false;
          // A bounded stream of datagrams: at most 3000, a loop turn every 20.
          const blast = (async () => {
            for (let i = 0; i < 3000 && !stopBlast; i++) {
              await send(`d ${i}`);
              if (i % 20 === 19) await turns(1);
            }
          })();
          try {
            const loop = serveInBackground(server, 10);
            if (threading) for (let i = 0; i < 3; i++) await send(`hold ${i}`);
            await until(() => handled >= 50 && (!threading || gated === 3), 'datagrams handled', 5000);
            await withTimeout(server.shutdown(), 3000, 'shutdown() while datagrams arrive');
            expect(await settlesWithin(loop.done, 3000), 'serveForever() resolved').to.equal(true);
            const afterStop = handled;
            await turns(20);
            expect(handled - afterStop, 'requests handled after the loop stopped').to.equal(0);
            // Loop again; stop it and close while the datagrams still come.
            // (shutdown() first, as Python's documentation does: serverClose()
            // alone is tested above.)
            const again = serveInBackground(server, 10);
            await until(() => handled >= afterStop + 20, 'the second loop serving', 5000);
            await withTimeout(server.shutdown(), 3000, 'shutdown() of the second loop');
            const closing = Promise.resolve(server.serverClose());
            if (threading) {
              expect(await settledAfterTurns(closing, 30), 'serverClose() while requests are held').to.equal(false);
              gate.resolve();
            }
            await withTimeout(closing, 5000, 'serverClose()');
            expect(await settlesWithin(again.done, 1000), 'the second loop settled').to.equal(true);
            stopBlast = true;
            await withTimeout(blast, 10_000, 'the sender');
            // The held requests replied after the close: their sendTo() on
            // the closed socket failed, into handleError(), as in Python.
            for (const e of errors) expect(['ERR_SOCKETSERVER_CLOSED', 'EBADF']).to.include(e.code);
            expect(errors.length, 'the held replies failed').to.equal(threading ? 3 : 0);
            expect(sent).to.be.at.least(50);
          } finally {
            stopBlast = true;
            gate.resolve();
            await blast.catch(() => undefined);
            udp?.close();
            unix?.close();
            await withTimeout(Promise.resolve(server.serverClose()), 5000, 'serverClose()').catch(() => undefined);
          }
          await fdsBackTo(baseline, `after ${cls} was closed under datagrams`);
        });
      }
    }

    // Concurrent replies of a Threading datagram server to a client whose
    // queue is full share one writability wait (the addon takes one waiter
    // per direction), and serverClose() wakes it: every reply ends with a
    // coded error, and serverClose() returns.
    it('ThreadingUnixDatagramServer replying to a client that reads nothing: replies fail only with system errors, serverClose() returns', async function () {
      if (!caps.unixDatagram) this.skip();
      const errors: SysErr[] = [];
      const Base: new (...args: any[]) => any = ss.ThreadingUnixDatagramServer as any;
      class Server extends Base {
        handleError(_r: unknown, _a: unknown, e: unknown): void {
          errors.push(e as SysErr);
        }
      }
      const server = new Server(tmp.path(), ss.DatagramRequestHandler); // echoes nothing: an empty reply each
      const c = new UnixDgramClient(tmp.path('deaf'));
      let handled = 0;
      const loop = serveInBackground(server);
      let closed = false;
      try {
        // Send until the client's queue is full and a reply has to wait (or
        // fails): how many that takes depends on the kernel's queue limits
        // and on how fast the server drains its own queue. Bounded.
        const replyStuck = (): boolean => server._threads.size > 0 || errors.length > 0;
        const deadline = Date.now() + 10_000;
        for (let i = 0; i < 50_000 && !replyStuck() && Date.now() < deadline; i++) {
          try {
            c.sendTo(`d ${i}`, server.serverAddress);
            handled++;
          } catch {
            // the server's queue is full: fine
          }
          if (i % 20 === 19) await turns(1);
        }
        await until(replyStuck, 'replies waiting or failing', 5000);
        await loop.stop();
        await withTimeout(Promise.resolve(server.serverClose()), 5000, 'serverClose() with a reply waiting to be sent');
        closed = true;
        // A system error, or the socket closed under a waiting reply (as in 'while datagrams arrive').
        for (const e of errors) expect(e.code, e.message).to.be.a('string').and.match(/^(E[A-Z]+|ERR_SOCKETSERVER_CLOSED)$/);
      } finally {
        c.close();
        if (!closed) {
          // Failed above: still leave nothing running (a live server would keep mocha from exiting).
          await withTimeout(loop.stop(), 5000, 'loop.stop()').catch(() => undefined);
          await withTimeout(Promise.resolve(server.serverClose()), 5000, 'serverClose()').catch(() => undefined);
        }
      }
    });
  });
}
