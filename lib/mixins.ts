/**
 * Mix-in classes: functions of a server class, composed as in Python
 * (mix-in first): `class ThreadedTCPServer extends ThreadingMixIn(TCPServer) {}`.
 *
 * ThreadingMixIn — each request is processed as its own concurrent task:
 * the serve loop takes the next request without waiting for the handler.
 * JavaScript runs on one thread, so handlers overlap at their `await`s (I/O,
 * timers), which is what a server waiting on clients needs.
 *
 * Settings (statics, overridable per instance):
 * - daemonThreads (false): serverClose() does not wait for these requests.
 * - blockOnClose (true): serverClose() waits for in-flight requests.
 * - workerThreads (0): 0 runs handlers as tasks on the main thread; n >= 1
 *   runs each request's finishRequest() and shutdownRequest() on a pool of
 *   n worker threads (lib/worker-pool.ts; native transport).
 *   The handler class names its module: `static module = import.meta.url`.
 * - workerData (undefined): a structured-cloneable value each worker gets,
 *   as `this.server.workerData` in handlers.
 *
 * ThreadingMixIn methods, in CPython's three groups (the server's own are
 * listed in servers.ts):
 *
 * Methods for the caller:
 *
 * - serverClose(): Promise<void>    (waits for in-flight requests, unless
 *                                   daemonThreads or not blockOnClose)
 *
 * Methods that may be overridden:
 *
 * - processRequestThread(request, clientAddress)   (the task: finishRequest,
 *                                   handleError on a throw, shutdownRequest)
 * - processRequest(request, clientAddress)         (starts that task)
 *
 * Methods for derived classes:
 *
 * - _threads                        (the in-flight tasks, read-only)
 * - _workerPool()                   (the worker threads, or null when
 *                                   workerThreads is 0; made on first use)
 *
 * With workerThreads > 0, processRequest() hands the request to a worker
 * and processRequestThread() is not called; verifyRequest(), handleError()
 * (request null) and serviceActions() stay on the main thread (docs/api.md,
 * "What runs where").
 *
 * ForkingMixIn, in the same groups (its settings are on ForkingMixIn below):
 *
 * Methods for the caller:
 *
 * - collectChildren({ blocking }): Promise<void>
 * - serverClose(): Promise<void>    (waits for the children when blockOnClose)
 *
 * Methods that may be overridden:
 *
 * - childExited(pid, code, signal)  (a child of ours was reaped)
 * - processRequest(request, clientAddress)         (forks; the child runs
 *                                   finishRequest and shutdownRequest)
 * - handleTimeout(), serviceActions()              (reap exited children)
 *
 * Methods for derived classes:
 *
 * - activeChildren                  (the pids still running; null before
 *                                   the first fork)
 */
import * as path from 'node:path';
import { isMainThread } from 'node:worker_threads';

import { constants } from './constants.js';
import { invalidArgType, isSystemError, outOfRange, reportTaskError, unsupported } from './errors.js';
import type { BaseServer, RequestHandlerClass, ServerOptions } from './servers.js';
import type { DatagramRequest } from './handlers.js';
import { StreamSocket } from './socket.js';
import type { Address, ChildStatus, ProcessControl, Transport } from './transport.js';
import { InFlight } from './drain.js';
import { type PoolRequest, WorkerPool } from './worker-pool.js';

/** Options the Threading classes accept besides the server's own. */
export interface ThreadingOptions extends ServerOptions {
  daemonThreads?: boolean;
  blockOnClose?: boolean;
  /** 0: handlers run as tasks on the main thread; n >= 1: on a pool of n worker threads. */
  workerThreads?: number;
  /** A structured-cloneable value every worker thread gets, as `this.server.workerData`. */
  workerData?: unknown;
}

/** What ThreadingMixIn adds to a server instance. */
export interface ThreadingServer {
  daemonThreads: boolean;
  blockOnClose: boolean;
  workerThreads: number;
  workerData: unknown;
  /** The in-flight requests serverClose() waits for (finished ones are not kept: CPython issue 37193). */
  readonly _threads: ReadonlySet<Promise<void>>;
  /** Runs one request: finishRequest(), handleError() on failure, then shutdownRequest(). */
  processRequestThread(request: unknown, clientAddress: Address | null): Promise<void>;
}

/** A server class the mix-ins can extend. */
export type ServerClass<S extends BaseServer<unknown> = BaseServer<unknown>> = (abstract new (
  serverAddress: Address,
  RequestHandlerClass: RequestHandlerClass,
  options?: ServerOptions,
) => S) & { settings: readonly string[] };

/** The class ThreadingMixIn(Base) returns. */
export type ThreadingServerClass<B extends ServerClass> = (new (
  serverAddress: Address,
  RequestHandlerClass: RequestHandlerClass,
  options?: ThreadingOptions,
) => InstanceType<B> & ThreadingServer) &
  Omit<B, 'prototype'> & { daemonThreads: boolean; blockOnClose: boolean; workerThreads: number; workerData: unknown };

/** The most worker threads one server may ask for. */
const MAX_WORKER_THREADS = 256;

/**
 * Checks workerThreads and what it needs, before any descriptor exists:
 * an integer >= 0; when > 0, a transport that can hand requests to
 * workers, a stream server, a handler class that names its module, and a
 * workerData that can be cloned.
 */
function checkWorkerThreads(ctor: Record<string, unknown>, args: unknown[]): unknown[] {
  const options = (args[2] ?? {}) as Record<string, unknown>;
  const pick = (name: string): unknown => (name in options ? options[name] : ctor[name]);
  const n = pick('workerThreads');
  if (typeof n !== 'number') throw invalidArgType(`workerThreads must be an integer >= 0, got ${typeof n}`);
  if (!Number.isInteger(n) || n < 0 || n > MAX_WORKER_THREADS) {
    throw outOfRange(`workerThreads must be an integer >= 0 and <= ${MAX_WORKER_THREADS}, got ${n}`);
  }
  if (n === 0) return args;
  const transport = pick('transport') as Transport | undefined;
  const datagram = pick('socketType') === constants.SOCK_DGRAM;
  if ((datagram ? transport?.adoptListener : transport?.adoptStream) === undefined) {
    throw unsupported(`workerThreads on the ${transport?.name ?? 'given'} transport`);
  }
  const Handler = args[1] as { name?: string; module?: unknown } | undefined;
  const name = Handler?.name || 'MyHandler';
  const module = Handler?.module;
  if (typeof module !== 'string' || !(module.startsWith('file:') || path.isAbsolute(module))) {
    throw invalidArgType(
      `workerThreads: ${n} needs the handler class to say where a worker thread can import it: ` +
        `add \`static module = import.meta.url;\` to class ${name} (in CommonJS: \`static module = __filename;\`), ` +
        `in a module that does not start the server when imported` +
        (module === undefined ? '' : ` (module is ${typeof module === 'string' ? JSON.stringify(module) : typeof module}: not a file URL or an absolute path)`),
    );
  }
  try {
    structuredClone(pick('workerData'));
  } catch (error) {
    throw invalidArgType(`workerData must be structured-cloneable: ${(error as Error).message}`);
  }
  return args;
}

/** The server's settings a worker's view gets: those that can be cloned. */
function cloneableSettings(server: object, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of names) {
    if (name === 'transport' || name === 'workerData') continue;
    const value = (server as Record<string, unknown>)[name];
    try {
      out[name] = structuredClone(value);
    } catch {
      // Not cloneable: the view does not have it.
    }
  }
  return out;
}

// The mix-in pattern needs a constructor of `...args: any[]` inside; the
// public types above describe the result exactly.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyServerCtor = new (...args: any[]) => BaseServer<unknown>;

export function ThreadingMixIn<B extends ServerClass>(Base: B): ThreadingServerClass<B> {
  const Server = Base as unknown as AnyServerCtor & { settings: readonly string[] };

  class Threading extends Server implements ThreadingServer {
    static daemonThreads = false;
    static blockOnClose = true;
    static workerThreads = 0;
    static workerData: unknown = undefined;
    static override settings: readonly string[] = [...Server.settings, 'daemonThreads', 'blockOnClose', 'workerThreads', 'workerData'];

    declare daemonThreads: boolean;
    declare blockOnClose: boolean;
    declare workerThreads: number;
    declare workerData: unknown;
    #threads = new Set<Promise<void>>();
    /** Every request task running on this thread (daemon ones too): what drain() waits for and cuts short. */
    readonly #tasks = new InFlight<unknown>();
    /** The worker threads (workerThreads > 0), made when first needed. */
    #pool: WorkerPool | null = null;

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    constructor(...args: any[]) {
      super(...checkWorkerThreads(new.target as unknown as Record<string, unknown>, args));
    }

    /** The worker pool (workerThreads > 0), made on first use; null otherwise. */
    protected _workerPool(): WorkerPool | null {
      if (this.workerThreads === 0) return null;
      if (this.#pool === null) {
        const Handler = this.RequestHandlerClass as unknown as { name: string; module: string };
        this.#pool = new WorkerPool(
          this.workerThreads,
          {
            module: Handler.module,
            className: Handler.name,
            serverAddress: this.serverAddress,
            settings: cloneableSettings(this, (this.constructor as unknown as { settings: readonly string[] }).settings),
            workerData: this.workerData,
            datagram: this.#datagramKind(),
          },
          {
            requestFailed: (clientAddress, error) => this.handleError(null as never, clientAddress, error),
            shutdownRequested: () => void this.shutdown(),
            dupSocket: () => this.socket!.handle.dup!(),
          },
        );
      }
      return this.#pool;
    }

    /** A datagram server's socket family and type (what a worker's reply socket must be); null for a stream server. */
    #datagramKind(): { family: number; type: number } | null {
      const { addressFamily, socketType } = this as unknown as { addressFamily: number; socketType: number };
      return socketType === constants.SOCK_DGRAM ? { family: addressFamily, type: socketType } : null;
    }

    /** Starts the worker threads first (workerThreads > 0): a module that cannot be loaded rejects here. */
    override async serveForever(pollInterval?: number): Promise<void> {
      // (A closed server starts nothing: the base class reports it.)
      if (!this.socket?.closed) await this._workerPool()?.start();
      return super.serveForever(pollInterval);
    }

    override async handleRequest(): Promise<void> {
      if (!this.socket?.closed) await this._workerPool()?.start();
      return super.handleRequest();
    }

    get _threads(): ReadonlySet<Promise<void>> {
      return this.#threads;
    }

    /** A request whose PROXY header is late waits beside the loop: the others are not held up. */
    protected override _takesConcurrently(): boolean {
      return true;
    }

    /** Takes many connections per wake-up: requests no longer wait for each other. */
    protected _batchLimit(): number {
      return 64;
    }

    async processRequestThread(request: unknown, clientAddress: Address | null): Promise<void> {
      try {
        const finishing = this.finishRequest(request as never, clientAddress);
        if (finishing !== undefined) await finishing;
      } catch (error) {
        const handled = this.handleError(request as never, clientAddress, error);
        if (handled !== undefined) await handled;
      } finally {
        const shut = this.shutdownRequest(request as never);
        if (shut !== undefined) await shut;
      }
    }

    /**
     * Starts the request's task and returns once it is dispatched. With
     * workerThreads, hands it to the least-busy worker thread, waiting
     * while every worker is at its bound (the listen backlog holds the
     * rest meanwhile).
     */
    override processRequest(request: unknown, clientAddress: Address | null): Promise<void> {
      const pool = this._workerPool();
      if (pool !== null) return this.#dispatch(pool, this.#poolRequest(request), clientAddress);
      this.#tasks.add(request);
      const done = (): void => this.#tasks.delete(request);
      this.#track(
        this.processRequestThread(request, clientAddress).then(done, (error: unknown) => {
          reportTaskError(error);
          done();
        }),
      );
      return Promise.resolve();
    }

    /** What a worker is given of the request: a connection's descriptor, or a datagram's payload. */
    #poolRequest(request: unknown): PoolRequest {
      if (request instanceof StreamSocket) {
        // What was read with a PROXY header goes along, and the header.
        return { kind: 'stream', release: () => request._release(), pending: request._takeUnread(), proxy: request.proxy };
      }
      const pair = request as DatagramRequest;
      return { kind: 'datagram', data: pair[0], truncated: pair.truncated === true, proxy: pair.proxy ?? null };
    }

    #dispatch(pool: WorkerPool, request: PoolRequest, clientAddress: Address | null): Promise<void> {
      // The common case costs no await: a worker has room now.
      if (pool.hasRoom()) {
        this.#track(pool.dispatch(request, clientAddress));
        return Promise.resolve();
      }
      return pool.waitForRoom().then(() => this.#track(pool.dispatch(request, clientAddress)));
    }

    #track(task: Promise<void>): void {
      if (this.blockOnClose && !this.daemonThreads) {
        this.#threads.add(task);
        void task.finally(() => this.#threads.delete(task));
      }
    }

    protected override _inFlight(): number {
      return super._inFlight() + this.#tasks.size + (this.#pool?.inFlight ?? 0);
    }

    protected override async _whenIdle(): Promise<void> {
      await Promise.all([super._whenIdle(), this.#tasks.idle(), this.#pool?.whenIdle()]);
    }

    /** Closes the tasks' requests; ends the worker threads at once (their requests close with them). */
    protected override async _abortInFlight(): Promise<number> {
      let n = await super._abortInFlight();
      for (const request of this.#tasks.values()) {
        this._abortRequest(request);
        n++;
      }
      if (this.#pool !== null) {
        n += this.#pool.inFlight;
        await this.#pool.close({ force: true });
      }
      return n;
    }

    /**
     * Closes the socket, then (blockOnClose) waits for in-flight non-daemon
     * requests, then ends the worker threads (those still running requests
     * that nobody waits for end after their last one).
     */
    override async serverClose(): Promise<void> {
      await super.serverClose();
      if (this.blockOnClose) await Promise.all([...this.#threads]);
      await this.#pool?.close();
    }
  }
  Object.defineProperty(Threading, 'name', { value: `ThreadingMixIn(${Base.name})` });
  return Threading as unknown as ThreadingServerClass<B>;
}

/** Options the Forking classes accept besides the server's own. */
export interface ForkingOptions extends ServerOptions {
  maxChildren?: number;
  blockOnClose?: boolean;
  /** Seconds after which a child that has not exited is killed (SIGALRM); null: never. */
  childTimeout?: number | null;
}

/** What ForkingMixIn adds to a server instance. */
export interface ForkingServer {
  maxChildren: number;
  blockOnClose: boolean;
  childTimeout: number | null;
  /** The pids of our children still running (null before the first fork). */
  activeChildren: Set<number> | null;
  /** Reaps exited children; waits while maxChildren are alive; with `blocking`, waits for all. */
  collectChildren(options?: { blocking?: boolean }): Promise<void>;
  /** Called in the parent when a child of ours has been reaped; does nothing by default. */
  childExited(pid: number, code: number | null, signal: number | null): void | Promise<void>;
}

/** The class ForkingMixIn(Base) returns. */
export type ForkingServerClass<B extends ServerClass> = (new (
  serverAddress: Address,
  RequestHandlerClass: RequestHandlerClass,
  options?: ForkingOptions,
) => InstanceType<B> & ForkingServer) &
  Omit<B, 'prototype'> & { maxChildren: number; blockOnClose: boolean; childTimeout: number | null; activeChildren: Set<number> | null };

/** The descriptor a forked child must keep: the connection, or the datagram server's socket. */
function requestFd(request: unknown): number {
  const target = Array.isArray(request) ? request[1] : request;
  return (target as { fileno(): number }).fileno();
}

/**
 * ForkingMixIn — each request is processed in a new child process made by
 * fork(), so the child works on a copy of the parent's state, as in Python.
 * The child runs finishRequest() and shutdownRequest(), then exits with
 * status 0, or 1 after handleError(). The parent closes its copy of the
 * request, records the child in `activeChildren`, never keeps more than
 * `maxChildren` alive, and reaps its own children only (never waitpid(-1)).
 * Linux, main thread and native transport only: elsewhere the constructor
 * throws ERR_SOCKETSERVER_UNSUPPORTED.
 *
 * Settings: timeout (300 s: handleRequest() calls handleTimeout(), which
 * reaps), maxChildren (40), blockOnClose (true: serverClose() waits for the
 * children), childTimeout (300 s: a child still running then is killed).
 */
export function ForkingMixIn<B extends ServerClass>(Base: B): ForkingServerClass<B> {
  const Server = Base as unknown as AnyServerCtor & { settings: readonly string[] };

  /** Throws, before any descriptor exists, where fork() cannot be used. */
  function checkForkable(ctor: { transport?: Transport }, args: unknown[]): unknown[] {
    const options = (args[2] ?? {}) as ForkingOptions;
    const transport = options.transport ?? ctor.transport;
    if (transport?.processes === undefined) throw unsupported(`fork (ForkingMixIn) on the ${transport?.name ?? 'given'} transport`);
    if (!isMainThread) throw unsupported('fork (ForkingMixIn) in a worker thread');
    if (process.platform !== 'linux') throw unsupported(`fork (ForkingMixIn) on ${process.platform}`);
    return args;
  }

  class Forking extends Server implements ForkingServer {
    static timeout: number | null = 300;
    static maxChildren = 40;
    static blockOnClose = true;
    static childTimeout: number | null = 300;
    /**
     * Python's class attribute `active_children = None`: null on the class,
     * as API.md's settings table lists it. Not a setting that is copied:
     * each server makes its own Set at its first fork.
     */
    static activeChildren: Set<number> | null = null;
    static override settings: readonly string[] = [...Server.settings, 'maxChildren', 'blockOnClose', 'childTimeout'];

    declare maxChildren: number;
    declare blockOnClose: boolean;
    declare childTimeout: number | null;
    activeChildren: Set<number> | null = null;
    #watches = new Map<number, { close(): void; ref(): void; unref(): void } | null>();
    #exitWaiters: Array<() => void> = [];
    /** Polls the children that have no watch (null in #watches) while someone waits for an exit. */
    #pollTimer: NodeJS.Timeout | null = null;
    /** serverClose() without blockOnClose: waiting for children must not keep the process alive. */
    #unrefWaits = false;

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    constructor(...args: any[]) {
      super(...checkForkable(new.target as unknown as { transport?: Transport }, args));
    }

    get #processes(): ProcessControl {
      return this.transport.processes as ProcessControl;
    }

    /** Resolves when any child of ours exits (or at once when none runs). */
    #anyChildExit(): Promise<void> {
      if (this.activeChildren === null || this.activeChildren.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        this.#exitWaiters.push(resolve);
        this.#pollUnwatched();
      });
    }

    /**
     * A child without a watch (no pidfd, or the watch could not be started)
     * wakes nobody when it exits: poll our own pids every 20 ms for as long
     * as someone waits and such a child runs. The timer keeps the process
     * alive as a watch does (unless serverClose() said not to wait).
     */
    #pollUnwatched(): void {
      if (this.#pollTimer !== null || this.#exitWaiters.length === 0 || ![...this.#watches.values()].includes(null)) return;
      this.#pollTimer = setTimeout(() => {
        this.#pollTimer = null;
        this.#reapAll();
        this.#pollUnwatched();
      }, 20);
      if (this.#unrefWaits) this.#pollTimer.unref();
    }

    /** Reaps `pid` if it has exited; true when it is gone. */
    #reap(pid: number, blocking: boolean): boolean {
      let status: ChildStatus | null;
      try {
        status = this.#processes.reap(pid, blocking);
      } catch (error) {
        // ECHILD: someone else reaped it.
        if (!isSystemError(error)) throw error;
        status = [null, null];
      }
      if (status === null) return false;
      this.#forget(pid, status);
      return true;
    }

    #reapAll(): void {
      for (const pid of [...(this.activeChildren ?? [])]) this.#reap(pid, false);
    }

    #forget(pid: number, [code, signal]: ChildStatus): void {
      this.#watches.get(pid)?.close();
      this.#watches.delete(pid);
      this.activeChildren?.delete(pid);
      const waiters = this.#exitWaiters;
      this.#exitWaiters = [];
      for (const wake of waiters) wake();
      void Promise.resolve()
        .then(() => this.childExited(pid, code, signal))
        .catch(reportTaskError);
    }

    childExited(pid: number, code: number | null, signal: number | null): void | Promise<void> {}

    async collectChildren({ blocking = false }: { blocking?: boolean } = {}): Promise<void> {
      if (this.activeChildren === null) return;
      // If we're at the max number of children, wait for ours to exit
      // until we are below the threshold.
      while (this.activeChildren.size >= this.maxChildren) await this.#anyChildExit();
      // Now reap all defunct children (with `blocking`, wait for each).
      for (const pid of [...this.activeChildren]) {
        if (!blocking) {
          this.#reap(pid, false);
          continue;
        }
        while (this.activeChildren.has(pid)) await this.#anyChildExit();
      }
    }

    protected override _inFlight(): number {
      return super._inFlight() + (this.activeChildren?.size ?? 0);
    }

    protected override async _whenIdle(): Promise<void> {
      await Promise.all([super._whenIdle(), this.#allChildrenExited()]);
    }

    async #allChildrenExited(): Promise<void> {
      while (this.activeChildren !== null && this.activeChildren.size > 0) await this.#anyChildExit();
    }

    /** Kills the children still running (SIGKILL: a handler may catch SIGTERM); their requests close with them. */
    protected override async _abortInFlight(): Promise<number> {
      let n = await super._abortInFlight();
      for (const pid of this.activeChildren ?? []) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // ESRCH: it exited meanwhile, not yet reaped.
        }
        n++;
      }
      return n;
    }

    /** Reaps exited children when handleRequest() timed out. */
    override handleTimeout(): Promise<void> {
      return this.collectChildren();
    }

    /** Reaps exited children after each request and wake-up of serveForever(). */
    override serviceActions(): Promise<void> {
      return this.collectChildren();
    }

    override async processRequest(request: unknown, clientAddress: Address | null): Promise<void> {
      // Never more than maxChildren alive, also under handleRequest() loops.
      while (this.activeChildren !== null && this.activeChildren.size >= this.maxChildren) await this.#anyChildExit();
      const processes = this.#processes;
      const pid = processes.fork([requestFd(request)], this.childTimeout);
      if (pid !== 0) {
        // Parent process.
        (this.activeChildren ??= new Set()).add(pid);
        const watch = processes.watchExit(pid, () => this.#reap(pid, false));
        this.#watches.set(pid, watch);
        await this.closeRequest(request as never);
        return;
      }
      // Child process. This must never return into the parent's code.
      Object.defineProperty(process, 'pid', { value: processes.getpid(), configurable: true, enumerable: true });
      let status = 1;
      try {
        try {
          await this.finishRequest(request as never, clientAddress);
          status = 0;
        } catch (error) {
          await this.handleError(request as never, clientAddress, error);
        } finally {
          await this.shutdownRequest(request as never);
        }
      } catch (error) {
        reportTaskError(error);
      } finally {
        processes.exitChild(status);
      }
    }

    /** Closes the socket, then reaps the children (waiting for them with blockOnClose). */
    override async serverClose(): Promise<void> {
      await super.serverClose();
      if (!this.blockOnClose) {
        this.#unrefWaits = true;
        this.#pollTimer?.unref();
        for (const watch of this.#watches.values()) watch?.unref();
      }
      await this.collectChildren({ blocking: this.blockOnClose });
    }
  }
  Object.defineProperty(Forking, 'name', { value: `ForkingMixIn(${Base.name})` });
  return Forking as unknown as ForkingServerClass<B>;
}
