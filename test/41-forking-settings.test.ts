/**
 * ForkingMixIn, its settings (API.md "Mix-ins"): timeout, maxChildren,
 * blockOnClose, childTimeout and activeChildren, on the class and per
 * server. fork-helpers.ts says how the fork tests observe a child.
 */
import { expect } from 'chai';

import { HOST, TempDir, transports, withTimeout } from './helpers';
import { AnyServer, forkKit } from './fork-helpers';

for (const { name, ss, caps } of transports) {
  describe(`ForkingMixIn (${name})`, function () {
    this.timeout(30000);
    const tmp = new TempDir('ss-fork-');
    after(() => tmp.cleanup());
    const { needsFork } = forkKit(ss, caps);

    describe('settings', () => {
      before(needsFork);

      it('timeout 300, maxChildren 40, blockOnClose true, childTimeout 300; activeChildren null before a fork', async () => {
        const C = ss.ForkingTCPServer as unknown as Record<string, unknown>;
        expect([C.timeout, C.maxChildren, C.blockOnClose, C.childTimeout]).to.deep.equal([300, 40, true, 300]);
        // Python's class attribute: ForkingTCPServer.active_children is None.
        expect(C.activeChildren, 'the class default of activeChildren').to.equal(null);
        expect(ss.ForkingMixIn(ss.UDPServer).activeChildren).to.equal(null);
        const server: AnyServer = new ss.ForkingUnixStreamServer(tmp.path('settings'), ss.StreamRequestHandler);
        const other: AnyServer = new ss.ForkingUDPServer([HOST, 0], ss.DatagramRequestHandler, {
          maxChildren: 3,
          blockOnClose: false,
          childTimeout: null,
          timeout: 1,
        });
        try {
          expect([server.timeout, server.maxChildren, server.blockOnClose, server.childTimeout]).to.deep.equal([300, 40, true, 300]);
          expect(server.activeChildren).to.equal(null);
          expect([other.timeout, other.maxChildren, other.blockOnClose, other.childTimeout]).to.deep.equal([1, 3, false, null]);
          expect(C.maxChildren, 'the static is untouched').to.equal(40);
          // collectChildren() before any fork does nothing.
          await withTimeout(server.collectChildren({ blocking: true }), 5000, 'collectChildren()');
        } finally {
          await server.serverClose();
          await other.serverClose();
        }
      });
    });
  });
}
