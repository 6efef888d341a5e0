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
});
