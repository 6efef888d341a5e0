// Issue 12, items 4–7: what the addon does when calls that practically
// never fail do fail, when a callback throws something that is not an
// Error, and whether its serve thread keeps the fork-lock rule (native/fork.h).
//
// The failures are injected with the addon's test-only switches
// (SOCKETSERVER_TEST_FAULTS, native/test_faults.h). The variable is read
// once, when the addon loads, so each case runs a node process of its own
// with it set; every wait on that process is bounded.
import { expect } from 'chai';
import * as childProcess from 'node:child_process';
import * as path from 'node:path';

import { connect, deferred, HOST, nativeAddon, nativeAddonPath, readToEnd, ROOT, turns, withTimeout } from './helpers';
import { exitOf, killAndWait } from './proc-helpers';

const ADDON = JSON.stringify(nativeAddonPath());
const DIST = JSON.stringify(path.join(ROOT, 'dist', 'index.js'));

interface Run {
  status: [number | null, NodeJS.Signals | null];
  out: string;
  err: string;
}

/**
 * Runs `script` in a new node process with SOCKETSERVER_TEST_FAULTS=`faults`;
 * `onLine` sees each line of its stdout as it comes. Bounded: the process is
 * killed after `ms`, and the status then says so (signal SIGKILL).
 */
async function runNode(script: string, faults: string, ms = 10000, onLine?: (line: string) => void): Promise<Run> {
  const proc = childProcess.spawn(process.execPath, ['-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SOCKETSERVER_TEST_FAULTS: faults },
  });
  let out = '';
  let err = '';
  let partial = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    partial += d;
    for (let i = partial.indexOf('\n'); i >= 0; i = partial.indexOf('\n')) {
      onLine?.(partial.slice(0, i));
      partial = partial.slice(i + 1);
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  try {
    const status = await exitOf(proc, ms);
    return { status, out, err };
  } catch {
    await killAndWait(proc);
    return { status: [proc.exitCode, proc.signalCode], out, err };
  }
}

describe('native faults: failures injected into the addon (SOCKETSERVER_TEST_FAULTS)', function () {
  this.timeout(30000);

  it('an unknown switch name makes the addon refuse to load (TypeError ERR_INVALID_ARG_VALUE)', async () => {
    const r = await runNode(
      `try { require(${ADDON}); console.log('loaded'); } catch (e) { console.log(e.name, e.code, e.message); }`,
      'check_fork_lock,no_such_switch',
    );
    expect(r.status, r.err).to.deep.equal([0, null]);
    expect(r.out).to.match(/^TypeError ERR_INVALID_ARG_VALUE SOCKETSERVER_TEST_FAULTS: unknown switch 'no_such_switch'/m);
  });

  // Item 4. A child watch (pidfd + uv_poll) that failed to start must not
  // look alive: ForkingMixIn then reaps by polling its own pids, and
  // serverClose() (blockOnClose) returns once the child has exited.
  for (const fault of ['childwatch_loop', 'childwatch_poll_start']) {
    it(`ForkingTCPServer with ${fault}: the exit of the child is found by polling, serverClose() returns`, async () => {
      const script = `
        const ss = require(${DIST});
        class H extends ss.StreamRequestHandler {
          async handle() {
            const line = (await this.rfile.readline()).toString();
            await this.wfile.write('pong ' + line);
          }
        }
        class S extends ss.ForkingTCPServer {
          childExited(pid, code, signal) { console.log('exited', pid, code, signal); }
        }
        const server = new S(['127.0.0.1', 0], H);
        console.log('port', server.serverAddress[1]);
        (async () => {
          await server.handleRequest();
          await server.serverClose();
          console.log('closed', server.activeChildren.size);
        })();
      `;
      const port = deferred<number>();
      const run = runNode(script, fault, 15000, (line) => {
        const m = /^port (\d+)$/.exec(line);
        if (m) port.resolve(Number(m[1]));
      });
      const p = await withTimeout(Promise.race([port.promise, run.then(() => -1)]), 15000, 'the server to print its port');
      let reply = '';
      if (p > 0) {
        const s = await connect([HOST, p]);
        try {
          const got = readToEnd(s, 10000);
          s.write('ping\n');
          reply = (await got).toString();
        } finally {
          s.destroy();
        }
      }
      const r = await run;
      expect(reply).to.equal('pong ping\n');
      expect(r.status, `stderr: ${r.err}`).to.deep.equal([0, null]);
      expect(r.out, 'serverClose() returned with no child left').to.match(/^closed 0$/m);
      expect(r.out).to.match(/^exited \d+ 0 null$/m);
    });
  }

  // Item 5. One event per arm(): the thread is armed, reports once, and is
  // armed again only after that report reached JS. So the ThreadSafeFunction's
  // queue holds at most one event, and arm() must refuse while one is queued
  // (else the first callback is lost, and the queue has no bound).
  it('arm() while the serve thread\'s event is still queued: refused (ERR_SOCKETSERVER_BUSY); the first callback gets it', async () => {
    const a = nativeAddon();
    const l = new a.Listener(a.constants.AF_INET, a.constants.SOCK_STREAM);
    try {
      l.bind([HOST, 0]);
      l.listen(1);
      const calls: string[] = [];
      l.arm(0, (kind: number) => calls.push(`first ${kind}`));
      // Synchronously, so the event cannot be delivered meanwhile: the
      // thread times out at once, and then a second arm() is tried.
      let accepted = false;
      let busy = 0;
      const deadline = Date.now() + 300;
      for (let i = 0; i < 1e7 && !accepted && Date.now() < deadline; i++) {
        try {
          l.arm(0, (kind: number) => calls.push(`second ${kind}`));
          accepted = true;
        } catch (error) {
          if ((error as { code?: string }).code !== 'ERR_SOCKETSERVER_BUSY') throw error;
          busy++;
        }
      }
      expect(busy, 'arm() was refused while the thread waited').to.be.greaterThan(0);
      expect(accepted, 'a second arm() accepted before the first event was delivered').to.equal(false);
      for (let i = 0; i < 200 && calls.length === 0; i++) await turns(1);
      expect(calls).to.deep.equal([`first ${a.constants.EV_TIMEOUT}`]);
    } finally {
      l.close();
    }
  });

  // Item 5. When the call fails, the event is freed. That cannot be seen from
  // JS: this case is run by `npm run test:sanitized` too, where
  // LeakSanitizer checks the child process's heap at its exit and fails the
  // run on a leaked Event. Here it checks that a failed call strands nothing.
  it('serve_tsfn_call: the serve thread\'s call fails 50 times; arm() can be called again, close() returns (no leak under LSan)', async () => {
    const script = `
      const a = require(${ADDON});
      const { AF_INET, SOCK_STREAM } = a.constants;
      const N = 50;
      for (let i = 0; i < N; i++) {
        const l = new a.Listener(AF_INET, SOCK_STREAM);
        l.bind(['127.0.0.1', 0]);
        l.listen(1);
        l.arm(0, () => console.log('delivered'));
        // Taken again once the thread is past its (failed) call.
        let again = false;
        const deadline = Date.now() + 5000;
        while (!again && Date.now() < deadline) {
          try { l.arm(0, () => console.log('delivered')); again = true; }
          catch (e) { if (e.code !== 'ERR_SOCKETSERVER_BUSY') throw e; }
        }
        if (!again) { console.log('stuck', i); process.exit(3); }
        l.close();
      }
      console.log('done', N);
    `;
    const r = await runNode(script, 'serve_tsfn_call');
    expect(r.status, `stderr: ${r.err}`).to.deep.equal([0, null]);
    expect(r.out).to.equal('done 50\n');
  });

  // Item 6. A readiness callback that throws something that is not an
  // Error: the throw is reported (process 'uncaughtException', with the
  // value thrown), and the waiters after it are still called.
  const PRELUDE = `
    const a = require(${ADDON});
    const net = require('node:net');
    const { AF_INET, SOCK_STREAM, POLLIN, POLLOUT } = a.constants;
    const show = (v) => v instanceof Error ? 'Error ' + v.message : typeof v + ' ' + String(v);
    const reported = [];
    process.on('uncaughtException', (e) => reported.push(show(e)));
    const l = new a.Listener(AF_INET, SOCK_STREAM);
    l.bind(['127.0.0.1', 0]);
    l.listen(8);
    setTimeout(() => { console.log('timeout', JSON.stringify({ reported })); process.exit(2); }, 5000).unref();
  `;

  it('readiness callbacks that throw non-Errors in one loop turn: each throw is reported, every waiter is called', async () => {
    const script = `${PRELUDE}
      const values = ['a string', 42, undefined];
      const clients = [];
      let connected = 0;
      for (let i = 0; i < 3; i++) {
        const c = net.connect(l.getSockName()[1], '127.0.0.1', () => { if (++connected === 3) accepted(); });
        c.on('error', () => {});
        clients.push(c);
      }
      const conns = [];
      function accepted() {
        for (let i = 0; i < 3; i++) conns.push(l.take()[0]);
        let written = 0;
        for (const c of clients) c.write('x', () => { if (++written === 3) ready(); });
      }
      // The data is there before the waits start: the three fire in one
      // loop turn, and are called one after the other.
      const called = [];
      function ready() {
        conns.forEach((conn, i) => conn.poll(POLLIN, () => { called.push(i); throw values[i]; }));
        const check = () => {
          if (called.length < 3 || reported.length < 3) return setImmediate(check);
          console.log(JSON.stringify({ called: called.sort(), reported: reported.sort() }));
          for (const c of conns) c.close();
          for (const c of clients) c.destroy();
          l.close();
        };
        setImmediate(check);
      }
    `;
    const r = await runNode(script, '');
    expect(r.status, `stdout: ${r.out} stderr: ${r.err}`).to.deep.equal([0, null]);
    expect(JSON.parse(r.out)).to.deep.equal({
      called: [0, 1, 2],
      reported: ['number 42', 'string a string', 'undefined undefined'],
    });
  });

  it('close() wakes read and write waiters that throw non-Errors: both are called, both throws are reported', async () => {
    const script = `${PRELUDE}
      const woken = [];
      l.poll(POLLIN, () => { woken.push('read'); throw 'from read'; });
      l.poll(POLLOUT, () => { woken.push('write'); throw null; });
      l.close();
      console.log(JSON.stringify({ woken, reported }));
    `;
    const r = await runNode(script, '');
    expect(r.status, `stdout: ${r.out} stderr: ${r.err}`).to.deep.equal([0, null]);
    expect(JSON.parse(r.out)).to.deep.equal({ woken: ['read', 'write'], reported: ['string from read', 'object null'] });
  });

  // The other side of item 6: what a terminating environment leaves pending
  // (worker.terminate() during a callback) is the termination, not a throw
  // to report; the worker ends, and the process carries on.
  it('worker.terminate() while a readiness callback runs: nothing is reported, the process carries on', async () => {
    const script = `
      const { Worker } = require('node:worker_threads');
      const worker = new Worker(\`
        const { parentPort } = require('node:worker_threads');
        const a = require(${ADDON});
        const net = require('node:net');
        const { AF_INET, SOCK_STREAM, POLLOUT } = a.constants;
        process.on('uncaughtException', (e) => parentPort.postMessage('reported ' + String(e)));
        const l = new a.Listener(AF_INET, SOCK_STREAM);
        l.bind(['127.0.0.1', 0]);
        l.listen(8);
        const c = net.connect(l.getSockName()[1], '127.0.0.1', () => {
          const conns = [l.take()[0]];
          const c2 = net.connect(l.getSockName()[1], '127.0.0.1', () => {
            conns.push(l.take()[0]);
            // Both writable in the next turn: the first callback never returns.
            for (const conn of conns) conn.poll(POLLOUT, () => { parentPort.postMessage('spinning'); for (;;); });
          });
        });
      \`, { eval: true });
      const seen = [];
      worker.on('error', (e) => seen.push('error ' + String(e)));
      worker.on('message', (m) => {
        seen.push(m);
        if (m === 'spinning') worker.terminate().then((code) => {
          setImmediate(() => console.log(JSON.stringify({ code, seen })));
        });
      });
    `;
    const r = await runNode(script, '');
    expect(r.status, `stdout: ${r.out} stderr: ${r.err}`).to.deep.equal([0, null]);
    expect(JSON.parse(r.out)).to.deep.equal({ code: 1, seen: ['spinning'] });
  });

  // Item 7. The serve thread takes its mutex only under the fork lock, so a
  // child made by fork() never inherits it held. check_fork_lock makes the
  // addon report (on stderr) a native thread taking it without.
  // The serve thread sleeps in poll() on its wake eventfd, and what arm(),
  // wake() and close() want is in fields read under its lock: a wake()
  // while it is idle still ends the next armed wait at once, and only that one.
  it('wake() while the serve thread is idle: the next armed wait reports WOKEN at once, the one after times out', async () => {
    const a = nativeAddon();
    const { EV_TIMEOUT, EV_WOKEN } = a.constants;
    const l = new a.Listener(a.constants.AF_INET, a.constants.SOCK_STREAM);
    const arm = (timeout: number | null): Promise<number> =>
      withTimeout(new Promise<number>((resolve) => l.arm(timeout, (kind: number) => resolve(kind))), 5000, `arm(${timeout})`);
    try {
      l.bind([HOST, 0]);
      l.listen(1);
      expect(await arm(0)).to.equal(EV_TIMEOUT);  // the thread exists, idle
      l.wake();
      l.wake();
      expect(await arm(null)).to.equal(EV_WOKEN);
      expect(await arm(0)).to.equal(EV_TIMEOUT);
      const woken = arm(null);
      l.wake();
      expect(await woken).to.equal(EV_WOKEN);
    } finally {
      l.close();
    }
  });

  it('check_fork_lock: the serve thread keeps the fork-lock rule through timeouts, a request and a wake', async () => {
    const script = `
      const a = require(${ADDON});
      const net = require('node:net');
      const { AF_INET, SOCK_STREAM, EV_READY, EV_TIMEOUT, EV_WOKEN } = a.constants;
      const l = new a.Listener(AF_INET, SOCK_STREAM);
      l.bind(['127.0.0.1', 0]);
      l.listen(8);
      const arm = (t) => new Promise((resolve) => l.arm(t, (kind) => resolve(kind)));
      setTimeout(() => { console.log('timeout'); process.exit(2); }, 5000).unref();
      (async () => {
        const kinds = [];
        for (let i = 0; i < 20; i++) kinds.push(await arm(0));
        const c = net.connect(l.getSockName()[1], '127.0.0.1');
        c.on('error', () => {});
        kinds.push(await arm(5));
        l.take()[0].close();
        const woken = arm(5);
        l.wake();
        kinds.push(await woken);
        c.destroy();
        l.close();
        const expected = [...Array(20).fill(EV_TIMEOUT), EV_READY, EV_WOKEN];
        console.log(JSON.stringify(kinds) === JSON.stringify(expected) ? 'done' : 'kinds ' + JSON.stringify(kinds));
      })();
    `;
    const r = await runNode(script, 'check_fork_lock');
    expect(r.status, `stderr: ${r.err}`).to.deep.equal([0, null]);
    expect(r.out).to.equal('done\n');
    expect(r.err).to.not.match(/check_fork_lock/);
  });

  it('check_fork_lock: a datagram socket\'s serve thread keeps the rule while it reads between arms', async () => {
    const script = `
      const a = require(${ADDON});
      const dgram = require('node:dgram');
      const fs = require('node:fs');
      const { AF_INET, SOCK_DGRAM, EV_READY, EV_TIMEOUT, EV_WOKEN } = a.constants;
      const l = new a.Listener(AF_INET, SOCK_DGRAM);
      l.bind(['127.0.0.1', 0]);
      l.configure(64, 8192, 4096, 1 << 21);
      const port = l.getSockName()[1];
      const local = '0100007F:' + port.toString(16).toUpperCase().padStart(4, '0');
      const rxQueue = () => {
        const line = fs.readFileSync('/proc/net/udp', 'utf8').split('\\n').find((x) => x.trim().split(/\\s+/)[1] === local);
        return parseInt(line.trim().split(/\\s+/)[4].split(':')[1], 16);
      };
      const arm = (t) => new Promise((resolve) => l.arm(t, (kind) => resolve(kind)));
      const s = dgram.createSocket('udp4');
      const send = (m) => new Promise((resolve) => s.send(m, port, '127.0.0.1', () => resolve()));
      setTimeout(() => { console.log('timeout'); process.exit(2); }, 5000).unref();
      (async () => {
        const kinds = [];
        for (let i = 0; i < 5; i++) kinds.push(await arm(0));
        // Not armed now: the serve thread reads these on its own.
        for (let i = 0; i < 50; i++) await send('d' + i);
        for (let i = 0; i < 100000 && rxQueue() !== 0; i++) await new Promise((r) => setImmediate(r));
        const drained = rxQueue() === 0;
        kinds.push(await arm(5));
        let taken = 0;
        while (l.readyNow()) { l.take(); taken++; }
        const woken = arm(5);
        l.wake();
        kinds.push(await woken);
        s.close();
        l.close();
        const expected = [...Array(5).fill(EV_TIMEOUT), EV_READY, EV_WOKEN];
        const ok = drained && taken === 50 && JSON.stringify(kinds) === JSON.stringify(expected);
        console.log(ok ? 'done' : 'drained ' + drained + ' taken ' + taken + ' kinds ' + JSON.stringify(kinds));
      })();
    `;
    const r = await runNode(script, 'check_fork_lock');
    expect(r.status, `stderr: ${r.err}`).to.deep.equal([0, null]);
    expect(r.out).to.equal('done\n');
    expect(r.err).to.not.match(/check_fork_lock/);
  });
});
