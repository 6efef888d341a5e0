/**
 * The default transport: the C++ addon. The server's socket has a serve
 * thread that waits with poll() and takes requests from the kernel; when the
 * server is busy, requests are taken on the main thread without waiting
 * (readyNow), so the thread hop is paid only when the server was idle.
 * Connection I/O is tried directly and waits on libuv's loop only on EAGAIN.
 */
import { loadAddon, type NativeAddon, type NativeConnection, type NativeListener } from './native.js';
import type { Address, ListenerHandle, SockOptValue, StreamHandle, Transport } from './transport.js';

// The libuv poll events and serve-thread event kinds the addon reports.
const UV_READABLE = 1;
const UV_WRITABLE = 2;
const EV_READY = 1;
const EV_ERROR = 4;

function waitOn(
  addon: NativeAddon,
  target: NativeConnection | NativeListener,
  events: number,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    target.poll(events, (status) => {
      if (status < 0) reject(addon.makeSystemError(status, 'poll'));
      else resolve();
    });
  });
}

class NativeStream implements StreamHandle {
  constructor(
    private readonly addon: NativeAddon,
    private readonly conn: NativeConnection,
  ) {}

  fileno(): number { return this.conn.fileno(); }
  recv(n: number): Buffer | null { return this.conn.recv(n); }
  send(data: Uint8Array, offset: number): number | null { return this.conn.send(data, offset); }
  waitReadable(): Promise<void> { return waitOn(this.addon, this.conn, UV_READABLE); }
  waitWritable(): Promise<void> { return waitOn(this.addon, this.conn, UV_WRITABLE); }
  cancelWait(direction: 'read' | 'write'): void {
    this.conn.cancelPoll(direction === 'read' ? UV_READABLE : UV_WRITABLE);
  }
  shutdown(how: number): void { this.conn.shutdown(how); }
  close(): void { this.conn.close(); }
  getPeerName(): Address { return this.conn.getPeerName(); }
  getSockName(): Address { return this.conn.getSockName(); }
  setSockOpt(level: number, name: number, value: SockOptValue): void { this.conn.setSockOpt(level, name, value); }
  getSockOpt(level: number, name: number): number { return this.conn.getSockOpt(level, name); }
}

class NativeListenerHandle implements ListenerHandle {
  private readonly sock: NativeListener;

  constructor(private readonly addon: NativeAddon, family: number, type: number) {
    this.sock = new addon.Listener(family, type);
  }

  fileno(): number { return this.sock.fileno(); }
  bind(address: Address): void { this.sock.bind(address); }
  listen(backlog: number): void { this.sock.listen(backlog); }
  setSockOpt(level: number, name: number, value: SockOptValue): void { this.sock.setSockOpt(level, name, value); }
  getSockOpt(level: number, name: number): number { return this.sock.getSockOpt(level, name); }
  getSockName(): Address { return this.sock.getSockName(); }
  configure(batchLimit: number, maxPacketSize: number): void { this.sock.configure(batchLimit, maxPacketSize); }
  readyNow(): boolean { return this.sock.readyNow(); }

  waitReady(timeout: number | null): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.sock.arm(timeout, (kind, errno) => {
        if (kind === EV_ERROR) reject(this.addon.makeSystemError(errno, 'poll'));
        else resolve(kind === EV_READY);
      });
    });
  }

  wake(): void { this.sock.wake(); }

  takeStream(): [StreamHandle, Address] {
    const [conn, address] = this.sock.take() as [NativeConnection, Address];
    return [new NativeStream(this.addon, conn), address];
  }

  takeDatagram(): [Buffer, Address, boolean] {
    return this.sock.take() as [Buffer, Address, boolean];
  }

  sendTo(data: Uint8Array, address: Address): number | null { return this.sock.sendTo(data, address); }
  waitWritable(): Promise<void> { return waitOn(this.addon, this.sock, UV_WRITABLE); }
  close(): void { this.sock.close(); }
}

export const nativeTransport: Transport = {
  name: 'native',
  createListener(family: number, type: number): ListenerHandle {
    return new NativeListenerHandle(loadAddon(), family, type);
  },
};
