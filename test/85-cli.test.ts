// Issue 11, item 4: the `socketserver` command, run through its real bin
// (dist/cli.js, package.json "bin"), one test per flag at least. Handlers:
// test/fixtures/cli-handler.js (the commands of worker-handlers.js). Every
// wait is bounded; the servers say when they are ready on stderr.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { connect, HOST, requireTool, ROOT, SockReader, TempDir, udpExchange, UnixDgramClient, withTimeout } from './helpers';
import { freePort, type Program, startProgram, stopProgram, waitForStderr } from './proc-helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const run = promisify(execFile);
const CLI = path.join(ROOT, 'dist', 'cli.js');
const HANDLER = path.join(ROOT, 'test', 'fixtures', 'cli-handler.js');
const READY = /socketserver: serving/;

/** Starts the command; resolves once it said it serves. */
function cli(args: string[], options: { env?: NodeJS.ProcessEnv; ready?: RegExp } = {}): Promise<Program> {
  return startProgram(null, [CLI, ...args], { cwd: ROOT, env: options.env, ready: options.ready ?? READY });
}

/** Runs the command to its end: exit code, stdout, stderr. */
async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 15_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

/** One command line, its reply lines until EOF. */
async function exchange(target: Any, line: string): Promise<string[]> {
  const sock = await connect(target);
  try {
    const reader = new SockReader(sock);
    sock.write(`${line}\n`);
    return (await withTimeout(reader.readToEnd(10_000), 10_000, `reply to ${line}`)).toString().split('\n').filter((l) => l !== '');
  } finally {
    sock.destroy();
  }
}

/** A connection whose 'slow' request waits in the handler until go(). */
async function slow(target: Any): Promise<{ sock: net.Socket; go(): void; rest(): Promise<string> }> {
  const sock = await connect(target);
  const reader = new SockReader(sock);
  sock.write('slow\n');
  expect((await withTimeout(reader.readLine(), 10_000, 'WAITING')).toString().trim()).to.equal('WAITING');
  return { sock, go: () => sock.write('go\n'), rest: async () => (await withTimeout(reader.readToEnd(10_000), 10_000, 'rest')).toString() };
}

async function view(target: Any): Promise<Any> {
  return JSON.parse((await exchange(target, 'view'))[0]);
}

describe('85 the socketserver command (dist/cli.js)', function () {
  this.timeout(60_000);
  const tmp = new TempDir('ss-cli-');
  after(() => tmp.cleanup());

  it('--help lists every option and exits 0', async () => {
    const { code, stdout } = await runCli(['--help']);
    expect(code).to.equal(0);
    for (const flag of ['--tcp', '--udp', '--unix', '--unix-dgram', '--systemd', '--threading', '--workers', '--forking', '--js', '--reuse-port', '--queue-size', '--poll-interval', '--proxy-protocol', '--proxy-trusted', '--drain-timeout', '--help']) {
      expect(stdout, flag).to.contain(flag);
    }
    expect((await runCli(['-h'])).stdout).to.equal(stdout);
  });

  it('bad arguments: a message that names the problem, the usage, exit status 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--bogus', HANDLER], /Unknown option '--bogus'/],
      [['--tcp', '127.0.0.1:1'], /a handler module is required/],
      [[HANDLER], /an address option is required/],
      [['--tcp', 'nohost', HANDLER], /--tcp needs HOST:PORT/],
      [['--tcp', '127.0.0.1:70000', HANDLER], /--tcp needs HOST:PORT/],
      [['--tcp', '127.0.0.1:1', '--udp', '127.0.0.1:1', HANDLER], /give one of/],
      [['--tcp', '127.0.0.1:1', HANDLER, 'extra'], /one handler module/],
      [['--tcp', '127.0.0.1:1', '--workers', 'x', HANDLER], /--workers needs a whole number/],
      [['--tcp', '127.0.0.1:1', '--workers', '257', HANDLER], /--workers needs a whole number 0-256/],
      [['--tcp', '127.0.0.1:1', '--forking', '--threading', HANDLER], /--forking does not go with/],
      [['--tcp', '127.0.0.1:1', '--forking', '--js', HANDLER], /--forking needs the native transport/],
      [['--tcp', '127.0.0.1:1', '--workers', '2', '--js', HANDLER], /--workers needs the native transport/],
      [['--tcp', '127.0.0.1:1', '--queue-size', 'many', HANDLER], /--queue-size needs a whole number/],
      [['--tcp', '127.0.0.1:1', '--poll-interval', 'soon', HANDLER], /--poll-interval needs a number of seconds/],
      [['--tcp', '127.0.0.1:1', '--drain-timeout=-1', HANDLER], /--drain-timeout needs a number of seconds/],
      [['--systemd', HANDLER], /--systemd: no sockets were passed/],
      [['--systemd', '--tcp', '127.0.0.1:1', HANDLER], /--systemd takes its sockets from systemd/],
      [['--tcp', '127.0.0.1:1', '--reuse-port', '--js', HANDLER], /not supported/],
      [['--tcp', '127.0.0.1:1', path.join(ROOT, 'test', 'fixtures', 'no-handler.js')], /exports no handler class/],
      [['--tcp', '127.0.0.1:1', '--proxy-protocol', 'v9', HANDLER], /--proxy-protocol needs v1, v2 or any/],
      [['--tcp', '127.0.0.1:1', '--proxy-trusted', '10.0.0.1', HANDLER], /--proxy-trusted goes with --proxy-protocol/],
      [['--tcp', '127.0.0.1:1', '--proxy-protocol', 'v1', '--js', HANDLER], /--proxy-protocol needs the native transport/],
      [['--tcp', '127.0.0.1:0', '--proxy-protocol', 'v1', '--proxy-trusted', 'nope', HANDLER], /proxyTrusted: 'nope' is not an address/],
      [['--udp', '127.0.0.1:0', '--proxy-protocol', 'v1', HANDLER], /datagrams carry v2 headers only/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await runCli(args);
      expect(code, args.join(' ')).to.equal(2);
      expect(stderr, args.join(' ')).to.match(message).and.match(/usage: socketserver/);
    }
  });

  it('--tcp: a TCPServer, requests on the main thread; Ctrl-C (SIGINT) drains and exits 0', async () => {
    const port = await freePort();
    const server = await cli(['--tcp', `${HOST}:${port}`, HANDLER]);
    try {
      expect(server.stderr()).to.match(new RegExp(`serving tcp on ${HOST}:${port} with TCPServer \\(drain timeout 10 s\\), pid ${server.child.pid}`));
      expect(await exchange([HOST, port], 'one')).to.deep.equal(['ONE']);
      expect((await view([HOST, port])).isMainThread).to.equal(true);
    } finally {
      expect(await stopProgram(server, 'SIGINT')).to.equal(0);
    }
    expect(server.stderr()).to.match(/SIGINT: draining/).and.match(/drained: 0 finished, 0 cut short/);
  });

  it('--threading: a ThreadingTCPServer, two requests in flight at once', async () => {
    const port = await freePort();
    const server = await cli(['--tcp', `${HOST}:${port}`, '--threading', HANDLER]);
    try {
      expect(server.stderr()).to.contain('with ThreadingTCPServer');
      const a = await slow([HOST, port]);
      const b = await slow([HOST, port]); // answered while `a` still waits: concurrent
      a.go();
      b.go();
      expect(await a.rest()).to.equal('SLOW\n');
      expect(await b.rest()).to.equal('SLOW\n');
    } finally {
      expect(await stopProgram(server, 'SIGTERM')).to.equal(0);
    }
  });

  it('--workers 2: handlers on worker threads (TCP, and UDP)', async () => {
    const port = await freePort();
    const server = await cli(['--tcp', `${HOST}:${port}`, '--workers', '2', HANDLER]);
    try {
      expect(server.stderr()).to.contain('with ThreadingTCPServer (2 worker threads');
      const v = await view([HOST, port]);
      expect(v.isMainThread).to.equal(false);
      expect(v.workerThreads).to.equal(2);
    } finally {
      expect(await stopProgram(server)).to.equal(0);
    }
    const uport = await freePort('udp');
    const handler = path.join(ROOT, 'test', 'fixtures', 'udp-upper-handler.mjs');
    const userver = await cli(['--udp', `${HOST}:${uport}`, '--workers', '2', handler]);
    try {
      expect(userver.stderr()).to.contain('serving udp').and.contain('with ThreadingUDPServer (2 worker threads');
      for (let i = 0; i < 3; i++) expect((await udpExchange([HOST, uport], `d${i}`)).toString().split(' ')[0]).to.equal(`D${i}`);
    } finally {
      expect(await stopProgram(userver)).to.equal(0);
    }
  });

  it('--forking: each request in a child process', async function () {
    if (process.platform !== 'linux') this.skip();
    const port = await freePort();
    const server = await cli(['--tcp', `${HOST}:${port}`, '--forking', HANDLER]);
    try {
      expect(server.stderr()).to.contain('with ForkingTCPServer');
      const pids = [(await view([HOST, port])).pid, (await view([HOST, port])).pid];
      expect(pids[0]).to.not.equal(server.child.pid);
      expect(pids[1]).to.not.equal(pids[0]);
    } finally {
      expect(await stopProgram(server)).to.equal(0);
    }
  });

  it('--js: the pure-JavaScript transport', async () => {
    const port = await freePort();
    const server = await cli(['--tcp', `${HOST}:${port}`, '--js', '--threading', HANDLER]);
    try {
      expect(server.stderr()).to.contain('with ThreadingTCPServer (js transport');
      expect(await exchange([HOST, port], 'js')).to.deep.equal(['JS']);
    } finally {
      expect(await stopProgram(server)).to.equal(0);
    }
  });

  it('--reuse-port: a second process binds the same port (without it: EADDRINUSE, exit 1)', async () => {
    const port = await freePort();
    const first = await cli(['--tcp', `${HOST}:${port}`, '--reuse-port', HANDLER]);
    try {
      expect(first.stderr()).to.contain('SO_REUSEPORT');
      const refused = await runCli(['--tcp', `${HOST}:${port}`, HANDLER]);
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.match(/EADDRINUSE/);
      const second = await cli(['--tcp', `${HOST}:${port}`, '--reuse-port', HANDLER]);
      try {
        expect(await exchange([HOST, port], 'either')).to.deep.equal(['EITHER']);
      } finally {
        expect(await stopProgram(second)).to.equal(0);
      }
    } finally {
      expect(await stopProgram(first)).to.equal(0);
    }
  });

  it('--queue-size and --poll-interval: the server gets them', async () => {
    const port = await freePort();
    const server = await cli(['--tcp', `${HOST}:${port}`, '--queue-size', '7', '--poll-interval', '0.05', HANDLER]);
    try {
      expect(server.stderr()).to.contain('queue size 7').and.contain('poll interval 0.05 s');
      expect((await view([HOST, port])).requestQueueSize).to.equal(7);
    } finally {
      expect(await stopProgram(server)).to.equal(0);
    }
  });

  it('--proxy-protocol and --proxy-trusted: the original client from the header; a peer outside the list is refused', async () => {
    const port = await freePort();
    const server = await cli(['--tcp', `${HOST}:${port}`, '--threading', '--proxy-protocol', 'v1', '--proxy-trusted', '127.0.0.0/8,::1', HANDLER]);
    try {
      expect(server.stderr()).to.contain('PROXY protocol v1 from 127.0.0.0/8,::1');
      const v = await view([HOST, port]).catch(() => null);
      expect(v, 'a request without a header is refused').to.equal(null);
      const sock = await connect([HOST, port]);
      const reader = new SockReader(sock);
      sock.write('PROXY TCP4 192.0.2.10 192.0.2.20 4321 80\r\nview\n');
      const reply = JSON.parse((await withTimeout(reader.readToEnd(10_000), 10_000, 'view')).toString());
      sock.destroy();
      expect(reply.clientAddress).to.deep.equal(['192.0.2.10', 4321]);
      expect(server.stderr()).to.contain('PROXY protocol: not a PROXY protocol v1 header');
    } finally {
      expect(await stopProgram(server)).to.equal(0);
    }
    const refusing = await cli(['--tcp', `${HOST}:${port}`, '--proxy-protocol', 'v1', '--proxy-trusted', '10.0.0.1', HANDLER]);
    try {
      const sock = await connect([HOST, port]);
      const reader = new SockReader(sock);
      sock.write('PROXY TCP4 192.0.2.10 192.0.2.20 4321 80\r\nview\n');
      expect((await withTimeout(reader.readToEnd(10_000), 10_000, 'EOF')).length).to.equal(0);
      sock.destroy();
      expect(refusing.stderr()).to.match(/may not send a header \(it is not in proxyTrusted\)/);
    } finally {
      expect(await stopProgram(refusing)).to.equal(0);
    }
  });

  describe('--drain-timeout: SIGTERM drains', () => {
    it('a request in flight finishes: "1 finished", exit 0', async () => {
      const port = await freePort();
      const server = await cli(['--tcp', `${HOST}:${port}`, '--threading', '--drain-timeout', '20', HANDLER]);
      const c = await slow([HOST, port]);
      server.child.kill('SIGTERM');
      await waitForStderr(server, /draining \(at most 20 s\)/);
      // Draining: the listening socket takes no new request (it waits in the backlog).
      c.go();
      expect(await c.rest()).to.equal('SLOW\n');
      expect(await withTimeout(server.exited, 10_000, 'exit')).to.equal(0);
      expect(server.stderr()).to.match(/drained: 1 finished, 0 cut short/);
      c.sock.destroy();
    });

    it('the timeout expires: the request is closed, "1 cut short", exit 0', async () => {
      const port = await freePort();
      const server = await cli(['--tcp', `${HOST}:${port}`, '--threading', '--drain-timeout', '0.3', HANDLER]);
      const c = await slow([HOST, port]);
      expect(await stopProgram(server, 'SIGTERM')).to.equal(0);
      expect(await c.rest()).to.equal('');
      expect(server.stderr()).to.match(/drained: 0 finished, 1 cut short/);
      c.sock.destroy();
    });

    it('a second signal stops at once (exit 1)', async () => {
      const port = await freePort();
      const server = await cli(['--tcp', `${HOST}:${port}`, '--threading', '--drain-timeout', '60', HANDLER]);
      const c = await slow([HOST, port]);
      server.child.kill('SIGINT');
      await waitForStderr(server, /draining/);
      expect(await stopProgram(server, 'SIGINT')).to.equal(1);
      expect(server.stderr()).to.match(/SIGINT again: stopping now/);
      c.sock.destroy();
    });
  });

  it('--unix and --unix-dgram', async () => {
    const sock = tmp.path('cli-stream');
    const server = await cli(['--unix', sock, HANDLER]);
    try {
      expect(server.stderr()).to.contain(`serving unix on ${sock} with UnixStreamServer`);
      expect(await exchange(sock, 'unix')).to.deep.equal(['UNIX']);
    } finally {
      expect(await stopProgram(server)).to.equal(0);
    }
    expect(fs.existsSync(sock), 'the socket file removed on close').to.equal(false);
    const dsock = tmp.path('cli-dgram');
    const handler = path.join(ROOT, 'test', 'fixtures', 'udp-upper-handler.mjs');
    const dserver = await cli(['--unix-dgram', dsock, handler]);
    const client = new UnixDgramClient(tmp.path('cli-client'));
    try {
      expect(dserver.stderr()).to.contain(`serving unix-dgram on ${dsock} with UnixDatagramServer`);
      client.sendTo('dgram', dsock);
      expect((await client.recv(10_000))[0].toString().split(' ')[0]).to.equal('DGRAM');
    } finally {
      client.close();
      expect(await stopProgram(dserver)).to.equal(0);
    }
  });

  describe('socket activation', function () {
    before(function () {
      requireTool(this, 'systemd-socket-activate');
    });

    for (const flag of [[], ['--systemd']]) {
      it(`under systemd-socket-activate ${flag.length > 0 ? 'with' : 'without'} --systemd: serves the passed socket`, async () => {
        const port = await freePort();
        const activator = await startProgram(
          'systemd-socket-activate',
          ['-l', `${HOST}:${port}`, '--', process.execPath, CLI, ...flag, '--threading', HANDLER],
          { cwd: ROOT, ready: /Listening on/ },
        );
        try {
          // The first connection starts the service (systemd-socket-activate execs it then).
          expect(await exchange([HOST, port], 'activated')).to.deep.equal(['ACTIVATED']);
          expect(activator.stderr()).to.match(new RegExp(`serving tcp on ${HOST}:${port} with ThreadingTCPServer \\(socket-activated fd 3`));
        } finally {
          expect(await stopProgram(activator, 'SIGTERM')).to.equal(0);
        }
      });
    }
  });
});
