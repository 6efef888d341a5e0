// Issue 5, Unix socket files: serverClose() removes the path the server
// created (unlinkOnClose: false keeps it); it never removes a file it did
// not create; a stale socket file gives a clear error naming it; abstract
// names are never touched (they have no file).
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as net from 'node:net';

import { TempDir, transports, UNSUPPORTED } from './helpers';

for (const { name, ss, caps } of transports) {
  describe(`Unix socket files (${name})`, () => {
    const tmp = new TempDir('ss-files-');
    after(() => tmp.cleanup());

    type Make = (path: string) => { serverClose(): void | Promise<void> };
    const servers: Array<[string, Make]> = [
      ['UnixStreamServer', (p) => new ss.UnixStreamServer(p, ss.StreamRequestHandler)],
    ];
    if (caps.unixDatagram) servers.push(['UnixDatagramServer', (p) => new ss.UnixDatagramServer(p, ss.DatagramRequestHandler)]);

    for (const [cls, make] of servers) {
      it(`${cls}: serverClose() removes the socket file the server created`, async () => {
        const p = tmp.path();
        const server = make(p);
        expect(fs.statSync(p).isSocket()).to.equal(true);
        await server.serverClose();
        expect(fs.existsSync(p)).to.equal(false);
        await server.serverClose(); // idempotent, and nothing to remove twice
        // The path is free for the next server at once.
        await make(p).serverClose();
      });
    }

    it('unlinkOnClose: false keeps the file (Python\'s behaviour), or is refused where the transport cannot keep it', async () => {
      const p = tmp.path();
      if (!caps.keepsSocketFile) {
        let error: NodeJS.ErrnoException | undefined;
        try {
          new ss.UnixStreamServer(p, ss.StreamRequestHandler, { unlinkOnClose: false });
        } catch (e) {
          error = e as NodeJS.ErrnoException;
        }
        expect(error?.code).to.equal(UNSUPPORTED);
        expect(fs.existsSync(p), 'refused before any socket file exists').to.equal(false);
        return;
      }
      class Keep extends ss.UnixStreamServer {
        static override unlinkOnClose = false;
      }
      const server = new Keep(p, ss.StreamRequestHandler);
      await server.serverClose();
      expect(fs.statSync(p).isSocket()).to.equal(true);
      fs.unlinkSync(p);
    });

    it('a stale socket file: EADDRINUSE naming the path and what to do', async function () {
      if (!caps.keepsSocketFile) this.skip(); // a stale file comes from unlinkOnClose: false (refused here)
      const p = tmp.path();
      await new ss.UnixStreamServer(p, ss.StreamRequestHandler, { unlinkOnClose: false }).serverClose();
      let error: NodeJS.ErrnoException & { path?: string } = new Error('none');
      try {
        new ss.UnixStreamServer(p, ss.StreamRequestHandler);
      } catch (e) {
        error = e as typeof error;
      }
      expect(error.code).to.equal('EADDRINUSE');
      expect(error.syscall).to.equal('bind');
      expect(error.path).to.equal(p);
      expect(error.message).to.include(`a socket file is at ${p}`).and.include('remove it');
      fs.unlinkSync(p);
    });

    it('a path that is a regular file: EADDRINUSE saying it is not a socket, and the file is left alone', () => {
      const p = tmp.path();
      fs.writeFileSync(p, 'keep me');
      let error: NodeJS.ErrnoException = new Error('none');
      try {
        new ss.UnixStreamServer(p, ss.StreamRequestHandler);
      } catch (e) {
        error = e as NodeJS.ErrnoException;
      }
      expect(error.code).to.equal('EADDRINUSE');
      expect(error.message).to.include('is not a socket');
      expect(fs.readFileSync(p, 'utf8')).to.equal('keep me');
    });

    it('serverClose() does not remove a socket file it did not create (another server\'s, at the same path)', async function () {
      if (!caps.keepsSocketFile) this.skip(); // libuv unlinks the path on close whatever is there
      const p = tmp.path();
      const first = new ss.UnixStreamServer(p, ss.StreamRequestHandler);
      fs.unlinkSync(p); // someone removes it, and a second server binds the path
      const second = new ss.UnixStreamServer(p, ss.StreamRequestHandler);
      try {
        await first.serverClose();
        expect(fs.statSync(p).isSocket(), "the second server's file").to.equal(true);
        // ... and it still works.
        await new Promise<void>((resolve, reject) => {
          const c = net.connect(p, () => { c.destroy(); resolve(); });
          c.on('error', reject);
        });
      } finally {
        await second.serverClose();
      }
      expect(fs.existsSync(p)).to.equal(false);
    });
  });
}
