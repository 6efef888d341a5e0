// Issue 13, item 2 ("Datagram bursts"): the queue of datagrams that wait
// while handlers run is bounded by two settings of the datagram servers,
// maxQueuedDatagrams and maxQueuedBytes; beyond them a datagram is read and
// dropped, and counted in the server's droppedDatagrams.
import { expect } from 'chai';

import { fdCount, HOST, transports } from './helpers';

for (const { name, ss } of transports) {
  describe(`datagram queue while handlers run (${name})`, () => {
    it('the settings: maxQueuedDatagrams 4096 and maxQueuedBytes 2 MiB by default, statics and options of the datagram servers only', async () => {
      expect(ss.UDPServer.maxQueuedDatagrams).to.equal(4096);
      expect(ss.UDPServer.maxQueuedBytes).to.equal(2 * 1024 * 1024);
      expect(ss.ThreadingUDPServer.maxQueuedDatagrams).to.equal(4096);
      class Small extends ss.UDPServer {
        static override maxQueuedDatagrams = 7;
      }
      const a = new Small([HOST, 0], ss.BaseRequestHandler);
      const b = new ss.UDPServer([HOST, 0], ss.BaseRequestHandler, { maxQueuedBytes: 1000 });
      try {
        expect(a.maxQueuedDatagrams).to.equal(7);
        expect(a.maxQueuedBytes).to.equal(2 * 1024 * 1024);
        expect(b.maxQueuedBytes).to.equal(1000);
        expect(a.droppedDatagrams).to.equal(0);
      } finally {
        await a.serverClose();
        await b.serverClose();
      }
      for (const option of ['maxQueuedDatagrams', 'maxQueuedBytes', 'droppedDatagrams']) {
        let error: (Error & { code?: string }) | undefined;
        try {
          new ss.TCPServer([HOST, 0], ss.BaseRequestHandler, { [option]: 10 });
        } catch (e) {
          error = e as Error;
        }
        expect(error, `TCPServer refuses ${option}`).to.be.instanceOf(TypeError);
        expect(error?.code).to.equal('ERR_INVALID_ARG_TYPE');
      }
    });

    it('settings out of range are RangeError ERR_OUT_OF_RANGE at construction, and the socket is closed first', () => {
      const cases: Array<[string, unknown, string]> = [
        ['maxQueuedDatagrams', 0, 'maxQueuedDatagrams must be an integer >= 1 and <= 1048576, got 0'],
        ['maxQueuedDatagrams', 1.5, 'maxQueuedDatagrams must be an integer >= 1 and <= 1048576, got 1.5'],
        ['maxQueuedDatagrams', 1048577, 'maxQueuedDatagrams must be an integer >= 1 and <= 1048576, got 1048577'],
        ['maxQueuedDatagrams', '10', 'maxQueuedDatagrams must be an integer >= 1 and <= 1048576, got 10'],
        ['maxQueuedBytes', -1, 'maxQueuedBytes must be an integer >= 0 and <= 1073741824, got -1'],
        ['maxQueuedBytes', NaN, 'maxQueuedBytes must be an integer >= 0 and <= 1073741824, got NaN'],
        ['maxQueuedBytes', 2 ** 30 + 1, 'maxQueuedBytes must be an integer >= 0 and <= 1073741824, got 1073741825'],
        ['maxQueuedBytes', undefined, 'maxQueuedBytes must be an integer >= 0 and <= 1073741824, got undefined'],
      ];
      const before = fdCount();
      for (const [setting, value, message] of cases) {
        let error: (Error & { code?: string }) | undefined;
        try {
          new ss.UDPServer([HOST, 0], ss.BaseRequestHandler, { [setting]: value });
        } catch (e) {
          error = e as Error;
        }
        expect(error, `${setting} ${String(value)}`).to.be.instanceOf(RangeError);
        expect(error?.code).to.equal('ERR_OUT_OF_RANGE');
        expect(error?.message).to.equal(message);
      }
      expect(fdCount()).to.equal(before);
    });

  });
}
