// A Unix datagram from an unnamed (unbound) sender: clientAddress is null,
// as Python's recvfrom() gives None (an unnamed stream peer stays '':
// test/32), and a DatagramRequestHandler does not
// fail replying to it (API.md, "Details that outside tests hold
// implementations to"). The senders are real ones: util-linux's `logger -u`,
// which syslog clients are, and a python3 socket that never binds.
import { expect } from 'chai';
import * as childProcess from 'node:child_process';

import { havePython, TempDir, transports, UnixDgramClient, withTimeout } from './helpers';

/**
 * logger is util-linux's, not ours: it runs without the sanitizer runtime
 * that `npm run test:sanitized` preloads into every process (under it,
 * logger hangs at exit in LeakSanitizer's stop-the-world).
 */
const LOGGER_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'LD_PRELOAD' && !/^(ASAN|LSAN|UBSAN)_OPTIONS$/.test(k)),
);

function haveLogger(): boolean {
  return childProcess.spawnSync('logger', ['--version'], { stdio: 'ignore', env: LOGGER_ENV, timeout: 10000 }).status === 0;
}

type Sender = { name: string; available: () => boolean; send: (path: string, text: string) => Promise<void> };

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = childProcess.execFile(cmd, args, { timeout: 10000, env }, (error) => (error ? reject(error) : resolve()));
    child.stdin?.end();
  });
}

const SENDERS: Sender[] = [
  { name: 'logger -u', available: haveLogger, send: (p, text) => run('logger', ['-u', p, text], LOGGER_ENV) },
  {
    name: 'an unbound python3 socket',
    available: havePython,
    send: (p, text) =>
      run('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(sys.argv[2].encode(), sys.argv[1])', p, text]),
  },
];

for (const { name, ss, caps } of transports) {
  if (!caps.unixDatagram) continue; // the js transport has no Unix datagram servers (test/60 asserts the refusal)
  describe(`an unnamed Unix datagram sender (${name})`, () => {
    const tmp = new TempDir('ss-unnamed-');
    after(() => tmp.cleanup());

    for (const sender of SENDERS) {
      for (const Server of [ss.UnixDatagramServer, ss.ThreadingUnixDatagramServer] as Array<typeof ss.UnixDatagramServer>) {
        for (const kind of ['BaseRequestHandler', 'DatagramRequestHandler'] as const) {
          it(`${Server.name}, ${kind}, from ${sender.name}: clientAddress is null, and nothing reaches handleError()`, async function () {
            if (!sender.available()) this.skip();
            const seen: Array<{ address: unknown; text: string }> = [];
            const errors: unknown[] = [];
            const Handler =
              kind === 'BaseRequestHandler'
                ? class extends ss.BaseRequestHandler {
                    override handle(): void {
                      seen.push({ address: this.clientAddress, text: (this.request as unknown as [Buffer, unknown])[0].toString() });
                    }
                  }
                : class extends ss.DatagramRequestHandler {
                    override async handle(): Promise<void> {
                      seen.push({ address: this.clientAddress, text: this.packet.toString() });
                      // A reply that finish() has nowhere to send.
                      await this.wfile.write('reply');
                    }
                  };
            class Recording extends Server {
              override handleError(_request: unknown, _address: unknown, error: unknown): void {
                errors.push(error);
              }
            }
            const server = new Recording(tmp.path(), Handler);
            try {
              for (let i = 0; i < 2; i++) {
                const sending = sender.send(server.serverAddress as string, `message ${i}`);
                await withTimeout(server.handleRequest(), 10000, 'handleRequest()');
                await sending;
              }
            } finally {
              // ThreadingMixIn: serverClose() waits for the handler tasks (blockOnClose).
              await server.serverClose();
            }
            expect(errors).to.deep.equal([]);
            expect(seen.map((s) => s.address)).to.deep.equal([null, null]);
            expect(seen.map((s) => /message \d$/.exec(s.text)?.[0])).to.deep.equal(['message 0', 'message 1']);
          });
        }
      }
    }

    it('socket.sendTo(data, null) rejects with a TypeError (ERR_INVALID_ARG_TYPE), as Python\'s sendto(data, None) raises', async function () {
      if (!havePython()) this.skip();
      const errors: Array<Error & { code?: string }> = [];
      class Replies extends ss.BaseRequestHandler {
        override async handle(): Promise<void> {
          const [data, socket] = this.request as unknown as [Buffer, InstanceType<typeof ss.ServerSocket>];
          await socket.sendTo(data, this.clientAddress);
        }
      }
      class Recording extends ss.UnixDatagramServer {
        override handleError(_request: unknown, _address: unknown, error: unknown): void {
          errors.push(error as Error);
        }
      }
      const server = new Recording(tmp.path(), Replies);
      try {
        const sending = SENDERS[1].send(server.serverAddress as string, 'x');
        await withTimeout(server.handleRequest(), 10000, 'handleRequest()');
        await sending;
      } finally {
        await server.serverClose();
      }
      expect(errors).to.have.length(1);
      expect(errors[0]).to.be.instanceOf(TypeError);
      expect(errors[0].code).to.equal('ERR_INVALID_ARG_TYPE');
      expect(errors[0].message).to.include('unnamed');
    });

    it('a named sender is still its path, and a DatagramRequestHandler answers it', async () => {
      class Upper extends ss.DatagramRequestHandler {
        override async handle(): Promise<void> {
          await this.wfile.write(this.packet.toString().toUpperCase());
        }
      }
      const server = new ss.UnixDatagramServer(tmp.path(), Upper);
      const client = new UnixDgramClient(tmp.path('client'));
      try {
        client.sendTo('named', server.serverAddress as string);
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        const [data, from] = await client.recv();
        expect(data.toString()).to.equal('NAMED');
        expect(from).to.equal(server.serverAddress);
      } finally {
        client.close();
        await server.serverClose();
      }
    });
  });
}
