// Issue 11: the README's "Deploying" recipes, run as written there (only
// ports and paths replaced), against the real tools: HAProxy from Debian's
// packages in front of the server (send-proxy, send-proxy-v2 with a unique
// id, health checks with check-send-proxy), and systemd's
// systemd-socket-activate. The zero-downtime restart plays systemd's part
// itself: it holds the socket and passes it to two instances started with
// the README's ExecStart, and restarts them one at a time under load.
// Every wait and loop is bounded.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

import { connect, HOST, nativeAddon, requireTool, ROOT, SockReader, TempDir, transports, until, withTimeout } from './helpers';
import { freePort, type Program, startProgram, stopProgram, waitForStderr } from './proc-helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const ss = transports.find((t) => t.name === 'native')!.ss as Any;
const CLI = path.join(ROOT, 'dist', 'cli.js');
const HANDLER = path.join(ROOT, 'test', 'fixtures', 'cli-handler.js');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The README's fenced blocks of a language, in order. */
function blocks(lang: string): string[] {
  const out: string[] = [];
  const re = new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g');
  for (let m = re.exec(README); m !== null; m = re.exec(README)) out.push(m[1]);
  return out;
}

/** The README block of `lang` that contains `marker`. */
function block(lang: string, marker: string): string {
  const found = blocks(lang).filter((b) => b.includes(marker));
  expect(found, `one README block of ${lang} with ${marker}`).to.have.length(1);
  return found[0];
}

/** One reply of the fixture's `view` command over a new connection, and the connection's own port (`localPort`). */
async function view(port: number): Promise<Any> {
  const sock = await connect([HOST, port]);
  try {
    const reader = new SockReader(sock);
    const localPort = sock.localPort;
    sock.write('view\n');
    return { ...JSON.parse((await withTimeout(reader.readToEnd(10_000), 10_000, 'view')).toString()), localPort };
  } finally {
    sock.destroy();
  }
}

/**
 * Requests, `concurrency` at a time, each a new connection, until `done()`
 * says so or `max` were made; the replies (view) go to onReply. Resolves
 * with the failures.
 */
async function load(port: number, max: number, concurrency: number, onReply: (v: Any) => void, done: () => boolean = () => false): Promise<string[]> {
  let next = 0;
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < max && !done()) {
        const i = next++;
        try {
          onReply(await view(port));
        } catch (error) {
          failures.push(`${i}: ${(error as Error).message}`);
        }
      }
    }),
  );
  return failures;
}

describe('87 deploying: the README recipes with HAProxy and systemd-socket-activate', function () {
  this.timeout(90_000);
  const tmp = new TempDir('ss-deploy-');
  after(() => tmp.cleanup());

  describe('behind HAProxy', function () {
    before(function () {
      requireTool(this, 'haproxy', ['-v']);
    });

    /**
     * Runs haproxy with `config`; resolves once each of `ports` accepts.
     * HAProxy in the foreground says when it starts polling, but not when
     * its listeners are bound: after that line, each port is probed (a
     * connect every 20 ms, for at most 10 s).
     */
    async function haproxy(config: string, ports: number[]): Promise<Program> {
      const file = path.join(tmp.dir, `haproxy-${Math.random().toString(36).slice(2)}.cfg`);
      fs.writeFileSync(file, config);
      const program = await startProgram('haproxy', ['-f', file, '-db', '-V'], { ready: /Using \w+\(\) as the polling mechanism/ });
      const until = performance.now() + 10_000;
      for (const port of ports) {
        for (let attempt = 0; ; attempt++) {
          const ok = await new Promise<boolean>((resolve) => {
            const c = net.connect(port, HOST, () => {
              c.destroy();
              resolve(true);
            });
            c.on('error', () => resolve(false));
          });
          if (ok) break;
          if (performance.now() > until || attempt > 500) throw new Error(`HAProxy does not accept on ${port}: ${program.stderr()}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
      return program;
    }

    it("the README's haproxy.cfg and command: 1 000 connections, each with the client's own address; the health checks pass", async () => {
      const front = await freePort();
      const back = await freePort();
      const config = block('haproxy', 'send-proxy-v2')
        .replace('bind :80', `bind ${HOST}:${front}`)
        .replace('127.0.0.1:8000', `${HOST}:${back}`);
      const command = block('sh', '--proxy-protocol v2').trim().split(/\s+/);
      expect(command.slice(0, 2)).to.deep.equal(['npx', 'socketserver']);
      const args = command.slice(2).map((a) => (a === '127.0.0.1:8000' ? `${HOST}:${back}` : a === './handler.mjs' ? HANDLER : a));
      const server = await startProgram(null, [CLI, ...args], { cwd: ROOT, ready: /socketserver: serving/ });
      const proxy = await haproxy(config, [front]);
      try {
        // Each reply names the client as the connection the client made (a
        // port may come back in a later connection: the kernel reuses it).
        const replies: Any[] = [];
        const failures = await load(front, 1000, 16, (v) => replies.push(v));
        expect(failures, `${failures.slice(0, 3).join('; ')}\nserver: ${server.stderr().slice(0, 3000)}\nhaproxy: ${proxy.stderr().slice(-1500)}`).to.deep.equal([]);
        expect(replies).to.have.length(1000);
        for (const v of replies) {
          expect(v.clientAddress).to.deep.equal([HOST, v.localPort]);
          expect(v.proxy).to.deep.include({ version: 2, command: 'PROXY', destination: [HOST, front] });
        }
        expect(proxy.stderr(), 'HAProxy never saw the server down').to.not.match(/is DOWN/);
      } finally {
        await stopProgram(proxy, 'SIGTERM');
        expect(await stopProgram(server, 'SIGTERM')).to.equal(0);
      }
    });

    it('send-proxy (v1) and send-proxy-v2 with a unique id; check-send-proxy health checks arrive as LOCAL (v2) headers', async () => {
      const seen: Any[] = [];
      class Record extends ss.StreamRequestHandler {
        async handle(): Promise<void> {
          // Recorded first: a health check closes (a reset) without a line.
          const entry = { line: '', clientAddress: this.clientAddress, proxy: this.request.proxy };
          seen.push(entry);
          entry.line = (await this.rfile.readline()).toString();
          if (entry.line.length > 0) await this.wfile.write(`${JSON.stringify(this.clientAddress)}\n`);
        }
      }
      const servers = [
        new ss.ThreadingTCPServer([HOST, 0], Record, { proxyProtocol: 'v1', proxyTrusted: [HOST] }),
        new ss.ThreadingTCPServer([HOST, 0], Record, { proxyProtocol: 'v2', proxyTrusted: [HOST] }),
      ];
      // Health checks close at once: their handlers may fail on a reset; that is theirs, not ours.
      for (const s of servers) s.handleError = () => undefined;
      const loops = servers.map((s) => s.serveForever(0.05));
      const fronts = [await freePort(), await freePort()];
      const config = `defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend v1
  bind ${HOST}:${fronts[0]}
  default_backend v1
backend v1
  server s1 ${HOST}:${servers[0].serverAddress[1]} send-proxy check check-send-proxy inter 100ms
frontend v2
  bind ${HOST}:${fronts[1]}
  unique-id-format %{+X}o\\ %ci:%cp_%fi:%fp_%Ts_%rt
  default_backend v2
backend v2
  server s2 ${HOST}:${servers[1].serverAddress[1]} send-proxy-v2 proxy-v2-options unique-id check check-send-proxy inter 100ms
`;
      const proxy = await haproxy(config, fronts);
      try {
        for (const [k, front] of fronts.entries()) {
          for (let i = 0; i < 20; i++) {
            const sock = await connect([HOST, front]);
            const reader = new SockReader(sock);
            sock.write(`hello ${k} ${i}\n`);
            const reply = JSON.parse((await withTimeout(reader.readToEnd(10_000), 10_000, 'reply')).toString());
            expect(reply).to.deep.equal([HOST, sock.localPort]);
            sock.destroy();
          }
        }
        const requests = seen.filter((s) => s.line.startsWith('hello'));
        expect(requests).to.have.length(40);
        for (const r of requests.filter((s) => s.line.startsWith('hello 0'))) expect(r.proxy.version).to.equal(1);
        const v2s = requests.filter((s) => s.line.startsWith('hello 1'));
        for (const r of v2s) expect(r.proxy.version).to.equal(2);
        const ids = v2s.map((r) => r.proxy.tlvs.uniqueId?.toString());
        expect(new Set(ids).size, 'a unique id per connection').to.equal(20);
        // The health checks: a v2 LOCAL header, from HAProxy itself (the real peer).
        await until(() => seen.some((s) => s.proxy?.version === 2 && s.proxy.command === 'LOCAL'), 'a v2 health check', 10_000);
        const check = seen.find((s) => s.proxy?.version === 2 && s.proxy.command === 'LOCAL');
        expect(check.clientAddress[0]).to.equal(HOST);
        expect(check.proxy.source).to.equal(null);
        expect(proxy.stderr()).to.not.match(/is DOWN/);
      } finally {
        await stopProgram(proxy, 'SIGTERM');
        for (const s of servers) await s.shutdown();
        await Promise.all(loops);
        for (const s of servers) await s.serverClose();
      }
    });
  });

  describe('under systemd (socket activation)', function () {
    before(function () {
      requireTool(this, 'systemd-socket-activate');
    });

    const socketUnit = (): string => block('ini', '[Socket]');
    const serviceUnit = (): string => block('ini', '[Service]');
    const setting = (unit: string, name: string): string => {
      const m = new RegExp(`^${name}=(.*)$`, 'm').exec(unit);
      expect(m, `${name}= in the README's unit`).to.not.equal(null);
      return m![1].trim();
    };

    /** The README's ExecStart, with this machine's node, the package's bin and the test's handler. */
    function execStart(): string[] {
      const words = setting(serviceUnit(), 'ExecStart').split(/\s+/);
      expect(words[0]).to.equal('/usr/bin/node');
      expect(words[1]).to.match(/node_modules\/\.bin\/socketserver$/);
      expect(words[words.length - 1]).to.match(/handler\.mjs$/);
      return [process.execPath, CLI, ...words.slice(2, -1), HANDLER];
    }

    it("the README's units: the service serves the socket systemd-socket-activate passes (ListenStream, FileDescriptorName)", async () => {
      expect(setting(socketUnit(), 'ListenStream')).to.equal('8000');
      const name = setting(socketUnit(), 'FileDescriptorName');
      const port = await freePort();
      const activator = await startProgram('systemd-socket-activate', ['-l', `${HOST}:${port}`, `--fdname=${name}`, '--', ...execStart()], {
        cwd: ROOT,
        ready: /Listening on/,
      });
      try {
        const v = await view(port);
        expect(v.isMainThread).to.equal(true);
        expect(activator.stderr()).to.match(new RegExp(`serving tcp on ${HOST}:${port} with ThreadingTCPServer \\(socket-activated fd 3`));
      } finally {
        expect(await stopProgram(activator, 'SIGTERM')).to.equal(0);
      }
    });

    it('restarts without downtime: two instances share the socket; each restarts (drains) while the other serves; nothing refused or lost', async () => {
      // systemd's part: it holds app.socket (Backlog= from the unit) and
      // gives it to each instance as fd 3 with LISTEN_FDS/LISTEN_FDNAMES;
      // LISTEN_PID is set after fork, as systemd does, by a shell that then
      // execs the README's ExecStart.
      const addon = nativeAddon();
      const holder = new addon.Listener(addon.constants.AF_INET, addon.constants.SOCK_STREAM);
      holder.bind([HOST, 0]);
      holder.listen(Number(setting(socketUnit(), 'Backlog')));
      const port = holder.getSockName()[1];
      const name = setting(socketUnit(), 'FileDescriptorName');
      const instance = (): Promise<Program> =>
        startProgram('sh', ['-c', 'LISTEN_PID=$$ exec "$0" "$@"', ...execStart()], {
          cwd: ROOT,
          env: { LISTEN_FDS: '1', LISTEN_FDNAMES: name },
          stdio: [holder.fileno()],
          ready: /socketserver: serving/,
        });
      const running: Program[] = [];
      try {
        const first = await instance();
        running.push(first);
        // A request in flight in the first instance across its restart.
        const sock = await connect([HOST, port]);
        const reader = new SockReader(sock);
        sock.write('slow\n');
        expect((await withTimeout(reader.readLine(), 10_000, 'WAITING')).toString().trim()).to.equal('WAITING');
        const second = await instance();
        running.push(second);
        // Traffic runs through both restarts (at most 20 000 requests).
        const counts = new Map<number, number>();
        const servedBy = (p: Program): number => counts.get(p.child.pid!) ?? 0;
        // Woken at each reply: a wait on the counts costs no polling.
        let waiters: Array<() => void> = [];
        const served = (check: () => boolean, what: string): Promise<void> =>
          withTimeout(
            new Promise<void>((resolve) => {
              const test = (): void => (check() ? resolve() : void waiters.push(test));
              test();
            }),
            30_000,
            what,
          );
        let stop = false;
        const traffic = load(
          port,
          20_000,
          4,
          (v) => {
            counts.set(v.pid, (counts.get(v.pid) ?? 0) + 1);
            const w = waiters;
            waiters = [];
            for (const f of w) f();
          },
          () => stop,
        );
        // systemctl restart app@1: stop (SIGTERM: it drains; its request in flight finishes), then start.
        await served(() => servedBy(first) + servedBy(second) >= 100, '100 requests served');
        first.child.kill('SIGTERM');
        await waitForStderr(first, /draining/);
        sock.write('go\n');
        expect((await withTimeout(reader.readToEnd(10_000), 10_000, 'the rest')).toString()).to.equal('SLOW\n');
        sock.destroy();
        expect(await withTimeout(first.exited, 15_000, 'the first instance to exit')).to.equal(0);
        expect(first.stderr()).to.match(/drained: [1-9]\d* finished, 0 cut short/);
        const third = await instance();
        running.push(third);
        await served(() => servedBy(third) >= 20, 'the restarted first instance to serve');
        // systemctl restart app@2.
        second.child.kill('SIGTERM');
        expect(await withTimeout(second.exited, 15_000, 'the second instance to exit')).to.equal(0);
        const fourth = await instance();
        running.push(fourth);
        await served(() => servedBy(fourth) >= 20, 'the restarted second instance to serve');
        stop = true;
        const failures = await withTimeout(traffic, 60_000, 'the traffic to end');
        const total = [...counts.values()].reduce((a, b) => a + b, 0);
        expect(failures, `${failures.length} of ${total + failures.length} failed: ${failures.slice(0, 3).join('; ')}`).to.deep.equal([]);
        expect(servedBy(second), 'the second instance served while the first restarted').to.be.greaterThan(0);
      } finally {
        for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) await stopProgram(p, 'SIGTERM');
        holder.close();
      }
    });
  });

  it('the README names no option the command does not have', () => {
    // Every --flag in the README's command lines is in the command's --help.
    const usage = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' }).stdout;
    const flags = new Set<string>();
    for (const b of [...blocks('sh'), ...blocks('ini')]) for (const m of b.matchAll(/(--[a-z][a-z-]+)/g)) if (/socketserver/.test(b)) flags.add(m[1]);
    expect(flags.size).to.be.greaterThan(3);
    for (const flag of flags) expect(usage, flag).to.contain(flag);
  });
});
