/**
 * socketserver/js: instanceof follows Python's hierarchy within the js
 * module, and a native server is not an instance of the js classes.
 * js-helpers.ts lists the js transport's other test files.
 */
import { expect } from 'chai';

import { HOST, TempDir } from './helpers';
import { jsMod, native } from './js-helpers';

describe("socketserver/js: instanceof follows Python's hierarchy within the module", () => {
  const tmp = new TempDir('ss-inst-');
  after(() => tmp.cleanup());

  it('a js UnixStreamServer is an instance of js.TCPServer and js.BaseServer', async () => {
    const s = new jsMod.UnixStreamServer(tmp.path(), jsMod.StreamRequestHandler);
    try {
      expect(s).to.be.instanceOf(jsMod.UnixStreamServer);
      expect(s).to.be.instanceOf(jsMod.TCPServer);
      expect(s).to.be.instanceOf(jsMod.BaseServer);
      expect(s).to.not.be.instanceOf(jsMod.UDPServer);
    } finally {
      await s.serverClose();
    }
  });

  it('a js UDPServer is an instance of js.TCPServer (Python: UDPServer(TCPServer))', async () => {
    const s = new jsMod.UDPServer([HOST, 0], jsMod.DatagramRequestHandler);
    try {
      expect(s).to.be.instanceOf(jsMod.TCPServer);
      expect(s).to.be.instanceOf(jsMod.BaseServer);
      expect(s).to.not.be.instanceOf(jsMod.UnixStreamServer);
    } finally {
      await s.serverClose();
    }
  });

  it('a js ThreadingTCPServer is an instance of js.TCPServer and js.BaseServer; ThreadingUnixStreamServer of js.UnixStreamServer', async () => {
    const t = new jsMod.ThreadingTCPServer([HOST, 0], jsMod.StreamRequestHandler);
    const u = new jsMod.ThreadingUnixStreamServer(tmp.path(), jsMod.StreamRequestHandler);
    try {
      expect(t).to.be.instanceOf(jsMod.ThreadingTCPServer);
      expect(t).to.be.instanceOf(jsMod.TCPServer);
      expect(t).to.be.instanceOf(jsMod.BaseServer);
      expect(u).to.be.instanceOf(jsMod.UnixStreamServer);
      expect(u).to.be.instanceOf(jsMod.TCPServer);
    } finally {
      await t.serverClose();
      await u.serverClose();
    }
  });

  it("a user's subclass of js.TCPServer keeps the ordinary instanceof", async () => {
    class Mine extends jsMod.TCPServer {}
    class Other extends jsMod.TCPServer {}
    const mine = new Mine([HOST, 0], jsMod.StreamRequestHandler);
    const plain = new jsMod.TCPServer([HOST, 0], jsMod.StreamRequestHandler);
    const unix = new jsMod.UnixStreamServer(tmp.path(), jsMod.StreamRequestHandler);
    try {
      expect(mine).to.be.instanceOf(Mine);
      expect(mine).to.be.instanceOf(jsMod.TCPServer);
      expect(mine).to.be.instanceOf(jsMod.BaseServer);
      expect(mine).to.not.be.instanceOf(Other);
      expect(plain).to.not.be.instanceOf(Mine);
      expect(unix).to.not.be.instanceOf(Mine);
    } finally {
      await mine.serverClose();
      await plain.serverClose();
      await unix.serverClose();
    }
  });

  it('a native server is not an instance of the js classes', async () => {
    const s = new native.TCPServer([HOST, 0], native.StreamRequestHandler);
    try {
      expect(s).to.not.be.instanceOf(jsMod.TCPServer);
      expect(s).to.not.be.instanceOf(jsMod.BaseServer);
    } finally {
      await s.serverClose();
    }
  });
});
