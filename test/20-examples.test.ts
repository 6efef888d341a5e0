// The examples of Python's documentation, ported (examples/), run as the
// docs show: a server process, then the client, with the output compared.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { freePort as freePortOf, type Program, startProgram, stopProgram } from './proc-helpers';

const freePort = (): Promise<number> => freePortOf('tcp');

const root = path.join(__dirname, '..', '..');
const run = promisify(execFile);

const start = (args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<Program> => startProgram(null, args, { env, cwd: root, ready });
const stop = (program: Program): Promise<number | null> => stopProgram(program, 'SIGINT');

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
});
