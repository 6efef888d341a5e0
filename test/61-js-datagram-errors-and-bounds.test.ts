// Issue 12 ("Hardening"), item 1, on each transport: a reply that cannot be
// sent (70 000 bytes: EMSGSIZE) reaches handleError() as the same coded
// system error on both transports, and concurrent replies
// (ThreadingUDPServer) each get their own outcome.
import { expect } from 'chai';

import { deferred, HOST, transports, UdpClient, until, withTimeout } from './helpers';

type SysErr = Error & { code?: string; errno?: number; syscall?: string; address?: string; port?: number };

/** Larger than any UDP datagram can be (65 507 bytes over IPv4): sendto() fails with EMSGSIZE. */
const TOO_BIG = 70_000;

function expectEmsgsize(error: unknown, port: number): void {
  expect(error, 'the error handleError() got').to.be.instanceOf(Error);
  const e = error as SysErr;
  expect(e.code).to.equal('EMSGSIZE');
  expect(e.errno).to.equal(-90);
  expect(e.syscall).to.equal('sendto');
  expect(e.address).to.equal(HOST);
  expect(e.port).to.equal(port);
  expect(e.message).to.equal(`sendto EMSGSIZE: message too long ${HOST}:${port}`);
}

for (const { name, ss } of transports) {
  describe(`datagram send errors and queue bounds (${name})`, () => {
    it(`a ${TOO_BIG}-byte reply: handleError() gets EMSGSIZE from sendto, and the server answers afterwards`, async () => {
      const errors: unknown[] = [];
      class Reply extends ss.DatagramRequestHandler {
        override async handle(): Promise<void> {
          await this.wfile.write(this.packet.toString() === 'big' ? Buffer.alloc(TOO_BIG, 0x62) : Buffer.from('small'));
        }
      }
      class Server extends ss.UDPServer {
        override handleError(_request: unknown, _address: unknown, error: unknown): void {
          errors.push(error);
        }
      }
      const server = new Server([HOST, 0], Reply);
      const client = await UdpClient.open();
      try {
        const to = server.serverAddress as [string, number];
        await client.send('big', to);
        await withTimeout(server.handleRequest(), 5000, 'handleRequest() of the big reply');
        expect(errors).to.have.length(1);
        expectEmsgsize(errors[0], client.address()[1]);
        // The failure was that one reply's: the next request is answered.
        await client.send('small', to);
        await withTimeout(server.handleRequest(), 5000, 'handleRequest() of the small reply');
        expect((await client.recv())[0].toString()).to.equal('small');
        expect(errors).to.have.length(1);
      } finally {
        client.close();
        await server.serverClose();
      }
    });

    it('concurrent replies on a ThreadingUDPServer each get their own outcome, the same Buffer sent by several included', async () => {
      const N = 8;
      const BIG = Buffer.alloc(TOO_BIG, 0x62);
      const SMALL = Buffer.from('small reply');
      const gate = deferred<void>();
      let started = 0;
      const outcomes = new Map<string, number | SysErr>();
      class Reply extends ss.BaseRequestHandler {
        override async handle(): Promise<void> {
          const [data, socket] = this.request as unknown as [Buffer, InstanceType<typeof ss.ServerSocket>];
          // All N handlers send at once: their sends are in flight together.
          if (++started === N) gate.resolve();
          await gate.promise;
          const tag = data.toString();
          try {
            outcomes.set(tag, await socket.sendTo(tag.startsWith('big') ? BIG : SMALL, this.clientAddress));
          } catch (error) {
            outcomes.set(tag, error as SysErr);
          }
        }
      }
      const server = new ss.ThreadingUDPServer([HOST, 0], Reply);
      const client = await UdpClient.open();
      const loop = server.serveForever(0.05);
      try {
        const to = server.serverAddress as [string, number];
        const tags = Array.from({ length: N }, (_, i) => (i % 2 === 0 ? `big ${i}` : `small ${i}`));
        for (const tag of tags) await client.send(tag, to);
        await withTimeout(gate.promise, 5000, `all ${N} handlers started`);
        for (let i = 0; i < N / 2; i++) expect((await client.recv())[0].toString()).to.equal('small reply');
        await until(() => outcomes.size === N, `all ${N} sends settled`, 5000);
        for (const tag of tags) {
          const outcome = outcomes.get(tag);
          if (tag.startsWith('big')) expectEmsgsize(outcome, client.address()[1]);
          else expect(outcome, tag).to.equal(SMALL.length);
        }
      } finally {
        gate.resolve();
        client.close();
        await withTimeout(server.shutdown(), 5000, 'shutdown()');
        await withTimeout(loop, 5000, 'serveForever() to end');
        await server.serverClose();
      }
    });
  });
}
