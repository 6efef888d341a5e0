/**
 * Shared by the life-cycle tests: 71-lifecycle (processes that exit with
 * servers open, use after serverClose()) and 71-worker-threads (servers in
 * worker threads terminated while serving).
 */
import * as net from 'node:net';

import { HOST } from './helpers';

export function request(port: number, line: string, opts: { end?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, HOST, () => (opts.end === false ? s.write(line) : s.end(line)));
    let got = '';
    s.on('data', (d: Buffer) => { got += d.toString(); });
    s.on('error', reject);
    s.on('close', () => resolve(got));
  });
}
