// The handoff ring of the worker threads (lib/worker-ring.ts): requests in
// shared memory, main thread to one worker. Here both ends run in the test
// process on one ring (the encoding, the wrap, a full ring); test/81 and
// test/82 run it between threads, and the last case checks the pool uses it.
import { expect } from 'chai';
import * as path from 'node:path';

import { HOST, ROOT, transports, withTimeout } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ring = require(path.join(ROOT, 'dist', 'worker-ring.js')) as Any;

describe('88 the worker handoff ring', () => {
  it('carries descriptors and datagrams with every kind of address, in order', () => {
    const sab = ring.makeRing();
    const writer = new ring.RingWriter(sab);
    const reader = new ring.RingReader(sab);
    const sent = [
      { t: 'req', slot: 1, fd: 17, clientAddress: ['127.0.0.1', 40000] },
      { t: 'req', slot: 2, fd: 18, clientAddress: ['2001:db8::1', 443, 7, 3] },
      { t: 'req', slot: 3, fd: 19, clientAddress: '' },
      { t: 'dgram', slot: 4, data: Buffer.from('payload'), truncated: true, clientAddress: '/tmp/client.sock' },
      { t: 'dgram', slot: 5, data: Buffer.alloc(0), truncated: false, clientAddress: null },
      { t: 'dgram', slot: 6, data: Buffer.from('é\u0000x'), truncated: false, clientAddress: ['10.0.0.1', 53] },
    ];
    for (const r of sent) expect(writer.write(r)).to.equal(true);
    const got: Any[] = [];
    reader.takeAll((r: Any) => got.push(r));
    expect(got.map((r) => ({ ...r, data: r.data === undefined ? undefined : Buffer.from(r.data) }))).to.deep.equal(
      sent.map((r: Any) => ({ ...r, data: r.data === undefined ? undefined : Buffer.from(r.data) })),
    );
    const none: Any[] = [];
    reader.takeAll((r: Any) => none.push(r));
    expect(none).to.deep.equal([]);
  });

  it('wraps around its end many times without losing or mixing records', () => {
    const sab = ring.makeRing();
    const writer = new ring.RingWriter(sab);
    const reader = new ring.RingReader(sab);
    let next = 0;
    let expected = 0;
    // 2 000 records of 1–20 000 bytes: many times the ring's size.
    for (let i = 0; i < 2000; i++) {
      const size = 1 + ((i * 7919) % 20000);
      const data = Buffer.alloc(size, i & 0xff);
      expect(writer.write({ t: 'dgram', slot: next++, data, truncated: false, clientAddress: [HOST, i] }), `record ${i}`).to.equal(true);
      if (i % 3 === 2) {
        reader.takeAll((r: Any) => {
          expect(r.slot).to.equal(expected);
          const s = 1 + ((expected * 7919) % 20000);
          expect(r.data.length).to.equal(s);
          expect(r.data[0]).to.equal(expected & 0xff);
          expect(r.data[s - 1]).to.equal(expected & 0xff);
          expect(r.clientAddress).to.deep.equal([HOST, expected]);
          expected++;
        });
      }
    }
    reader.takeAll(() => expected++);
    expect(expected).to.equal(2000);
  });

  it('full, or a record larger than a quarter of it: write() says false and nothing is taken', () => {
    const sab = ring.makeRing();
    const writer = new ring.RingWriter(sab);
    const reader = new ring.RingReader(sab);
    expect(writer.write({ t: 'dgram', slot: 0, data: Buffer.alloc(ring.RING_BYTES / 4), truncated: false, clientAddress: null })).to.equal(false);
    let n = 0;
    while (writer.write({ t: 'dgram', slot: n, data: Buffer.alloc(1000), truncated: false, clientAddress: null })) n++;
    expect(n).to.be.within(200, ring.RING_BYTES / 1000);
    let taken = 0;
    reader.takeAll(() => taken++);
    expect(taken).to.equal(n);
    expect(writer.write({ t: 'req', slot: 1, fd: 3, clientAddress: null })).to.equal(true);
  });

  it('the pool hands plain requests over in the ring, and those with a PROXY header in a message', async () => {
    const ss = transports.find((t) => t.name === 'native')!.ss as Any;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Commands } = require(path.join(ROOT, 'test', 'fixtures', 'worker-handlers.js'));
    const net = await import('node:net');
    const ask = (port: number, payload: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const c = net.connect(port, HOST, () => c.write(payload));
        let got = '';
        c.on('data', (d) => { got += d; });
        c.on('end', () => resolve(got));
        c.on('error', reject);
      });
    for (const [options, prefix, path_] of [
      [{}, '', 'ring'],
      [{ proxyProtocol: 'v1' }, 'PROXY TCP4 192.0.2.1 192.0.2.2 1000 80\r\n', 'message'],
    ] as const) {
      const server = new ss.ThreadingTCPServer([HOST, 0], Commands, { workerThreads: 2, ...options });
      const loop = server.serveForever(0.05);
      try {
        await withTimeout(server._workerPool().start(), 20_000, 'workers');
        for (let i = 0; i < 20; i++) expect(await ask(server.serverAddress[1], `${prefix}r${i}\n`)).to.equal(`R${i}\n`);
        const other = path_ === 'ring' ? 'message' : 'ring';
        expect(server._workerPool().handoffs).to.deep.equal({ [path_]: 20, [other]: 0 });
      } finally {
        await server.shutdown();
        await loop;
        await server.serverClose();
      }
    }
  });
});
