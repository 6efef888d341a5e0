/**
 * A datagram server's socket on the native transport, and its fast path
 * (native/datagram.cc on the other side): datagrams are taken into a pool
 * of their own, the sender's address is handed over without building
 * arrays, and a reply to the sender of the last datagram reuses the
 * address the addon still holds instead of parsing it again (the sender
 * cache). Where a datagram reply is sent: sendTo() here, then the addon's
 * SendTo / SendToLast.
 */
import { BufferPool } from './buffer-pool.js';
import { constants } from './constants.js';
import { NativeListenerHandle } from './listener.js';
import type { NativeListener } from './native.js';
import type { Address } from './transport.js';

// Datagrams have a pool of their own, small as Node's Buffer pool: most
// are short; one larger than the room left (the addon checks) gets a
// buffer of its own. DGRAM_POOL_ROOM is the room a take asks for.
const DGRAM_POOL_ROOM = 512;
const dgramPool = new BufferPool(8 * 1024);

/** Resolves once the socket is writable, or in error (the next sendTo() then reports it). */
function waitOn(target: NativeListener, events: number): Promise<void> {
  return new Promise<void>((resolve) => {
    target.poll(events, () => resolve());
  });
}

export class NativeDatagramHandle extends NativeListenerHandle {
  // What takeDatagram() fills in: [port, truncated, flowinfo, scopeId], and
  // the sender's host, which the addon sets only when it changes.
  readonly #meta = new Uint32Array(4);
  readonly #from = { host: '' };
  #fromValid = false;
  #writable: Promise<void> | null = null;

  override takeDatagram(): [Buffer, Address | null, boolean] {
    const meta = this.#meta;
    const pool = dgramPool.room(DGRAM_POOL_ROOM);
    const got = this.sock.takeDatagram(meta, this.#from, pool, dgramPool.offset);
    const data = typeof got === 'number' ? dgramPool.take(got) : got;
    this.#fromValid = true;
    const host = this.#from.host;
    let address: Address | null;
    if (this.family === constants.AF_INET) address = [host, meta[0]];
    else if (this.family === constants.AF_INET6) address = [host, meta[0], meta[2], meta[3]];
    // A bound Unix name is never empty (even autobind gives one), so an
    // empty one is an unnamed sender: null, as Python's recvfrom() has it.
    else address = host === '' ? null : host;
    return [data, address, meta[1] === 1];
  }

  override sendTo(data: Uint8Array, address: Address): number | null {
    // A reply to the sender of the last datagram taken: the addon still has
    // its address, so the host string need not be parsed again.
    if (this.#fromValid) {
      const host = this.#from.host;
      if (typeof address === 'string') {
        if (address === host && this.family === constants.AF_UNIX) return this.sock.sendToLast(data);
      } else if (Array.isArray(address) && address[0] === host) {
        if (address.length === 2) return this.sock.sendToLast(data, address[1]);
        if (this.family === constants.AF_INET6) return this.sock.sendToLast(data, address[1], address[2], address[3]);
      }
    }
    return this.sock.sendTo(data, address);
  }

  /** One readiness wait for all the replies waiting to be sent (the addon takes one waiter per direction). */
  override waitWritable(): Promise<void> {
    if (this.#writable === null) {
      this.#writable = waitOn(this.sock, this.addon.constants.POLLOUT).then(() => {
        this.#writable = null;
      });
    }
    return this.#writable;
  }
}
