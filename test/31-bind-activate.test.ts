/** bindAndActivate, serverBind(), serverActivate() (API.md "Servers"). */
import { expect } from 'chai';
import * as fs from 'node:fs';

import {
  connect,
  fdCount,
  HOST,
  streamExchange,
  TempDir,
  transports,
  udpExchange,
  withTimeout,
} from './helpers';

for (const { name, ss, caps } of transports) {
  describe(`bindAndActivate / serverBind / serverActivate (${name})`, () => {
    const tmp = new TempDir();
    after(() => tmp.cleanup());

    class Echo extends ss.StreamRequestHandler {
      override async handle(): Promise<void> {
        await this.wfile.write(await this.rfile.readline());
      }
    }

    it('the constructor calls serverBind() then serverActivate()', async () => {
      const calls: string[] = [];
      class MyServer extends ss.TCPServer {
        override serverBind(): void {
          calls.push('serverBind');
          super.serverBind();
        }
        override serverActivate(): void {
          calls.push('serverActivate');
          super.serverActivate();
        }
      }
      const server = new MyServer([HOST, 0], Echo);
      try {
        expect(calls).to.deep.equal(['serverBind', 'serverActivate']);
      } finally {
        await server.serverClose();
      }
      calls.length = 0;
      const lazy = new MyServer([HOST, 0], Echo, { bindAndActivate: false });
      try {
        expect(calls).to.deep.equal([]);
      } finally {
        await lazy.serverClose();
      }
    });

    it('bindAndActivate false: serverAddress is the given one until serverBind(); refused until serverActivate()', async () => {
      const server = new ss.TCPServer([HOST, 0], Echo, { bindAndActivate: false });
      try {
        expect(server.serverAddress).to.deep.equal([HOST, 0]);
        // Without filenoBeforeBind the descriptor is made at bind() (libuv).
        if (caps.filenoBeforeBind) expect(server.socket.fileno()).to.be.greaterThan(-1);
        else expect(server.socket.fileno()).to.equal(-1);
        server.serverBind();
        expect(server.socket.fileno()).to.be.greaterThan(2);
        const addr = server.serverAddress as [string, number];
        expect(addr[0]).to.equal(HOST);
        expect(addr[1]).to.be.greaterThan(0);
        expect(server.serverAddress).to.deep.equal(server.socket.getSockName());
        // Bound, not listening: a connection is refused.
        let refused: (Error & { code?: string }) | undefined;
        try {
          const c = await connect(addr);
          c.destroy();
        } catch (e) {
          refused = e as Error & { code?: string };
        }
        expect(refused, 'connect before serverActivate()').to.not.equal(undefined);
        expect(refused!.code).to.equal('ECONNREFUSED');
        server.serverActivate();
        const reply = streamExchange(addr, 'after activate\n');
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        expect((await reply).toString()).to.equal('after activate\n');
      } finally {
        await server.serverClose();
      }
    });

    it('bindAndActivate false, Unix: the path exists only after serverBind()', async () => {
      const p = tmp.path();
      const server = new ss.UnixStreamServer(p, Echo, { bindAndActivate: false });
      try {
        expect(server.serverAddress).to.equal(p);
        expect(fs.existsSync(p)).to.equal(false);
        server.serverBind();
        expect(fs.existsSync(p)).to.equal(true);
        expect(server.serverAddress).to.equal(p);
        server.serverActivate();
        const reply = streamExchange(p, 'unix\n');
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        expect((await reply).toString()).to.equal('unix\n');
      } finally {
        await server.serverClose();
      }
    });

    it('bindAndActivate false, UDP: serves after serverBind() + serverActivate()', async () => {
      class Up extends ss.DatagramRequestHandler {
        override async handle(): Promise<void> {
          await this.wfile.write(Buffer.from(this.packet.toString().toUpperCase()));
        }
      }
      const server = new ss.UDPServer([HOST, 0], Up, { bindAndActivate: false });
      try {
        expect(server.serverAddress).to.deep.equal([HOST, 0]);
        server.serverBind();
        server.serverActivate();
        expect(server.serverAddress).to.deep.equal(server.socket.getSockName());
        const reply = udpExchange(server.serverAddress as [string, number], 'abc');
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        expect((await reply).toString()).to.equal('ABC');
      } finally {
        await server.serverClose();
      }
    });

    it('a server never bound can be closed', async () => {
      const before = fdCount();
      const server = new ss.TCPServer([HOST, 0], Echo, { bindAndActivate: false });
      await server.serverClose();
      expect(server.socket.fileno()).to.equal(-1);
      expect(fdCount()).to.equal(before);
    });

    it('a throwing serverActivate() closes the socket before the error propagates', () => {
      class Boom extends Error {}
      class MyServer extends ss.TCPServer {
        override serverActivate(): void {
          throw new Boom('activate failed');
        }
      }
      const before = fdCount();
      for (let i = 0; i < 256; i++) {
        expect(() => new MyServer([HOST, 0], Echo)).to.throw(Boom);
      }
      expect(fdCount()).to.equal(before);
    });

    it('a throwing serverBind() closes the socket before the error propagates', () => {
      class Boom extends Error {}
      class MyServer extends ss.UnixStreamServer {
        override serverBind(): void {
          throw new Boom('bind failed');
        }
      }
      const before = fdCount();
      for (let i = 0; i < 256; i++) {
        expect(() => new MyServer(tmp.path('never'), Echo)).to.throw(Boom);
      }
      expect(fdCount()).to.equal(before);
    });
  });
}
