// Issue 12, item 11: every method of the raw addon checks its arguments
// (better-sqlite3's REQUIRE_ARGUMENT_*, here native/errors.h Require*()):
// an argument of the wrong type is a TypeError with code
// ERR_INVALID_ARG_TYPE, thrown before anything is done, never an abort and
// never an unchecked conversion. The JS layer checks its own arguments
// first, so these calls reach the addon only through the raw addon.
import { expect } from 'chai';
import * as childProcess from 'node:child_process';
import * as net from 'node:net';

import { connect, HOST, nativeAddon, nativeAddonPath, until } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

function expectArgType(fn: () => unknown): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'a TypeError').to.be.instanceOf(TypeError);
  expect((thrown as { code?: string }).code).to.equal('ERR_INVALID_ARG_TYPE');
}

const noop = (): void => {};

describe('03 native arguments: wrong types are TypeError ERR_INVALID_ARG_TYPE', () => {
  const addon = nativeAddon();
  const { AF_INET, SOCK_STREAM, SOCK_DGRAM, SOL_SOCKET, SO_REUSEADDR, POLLIN } = addon.constants;
  const bytes = Buffer.from('x');

  // The Listener cases: [name, call on a fresh stream or datagram Listener].
  const listenerCases: [string, number, (l: Any) => unknown][] = [
    ['bind(number)', SOCK_STREAM, (l) => l.bind(42)],
    ['listen(string)', SOCK_STREAM, (l) => l.listen('5')],
    ['setSockOpt(string level)', SOCK_STREAM, (l) => l.setSockOpt('x', SO_REUSEADDR, 1)],
    ['setSockOpt(object value)', SOCK_STREAM, (l) => l.setSockOpt(SOL_SOCKET, SO_REUSEADDR, {})],
    ['getSockOpt(string name)', SOCK_STREAM, (l) => l.getSockOpt(SOL_SOCKET, 'x')],
    ['configure(string batch)', SOCK_STREAM, (l) => l.configure('1', 8192)],
    ['configure(string packet size)', SOCK_DGRAM, (l) => l.configure(1, '8192', 4096, 1024)],
    ['configure(string maxQueuedDatagrams)', SOCK_DGRAM, (l) => l.configure(1, 8192, '4096', 1024)],
    ['configure(missing maxQueuedBytes)', SOCK_DGRAM, (l) => l.configure(1, 8192, 4096)],
    ['arm(string timeout)', SOCK_STREAM, (l) => l.arm('1', noop)],
    ['arm(non-function callback)', SOCK_STREAM, (l) => l.arm(null, 'cb')],
    ['sendTo(string data)', SOCK_DGRAM, (l) => l.sendTo('x', [HOST, 9])],
    ['sendTo(Uint16Array data)', SOCK_DGRAM, (l) => l.sendTo(new Uint16Array(1), [HOST, 9])],
    ['sendTo(string address)', SOCK_DGRAM, (l) => l.sendTo(bytes, 'x')],
    ['takeDatagram(number meta)', SOCK_DGRAM, (l) => l.takeDatagram(1, {})],
    ['takeDatagram(short meta)', SOCK_DGRAM, (l) => l.takeDatagram(new Uint32Array(2), {})],
    ['takeDatagram(string out)', SOCK_DGRAM, (l) => l.takeDatagram(new Uint32Array(4), 'out')],
    ['takeDatagram(string pool)', SOCK_DGRAM, (l) => l.takeDatagram(new Uint32Array(4), {}, 'pool', 0)],
    ['takeDatagram(string offset)', SOCK_DGRAM, (l) => l.takeDatagram(new Uint32Array(4), {}, new Uint8Array(8), '0')],
    ['sendToLast(string data)', SOCK_DGRAM, (l) => l.sendToLast('x', 9)],
    ['poll(string events)', SOCK_STREAM, (l) => l.poll('1', noop)],
    ['poll(non-function callback)', SOCK_STREAM, (l) => l.poll(POLLIN, 'cb')],
    ['cancelPoll(string events)', SOCK_STREAM, (l) => l.cancelPoll('1')],
  ];

  describe('Listener', () => {
    it('new Listener(string, number)', () => {
      expectArgType(() => new addon.Listener('2', SOCK_STREAM));
      expectArgType(() => new addon.Listener(AF_INET, undefined));
      expectArgType(() => new addon.Listener(AF_INET, SOCK_STREAM, '3'));
      expectArgType(() => new addon.Listener(AF_INET, SOCK_STREAM, () => undefined));
    });
    for (const [name, type, call] of listenerCases) {
      it(name, () => {
        const l = new addon.Listener(AF_INET, type);
        try {
          expectArgType(() => call(l));
        } finally {
          l.close();
        }
      });
    }
  });

  describe('Connection', () => {
    let listener: Any;
    let client: net.Socket;
    let conn: Any;
    before(async () => {
      listener = new addon.Listener(AF_INET, SOCK_STREAM);
      listener.bind([HOST, 0]);
      listener.listen(5);
      client = await connect([HOST, listener.getSockName()[1]]);
      await until(() => listener.readyNow(), 'the connection to be accepted');
      conn = listener.take()[0];
    });
    after(() => {
      conn?.close();
      client?.destroy();
      listener?.close();
    });
    const cases: [string, (c: Any) => unknown][] = [
      ['recv(string)', (c) => c.recv('1')],
      ['recvInto(string target)', (c) => c.recvInto('x', 0, 1)],
      ['recvInto(Float64Array target)', (c) => c.recvInto(new Float64Array(1), 0, 1)],
      ['recvInto(string offset)', (c) => c.recvInto(new Uint8Array(4), '0', 1)],
      ['recvInto(string length)', (c) => c.recvInto(new Uint8Array(4), 0, '1')],
      ['send(string data)', (c) => c.send('x', 0)],
      ['send(string offset)', (c) => c.send(bytes, '0')],
      ['poll(string events)', (c) => c.poll('1', noop)],
      ['poll(non-function callback)', (c) => c.poll(POLLIN, {})],
      ['cancelPoll(string events)', (c) => c.cancelPoll('1')],
      ['shutdown(string)', (c) => c.shutdown('1')],
      ['setSockOpt(string name)', (c) => c.setSockOpt(SOL_SOCKET, 'x', 1)],
      ['getSockOpt(string level)', (c) => c.getSockOpt('x', SO_REUSEADDR)],
    ];
    for (const [name, call] of cases) {
      it(name, () => {
        expectArgType(() => call(conn));
      });
    }
    it('the connection still works afterwards', () => {
      expect(conn.fileno()).to.be.greaterThan(2);
      expect(conn.send(bytes, 0)).to.equal(1);
    });
  });

  describe('module functions', () => {
    const cases: [string, () => unknown][] = [
      ['makeSystemError(string errno)', () => addon.makeSystemError('EBADF', 'read')],
      ['makeSystemError(number syscall)', () => addon.makeSystemError(9, 1)],
      ['forkRequest([string])', () => addon.forkRequest(['3'], null)],
      ['forkRequest(number keepFds)', () => addon.forkRequest(3, null)],
      ['forkRequest(string watchdog)', () => addon.forkRequest([], '1')],
      ['exitChild(string)', () => addon.exitChild('0')],
      ['reapChild(string pid)', () => addon.reapChild('1', false)],
      ['reapChild(string blocking)', () => addon.reapChild(1, 'yes')],
      ['new ChildWatch(string pid)', () => new addon.ChildWatch('1', noop)],
      ['new ChildWatch(non-function callback)', () => new addon.ChildWatch(process.pid, 'cb')],
      ['adoptConnection(string fd)', () => addon.adoptConnection('3')],
      ['adoptConnection(missing fd)', () => addon.adoptConnection()],
      ['socketKind(string fd)', () => addon.socketKind('3')],
      ['socketKind(missing fd)', () => addon.socketKind()],
      ['setCloexec(string fd)', () => addon.setCloexec('3')],
    ];
    for (const [name, call] of cases) {
      it(name, () => {
        expectArgType(call);
      });
    }
  });

  it('a process that makes every such call survives them and exits normally', () => {
    // The same calls in a process of its own: nothing aborts it, nothing is
    // left pending, and its exit status is its own.
    const script = `
      const addon = require(${JSON.stringify(nativeAddonPath())});
      const { AF_INET, SOCK_STREAM, SOCK_DGRAM, POLLIN } = addon.constants;
      let typeErrors = 0;
      const calls = [
        () => new addon.Listener('2', SOCK_STREAM),
        () => { const l = new addon.Listener(AF_INET, SOCK_DGRAM); try { l.takeDatagram(1, {}); } finally { l.close(); } },
        () => { const l = new addon.Listener(AF_INET, SOCK_STREAM); try { l.poll(POLLIN, 'cb'); } finally { l.close(); } },
        () => { const l = new addon.Listener(AF_INET, SOCK_STREAM); try { l.configure('1', 1); } finally { l.close(); } },
        () => addon.makeSystemError('x', 'y'),
        () => addon.reapChild('1', false),
        () => new addon.ChildWatch(process.pid, 'cb'),
      ];
      for (const call of calls) {
        try { call(); } catch (e) { if (e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE') typeErrors++; }
      }
      console.log('alive ' + typeErrors + '/' + calls.length);
    `;
    const r = childProcess.spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10000 });
    expect(r.signal, r.stderr).to.equal(null);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal('alive 7/7');
  });
});
