/**
 * ForkingMixIn: the fork steps of DESIGN.md ("Fork") that can be observed
 * from outside: the listening socket, inherited files, other servers and
 * threads of the parent, timers, console output, worker threads.
 * fork-helpers.ts says how the fork tests observe a child.
 */
import { expect } from 'chai';
import * as childProcess from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

import {
  Address,
  connect,
  deferred,
  HOST,
  readToEnd,
  ROOT,
  serveInBackground,
  SockReader,
  TempDir,
  transports,
  until,
  withTimeout,
} from './helpers';
import { exitOf, killAndWait, realPid, RemoteClient, withClient } from './proc-helpers';
import { AnyServer, Exit, forkKit, holdOne, Info, info, release, tracked } from './fork-helpers';

for (const { name, ss, caps, cjs: distFile } of transports) {
  describe(`ForkingMixIn (${name})`, function () {
    this.timeout(30000);
    const tmp = new TempDir('ss-fork-');
    after(() => tmp.cleanup());
    const { needsFork, sessionHandler, ForkingTCP } = forkKit(ss, caps);

    describe("DESIGN.md's fork steps, observed", () => {
      before(needsFork);

      it("a child cannot accept on the parent's listening socket: new connections are the parent's, served by fresh children", async () => {
        const server: AnyServer = new ForkingTCP([HOST, 0], sessionHandler());
        const listenFd: number = server.fileno();
        const inode = (pid: number | 'self', fd: number): string | null => {
          try {
            return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
          } catch {
            return null;
          }
        };
        try {
          const loop = serveInBackground(server);
          try {
            await withClient(async (holder) => {
              // A child that stays alive, holding its connection.
              await holder.connect(1, server.serverAddress);
              await holder.send(1, 'pid\n');
              const first = JSON.parse(await holder.readline(1)) as Info;
              const listening = inode('self', listenFd);
              expect(listening).to.match(/^socket:\[\d+\]$/);
              // Step 5: the child's copy of that descriptor is not the listening socket.
              const inChild = inode(first.pid, listenFd);
              expect(inChild, "the child's descriptor of the listening socket's number").to.not.equal(listening);
              const childFds = fs.readdirSync(`/proc/${first.pid}/fd`).map((fd) => inode(first.pid, Number(fd)));
              expect(childFds, "no descriptor of the child is the parent's listening socket").to.not.include(listening);
              // README: no thread but the main one in the child.
              expect(fs.readdirSync(`/proc/${first.pid}/task`), "the child's threads").to.have.length(1);

              await withClient(async (c) => {
                const later: Info[] = [];
                for (let i = 0; i < 5; i++) later.push(await info(c, server.serverAddress));
                for (const r of later) {
                  expect(r.pid, 'not the held child').to.not.equal(first.pid);
                  expect(r.pid, 'not the parent').to.not.equal(process.pid);
                  expect(r.ppid, "a child of the server's process, not of the held child").to.equal(process.pid);
                }
                expect(new Set(later.map((r) => r.pid)).size, 'a fresh child each time').to.equal(5);
              });
              // The held child still serves its own connection only.
              await holder.send(1, 'again\n');
              const again = JSON.parse(await holder.readline(1)) as Info;
              expect(again.pid).to.equal(first.pid);
              await holder.send(1, 'bye\n');
              expect(await holder.readline(1)).to.equal('bye\n');
            });
          } finally {
            await loop.stop();
          }
        } finally {
          await server.serverClose();
        }
        await server.waitExits(6);
      });

      it('README: a file opened by the parent is inherited as it is; crypto.randomBytes() differs between children', async () => {
        const file = tmp.path('inherited');
        const fd = fs.openSync(file, 'a');
        const server: AnyServer = new ForkingTCP(
          [HOST, 0],
          sessionHandler(() => {
            fs.writeSync(fd, `${process.pid}\n`);
            return { random: crypto.randomBytes(16).toString('hex') };
          }),
        );
        const replies: Info[] = [];
        try {
          const loop = serveInBackground(server);
          try {
            await withClient(async (c) => {
              for (let i = 0; i < 3; i++) replies.push(await info(c, server.serverAddress));
            });
          } finally {
            await loop.stop();
          }
        } finally {
          await server.serverClose();
          fs.closeSync(fd);
        }
        const written = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
        expect(written).to.deep.equal(replies.map((r) => r.pid));
        expect(new Set(replies.map((r) => r.random)).size, 'randomBytes() in three children').to.equal(3);
      });

      it("a node:net server of the parent keeps its connections while children live (no child answers a probe)", async () => {
        // DESIGN.md step 5: without neutralising, a child's copy of the event
        // loop could accept on the parent's other listening sockets.
        const server: AnyServer = new ForkingTCP([HOST, 0], sessionHandler());
        const health = net.createServer((sock) => {
          sock.on('error', () => undefined);
          sock.end(`${realPid()}\n`);
        });
        try {
          await new Promise<void>((resolve) => health.listen(0, HOST, resolve));
          const healthAddr: Address = [HOST, (health.address() as net.AddressInfo).port];
          await withClient(async (holder) => {
            const pids: number[] = [];
            for (let i = 0; i < 3; i++) pids.push(await holdOne(server, holder, i));
            await withClient(async (c) => {
              for (let i = 0; i < 20; i++) {
                expect(Number(await c.exchange(healthAddr, '')), `probe ${i}`).to.equal(process.pid);
              }
            });
            for (let i = 0; i < 3; i++) await release(holder, i);
          });
        } finally {
          await server.serverClose();
          if (health.listening) await new Promise<void>((resolve) => health.close(() => resolve()));
        }
        expect(server.exits.map((e: Exit) => e[1])).to.deep.equal([0, 0, 0]);
      });

      it('ForkingUDPServer and ForkingUnixDatagramServer: a burst of datagrams, each answered by a child of its own', async () => {
        class Echo extends ss.DatagramRequestHandler {
          override async handle(): Promise<void> {
            const line = (await this.rfile.readline()).toString().trim();
            await this.wfile.write(`${line} ${process.pid}\n`);
          }
        }
        for (const [Cls, addr] of [
          [ss.ForkingUDPServer, [HOST, 0]],
          [ss.ForkingUnixDatagramServer, tmp.path('dgram-burst')],
        ] as Array<[typeof ss.TCPServer, Address]>) {
          const server: AnyServer = new (tracked(Cls))(addr, Echo);
          let replies: string[] = [];
          try {
            const loop = serveInBackground(server);
            try {
              replies = await withClient(
                async (c) => (await c.call({ op: 'dgram_burst', addr: server.serverAddress, n: 8, data: 'd', bind: tmp.path('burst-client') })).replies,
              );
            } finally {
              await loop.stop();
            }
          } finally {
            await server.serverClose();
          }
          const got = replies.map((r) => r.trim().split(' '));
          expect(got.map((g) => `${g[0]} ${g[1]}`), Cls.name).to.deep.equal([...Array(8).keys()].map((i) => `d ${i}`));
          const pids = got.map((g) => Number(g[2]));
          expect(new Set(pids).size, `${Cls.name}: a child per datagram`).to.equal(8);
          expect(pids, Cls.name).to.not.include(process.pid);
          expect(server.exits.map((e: Exit) => e[0]).sort(), Cls.name).to.deep.equal([...pids].sort());
          expect(server.activeChildren.size).to.equal(0);
        }
      });

      it('verifyRequest() false: no fork, the connection is closed', async () => {
        const Base = tracked(ss.ForkingTCPServer as unknown as typeof ss.TCPServer);
        class S extends Base {
          verifyRequest(): boolean {
            return false;
          }
        }
        const server: AnyServer = new S([HOST, 0], sessionHandler());
        try {
          await withClient(async (c) => {
            await c.connect(1, server.serverAddress);
            await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
            expect(await c.readall(1), 'EOF from the parent').to.equal('');
          });
          expect(server.activeChildren).to.equal(null);
        } finally {
          await server.serverClose();
        }
        expect(server.exits).to.deep.equal([]);
      });

      it('a busy ThreadingTCPServer and fs.promises work in the same process are not disturbed by forks (steps 1, 4, 8)', async () => {
        // Step 8: items the serve threads queued for the parent before a fork
        // are dropped in the child, so no child replays the parent's
        // requests; step 4: the parent's fs.promises keep completing.
        const marks = tmp.path('threading-marks');
        class Up extends ss.StreamRequestHandler {
          override async handle(): Promise<void> {
            const line = (await this.rfile.readline()).toString();
            fs.appendFileSync(marks, `${realPid()}\n`);
            await this.wfile.write(line.toUpperCase());
          }
        }
        const threading = new ss.ThreadingTCPServer([HOST, 0], Up, { requestQueueSize: 64 });
        const forking: AnyServer = new ForkingTCP([HOST, 0], sessionHandler());
        const readme = path.join(ROOT, 'package.json');
        try {
          const loops = [serveInBackground(threading), serveInBackground(forking)];
          try {
            const a = new RemoteClient();
            const b = new RemoteClient();
            try {
              // fs.promises reads, one after another, for as long as the forks go on.
              let fsDone = 0;
              let forksDone = false;
              const fsWork = (async () => {
                for (let i = 0; i < 100000 && !forksDone; i++) {
                  await fs.promises.readFile(readme);
                  fsDone++;
                }
              })();
              const [hammer, forked] = await Promise.all([
                a.call({ op: 'hammer', addr: threading.serverAddress, rounds: 10, n: 20, data: 'x' }, 30000),
                (async () => {
                  const out: Info[] = [];
                  for (let i = 0; i < 15; i++) out.push(await info(b, forking.serverAddress));
                  forksDone = true;
                  return out;
                })(),
                withTimeout(fsWork, 20000, 'fs.promises work'),
              ]);
              const expected: string[] = [];
              for (let r = 0; r < 10; r++) for (let i = 0; i < 20; i++) expected.push(`X ${r} ${i}\n`);
              expect(hammer.replies).to.deep.equal(expected);
              expect(forked.map((r) => r.line)).to.deep.equal(new Array(15).fill('pid'));
              expect(fsDone, 'fs.promises reads completed during the forks').to.be.greaterThan(15);
            } finally {
              await a.close();
              await b.close();
            }
          } finally {
            for (const l of loops) await l.stop();
          }
        } finally {
          await threading.serverClose();
          await forking.serverClose();
        }
        const pids = fs.readFileSync(marks, 'utf8').split('\n').filter(Boolean).map(Number);
        expect(pids).to.have.length(200);
        expect(pids.filter((p) => p !== process.pid), 'Threading requests handled by a child').to.deep.equal([]);
        await forking.waitExits(15);
        expect(forking.exits.every((e: Exit) => e[1] === 0 && e[2] === null)).to.equal(true);
      });

      it('two Forking servers in one process: each reaps its own children only', async () => {
        const a: AnyServer = new ForkingTCP([HOST, 0], sessionHandler());
        let b: AnyServer;
        try {
          b = new (tracked(ss.ForkingUnixStreamServer as unknown as typeof ss.TCPServer))(tmp.path('two'), sessionHandler());
          await withClient(async (c) => {
            const pa = await holdOne(a, c, 1);
            const pb = await holdOne(b, c, 2);
            expect([...a.activeChildren]).to.deep.equal([pa]);
            expect([...b.activeChildren]).to.deep.equal([pb]);
            await release(c, 2);
            await b.waitExits(1);
            expect(b.exits).to.deep.equal([[pb, 0, null]]);
            expect(a.exits).to.deep.equal([]);
            expect([...a.activeChildren]).to.deep.equal([pa]);
            await a.collectChildren();
            expect([...a.activeChildren], "a's child is still running").to.deep.equal([pa]);
            await release(c, 1);
            await a.waitExits(1);
            expect(a.exits).to.deep.equal([[pa, 0, null]]);
          });
        } finally {
          await a.serverClose();
          await b?.serverClose();
        }
      });

      // Known limitation (README "Forking"): a Worker's isolate can hold
      // cppgc's process-wide mutex at fork() time, and Node offers no way to
      // reach other isolates to park them as the platform workers are, so a
      // child can hang on its first full GC until childTimeout kills it.
      // Kept, pending, to be turned on when forking quiesces Workers.
      it.skip('forks while a worker_threads Worker runs (and collects garbage): no child hangs', async function () {
        // README: "worker threads of the parent do not exist in the child".
        // The server runs in a process of its own (node --expose-gc), whose
        // Worker runs full GCs back to back; each child runs one full GC.
        // A child that inherits a lock the Worker held at fork() time hangs
        // until the watchdog (childTimeout 2) kills it with SIGALRM.
        const script = `
          const { Worker } = require('node:worker_threads');
          const ss = require(${JSON.stringify(distFile)});
          const worker = new Worker(
            "const { parentPort } = require('node:worker_threads');" +
            "let stop = false; parentPort.on('message', () => { stop = true; parentPort.close(); });" +
            "function spin() { for (let i = 0; i < 5; i++) gc(); if (!stop) setImmediate(spin); }" +
            "parentPort.postMessage('ready'); spin();",
            { eval: true },
          );
          class H extends ss.StreamRequestHandler {
            async handle() {
              await this.rfile.readline();
              gc();
              await this.wfile.write(process.pid + '\\n');
            }
          }
          class S extends ss.ForkingTCPServer {
            static childTimeout = 2;
            static maxChildren = 10;
            childExited(pid, code, signal) { console.log('exited', pid, code, signal); }
          }
          worker.once('message', () => {
            const server = new S(['127.0.0.1', 0], H);
            const loop = server.serveForever(0.05);
            console.log('port', server.serverAddress[1]);
            process.stdin.resume();
            process.stdin.on('end', async () => {
              await server.shutdown();
              await loop;
              await server.serverClose();
              worker.postMessage('stop');
              await worker.terminate();
              console.log('done');
            });
          });
        `;
        const proc = childProcess.spawn(process.execPath, ['--expose-gc', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        const port = deferred<number>();
        proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          const m = /^port (\d+)$/m.exec(out);
          if (m) port.resolve(Number(m[1]));
        });
        proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
          err += d;
        });
        const status = exitOf(proc, 60000);
        status.catch(() => undefined);
        const N = 10;
        const replies: string[] = [];
        try {
          const p = await withTimeout(port.promise, 15000, 'the server to print its port');
          const socks = await Promise.all([...Array(N).keys()].map(() => connect([HOST, p])));
          try {
            // Readers first: a killed child may reset its connection at once.
            const answers = socks.map((s) =>
              readToEnd(s, 20000).then(
                (b) => b.toString().trim(),
                (e: { code?: string; message?: string }) => `error ${e.code ?? e.message}`,
              ),
            );
            for (const s of socks) s.write('x\n');
            replies.push(...(await Promise.all(answers)));
          } finally {
            for (const s of socks) s.destroy();
          }
          proc.stdin!.end();
          expect(await status, err).to.deep.equal([0, null]);
        } finally {
          await killAndWait(proc);
        }
        const exits = [...out.matchAll(/^exited (\d+) (\S+) (\S+)$/gm)].map((m) => `${m[2]} ${m[3]}`);
        expect(out).to.match(/^done$/m);
        expect(exits.filter((e) => e !== '0 null'), 'children that did not exit with status 0 (14: SIGALRM, hung)').to.deep.equal([]);
        expect(exits).to.have.length(N);
        expect(replies.filter((r) => !/^\d+$/.test(r)), 'requests left unanswered').to.deep.equal([]);
      });

      it('process.pid is fixed in the child; process.ppid is the parent', async () => {
        const server: AnyServer = new ForkingTCP([HOST, 0], sessionHandler(() => ({ statPid: Number(fs.readFileSync('/proc/self/stat', 'utf8').split(' ')[0]) })));
        try {
          await withClient(async (c) => {
            const reply = c.exchange(server.serverAddress, 'pid\n', true);
            await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
            const r = JSON.parse(await reply) as Info;
            expect(r.pid).to.equal(r.real);
            expect(r.pid).to.equal(r.statPid);
            expect(r.pid).to.not.equal(process.pid);
            expect(r.ppid).to.equal(process.pid);
            await server.waitExits(1);
            expect(server.exits[0][0]).to.equal(r.pid);
          });
        } finally {
          await server.serverClose();
        }
      });

      it("the parent's JS timers still fire in the child (documented behaviour)", async () => {
        const marks = tmp.path('timer-marks');
        const parentPid = process.pid;
        const parentFired = deferred();
        const server: AnyServer = new ForkingTCP([HOST, 0], sessionHandler());
        let timer: NodeJS.Timeout | undefined;
        try {
          await withClient(async (c) => {
            await c.connect(1, server.serverAddress);
            await c.send(1, 'pid\n');
            // Armed right before the fork: the child inherits it.
            timer = setTimeout(() => {
              const me = realPid();
              fs.appendFileSync(marks, `${me}\n`);
              if (me === parentPid) parentFired.resolve();
            }, 300);
            await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
            const pid = (JSON.parse(await c.readline(1)) as Info).pid;
            await withTimeout(parentFired.promise, 5000, "the parent's timer");
            // The child writes the file: observed from outside, bounded.
            const lines = (): number[] =>
              (fs.existsSync(marks) ? fs.readFileSync(marks, 'utf8') : '').split('\n').filter(Boolean).map(Number);
            await until(() => lines().includes(pid), "the child's copy of the timer to fire", 5000);
            expect(lines().sort()).to.deep.equal([parentPid, pid].sort());
            await c.send(1, 'bye\n');
            expect(await c.readline(1)).to.equal('bye\n');
          });
        } finally {
          clearTimeout(timer);
          await server.serverClose();
        }
      });

      it("a child's console output reaches the parent's stdout and stderr; the child runs none of the parent's code after it", async () => {
        const script = `
          const ss = require(${JSON.stringify(distFile)});
          class H extends ss.StreamRequestHandler {
            async handle() {
              const line = (await this.rfile.readline()).toString().trim();
              console.log('child-says', process.pid, line);
              console.error('child-warns', process.pid);
              await this.wfile.write('ok\\n');
            }
          }
          class S extends ss.ForkingTCPServer {
            childExited(pid, code, signal) { console.log('exited', pid, code, signal); }
          }
          const real = () => Number(require('node:fs').readlinkSync('/proc/self'));
          // Shutdown code of the parent: must not run in a child.
          process.on('exit', () => console.log('exit-handler', real()));
          const server = new S(['127.0.0.1', 0], H);
          console.log('port', server.serverAddress[1]);
          (async () => {
            await server.handleRequest();
            // The child never returns into the parent's code.
            console.log('after-handleRequest', real());
            await server.serverClose();
            console.log('parent', process.pid);
          })();
        `;
        const proc = childProcess.spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        const port = deferred<number>();
        proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          const m = /^port (\d+)$/m.exec(out);
          if (m) port.resolve(Number(m[1]));
        });
        proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
          err += d;
        });
        const status = exitOf(proc, 20000);
        status.catch(() => undefined);
        try {
          const p = await withTimeout(port.promise, 15000, 'the server to print its port');
          const s = await connect([HOST, p]);
          try {
            const r = new SockReader(s);
            s.write('hello\n');
            expect((await r.readLine()).toString()).to.equal('ok\n');
          } finally {
            s.destroy();
          }
          expect(await status).to.deep.equal([0, null]);
        } finally {
          await killAndWait(proc);
        }
        const parent = Number(/^parent (\d+)$/m.exec(out)?.[1]);
        expect(parent).to.equal(proc.pid);
        const said = /^child-says (\d+) hello$/m.exec(out);
        expect(said, `stdout: ${out}`).to.not.equal(null);
        const child = Number(said![1]);
        expect(child).to.not.equal(parent);
        expect(out).to.match(new RegExp(`^exited ${child} 0 null$`, 'm'));
        expect(err).to.match(new RegExp(`^child-warns ${child}$`, 'm'));
        // DESIGN.md step 6: the child ends with _exit(): no return into the
        // caller's code, no exit handlers.
        expect(out.match(/^after-handleRequest \d+$/gm)).to.deep.equal([`after-handleRequest ${parent}`]);
        expect(out.match(/^exit-handler \d+$/gm)).to.deep.equal([`exit-handler ${parent}`]);
      });
    });
  });
}
