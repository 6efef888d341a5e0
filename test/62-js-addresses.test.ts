/**
 * The js transport (`socketserver/js`), the addresses it refuses or treats
 * otherwise: Linux abstract names ('\0name') and host names, tested for js
 * with the same addresses on the native transport for contrast.
 * js-helpers.ts lists the js transport's other test files.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';

import { abstractName, expectUnsupported, fdCount, HOST, TempDir, UNSUPPORTED } from './helpers';
import { AnyServer, catchError, js, jsT, native, nativeT } from './js-helpers';

/** Abstract names bound now, from /proc/net/unix (NULs shown as '@'). */
function abstractBound(n: string): boolean {
  const shown = n.replace(/\0/g, '@');
  return fs
    .readFileSync('/proc/net/unix', 'utf8')
    .split('\n')
    .some((l) => l.trim().split(/\s+/).slice(7).join(' ') === shown);
}

describe('the js transport: refusals and documented differences (native for contrast)', () => {
  const tmp = new TempDir('ss-js-');
  after(() => tmp.cleanup());

  describe("Linux abstract names ('\\0name')", () => {
    it('js: UnixStreamServer and ThreadingUnixStreamServer refuse them at construction, nothing bound or leaked', () => {
      for (const Cls of [js.UnixStreamServer, js.ThreadingUnixStreamServer]) {
        const n = abstractName('js');
        const e = expectUnsupported(() => new Cls(n, js.StreamRequestHandler), `${Cls.name} on an abstract name`);
        expect(e.message).to.match(/abstract/);
        expect(abstractBound(n)).to.equal(false);
      }
    });

    it('js: with bindAndActivate false, serverBind() refuses the name', async () => {
      const before = fdCount();
      const n = abstractName('js-lazy');
      const server = new js.UnixStreamServer(n, js.StreamRequestHandler, { bindAndActivate: false });
      try {
        expect(catchError(() => server.serverBind()).code).to.equal(UNSUPPORTED);
        expect(abstractBound(n)).to.equal(false);
      } finally {
        await server.serverClose();
      }
      expect(fdCount()).to.equal(before);
    });

    it('native: both bind the exact name', async () => {
      for (const Cls of [native.UnixStreamServer, native.ThreadingUnixStreamServer]) {
        const n = abstractName('native');
        const server = new Cls(n, native.StreamRequestHandler);
        try {
          expect(server.serverAddress).to.equal(n);
          expect(abstractBound(n)).to.equal(true);
        } finally {
          await server.serverClose();
        }
        expect(abstractBound(n)).to.equal(false);
      }
    });
  });

  describe('host names', () => {
    /** A name /etc/hosts maps to a 127.x address, other than 'localhost'. */
    function hostsName(): string | undefined {
      let text = '';
      try {
        text = fs.readFileSync('/etc/hosts', 'utf8');
      } catch {
        return undefined;
      }
      for (const line of text.split('\n')) {
        const [ip, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
        if (!ip || !/^127\.\d+\.\d+\.\d+$/.test(ip)) continue;
        const n = names.find((x) => x.toLowerCase() !== 'localhost');
        if (n) return n;
      }
      return undefined;
    }
    const NO_SUCH_HOST = 'no-such-host.invalid';

    for (const t of [jsT, nativeT]) {
      it(`${t.name}: IP literals, '', 'localhost' and /etc/hosts names bind`, async () => {
        const { ss } = t;
        const cases: Array<[string, string]> = [
          [HOST, HOST],
          ['', '0.0.0.0'],
          ['localhost', '127.0.0.1'],
        ];
        const fromHosts = hostsName();
        if (fromHosts !== undefined) cases.push([fromHosts, '']);
        for (const [host, expected] of cases) {
          for (const make of [
            () => new ss.TCPServer([host, 0], ss.StreamRequestHandler),
            () => new ss.UDPServer([host, 0], ss.DatagramRequestHandler),
          ]) {
            const s: AnyServer = make();
            try {
              const bound = (s.serverAddress as [string, number])[0];
              if (expected) expect(bound, host).to.equal(expected);
              else expect(bound, host).to.match(/^127\./);
            } finally {
              await s.serverClose();
            }
          }
        }
      });
    }

    it('js: any other name is refused (no synchronous DNS), TCP and UDP, nothing leaked', () => {
      for (const make of [
        () => new js.TCPServer([NO_SUCH_HOST, 0], js.StreamRequestHandler),
        () => new js.UDPServer([NO_SUCH_HOST, 0], js.DatagramRequestHandler),
      ]) {
        const e = expectUnsupported(make, NO_SUCH_HOST);
        expect(e.message).to.include(NO_SUCH_HOST);
      }
    });

    it('native: any other name goes to the resolver (getaddrinfo): a resolver error, not a refusal', () => {
      const before = fdCount();
      for (const make of [
        () => new native.TCPServer([NO_SUCH_HOST, 0], native.StreamRequestHandler),
        () => new native.UDPServer([NO_SUCH_HOST, 0], native.DatagramRequestHandler),
      ]) {
        const e = catchError(make);
        expect(e.code).to.not.equal(UNSUPPORTED);
        expect(e.message).to.match(/getaddrinfo|ENOTFOUND|EAI_/);
      }
      expect(fdCount()).to.equal(before);
    });
  });
});
