/** The module's exports (API.md "Module exports"). */
import { expect } from 'chai';
import * as fs from 'node:fs';

import { API_NAMES, MIXIN_NAMES, nativeAddon, ROOT, SYNC_NAMES, transports } from './helpers';


const LINUX_CONSTANTS: Record<string, number> = {
  AF_UNIX: 1,
  AF_INET: 2,
  AF_INET6: 10,
  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  SOL_SOCKET: 1,
  SO_REUSEADDR: 2,
  SO_REUSEPORT: 15,
  IPPROTO_TCP: 6,
  TCP_NODELAY: 1,
  SHUT_RD: 0,
  SHUT_WR: 1,
  SHUT_RDWR: 2,
};

// Compiled by tsc to require(); this keeps a real ESM import().
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const esmImport = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<Record<string, unknown>>;

for (const { name, ss, cjs: cjsFile, esm: esmFile, specifier } of transports) {
  describe(`exports (${name})`, () => {
    const mod = ss as unknown as Record<string, unknown>;

    it('exports the servers, handlers and constants of API.md', () => {
      for (const n of SYNC_NAMES) expect(mod, n).to.have.property(n);
      for (const n of SYNC_NAMES) {
        if (n !== 'constants') expect(typeof mod[n], n).to.equal('function');
      }
    });

    it('exports the mix-in names of API.md', () => {
      for (const n of MIXIN_NAMES) expect(typeof mod[n], n).to.equal('function');
    });

    it('constants carry the Linux values', () => {
      for (const [k, v] of Object.entries(LINUX_CONSTANTS)) {
        expect((ss.constants as unknown as Record<string, number>)[k], k).to.equal(v);
      }
    });

    it("constants agree with the addon's compiled-in values", () => {
      const native = nativeAddon().constants as Record<string, number>;
      for (const k of Object.keys(LINUX_CONSTANTS)) expect(native[k], k).to.equal(LINUX_CONSTANTS[k]);
    });

    it('class hierarchy is Python\'s', () => {
      expect(ss.TCPServer.prototype).to.be.instanceOf(ss.BaseServer);
      expect(ss.UDPServer.prototype).to.be.instanceOf(ss.TCPServer);
      expect(ss.UnixStreamServer.prototype).to.be.instanceOf(ss.TCPServer);
      expect(ss.UnixDatagramServer.prototype).to.be.instanceOf(ss.UDPServer);
      expect(ss.StreamRequestHandler.prototype).to.be.instanceOf(ss.BaseRequestHandler);
      expect(ss.DatagramRequestHandler.prototype).to.be.instanceOf(ss.BaseRequestHandler);
    });

    it('the mix-ins are functions of a base class', () => {
      expect(mod.ThreadingMixIn).to.be.a('function');
      expect(mod.ForkingMixIn).to.be.a('function');
      const pairs: Array<[string, string, string]> = [
        ['ThreadingTCPServer', 'ThreadingMixIn', 'TCPServer'],
        ['ThreadingUDPServer', 'ThreadingMixIn', 'UDPServer'],
        ['ThreadingUnixStreamServer', 'ThreadingMixIn', 'UnixStreamServer'],
        ['ThreadingUnixDatagramServer', 'ThreadingMixIn', 'UnixDatagramServer'],
        ['ForkingTCPServer', 'ForkingMixIn', 'TCPServer'],
        ['ForkingUDPServer', 'ForkingMixIn', 'UDPServer'],
        ['ForkingUnixStreamServer', 'ForkingMixIn', 'UnixStreamServer'],
        ['ForkingUnixDatagramServer', 'ForkingMixIn', 'UnixDatagramServer'],
      ];
      for (const [composed, , base] of pairs) {
        const cls = mod[composed] as typeof ss.TCPServer;
        expect(cls.prototype, composed).to.be.instanceOf(mod[base] as typeof ss.TCPServer);
        // Python's class variables of the base carry over (address family, socket type).
        const b = mod[base] as unknown as Record<string, unknown>;
        const c = cls as unknown as Record<string, unknown>;
        expect(c.addressFamily, composed).to.equal(b.addressFamily);
        expect(c.socketType, composed).to.equal(b.socketType);
      }
      // A mix-in applied to a user's own class keeps that class as its base.
      // (The cast: the mix-ins' parameter type rejects a non-generic subclass;
      // test/40-threading.test.ts "type-checks" holds that to account.)
      class Mine extends ss.TCPServer {}
      expect(ss.ThreadingMixIn(Mine as never).prototype).to.be.instanceOf(Mine);
      expect(ss.ForkingMixIn(Mine as never).prototype).to.be.instanceOf(Mine);
    });

    it(`CommonJS require works: '${specifier}' (package exports) is this module`, () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const cjs = require(specifier === 'socketserver' ? ROOT : cjsFile) as Record<string, unknown>;
      for (const n of API_NAMES) expect(cjs, n).to.have.property(n);
      // The package resolves its own name through "exports" (self-reference).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      expect(require(specifier)).to.equal(ss);
      expect(require.resolve(specifier)).to.equal(cjsFile);
    });

    it('ESM import works', async function () {
      if (!fs.existsSync(esmFile)) this.skip(); // built by `npm run build:ts`
      const m = await esmImport(esmFile);
      for (const n of API_NAMES) expect(m, n).to.have.property(n);
      // The ESM face re-exports the CommonJS module: one set of classes.
      expect(m.TCPServer).to.equal(ss.TCPServer);
      expect(m.default).to.equal(ss);
    });
  });
}
