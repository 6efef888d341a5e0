/**
 * socketserver/js, its CommonJS and ESM faces, and 'socketserver/js'
 * through the package exports.
 * js-helpers.ts lists the js transport's other test files.
 */
import { expect } from 'chai';

import { API_NAMES, HOST, SS, streamExchange, withTimeout } from './helpers';
import { handlers, js, jsT, runNode } from './js-helpers';

describe('socketserver/js: CommonJS and ESM', () => {
  // Compiled by tsc to require(); this keeps a real ESM import().
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const esmImport = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<Record<string, unknown>>;

  async function serveOne(ss: SS): Promise<string> {
    const { Echo } = handlers(ss);
    const server = new ss.TCPServer([HOST, 0], Echo);
    try {
      const reply = streamExchange(server.serverAddress, 'format\n');
      await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
      return (await reply).toString();
    } finally {
      await server.serverClose();
    }
  }

  it('CommonJS: dist/js.js has the API and serves', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const cjs = require(jsT.cjs) as SS;
    for (const n of API_NAMES) expect(cjs, n).to.have.property(n);
    expect(await serveOne(cjs)).to.equal('format\n');
  });

  it('ESM: dist/js.mjs has the API, the same classes, and serves', async () => {
    const m = await esmImport(jsT.esm);
    for (const n of API_NAMES) expect(m, n).to.have.property(n);
    for (const n of API_NAMES) expect(m[n], n).to.equal((js as unknown as Record<string, unknown>)[n]);
    expect(await serveOne(m as unknown as SS)).to.equal('format\n');
  });

  it("'socketserver/js' resolves through the package exports, from require() and from import", async () => {
    const code = `
      const viaRequire = require('socketserver/js');
      import('socketserver/js').then((viaImport) => {
        process.stdout.write(JSON.stringify({
          cjs: require.resolve('socketserver/js'),
          same: viaImport.TCPServer === viaRequire.TCPServer,
          names: Object.keys(viaImport).sort(),
        }));
      });
    `;
    const r = await runNode(code);
    expect(r.code, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout) as { cjs: string; same: boolean; names: string[] };
    expect(out.cjs).to.equal(jsT.cjs);
    expect(out.same).to.equal(true);
    expect(out.names).to.include.members(API_NAMES);
  });
});
