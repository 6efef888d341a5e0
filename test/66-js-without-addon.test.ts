/**
 * socketserver/js loads and serves without the native addon; dist/index.js
 * loads there too but names the missing addon when a server is made.
 * js-helpers.ts lists the js transport's other test files.
 */
import { expect } from 'chai';
import * as path from 'node:path';

import { ROOT } from './helpers';
import { jsT, nativeT, runNode } from './js-helpers';

describe('socketserver/js loads without the native addon', () => {
  const MISSING = path.join(ROOT, 'build', 'no-such-dir', 'socketserver.node');
  const env = { SOCKETSERVER_NATIVE: MISSING };

  it('with SOCKETSERVER_NATIVE naming a missing file, dist/js.js serves a TCP request, and no addon is loaded', async () => {
    const code = `
      const net = require('node:net');
      const fs = require('node:fs');
      const ss = require(${JSON.stringify(jsT.cjs)});
      class Up extends ss.StreamRequestHandler {
        async handle() { await this.wfile.write((await this.rfile.readline()).toString().toUpperCase()); }
      }
      const server = new ss.TCPServer(['127.0.0.1', 0], Up);
      const c = net.connect({ host: '127.0.0.1', port: server.serverAddress[1] });
      let got = '';
      c.on('data', (d) => { got += d; });
      c.on('end', async () => {
        c.destroy();
        await server.serverClose();
        const addons = Object.keys(require.cache).filter((k) => k.endsWith('.node'));
        const mapped = fs.readFileSync('/proc/self/maps', 'utf8').includes('socketserver.node');
        process.stdout.write(JSON.stringify({ got, addons, mapped }));
      });
      c.write('served without the addon\\n');
      server.handleRequest();
    `;
    const r = await runNode(code, env);
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal({ got: 'SERVED WITHOUT THE ADDON\n', addons: [], mapped: false });
  });

  it('dist/index.js loads there too, but constructing a server fails with an error naming the missing addon', async () => {
    const code = `
      const ss = require(${JSON.stringify(nativeT.cjs)});
      let out;
      try {
        new ss.TCPServer(['127.0.0.1', 0], ss.StreamRequestHandler);
        out = { constructed: true };
      } catch (e) {
        out = { constructed: false, isError: e instanceof Error, code: e.code, message: e.message };
      }
      process.stdout.write(JSON.stringify(out));
    `;
    const r = await runNode(code, env);
    expect(r.code, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout) as { constructed: boolean; isError: boolean; code?: string; message: string };
    expect(out.constructed).to.equal(false);
    expect(out.isError).to.equal(true);
    expect(out.message).to.include(MISSING);
  });
});
