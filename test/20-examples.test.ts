// The examples of Python's documentation, ported (examples/), run as the
// docs show: a server process, then the client, with the output compared.
import { expect } from 'chai';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { udpExchange } from './helpers';

const root = path.join(__dirname, '..', '..');
const run = promisify(execFile);

/** A port that was free a moment ago, for examples that take PORT from the environment. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A UDP port that was free a moment ago. */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.on('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts a program and resolves once `ready` matches its stderr (bounded by 10 s). */
function start(args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<Started> {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`not ready within 10 s: ${err}`)); }, 10_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (ready.test(err)) {
        clearTimeout(timer);
        resolve({ child, stdout: () => out, stderr: () => err, exited });
      }
    });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`exited with ${code} before ready: ${err}`)); });
  });
}

async function stop(server: Started): Promise<number | null> {
  server.child.kill('SIGINT');
  return server.exited;
}

describe('examples (the documentation, ported)', () => {
  for (const [name, script] of [['BaseRequestHandler', 'tcp-server.mjs'], ['StreamRequestHandler', 'tcp-server-stream.mjs']] as const) {
    it(`TCP server with ${name}, and the TCP client`, async () => {
      const port = await freePort();
      const env = { HOST: 'localhost', PORT: String(port) };
      const server = await start([`examples/${script}`], env, /Serving on/);
      try {
        const a = await run(process.execPath, ['examples/tcp-client.mjs', 'hello', 'world', 'with', 'TCP'], { cwd: root, env: { ...process.env, ...env }, timeout: 10_000 });
        expect(a.stdout).to.equal('Sent:     hello world with TCP\nReceived: HELLO WORLD WITH TCP\n');
        const b = await run(process.execPath, ['examples/tcp-client.mjs', 'python', 'is', 'nice'], { cwd: root, env: { ...process.env, ...env }, timeout: 10_000 });
        expect(b.stdout).to.equal('Sent:     python is nice\nReceived: PYTHON IS NICE\n');
      } finally {
        expect(await stop(server)).to.equal(0);
      }
      expect(server.stdout()).to.equal('127.0.0.1 wrote:\nhello world with TCP\n127.0.0.1 wrote:\npython is nice\n');
    });
  }

  it('UDP server and client', async () => {
    const port = await freePort();
    const env = { HOST: 'localhost', PORT: String(port) };
    const server = await start(['examples/udp-server.mjs'], env, /Serving on/);
    try {
      const a = await run(process.execPath, ['examples/udp-client.mjs', 'hello', 'world', 'with', 'UDP'], { cwd: root, env: { ...process.env, ...env }, timeout: 10_000 });
      expect(a.stdout).to.equal('Sent:     hello world with UDP\nReceived: HELLO WORLD WITH UDP\n');
    } finally {
      expect(await stop(server)).to.equal(0);
    }
    expect(server.stdout()).to.equal('127.0.0.1 wrote:\nhello world with UDP\n');
  });

  it('ThreadingMixIn example: the server loop and a task per request', async () => {
    const { stdout } = await run(process.execPath, ['examples/threaded-tcp-server.mjs'], { cwd: root, timeout: 10_000 });
    expect(stdout).to.equal(
      'Server loop running in task: serveForever\n' +
        'Received: Task-1: Hello World 1\n' +
        'Received: Task-2: Hello World 2\n' +
        'Received: Task-3: Hello World 3\n',
    );
  });

  describe('the socketserver command', () => {
    const cli = path.join(root, 'dist', 'cli.js');

    async function lines(connect: net.NetConnectOpts, payload: string): Promise<string> {
      return new Promise((resolve, reject) => {
        const s = net.connect(connect, () => s.end(payload));
        let got = '';
        s.on('data', (d: Buffer) => { got += d.toString(); });
        s.on('close', () => resolve(got));
        s.on('error', reject);
      });
    }

    it('serves a handler module over TCP and stops cleanly on Ctrl-C', async () => {
      const port = await freePort();
      const server = await start([cli, '--tcp', `127.0.0.1:${port}`, './examples/handler.mjs'], {}, /serving tcp/);
      try {
        expect(await lines({ port, host: '127.0.0.1' }, 'one\ntwo\n')).to.equal('ONE\nTWO\n');
      } finally {
        expect(await stop(server)).to.equal(0);
      }
    });

    it('--workers 2: serves with its handlers on worker threads (issue 10)', async () => {
      const port = await freePort();
      const server = await start([cli, '--tcp', `127.0.0.1:${port}`, '--workers', '2', './examples/handler.mjs'], {}, /serving tcp on .* on 2 worker threads/);
      try {
        for (let i = 0; i < 3; i++) expect(await lines({ port, host: '127.0.0.1' }, `w${i}\none\n`)).to.equal(`W${i}\nONE\n`);
      } finally {
        expect(await stop(server)).to.equal(0);
      }
    });

    it('--workers 2 --udp: a datagram server with its handlers on worker threads', async () => {
      const port = await freeUdpPort();
      const handler = path.join(root, 'test', 'fixtures', 'udp-upper-handler.mjs');
      const server = await start([cli, '--udp', `127.0.0.1:${port}`, '--workers', '2', handler], {}, /serving udp on .* on 2 worker threads/);
      try {
        for (let i = 0; i < 3; i++) {
          const [reply] = (await udpExchange(['127.0.0.1', port], `d${i}`)).toString().split(' ');
          expect(reply).to.equal(`D${i}`);
        }
      } finally {
        expect(await stop(server)).to.equal(0);
      }
    });

    it('--workers: a bad count is a usage error', async () => {
      for (const args of [['--tcp', '127.0.0.1:1', '--workers', 'x'], ['--udp', '127.0.0.1:1', '--workers', '-1']]) {
        const error = await run(process.execPath, [cli, ...args, './examples/handler.mjs'], { cwd: root, timeout: 10_000 }).then(
          () => null,
          (e: { code: number; stderr: string }) => e,
        );
        expect(error, args.join(' ')).to.not.equal(null);
        expect(error!.code).to.equal(2);
        expect(error!.stderr).to.match(/--workers/);
      }
    });

    it('serves over a Unix socket', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-cli-'));
      const sock = path.join(dir, 'cli.sock');
      try {
        const server = await start([cli, '--unix', sock, './examples/handler.mjs'], {}, /serving unix/);
        try {
          expect(await lines({ path: sock }, 'unix\n')).to.equal('UNIX\n');
        } finally {
          expect(await stop(server)).to.equal(0);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('rejects bad usage with exit status 2 and the usage text', async () => {
      const error = await run(process.execPath, [cli, '--bogus'], { cwd: root, timeout: 10_000 }).then(
        () => null,
        (e: { code: number; stderr: string }) => e,
      );
      expect(error).to.not.equal(null);
      expect(error!.code).to.equal(2);
      expect(error!.stderr).to.match(/unknown option --bogus/).and.match(/usage: socketserver/);
    });
  });
});
