/**
 * The js transport (`socketserver/js`), the servers it refuses: Unix
 * datagram servers and ForkingMixIn, refused at construction, tested for js
 * with the same servers on the native transport for contrast.
 * js-helpers.ts lists the js transport's other test files.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';

import { expectUnsupported, HOST, TempDir, unixDgramExchange, withTimeout } from './helpers';
import { forkSupported } from './proc-helpers';
import { AnyClass, AnyServer, handlers, js, jsMod, native } from './js-helpers';

describe('the js transport: refusals and documented differences (native for contrast)', () => {
  const tmp = new TempDir('ss-js-');
  after(() => tmp.cleanup());

  describe('Unix datagram servers', () => {
    it('js: UnixDatagramServer and ThreadingUnixDatagramServer are refused at construction, before any descriptor', () => {
      class Mine extends jsMod.ThreadingMixIn(jsMod.UnixDatagramServer) {}
      const classes: Array<[string, AnyClass]> = [
        ['UnixDatagramServer', js.UnixDatagramServer],
        ['ThreadingUnixDatagramServer', js.ThreadingUnixDatagramServer],
        ['ThreadingMixIn(UnixDatagramServer) of a user', Mine],
      ];
      for (const [what, Cls] of classes) {
        for (const options of [{}, { bindAndActivate: false }]) {
          const p = tmp.path('dgram');
          const e = expectUnsupported(() => new Cls(p, js.DatagramRequestHandler, options), `${what} ${JSON.stringify(options)}`);
          expect(e.message, what).to.match(/Unix datagram/);
          expect(fs.existsSync(p), `${what}: no socket file`).to.equal(false);
        }
      }
    });

    it('native: both serve a datagram', async () => {
      const { DgramEcho } = handlers(native);
      for (const Cls of [native.UnixDatagramServer, native.ThreadingUnixDatagramServer]) {
        const server = new Cls(tmp.path('dgram'), DgramEcho);
        try {
          const reply = unixDgramExchange(tmp, server.serverAddress as string, 'unix dgram');
          await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
          expect((await reply)[0].toString()).to.equal('unix dgram');
        } finally {
          await server.serverClose();
        }
      }
    });
  });

  describe('ForkingMixIn', () => {
    const cases: Array<[string, () => string | [string, number]]> = [
      ['ForkingTCPServer', () => [HOST, 0]],
      ['ForkingUDPServer', () => [HOST, 0]],
      ['ForkingUnixStreamServer', () => tmp.path('fork')],
      ['ForkingUnixDatagramServer', () => tmp.path('fork')],
    ];

    it('js: the four Forking servers and ForkingMixIn(TCPServer) of a user are refused at construction, nothing leaked', () => {
      class Mine extends jsMod.ForkingMixIn(jsMod.TCPServer) {}
      const all: Array<[string, AnyClass, string | [string, number]]> = cases.map(([n, addr]) => [
        n,
        (js as unknown as Record<string, AnyClass>)[n],
        addr(),
      ]);
      all.push(['ForkingMixIn(TCPServer) of a user', Mine, [HOST, 0]]);
      for (const [what, Cls, addr] of all) {
        for (const options of [{}, { bindAndActivate: false }]) {
          expectUnsupported(() => new Cls(addr, js.BaseRequestHandler, options), `${what} ${JSON.stringify(options)}`);
          if (typeof addr === 'string') expect(fs.existsSync(addr), `${what}: no socket file`).to.equal(false);
        }
      }
      expect(forkSupported(js)).to.equal(false);
    });

    it('native: they are constructed', async () => {
      for (const [what, addr] of cases) {
        const Cls = (native as unknown as Record<string, AnyClass>)[what];
        const server: AnyServer = new Cls(addr(), native.BaseRequestHandler);
        try {
          expect(server.activeChildren, what).to.equal(null);
        } finally {
          await server.serverClose();
        }
      }
      expect(forkSupported(native)).to.equal(true);
    });
  });
});
