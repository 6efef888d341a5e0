/**
 * The worker threads of ThreadingMixIn's `workerThreads` (the main
 * thread's side; lib/worker.ts is the worker's side).
 *
 * How a request reaches a worker (DESIGN.md, "Threading", "Worker
 * threads: the handoff"): the main thread takes the request as for any
 * server and runs verifyRequest(); the pool picks the least-busy worker.
 * A connection gives up its descriptor (a number: descriptors belong to
 * the whole process) into a slot of a shared table, and the number goes to
 * the worker in its handoff ring (worker-ring.ts; a message for what the
 * ring does not carry). The worker adopts it (a Connection of its own
 * environment), runs the handler, shuts the connection down and closes it,
 * and says "done". A datagram's payload is copied into the ring (or into a
 * buffer of its own that a message transfers); the worker replies on its
 * own dup() of the server's socket, which it adopts when it starts (its
 * "reply socket", in a slot of the same table), so that a reply never goes
 * to a descriptor number the main thread closed and reused.
 *
 * Ownership of a descriptor in flight (a connection, or a worker's reply
 * socket) is decided by one atomic compare-and-swap on its slot: the
 * worker takes it (SENT → ADOPTED) before it adopts the descriptor; the main thread, when the worker died, takes it
 * back (SENT → RECLAIMED) and closes it. Exactly one of them wins; a
 * descriptor the worker adopted is closed by the worker, or by its
 * environment's teardown when it dies (the Connection's finaliser), which
 * Node finishes before the main thread hears 'exit'.
 *
 * The queue is bounded: at most MAX_REQUESTS_PER_WORKER requests per
 * worker. When every worker is at that bound, dispatch() waits, the serve
 * loop stops taking connections, and the kernel's listen backlog holds the
 * rest.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import { reportUncaught, withCode } from './errors.js';
import type { ProxyInfo } from './proxy-protocol.js';
import { makeRing, RingWriter } from './worker-ring.js';
import type { Address } from './transport.js';

/**
 * Requests one worker runs at once (its handlers interleave at their
 * awaits). It bounds the queue, not the work: a keep-alive connection
 * counts for as long as it stays open, so a bound of 32 left the 33rd
 * client of a one-worker server unserved for as long as the first 32 kept
 * their connections (bench: 40 keep-alive clients, 8 of them timed out
 * again and again), where the main thread and CPython served all 40. The
 * table costs 4 bytes a slot.
 */
export const MAX_REQUESTS_PER_WORKER = 1024;

/** The states of a slot of the shared table. */
export const SLOT_FREE = 0;
export const SLOT_SENT = 1;
export const SLOT_ADOPTED = 2;
export const SLOT_RECLAIMED = 3;

/** What every worker is given (structured-cloneable). */
export interface WorkerInit {
  /** The handler's `static module`: a file URL or an absolute path. */
  module: string;
  /** The handler class's name: the export to take. */
  className: string;
  serverAddress: Address;
  /** The server's settings that can be cloned (not `transport`). */
  settings: Record<string, unknown>;
  workerData: unknown;
  /** A datagram server's socket family and type; null for a stream server. */
  datagram: { family: number; type: number } | null;
  /**
   * Int32s: first the state of each slot (SLOT_*), n × MAX_REQUESTS_PER_WORKER
   * of them; then one "active" count per worker (activeIndex()); then the
   * state of each worker's reply socket (replyIndex()).
   */
  slots: SharedArrayBuffer;
  /** A datagram server's: this worker's dup() of the server's socket, to adopt (replyIndex()); else -1. */
  replyFd: number;
  /** This worker's handoff ring (worker-ring.ts). */
  ring: SharedArrayBuffer;
  /** This worker's index: its active count is at activeIndex(size, index). */
  index: number;
  /** The pool's size (workerThreads). */
  size: number;
}

/**
 * Where worker `index`'s active count is in the shared table: the requests
 * it runs and has not yet closed. The main thread adds one when it hands
 * a request over; the worker takes it off just before it closes the
 * connection. So when a client sees its reply end, the main thread already
 * sees that worker as free, even before the "done" message arrives, and
 * the least-busy choice is right for the client's next connection.
 */
export function activeIndex(size: number, index: number): number {
  return size * MAX_REQUESTS_PER_WORKER + index;
}

/** Where worker `index`'s reply socket's state is in the shared table (a datagram server's). */
export function replyIndex(size: number, index: number): number {
  return size * MAX_REQUESTS_PER_WORKER + size + index;
}

/** Messages from a worker. */
export type FromWorker =
  | { t: 'ready' }
  | { t: 'error'; slot: number; error: SerializedError }
  | { t: 'done'; slot: number }
  | { t: 'shutdown' };

/** A request, to a worker: a connection's descriptor, or a datagram (its payload transferred). */
export type ToWorker =
  | {
      t: 'req';
      slot: number;
      fd: number;
      clientAddress: Address | null;
      /** Request bytes the main thread read with a PROXY header (transferred), and the header. */
      pending: ArrayBuffer | null;
      proxy: ProxyInfo | null;
    }
  | { t: 'dgram'; slot: number; data: ArrayBuffer; truncated: boolean; clientAddress: Address | null; proxy: ProxyInfo | null };

/** What dispatch() hands over: a connection (release() gives up its descriptor) or a datagram. */
export type PoolRequest =
  | { kind: 'stream'; release: () => number; pending: Buffer | null; proxy: ProxyInfo | null }
  | { kind: 'datagram'; data: Uint8Array; truncated: boolean; proxy: ProxyInfo | null };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: unknown;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack, code: (error as { code?: unknown }).code };
  }
  return { name: 'Error', message: String(error) };
}

/** An Error on the main thread with what a worker's error said (its stack is the worker's). */
export function deserializeError(s: SerializedError): Error {
  const error = new Error(s.message);
  error.name = s.name;
  if (s.stack !== undefined) error.stack = s.stack;
  if (s.code !== undefined) Object.assign(error, { code: s.code });
  return error;
}

/** What the pool calls on its server (main thread). */
export interface PoolHost {
  /** A request failed in a worker, or its worker died: handleError(null, clientAddress, error). */
  requestFailed(clientAddress: Address | null, error: Error): void | Promise<void>;
  /** A handler in a worker called this.server.shutdown(). */
  shutdownRequested(): void;
  /** A datagram server's: a new descriptor of its socket (a worker's reply socket), owned by the caller. */
  dupSocket(): number;
}

interface InFlight {
  slot: number;
  /** The connection's descriptor; -1 for a datagram. */
  fd: number;
  clientAddress: Address | null;
  /** handleError() calls started for it, awaited before it counts as done. */
  reports: Array<void | Promise<void>>;
  /** When it was handed over (performance.now()). */
  since: number;
  resolve: () => void;
}

interface PoolWorker {
  worker: Worker;
  /** Its place in the table's active counts (a replacement takes the dead worker's). */
  index: number;
  ready: boolean;
  inflight: Map<number, InFlight>;
  /** The uncaught error the worker reported before it exited. */
  lastError: Error | null;
  /** Set by close(): end it once it has no request left. */
  retiring: boolean;
  /** Its reply socket's descriptor (a datagram server's), -1 without. */
  replyFd: number;
  /** Where most requests go to it (the rest: postMessage). */
  ring: RingWriter;
}

/** How long a replacement worker that failed to start waits before the next try: doubling from the first, up to the last. */
const RESPAWN_FIRST_MS = 100;
const RESPAWN_MAX_MS = 10_000;

/** The worker's script: worker.js beside this file (dist/ or the test build). */
const WORKER_SCRIPT = path.join(__dirname, 'worker.js');

export class WorkerPool {
  readonly size: number;
  readonly #init: WorkerInit;
  readonly #host: PoolHost;
  readonly #states: Int32Array;
  readonly #freeSlots: number[] = [];
  #workers: PoolWorker[] = [];
  #starting: Promise<void> | null = null;
  #closing = false;
  /** Woken when a worker gets room or becomes ready, or a worker is lost. */
  #roomWaiters: Array<() => void> = [];
  /** How requests were handed over: in a ring, or in a message (diagnostics, tests). */
  readonly #handoffs = { ring: 0, message: 0 };
  /** Turns where #leastBusy() starts its scan. */
  #turn = 0;
  /** Woken when the last request in flight is done. */
  #idleWaiters: Array<() => void> = [];
  /** Replacements that failed to start, waiting to be tried again: index → timer. */
  readonly #respawns = new Map<number, NodeJS.Timeout>();

  constructor(size: number, init: Omit<WorkerInit, 'slots' | 'index' | 'size' | 'replyFd' | 'ring'>, host: PoolHost) {
    this.size = size;
    const slots = new SharedArrayBuffer((size * MAX_REQUESTS_PER_WORKER + 2 * size) * Int32Array.BYTES_PER_ELEMENT);
    this.#states = new Int32Array(slots);
    for (let i = size * MAX_REQUESTS_PER_WORKER - 1; i >= 0; i--) this.#freeSlots.push(i);
    this.#init = { ...init, slots, index: -1, size, replyFd: -1, ring: new SharedArrayBuffer(0) };
    this.#host = host;
  }

  /** The thread ids of the workers that are ready (for tests and diagnostics). */
  get threadIds(): number[] {
    return this.#workers.filter((w) => w.ready).map((w) => w.worker.threadId);
  }

  /** How many requests went through the rings and how many by postMessage. */
  get handoffs(): { ring: number; message: number } {
    return { ...this.#handoffs };
  }

  /** Requests handed to workers and not yet done. */
  get inFlight(): number {
    let n = 0;
    for (const w of this.#workers) n += w.inflight.size;
    return n;
  }

  /** Resolves once no request is in flight (drain()). */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Starts the workers (once) and resolves when every one has imported the
   * handler's module. A worker that cannot (a bad module, no such export)
   * makes it reject with that worker's error; a later call tries again.
   */
  start(): Promise<void> {
    if (this.#closing) return Promise.reject(withCode(new Error('the worker threads are closed'), 'ERR_SOCKETSERVER_CLOSED'));
    if (this.#starting !== null) return this.#starting;
    const started = Array.from({ length: this.size }, (_, index) => this.#spawn(index));
    this.#starting = Promise.all(started).then(
      () => undefined,
      async (error: unknown) => {
        this.#starting = null;
        await Promise.all(this.#workers.map((w) => this.#end(w)));
        throw error;
      },
    );
    return this.#starting;
  }

  /** Starts one worker; resolves when it is ready, rejects when it exits before. */
  #spawn(index: number): Promise<void> {
    Atomics.store(this.#states, activeIndex(this.size, index), 0);
    let replyFd = -1;
    let worker: Worker;
    const ring = makeRing();
    try {
      if (this.#init.datagram !== null) {
        replyFd = this.#host.dupSocket();
        Atomics.store(this.#states, replyIndex(this.size, index), SLOT_SENT);
      }
      worker = new Worker(WORKER_SCRIPT, { workerData: { ...this.#init, index, replyFd, ring } });
    } catch (error) {
      if (replyFd >= 0) this.#reclaimReplySocket(index, replyFd);
      return Promise.reject(error);
    }
    const w: PoolWorker = { worker, index, ready: false, inflight: new Map(), lastError: null, retiring: false, replyFd, ring: new RingWriter(ring) };
    this.#workers.push(w);
    // Referenced while it starts (someone awaits start()) and while it runs
    // requests (dispatch(), #finish()); an idle pool does not keep Node alive.
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromWorker) => {
        if (m.t === 'ready') {
          w.ready = true;
          if (w.inflight.size === 0) worker.unref();
          resolve();
          this.#wakeRoomWaiters();
        } else {
          this.#onMessage(w, m);
        }
      });
      worker.on('error', (error) => {
        w.lastError = error;
      });
      worker.on('exit', (code) => {
        if (!w.ready) reject(w.lastError ?? new Error(`worker thread exited (code ${code}) before it was ready`));
        this.#onExit(w, code);
      });
    });
  }

  #onMessage(w: PoolWorker, m: FromWorker): void {
    if (m.t === 'shutdown') {
      this.#host.shutdownRequested();
      return;
    }
    if (m.t === 'ready') return;
    const entry = w.inflight.get(m.slot);
    if (entry === undefined) return;
    if (m.t === 'error') {
      entry.reports.push(this.#report(entry.clientAddress, deserializeError(m.error)));
    } else if (m.t === 'done') {
      this.#finish(w, entry);
    }
  }

  #report(clientAddress: Address | null, error: Error): void | Promise<void> {
    try {
      const r = this.#host.requestFailed(clientAddress, error);
      return r instanceof Promise ? r.catch(reportPoolError) : r;
    } catch (e) {
      reportPoolError(e);
    }
  }

  /** The request is over: its slot is free again, its task resolves once its reports are. */
  #finish(w: PoolWorker, entry: InFlight): void {
    w.inflight.delete(entry.slot);
    Atomics.store(this.#states, entry.slot, SLOT_FREE);
    this.#freeSlots.push(entry.slot);
    if (w.inflight.size === 0) {
      w.worker.unref();
      if (w.retiring) this.#end(w);
    }
    const reports = entry.reports.filter((r): r is Promise<void> => r instanceof Promise);
    if (reports.length === 0) entry.resolve();
    else void Promise.all(reports).then(entry.resolve, entry.resolve);
    this.#wakeRoomWaiters();
    if (this.#idleWaiters.length > 0 && this.inFlight === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** A reply socket the worker never took (it died first, or never started): the main thread closes it. */
  #reclaimReplySocket(index: number, fd: number): void {
    if (Atomics.compareExchange(this.#states, replyIndex(this.size, index), SLOT_SENT, SLOT_RECLAIMED) === SLOT_SENT) closeFd(fd);
  }

  #onExit(w: PoolWorker, code: number): void {
    this.#workers = this.#workers.filter((x) => x !== w);
    if (w.replyFd >= 0) this.#reclaimReplySocket(w.index, w.replyFd);
    const lost = [...w.inflight.values()];
    if (lost.length > 0) {
      const cause = w.lastError;
      const why = cause !== null ? `: ${cause.name}: ${cause.message}` : '';
      for (const entry of lost) {
        // The worker never took it: the main thread owns it again and closes it.
        if (entry.fd >= 0 && Atomics.compareExchange(this.#states, entry.slot, SLOT_SENT, SLOT_RECLAIMED) === SLOT_SENT) closeFd(entry.fd);
        // Taken (ADOPTED): the worker's teardown closed it already.
        if (!this.#closing) {
          const error = withCode(
            new Error(`the worker thread running this request exited (code ${code})${why}`, cause !== null ? { cause } : undefined),
            'ERR_SOCKETSERVER_WORKER_EXIT',
          );
          entry.reports.push(this.#report(entry.clientAddress, error));
        }
        this.#finish(w, entry);
      }
    }
    // Replace a worker that served, unless the pool is closing; one that
    // never became ready is not restarted here (start() reported why, or
    // #replace() tries again).
    if (!this.#closing && !w.retiring && w.ready) this.#replace(w.index, RESPAWN_FIRST_MS);
    this.#wakeRoomWaiters();
  }

  /**
   * Starts a worker in place of a dead one. One that fails to start (its
   * module broke meanwhile, no descriptor left for its reply socket) is
   * reported and tried again after `delay`, doubled each time up to
   * RESPAWN_MAX_MS, until one starts or the pool closes: the pool does not
   * shrink for good after a passing failure. One timer per index at most.
   */
  #replace(index: number, delay: number): void {
    this.#spawn(index).catch((error: unknown) => {
      if (this.#closing) return;
      reportPoolError(error);
      const timer = setTimeout(() => {
        this.#respawns.delete(index);
        if (!this.#closing) this.#replace(index, Math.min(delay * 2, RESPAWN_MAX_MS));
      }, delay);
      // Only a server that serves keeps the process alive, not a retry.
      timer.unref();
      this.#respawns.set(index, timer);
      this.#wakeRoomWaiters();
    });
  }

  #wakeRoomWaiters(): void {
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const wake of waiters) wake();
  }

  /** True when dispatch() can be called now: the pool is started and a worker has room. */
  hasRoom(): boolean {
    return this.#freeSlots.length > 0 && this.#workers.some(canTake);
  }

  /**
   * The ready worker with the fewest active requests, if one has room.
   * Among equals, the one whose oldest request in flight started last: a
   * request that has run long is likely to run longer (a heavy one), while
   * one just handed over may be done already. That matters for datagrams:
   * the client has the reply (sent by finish()) a moment before the
   * worker's count drops, and its next datagram must not join the heavy
   * request's worker on that tie.
   */
  #leastBusy(): PoolWorker | null {
    let best: PoolWorker | null = null;
    let bestActive = Infinity;
    let bestSince = -Infinity;
    // Where the scan starts turns with each call, so that exact ties (idle
    // workers) share the requests instead of all going to the first.
    const workers = this.#workers;
    const start = workers.length === 0 ? 0 : this.#turn++ % workers.length;
    for (let k = 0; k < workers.length; k++) {
      const w = workers[(start + k) % workers.length];
      if (!canTake(w)) continue;
      const active = Atomics.load(this.#states, activeIndex(this.size, w.index));
      const since = oldestSince(w);
      if (active < bestActive || (active === bestActive && since > bestSince)) {
        best = w;
        bestActive = active;
        bestSince = since;
      }
    }
    return best;
  }

  /**
   * Waits until a worker has room (the bounded queue: meanwhile the serve
   * loop takes nothing from the kernel). Rejects when no worker is left
   * and none is coming.
   */
  async waitForRoom(): Promise<void> {
    await this.start();
    while (!this.#workers.some(canTake)) {
      if (this.#closing) throw withCode(new Error('the worker threads are closed'), 'ERR_SOCKETSERVER_CLOSED');
      if (this.#workers.length === 0 && this.#respawns.size === 0) {
        throw withCode(new Error('no worker thread is left to run the request'), 'ERR_SOCKETSERVER_WORKER_EXIT');
      }
      await new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
    }
  }

  /**
   * Hands the request to the least-busy worker, in its ring or else in a
   * message: a connection's `release()` gives up the descriptor, called
   * only once the request is sure to be sent. Call after waitForRoom(), in
   * the same turn. Resolves when
   * the request is done (or lost with its worker, and reported).
   */
  dispatch(request: PoolRequest, clientAddress: Address | null): Promise<void> {
    const w = this.#leastBusy();
    const slot = this.#freeSlots.pop();
    if (w === null || slot === undefined) throw new Error('WorkerPool.dispatch() without room (call waitForRoom() first)');
    let fd = -1;
    if (request.kind === 'stream') {
      try {
        fd = request.release();
      } catch (error) {
        this.#freeSlots.push(slot);
        throw error;
      }
    }
    let resolve!: () => void;
    const done = new Promise<void>((r) => { resolve = r; });
    const entry: InFlight = { slot, fd, clientAddress, reports: [], since: performance.now(), resolve };
    Atomics.store(this.#states, slot, SLOT_SENT);
    Atomics.add(this.#states, activeIndex(this.size, w.index), 1);
    w.inflight.set(slot, entry);
    if (w.inflight.size === 1) w.worker.ref();
    try {
      if (this.#ring(w, slot, fd, request, clientAddress)) this.#handoffs.ring++;
      else {
        this.#post(w, slot, fd, request, clientAddress);
        this.#handoffs.message++;
      }
    } catch (error) {
      // Not sent (a clientAddress that cannot be cloned): take it back.
      if (fd >= 0 && Atomics.compareExchange(this.#states, slot, SLOT_SENT, SLOT_RECLAIMED) === SLOT_SENT) closeFd(fd);
      entry.reports.push(this.#report(clientAddress, error as Error));
      this.#finish(w, entry);
    }
    return done;
  }

  /** Hands the request over in the worker's ring; false when it must go by postMessage (PROXY extras, too large, ring full). */
  #ring(w: PoolWorker, slot: number, fd: number, request: PoolRequest, clientAddress: Address | null): boolean {
    if (request.proxy !== null) return false;
    if (request.kind === 'stream') return request.pending === null && w.ring.write({ t: 'req', slot, fd, clientAddress });
    return w.ring.write({ t: 'dgram', slot, data: request.data, truncated: request.truncated, clientAddress });
  }

  /** Hands the request over in a message. */
  #post(w: PoolWorker, slot: number, fd: number, request: PoolRequest, clientAddress: Address | null): void {
    if (request.kind === 'stream') {
      const pending = request.pending === null ? null : new Uint8Array(request.pending).buffer;
      const message: ToWorker = { t: 'req', slot, fd, clientAddress, pending, proxy: request.proxy };
      w.worker.postMessage(message, pending === null ? [] : [pending]);
      return;
    }
    // A copy of its own: the payload is a view of a shared pool, and
    // cloning a view would copy the whole pool.
    const data = new Uint8Array(request.data).buffer;
    const message: ToWorker = { t: 'dgram', slot, data, truncated: request.truncated, clientAddress, proxy: request.proxy };
    w.worker.postMessage(message, [data]);
  }

  /**
   * Ends the workers. Those with requests still running end when their
   * last one is done (daemonThreads, or blockOnClose false: nobody waits
   * for them, and they do not keep the process alive); with `force`
   * (drain()'s timeout expired) they end at once, and their requests' connections
   * close with them, unreported. Resolves when the idle (or forced) ones
   * have ended.
   */
  async close({ force = false }: { force?: boolean } = {}): Promise<void> {
    this.#closing = true;
    for (const timer of this.#respawns.values()) clearTimeout(timer);
    this.#respawns.clear();
    this.#wakeRoomWaiters();
    const ending: Promise<unknown>[] = [];
    for (const w of this.#workers) {
      w.retiring = true;
      if (w.inflight.size === 0 || force) ending.push(this.#end(w));
      else w.worker.unref();
    }
    await Promise.all(ending);
  }

  #end(w: PoolWorker): Promise<unknown> {
    w.retiring = true;
    return w.worker.terminate();
  }
}

/** True when the worker can be given a request: ready, not retiring, under its bound. */
function canTake(w: PoolWorker): boolean {
  return w.ready && !w.retiring && w.inflight.size < MAX_REQUESTS_PER_WORKER;
}

/** When the worker's oldest request in flight was handed over; +Infinity when it has none. */
function oldestSince(w: PoolWorker): number {
  // A Map iterates in insertion order: the first entry is the oldest.
  for (const entry of w.inflight.values()) return entry.since;
  return Infinity;
}

/** Closes a descriptor the main thread took back (never adopted by a worker). */
function closeFd(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch (error) {
    reportPoolError(error);
  }
}

function reportPoolError(error: unknown): void {
  reportUncaught('the worker pool', error);
}
