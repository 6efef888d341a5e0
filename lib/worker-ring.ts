/**
 * The handoff ring: requests from the main thread to one worker thread in
 * shared memory, instead of a postMessage each (DESIGN.md, "Worker
 * threads: the handoff": 4–12× the messages per second at 6–17× less of the
 * main thread's time; the same latency, which the worker's wake-up sets).
 *
 * One producer (the main thread), one consumer (the worker). A byte ring of
 * length-prefixed records; `head` and `tail` count bytes from the start,
 * modulo 2^32. The consumer sleeps in Atomics.waitAsync on a doorbell after
 * it has said so (ASLEEP) and looked once more; the producer rings only when
 * it sees ASLEEP. Only the consumer clears ASLEEP: a producer that cleared
 * it could lose a wake-up (the consumer would sleep on a ring it believes
 * it has told about).
 *
 * A record holds what most requests are: the slot, a descriptor or a
 * datagram's payload, and the client's address. What does not fit (a
 * PROXY header, bytes read with it, a payload larger than a quarter of the
 * ring) goes by postMessage, as does anything when the ring is full: the
 * requests are independent, so their order across the two paths does not
 * matter.
 */
import type { Address } from './transport.js';

/** Bytes of a ring's record area (a power of two). */
export const RING_BYTES = 256 * 1024;

const HEAD = 0;
const TAIL = 1;
const ASLEEP = 2;
const DOORBELL = 3;
const CONTROL_INTS = 4;

/** Record kinds. */
const STREAM = 1;
const DATAGRAM = 2;
/** A length word that says: the record continues at the ring's start. */
const WRAP = 0xffffffff;

/** Address encodings. */
const NO_ADDRESS = 0;
const INET = 1;
const INET6 = 2;
const UNIX = 3;

/** What a record carries: a connection's descriptor, or a datagram. */
export type RingRequest =
  | { t: 'req'; slot: number; fd: number; clientAddress: Address | null }
  | { t: 'dgram'; slot: number; data: Uint8Array; truncated: boolean; clientAddress: Address | null };

/** A ring's shared memory: control words, then the records. */
export function makeRing(): SharedArrayBuffer {
  return new SharedArrayBuffer(CONTROL_INTS * 4 + RING_BYTES);
}

const encoder = new TextEncoder();

/** The encoded size of an address: kind byte, then its fields. */
function addressBytes(address: Address | null): Uint8Array | null {
  // [kind u8][text length u16][text][port u16][flowinfo u32][scopeId u32]
  if (address === null) return new Uint8Array([NO_ADDRESS]);
  if (typeof address === 'string') {
    const text = encoder.encode(address);
    if (text.length > 0xffff) return null;
    const out = new Uint8Array(3 + text.length);
    out[0] = UNIX;
    new DataView(out.buffer).setUint16(1, text.length, true);
    out.set(text, 3);
    return out;
  }
  const text = encoder.encode(address[0]);
  if (text.length > 0xffff) return null;
  const out = new Uint8Array(3 + text.length + 10);
  const view = new DataView(out.buffer);
  out[0] = address.length === 4 ? INET6 : INET;
  view.setUint16(1, text.length, true);
  out.set(text, 3);
  view.setUint16(3 + text.length, address[1], true);
  view.setUint32(5 + text.length, address.length === 4 ? address[2] : 0, true);
  view.setUint32(9 + text.length, address.length === 4 ? address[3] : 0, true);
  return out;
}

/** The main thread's end. */
export class RingWriter {
  readonly #control: Int32Array;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  constructor(ring: SharedArrayBuffer) {
    this.#control = new Int32Array(ring, 0, CONTROL_INTS);
    this.#bytes = new Uint8Array(ring, CONTROL_INTS * 4, RING_BYTES);
    this.#view = new DataView(ring, CONTROL_INTS * 4, RING_BYTES);
  }

  /**
   * Puts the request in the ring and wakes the worker if it sleeps. False
   * when it does not fit (too large, or the ring is full): send it another
   * way.
   */
  write(request: RingRequest): boolean {
    const address = addressBytes(request.clientAddress);
    if (address === null) return false;
    const data = request.t === 'dgram' ? request.data : null;
    // [length u32][kind u8][truncated u8][slot i32][fd i32][data length u32][data][address]
    const size = 4 + 1 + 1 + 4 + 4 + 4 + (data?.length ?? 0) + address.length;
    if (size > RING_BYTES / 4) return false;
    const control = this.#control;
    const head = Atomics.load(control, HEAD) >>> 0;
    let tail = Atomics.load(control, TAIL) >>> 0;
    let at = tail % RING_BYTES;
    // A record never wraps: it starts at 0 when the end has no room for it.
    const skip = at + size > RING_BYTES ? RING_BYTES - at : 0;
    if (((tail - head) >>> 0) + skip + size > RING_BYTES) return false;
    const view = this.#view;
    if (skip > 0) {
      if (skip >= 4) view.setUint32(at, WRAP, true);
      tail = (tail + skip) >>> 0;
      at = 0;
    }
    view.setUint32(at, size, true);
    view.setUint8(at + 4, request.t === 'req' ? STREAM : DATAGRAM);
    view.setUint8(at + 5, request.t === 'dgram' && request.truncated ? 1 : 0);
    view.setInt32(at + 6, request.slot, true);
    view.setInt32(at + 10, request.t === 'req' ? request.fd : -1, true);
    view.setUint32(at + 14, data?.length ?? 0, true);
    if (data !== null) this.#bytes.set(data, at + 18);
    this.#bytes.set(address, at + 18 + (data?.length ?? 0));
    // The record is written before the tail says so (Atomics are sequentially consistent).
    Atomics.store(control, TAIL, (tail + size) | 0);
    if (Atomics.load(control, ASLEEP) === 1) {
      Atomics.add(control, DOORBELL, 1);
      Atomics.notify(control, DOORBELL);
    }
    return true;
  }
}

const decoder = new TextDecoder();

/** Atomics.waitAsync (ES2024; in every Node this package supports), typed here for the ES2022 lib. */
const waitAsync = (Atomics as unknown as {
  waitAsync(array: Int32Array, index: number, value: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

/** The worker's end. */
export class RingReader {
  readonly #control: Int32Array;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  constructor(ring: SharedArrayBuffer) {
    this.#control = new Int32Array(ring, 0, CONTROL_INTS);
    this.#bytes = new Uint8Array(ring, CONTROL_INTS * 4, RING_BYTES);
    this.#view = new DataView(ring, CONTROL_INTS * 4, RING_BYTES);
  }

  /** Every request in the ring now, oldest first; frees their room. */
  takeAll(each: (request: RingRequest) => void): void {
    const control = this.#control;
    let head = Atomics.load(control, HEAD) >>> 0;
    const tail = Atomics.load(control, TAIL) >>> 0;
    const view = this.#view;
    while (head !== tail) {
      const at = head % RING_BYTES;
      const room = RING_BYTES - at;
      if (room < 4 || view.getUint32(at, true) === WRAP) {
        head = (head + room) >>> 0;
        continue;
      }
      const size = view.getUint32(at, true);
      const kind = view.getUint8(at + 4);
      const slot = view.getInt32(at + 6, true);
      const dataLength = view.getUint32(at + 14, true);
      const clientAddress = this.#address(at + 18 + dataLength);
      let request: RingRequest;
      if (kind === STREAM) {
        request = { t: 'req', slot, fd: view.getInt32(at + 10, true), clientAddress };
      } else {
        // A copy of its own: the room is reused once head moves on.
        const data = Buffer.from(this.#bytes.subarray(at + 18, at + 18 + dataLength));
        request = { t: 'dgram', slot, data, truncated: view.getUint8(at + 5) === 1, clientAddress };
      }
      head = (head + size) >>> 0;
      Atomics.store(control, HEAD, head | 0);
      each(request);
    }
  }

  #address(at: number): Address | null {
    const view = this.#view;
    const kind = view.getUint8(at);
    if (kind === NO_ADDRESS) return null;
    const length = view.getUint16(at + 1, true);
    const text = decoder.decode(this.#bytes.subarray(at + 3, at + 3 + length));
    if (kind === UNIX) return text;
    const port = view.getUint16(at + 3 + length, true);
    if (kind === INET) return [text, port];
    return [text, port, view.getUint32(at + 5 + length, true), view.getUint32(at + 9 + length, true)];
  }

  /**
   * Calls `each` for every request, now and as they come, for the
   * worker's life. Sleeps in Atomics.waitAsync between (it does not keep
   * the thread alive: the worker's message port does).
   */
  consume(each: (request: RingRequest) => void): void {
    const control = this.#control;
    const loop = async (): Promise<void> => {
      for (;;) {
        this.takeAll(each);
        const bell = Atomics.load(control, DOORBELL);
        Atomics.store(control, ASLEEP, 1);
        // Looked at once more after saying so: a record written before the
        // producer could see ASLEEP is taken now, not slept on.
        if (Atomics.load(control, HEAD) !== Atomics.load(control, TAIL)) {
          Atomics.store(control, ASLEEP, 0);
          continue;
        }
        const waited = waitAsync(control, DOORBELL, bell);
        if (waited.async) await waited.value;
        Atomics.store(control, ASLEEP, 0);
      }
    };
    void loop();
  }
}
