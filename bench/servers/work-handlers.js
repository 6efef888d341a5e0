'use strict';
// The socketserver handlers of the worker-thread workloads (issue 10: cpu,
// mixed, echo-workers), used by socketserver.js with --workers / --work /
// --heavy. A module of its own, free of side effects: with workerThreads
// each worker thread imports it (the handlers' `static module = __filename`).
//
// Each line first gets the work of work.js (`work` rounds of FNV-1a, or
// `heavy` rounds for a line starting with "heavy"), then the Python docs'
// uppercase reply, so bench/loadgen checks every reply. The rounds come
// from the server's workerData { work, heavy } (a ThreadingMixIn setting:
// this.server.workerData on the main thread and in each worker thread).

const { StreamRequestHandler } = require('../../dist/index.js');
const { doWork } = require('./work.js');

function settingsOf(server) {
  const d = (server && server.workerData) || {};
  return { work: d.work | 0, heavy: d.heavy | 0 };
}

const upperTrim = (buf) => Buffer.from(buf.toString('latin1').trim().toUpperCase(), 'latin1');
const upperLine = (buf) => Buffer.from(buf.toString('latin1').toUpperCase(), 'latin1');

/** Keep-alive: for each line, the work, then the line upper-cased with its newline. */
class WorkKeepalive extends StreamRequestHandler {
  static module = __filename;

  async handle() {
    const { work, heavy } = settingsOf(this.server);
    for await (const line of this.rfile) {
      doWork(line, work, heavy);
      await this.wfile.write(upperLine(line));
    }
  }
}

/** Connection per request: one line, the work, the line stripped and upper-cased; the server closes. */
class WorkConn extends StreamRequestHandler {
  static module = __filename;

  async handle() {
    const { work, heavy } = settingsOf(this.server);
    const line = await this.rfile.readline();
    doWork(line, work, heavy);
    await this.wfile.write(upperTrim(line));
  }
}

module.exports = { WorkKeepalive, WorkConn };
