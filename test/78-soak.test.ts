// Issue 5, soak (short form of `npm run soak`): bench/soak.js for 10 s per
// transport — one server process with a ThreadingTCPServer, a
// ThreadingUDPServer and a ThreadingUnixStreamServer, two client processes
// mixing verified requests (keep-alive lines, half-closes, binary garbage,
// huge lines, oversized datagrams) with resets, clients that leave before
// their reply and datagram clients gone at once. Nothing may be lost, no
// unexpected error may happen on either side, and the server's descriptors
// and threads must be back to where they were after the warm-up.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as path from 'node:path';

import { ROOT, transports } from './helpers';
import { exitOf, killAndWait } from './proc-helpers';

const SECONDS = 10;

describe('soak: mixed traffic and faults on TCP, UDP and Unix stream at once', function () {
  this.timeout((SECONDS + 60) * 1000);
  this.slow((SECONDS + 10) * 1000);

  for (const t of transports) {
    it(`${t.name}: ${SECONDS} s, nothing lost, no unexpected error, descriptors and threads back`, async () => {
      const child = spawn(
        process.execPath,
        [path.join(ROOT, 'bench', 'soak.js'), '--seconds', String(SECONDS), '--transport', t.name, '--no-write'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      let code: number | null;
      try {
        [code] = await exitOf(child, (SECONDS + 50) * 1000);
      } finally {
        await killAndWait(child);
      }
      const line = out.split('\n').find((l) => l.startsWith('SOAK_RESULT '));
      expect(line, `no SOAK_RESULT line; stdout: ${out}\nstderr: ${err}`).to.be.a('string');
      const r = JSON.parse(line!.slice('SOAK_RESULT '.length));
      const detail = `${out.split('\n').filter((l) => !l.startsWith('SOAK_RESULT')).join('\n')}\n${err}`;
      expect(r.lost, detail).to.equal(0);
      expect(r.verified, detail).to.equal(r.requests);
      expect(r.requests, detail).to.be.above(1000); // it did run
      // Every kind of fault was injected, and the server saw the resets.
      for (const kind of ['reset', 'leave', 'udp-leave']) expect(r.faults[kind], `${kind} ${detail}`).to.be.above(0);
      for (const kind of ['normal', 'halfclose', 'garbage', 'udp', 'udp-big']) expect(r.scenarios[kind], `${kind} ${detail}`).to.be.above(0);
      expect(r.clientErrors.unexpected, detail).to.deep.equal({});
      const serverUnexpected = Object.keys(r.serverErrors).filter((k) => !['ECONNRESET', 'EPIPE', 'ECONNABORTED'].includes(k));
      expect(serverUnexpected, detail).to.deep.equal([]);
      expect(r.server.end.fds, detail).to.equal(r.server.start.fds);
      expect(r.server.end.threads, detail).to.equal(r.server.start.threads);
      expect(r.problems, detail).to.deep.equal([]);
      expect(code, detail).to.equal(0);
    });
  }
});
