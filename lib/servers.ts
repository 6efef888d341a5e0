/**
 * Server classes.
 *
 * There are five classes in an inheritance diagram, four of which represent
 * synchronous servers of four types:
 *
 *     +------------+
 *     | BaseServer |
 *     +------------+
 *           |
 *           v
 *     +-----------+        +------------------+
 *     | TCPServer |------->| UnixStreamServer |
 *     +-----------+        +------------------+
 *           |
 *           v
 *     +-----------+        +--------------------+
 *     | UDPServer |------->| UnixDatagramServer |
 *     +-----------+        +--------------------+
 *
 * Methods for the caller:
 *
 * - constructor(serverAddress, RequestHandlerClass, options?)
 * - serveForever(pollInterval = 0.5): Promise<void>
 * - shutdown(): Promise<void>
 * - handleRequest(): Promise<void>    (if you do not use serveForever())
 * - serverClose(): Promise<void>
 * - drain(timeout): Promise<{ finished, aborted }>   (stop taking requests,
 *                                     let those in flight finish, close)
 * - fileno(): number                  (stream and datagram servers)
 * - [Symbol.asyncDispose]()           (`await using server = ...`)
 *
 * Methods that may be overridden (each may return a value or a Promise):
 *
 * - serverBind()
 * - serverActivate()
 * - getRequest() -> [request, clientAddress]
 * - handleTimeout()
 * - verifyRequest(request, clientAddress) -> boolean
 * - processRequest(request, clientAddress)
 * - shutdownRequest(request)
 * - closeRequest(request)
 * - serviceActions()
 * - handleError(request, clientAddress, error)
 *
 * Methods for derived classes:
 *
 * - finishRequest(request, clientAddress)
 * - _requestTaken(request, clientAddress) -> clientAddress (or a promise:
 *                                     what must arrive before the hooks,
 *                                     the PROXY protocol header)
 * - _takesConcurrently() -> boolean   (a late header waits beside the loop)
 * - _inFlight(), _whenIdle(), _abortInFlight(), _abortRequest(request)
 *                                     (what drain() counts, waits for, closes)
 *
 * Settings: static properties of the class (Python's class variables),
 * copied into same-named instance properties by the constructor before
 * binding; the constructor's `options` override them. Times are in seconds.
 *
 * - timeout                 (null; for handleRequest())
 * - addressFamily           (AF_INET; Unix servers AF_UNIX)
 * - socketType              (SOCK_STREAM; datagram servers SOCK_DGRAM)
 * - requestQueueSize        (5: the listen() backlog)
 * - allowReuseAddress       (false)
 * - allowReusePort          (false)
 * - maxPacketSize           (8192; datagram servers)
 * - maxQueuedDatagrams      (4096; datagram servers: the most datagrams
 *                           that wait while handlers run)
 * - maxQueuedBytes          (2 MiB; datagram servers: the most payload
 *                           bytes that wait)
 * - unlinkOnClose           (true; Unix servers: serverClose() removes the
 *                           socket file the server created)
 * - proxyProtocol           (false; 'v1', 'v2', 'any': the PROXY protocol
 *                           header every connection starts with)
 * - proxyTrusted            (null: every peer may send it; else addresses,
 *                           CIDRs, 'unix')
 * - proxyTimeout            (3: seconds to deliver the header)
 */
import * as fs from 'node:fs';
import { inspect } from 'node:util';

import { adoptServerSocket, checkFileno } from './activation.js';
import { validateAddress } from './address.js';
import { checkDrainTimeout, deadline, type DrainResult, InFlight } from './drain.js';
import {
  checkProxySettings,
  proxiedAddress,
  proxyError,
  type ProxyInfo,
  type ProxyProtocolMode,
  type ProxySettings,
  readProxyHeader,
} from './proxy-protocol.js';
import { constants } from './constants.js';
import { busy, closedError, invalidArgType, isSystemError, outOfRange, reportTaskError, unsupported } from './errors.js';
import { type DatagramRequest, runHandler } from './handlers.js';
import { nativeTransport } from './native-transport.js';
import { ServerSocket, StreamSocket } from './socket.js';
import { type Address, DATAGRAM_DEFAULTS, type DatagramLimits, type ListenerHandle, type Transport } from './transport.js';

/** The request-handler class a server instantiates for each request. */
export type RequestHandlerClass = new (request: never, clientAddress: Address | null, server: never) => object;

/** Per-instance settings; each overrides the static of the same name. */
export interface ServerOptions {
  /** Bind and listen in the constructor (default true). */
  bindAndActivate?: boolean;
  /**
   * Adopt this descriptor, already bound (and listening, for a stream
   * server), as the server's socket instead of making one: socket
   * activation (listenFds()). The address given is then ignored;
   * serverAddress is read from the socket.
   */
  fileno?: number;
  timeout?: number | null;
  addressFamily?: number;
  socketType?: number;
  requestQueueSize?: number;
  allowReuseAddress?: boolean;
  allowReusePort?: boolean;
  maxPacketSize?: number;
  /** Datagram servers: the most datagrams that wait to be taken while handlers run (default 4096). */
  maxQueuedDatagrams?: number;
  /** Datagram servers: the most payload bytes that wait to be taken (default 2 MiB). */
  maxQueuedBytes?: number;
  /** Unix servers: serverClose() removes the socket file serverBind() created (default true). */
  unlinkOnClose?: boolean;
  /**
   * Native transport: wait for requests on the addon's serve thread (true,
   * the default: under load it takes requests from the kernel while JS
   * runs handlers) or on Node's main loop (false: no thread hop, lower
   * latency when requests come one at a time). The js transport always
   * waits on the main loop.
   */
  serveThread?: boolean;
  /** The socket layer: the native addon by default. */
  transport?: Transport;
  /** Every connection (v2: datagram) starts with a PROXY protocol header of this version: false (default), 'v1', 'v2', 'any'. */
  proxyProtocol?: ProxyProtocolMode;
  /** Addresses or CIDRs allowed to send the header ('unix': Unix peers); null (default): every peer. */
  proxyTrusted?: string[] | null;
  /** Seconds a connection has to deliver its complete header (default 3). */
  proxyTimeout?: number;
}

/** Requests in a row taken without waiting before the loop yields to the event loop. */
const MAX_BURST = 32;

/** The largest maxPacketSize (64 MiB): far above any datagram, a bound on what one receive may allocate. */
const MAX_PACKET_SIZE = 64 * 1024 * 1024;

/** The largest bounds accepted: far above the defaults, below what would let a queue take the machine. */
const MAX_QUEUED_DATAGRAMS = 1024 * 1024;
const MAX_QUEUED_BYTES = 1024 * 1024 * 1024;

/** A setting that must be an integer in [min, max]: it, or a RangeError ERR_OUT_OF_RANGE. */
function integerSetting(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw outOfRange(`${name} must be an integer >= ${min} and <= ${max}, got ${String(value)}`);
  }
  return value;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Base class for server classes. It defines the interface and the request
 * loop; it does not make a socket (TCPServer and UDPServer do).
 */
export class BaseServer<Req = unknown> {
  static timeout: number | null = null;
  static transport: Transport = nativeTransport;
  /** The names of the settings copied from statics (extended by subclasses and mix-ins). */
  static settings: readonly string[] = ['timeout', 'transport'];

  declare timeout: number | null;
  declare transport: Transport;

  serverAddress: Address;
  RequestHandlerClass: RequestHandlerClass;
  /** The server's socket; made by the stream and datagram servers. */
  declare socket: ServerSocket;

  #shutdownRequest = false;
  #isShutDown: { promise: Promise<void>; resolve: () => void } | null = null;
  /** Requests this loop took and has not finished with (a synchronous server's one). */
  readonly #processing = new InFlight<Req>();
  #draining = false;

  constructor(serverAddress: Address, RequestHandlerClass: RequestHandlerClass, options: ServerOptions = {}) {
    const ctor = this.constructor as typeof BaseServer;
    const opts = options as Record<string, unknown>;
    for (const key of Object.keys(opts)) {
      if (key !== 'bindAndActivate' && key !== 'fileno' && !ctor.settings.includes(key)) {
        throw invalidArgType(`unknown server option '${key}' (settings: bindAndActivate, fileno, ${ctor.settings.join(', ')})`);
      }
    }
    const self = this as unknown as Record<string, unknown>;
    const statics = ctor as unknown as Record<string, unknown>;
    for (const name of ctor.settings) self[name] = name in opts ? opts[name] : statics[name];
    this.serverAddress = serverAddress;
    this.RequestHandlerClass = RequestHandlerClass;
  }

  /** Called by the constructor to activate the server; may be overridden. */
  serverActivate(): void | Promise<void> {}

  /**
   * Handles requests until `shutdown()` is called. Waits at most
   * `pollInterval` seconds at a time, calling `serviceActions()` after each
   * request and at each wake-up. Ignores `timeout`. Resolves once the loop
   * has stopped.
   */
  async serveForever(pollInterval = 0.5): Promise<void> {
    if (this.#isShutDown !== null) throw busy('serveForever() is already running on this server');
    if (this.socket?.closed) throw closedError('serveForever(): the server is closed');
    this.#isShutDown = deferred();
    try {
      let burst = 0;
      while (!this.#shutdownRequest && !this.socket?.closed) {
        let ready = this._readyNow();
        if (ready && ++burst >= MAX_BURST) {
          // Busy: let timers and other I/O run now and then.
          burst = 0;
          await yieldToEventLoop();
          if (this.#shutdownRequest || this.socket?.closed) break;
        }
        if (!ready) {
          burst = 0;
          ready = await this._waitReady(pollInterval);
        }
        if (this.#shutdownRequest) break;
        if (ready) await this._handleRequestNoblock();
        const actions = this.serviceActions();
        if (actions !== undefined) await actions;
      }
    } finally {
      this.#shutdownRequest = false;
      const done = this.#isShutDown;
      this.#isShutDown = null;
      done.resolve();
    }
  }

  /**
   * Stops the `serveForever()` loop and resolves once it has stopped. Wakes
   * the loop at once. Called from inside a handler, do not await it there:
   * the loop stops after that handler returns.
   */
  shutdown(): Promise<void> {
    if (this.#isShutDown === null) return Promise.resolve();
    this.#shutdownRequest = true;
    this._wake();
    return this.#isShutDown.promise;
  }

  /**
   * Stops taking requests, lets the ones in flight finish for at most
   * `timeout` seconds (null: as long as they take), then closes those
   * still running and the server (serverClose()). Requests the transport
   * had already taken from the kernel are served first, not dropped. While
   * it drains, new connections wait in the listen backlog: a process that
   * shares the socket (a restart, socket activation) takes them; otherwise
   * they are refused when the socket closes. When it resolves, a running
   * serveForever() has resolved.
   */
  async drain(timeout: number | null): Promise<DrainResult> {
    const limit = checkDrainTimeout(timeout);
    if (this.#draining) throw busy('drain() is already running on this server');
    this.#draining = true;
    const started = this._inFlight();
    let served = 0;
    let aborting = false;
    const settled = (async () => {
      await this.shutdown();
      while (!aborting && this.socket !== undefined && !this.socket.closed && this.socket.handle.queued() > 0) {
        served++;
        await this._handleRequestNoblock();
      }
      await this._whenIdle();
    })();
    const timer = deadline(limit);
    try {
      let aborted = 0;
      if (await Promise.race([settled.then(() => false), timer.expired])) {
        aborting = true;
        aborted = await this._abortInFlight();
      }
      await settled;
      return { finished: started + served - aborted, aborted };
    } finally {
      timer.cancel();
      await this.serverClose();
      this.#draining = false;
    }
  }

  /** Called by the `serveForever()` loop after each request and wake-up; does nothing by default. */
  serviceActions(): void | Promise<void> {}

  /**
   * Handles one request, waiting at most `timeout` seconds for it; calls
   * `handleTimeout()` when none came in time.
   */
  async handleRequest(): Promise<void> {
    let timeout = this.timeout;
    const deadline = timeout === null ? null : performance.now() + timeout * 1000;
    for (;;) {
      const ready = this._readyNow() || (await this._waitReady(timeout));
      if (ready) return this._handleRequestNoblock();
      if (deadline !== null) {
        timeout = (deadline - performance.now()) / 1000;
        if (timeout <= 0) return this.handleTimeout();
      }
    }
  }

  /**
   * Takes one request, which must be ready, and processes it. A system
   * error from getRequest() drops the attempt, as in Python.
   */
  protected async _handleRequestNoblock(): Promise<void> {
    let request: Req;
    let clientAddress: Address | null;
    try {
      const got = this.getRequest();
      [request, clientAddress] = Array.isArray(got) ? got : await got;
    } catch (error) {
      if (isSystemError(error)) return;
      throw error;
    }
    // In flight until processed (drain() counts it, and closes it when its time is up).
    this.#processing.add(request);
    let deferred = false;
    try {
      // Before the hooks: what the request must bring first (a PROXY
      // protocol header), which may change clientAddress.
      let taken: Address | null | Promise<Address | null>;
      try {
        taken = this._requestTaken(request, clientAddress);
        if (taken instanceof Promise) {
          if (this._takesConcurrently()) {
            // Its header is still on the way: the loop goes on meanwhile.
            deferred = true;
            void this.#serveWhenTaken(request, clientAddress, taken);
            return;
          }
          taken = await taken;
        }
      } catch (error) {
        return await this.#refuse(request, clientAddress, error);
      }
      await this.#serve(request, taken);
    } finally {
      if (!deferred) this.#processing.delete(request);
    }
  }

  /** verifyRequest(), then processRequest() (or shutdownRequest() when refused); handleError() on a throw. */
  async #serve(request: Req, clientAddress: Address | null): Promise<void> {
    // Hooks are awaited only when they return something: a synchronous
    // one costs no microtask turn (the hot path of every request).
    let verified = this.verifyRequest(request, clientAddress);
    if (verified !== true && verified !== false) verified = await verified;
    if (verified) {
      try {
        const processing = this.processRequest(request, clientAddress);
        if (processing !== undefined) await processing;
      } catch (error) {
        await this.#refuse(request, clientAddress, error);
      }
    } else {
      const shut = this.shutdownRequest(request);
      if (shut !== undefined) await shut;
    }
  }

  /** handleError() for the request, then shutdownRequest(). */
  async #refuse(request: Req, clientAddress: Address | null, error: unknown): Promise<void> {
    const handled = this.handleError(request, clientAddress, error);
    if (handled !== undefined) await handled;
    const shut = this.shutdownRequest(request);
    if (shut !== undefined) await shut;
  }

  /** A request whose header arrives later (_takesConcurrently()): served then, beside the loop. */
  async #serveWhenTaken(request: Req, peer: Address | null, taken: Promise<Address | null>): Promise<void> {
    try {
      let clientAddress: Address | null;
      try {
        clientAddress = await taken;
      } catch (error) {
        return await this.#refuse(request, peer, error);
      }
      await this.#serve(request, clientAddress);
    } catch (error) {
      // Out of the loop: nobody else would hear of a hook's error.
      reportTaskError(error);
    } finally {
      this.#processing.delete(request);
    }
  }

  /**
   * Called with each request taken, before verifyRequest(): returns its
   * client address, or a promise of it when something must arrive first.
   * Stream servers with `proxyProtocol` read the header here; a throw or a
   * rejection goes to handleError() with the real peer, and the request is
   * shut down.
   */
  protected _requestTaken(request: Req, clientAddress: Address | null): Address | null | Promise<Address | null> {
    return clientAddress;
  }

  /**
   * True when requests are processed concurrently (ThreadingMixIn): a
   * request whose header has not arrived then waits beside the loop, not in
   * it.
   */
  protected _takesConcurrently(): boolean {
    return false;
  }

  /** The requests in flight: drain() counts them. The mix-ins add theirs. */
  protected _inFlight(): number {
    return this.#processing.size;
  }

  /** Resolves once no request is in flight. The mix-ins add theirs. */
  protected _whenIdle(): Promise<void> {
    return this.#processing.idle();
  }

  /** Closes every request in flight (drain()'s timeout expired); returns how many. The mix-ins add theirs. */
  protected _abortInFlight(): number | Promise<number> {
    let n = 0;
    for (const request of this.#processing.values()) {
      this._abortRequest(request);
      n++;
    }
    return n;
  }

  /**
   * Cuts one request short: a connection is closed (its handler's next
   * read or write fails); a datagram has nothing to close, its handler
   * runs on.
   */
  protected _abortRequest(request: unknown): void {
    if (request instanceof StreamSocket) request.close();
  }

  /** True when a request can be taken now, without waiting. */
  protected _readyNow(): boolean {
    return this.socket.handle.readyNow();
  }

  /** Waits for a request: true when one is ready, false on timeout or wake-up. */
  protected _waitReady(timeout: number | null): Promise<boolean> {
    return this.socket.handle.waitReady(timeout);
  }

  /** Makes a pending _waitReady() return at once. */
  protected _wake(): void {
    if (this.socket !== undefined && !this.socket.closed) this.socket.handle.wake();
  }

  /** Must take a request from the socket: `[request, clientAddress]`. */
  getRequest(): [Req, Address | null] | Promise<[Req, Address | null]> {
    throw new Error('getRequest() must be implemented by a subclass');
  }

  /** Called when handleRequest() timed out; does nothing by default. */
  handleTimeout(): void | Promise<void> {}

  /** Returns true to process the request; always true by default. */
  verifyRequest(request: Req, clientAddress: Address | null): boolean | Promise<boolean> {
    return true;
  }

  /** Calls finishRequest() then shutdownRequest(); the mix-ins override it. */
  async processRequest(request: Req, clientAddress: Address | null): Promise<void> {
    const finishing = this.finishRequest(request, clientAddress);
    if (finishing !== undefined) await finishing;
    const shut = this.shutdownRequest(request);
    if (shut !== undefined) await shut;
  }

  /** Cleans up the server; idempotent. */
  serverClose(): void | Promise<void> {}

  /** Makes the request handler and runs its setup(), handle() and finish(). */
  finishRequest(request: Req, clientAddress: Address | null): Promise<void> {
    return runHandler(this.RequestHandlerClass, request, clientAddress, this);
  }

  /** Called to shut down and close one request. */
  shutdownRequest(request: Req): void | Promise<void> {
    return this.closeRequest(request);
  }

  /** Called to clean up one request. */
  closeRequest(request: Req): void | Promise<void> {}

  /**
   * Handles an error thrown while processing a request: by default prints
   * the error, between two lines of dashes, to stderr, and serving goes on.
   */
  handleError(request: Req, clientAddress: Address | null, error: unknown): void | Promise<void> {
    const stack = error instanceof Error ? (error.stack ?? String(error)) : inspect(error);
    process.stderr.write(
      `${'-'.repeat(40)}\n` +
        `Exception occurred during processing of request from ${inspect(clientAddress)}\n` +
        `${stack}\n` +
        `${'-'.repeat(40)}\n`,
    );
  }

  /** `await using server = new TCPServer(...)` closes it on scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.serverClose();
  }
}

/**
 * A server on a stream socket: TCP by default (`addressFamily` AF_INET,
 * AF_INET6 for IPv6). `request` is the connected StreamSocket.
 */
export class TCPServer<Req = StreamSocket> extends BaseServer<Req> {
  static addressFamily: number = constants.AF_INET;
  static socketType: number = constants.SOCK_STREAM;
  static requestQueueSize = 5;
  static allowReuseAddress = false;
  static allowReusePort = false;
  static unlinkOnClose = true;
  static serveThread = true;
  static proxyProtocol: ProxyProtocolMode = false;
  static proxyTrusted: string[] | null = null;
  static proxyTimeout = 3;
  static override settings: readonly string[] = [
    ...BaseServer.settings,
    'addressFamily',
    'socketType',
    'requestQueueSize',
    'allowReuseAddress',
    'allowReusePort',
    'unlinkOnClose',
    'serveThread',
    'proxyProtocol',
    'proxyTrusted',
    'proxyTimeout',
  ];

  declare addressFamily: number;
  declare socketType: number;
  declare requestQueueSize: number;
  declare allowReuseAddress: boolean;
  declare allowReusePort: boolean;
  declare unlinkOnClose: boolean;
  declare serveThread: boolean;
  declare proxyProtocol: ProxyProtocolMode;
  declare proxyTrusted: string[] | null;
  declare proxyTimeout: number;

  /** The PROXY protocol settings, checked; null when it is off. */
  #proxy: ProxySettings | null = null;

  /** The socket file serverBind() created, to remove on close: its path and identity. */
  #socketFile: { path: string; dev: number; ino: number } | null = null;

  /**
   * Makes the socket and, unless `options.bindAndActivate` is false, binds
   * and activates it; if either fails the socket is closed before the error
   * propagates. With `options.fileno`, adopts that descriptor instead
   * (socket activation): no bind, no listen, and the address given is
   * ignored.
   */
  constructor(serverAddress: Address, RequestHandlerClass: RequestHandlerClass, options: ServerOptions = {}) {
    super(serverAddress, RequestHandlerClass, options);
    const fileno = options.fileno === undefined ? null : checkFileno(options.fileno);
    if (fileno === null) validateAddress(serverAddress, this.addressFamily);
    if (this.addressFamily === constants.AF_UNIX && !this.unlinkOnClose && this.transport.unlinksOnClose) {
      throw unsupported(`unlinkOnClose: false on the ${this.transport.name} transport (it removes a Unix socket's file on close)`);
    }
    if (fileno !== null) {
      // An adopted socket of an internet server may be IPv6 (systemd's
      // ListenStream=8000 is dual-stack): the server takes its family.
      const adopted = adoptServerSocket(this.transport, fileno, this.addressFamily, this.socketType);
      this.addressFamily = adopted.family;
      this.socket = new ServerSocket(adopted.handle);
    } else {
      this.socket = new ServerSocket(this.transport.createListener(this.addressFamily, this.socketType));
    }
    // From here on a failure closes the socket before it propagates: a bad
    // setting must not leave a descriptor for the garbage collector.
    try {
      this._configure();
      if (fileno !== null) {
        // Its file, for a Unix socket, is not this server's to remove: no
        // serverBind() made it (the service manager did).
        this.serverAddress = this.socket.getSockName();
      } else if (options.bindAndActivate ?? true) {
        this.serverBind();
        this.serverActivate();
      }
    } catch (error) {
      closeQuietly(this);
      throw error;
    }
  }

  /** Sets how the transport takes requests: _batchLimit() at a time, within _datagramLimits(). */
  protected _configure(): void {
    const limits = this._datagramLimits();
    if (typeof this.serveThread !== 'boolean') throw invalidArgType('serveThread must be a boolean');
    this.socket.handle.configure(this._batchLimit(), limits);
    this.socket.handle.setServeThread?.(this.serveThread);
    this.#proxy = checkProxySettings(this, this.transport.proxyProtocol === true, this.transport.name);
  }

  /**
   * With `proxyProtocol`: refuses a peer not in `proxyTrusted`, then reads
   * the connection's header (a datagram's: UDPServer); the request's
   * `proxy` is the header, and its address the original client's.
   */
  protected override _requestTaken(request: Req, clientAddress: Address | null): Address | null | Promise<Address | null> {
    const proxy = this.#proxy;
    if (proxy === null) return clientAddress;
    if (proxy.trust !== null && !proxy.trust.allows(clientAddress, this.addressFamily)) {
      throw proxyError(`the peer ${inspect(clientAddress)} may not send a header (it is not in proxyTrusted)`);
    }
    return this._readProxyHeader(request, clientAddress, proxy);
  }

  /** A connection's header (datagram servers: a datagram's). */
  protected _readProxyHeader(request: Req, clientAddress: Address | null, proxy: ProxySettings): Address | null | Promise<Address | null> {
    const sock = request as unknown as StreamSocket;
    const info = readProxyHeader(sock, proxy);
    if (info instanceof Promise) {
      return info.then((header) => {
        sock.proxy = header;
        return proxiedAddress(header, clientAddress);
      });
    }
    sock.proxy = info;
    return proxiedAddress(info, clientAddress);
  }

  /** The datagram settings, checked; a stream server has none (the transport ignores the defaults). */
  protected _datagramLimits(): DatagramLimits {
    return DATAGRAM_DEFAULTS;
  }

  /**
   * How many requests one wake-up may take from the kernel: one connection
   * for a synchronous stream server (the listen backlog stays the queue),
   * a batch of datagrams (already received either way). ThreadingMixIn
   * takes more.
   */
  protected _batchLimit(): number {
    return this.socketType === constants.SOCK_DGRAM ? 64 : 1;
  }

  /** Binds the socket to serverAddress, then records the real address. May be overridden. */
  serverBind(): void | Promise<void> {
    const inet = this.addressFamily === constants.AF_INET || this.addressFamily === constants.AF_INET6;
    if (this.allowReuseAddress && inet) this.socket.setSockOpt(constants.SOL_SOCKET, constants.SO_REUSEADDR, 1);
    if (this.allowReusePort && inet) this.socket.setSockOpt(constants.SOL_SOCKET, constants.SO_REUSEPORT, 1);
    const path = this.addressFamily === constants.AF_UNIX ? unixPath(this.serverAddress) : null;
    try {
      this.socket.bind(this.serverAddress);
    } catch (error) {
      throw path !== null ? explainUnixBindError(error, path) : error;
    }
    if (path !== null) {
      // Remember which file this bind made, so that close removes that one
      // and not another server's socket made at the same path since.
      const st = fs.statSync(path, { throwIfNoEntry: false });
      if (st?.isSocket()) this.#socketFile = { path, dev: st.dev, ino: st.ino };
    }
    this.serverAddress = this.socket.getSockName();
  }

  /** Listens with a backlog of requestQueueSize. May be overridden. */
  override serverActivate(): void | Promise<void> {
    this.socket.listen(this.requestQueueSize);
  }

  /**
   * Closes the socket (`socket.fileno()` is -1 after); for a Unix server,
   * removes the socket file it created unless unlinkOnClose is false.
   * Idempotent.
   */
  override serverClose(): void | Promise<void> {
    this.socket.close();
    const file = this.#socketFile;
    this.#socketFile = null;
    if (file !== null && this.unlinkOnClose) removeSocketFile(file);
  }

  /** The socket's descriptor. */
  fileno(): number {
    return this.socket.fileno();
  }

  override getRequest(): [Req, Address | null] | Promise<[Req, Address | null]> {
    const [handle, address] = this.socket.handle.takeStream();
    return [new StreamSocket(handle) as Req, address];
  }

  /** Shuts the connection down for writing (errors ignored), then closes it. */
  override shutdownRequest(request: Req): void | Promise<void> {
    try {
      // Explicitly shut down: close() alone would not send FIN while
      // another descriptor (a forked child's) still refers to the socket.
      (request as StreamSocket).shutdown(constants.SHUT_WR);
    } catch {
      // Some platforms may raise ENOTCONN here.
    }
    return this.closeRequest(request);
  }

  override closeRequest(request: Req): void | Promise<void> {
    (request as StreamSocket).close();
  }
}

/**
 * A server on a datagram socket: UDP by default. `request` is
 * `[data, socket]`; there is no connection to shut down or close.
 */
export class UDPServer<Req = DatagramRequest> extends TCPServer<Req> {
  static override allowReuseAddress = false;
  static override allowReusePort = false;
  static override socketType: number = constants.SOCK_DGRAM;
  static maxPacketSize = DATAGRAM_DEFAULTS.maxPacketSize;
  static maxQueuedDatagrams = DATAGRAM_DEFAULTS.maxQueuedDatagrams;
  static maxQueuedBytes = DATAGRAM_DEFAULTS.maxQueuedBytes;
  static override settings: readonly string[] = [...TCPServer.settings, 'maxPacketSize', 'maxQueuedDatagrams', 'maxQueuedBytes'];

  declare maxPacketSize: number;
  declare maxQueuedDatagrams: number;
  declare maxQueuedBytes: number;

  /** The socket's transport handle, kept past serverClose() for droppedDatagrams. */
  readonly #handle: ListenerHandle;

  constructor(serverAddress: Address, RequestHandlerClass: RequestHandlerClass, options: ServerOptions = {}) {
    super(serverAddress, RequestHandlerClass, options);
    this.#handle = this.socket.handle;
  }

  /**
   * Datagrams read and dropped because maxQueuedDatagrams or
   * maxQueuedBytes were reached while the server was busy (read-only; still
   * readable after serverClose()).
   */
  get droppedDatagrams(): number {
    return this.#handle.droppedDatagrams();
  }

  protected override _datagramLimits(): DatagramLimits {
    return {
      maxPacketSize: integerSetting('maxPacketSize', this.maxPacketSize, 0, MAX_PACKET_SIZE),
      maxQueuedDatagrams: integerSetting('maxQueuedDatagrams', this.maxQueuedDatagrams, 1, MAX_QUEUED_DATAGRAMS),
      maxQueuedBytes: integerSetting('maxQueuedBytes', this.maxQueuedBytes, 0, MAX_QUEUED_BYTES),
    };
  }

  override getRequest(): [Req, Address | null] | Promise<[Req, Address | null]> {
    const [data, address, truncated] = this.socket.handle.takeDatagram();
    const request = truncated ? new TruncatedDatagramPair(2) : new DatagramPair(2);
    request[0] = data;
    request[1] = this.socket;
    return [request as unknown as Req, address];
  }

  override serverActivate(): void | Promise<void> {
    // No need to call listen() for a datagram server.
  }

  /** A datagram's v2 header, taken off its payload: the request's `proxy`. */
  protected override _readProxyHeader(request: Req, clientAddress: Address | null): Address | null {
    const pair = request as unknown as DatagramRequest & { proxy?: ProxyInfo };
    const [header, size] = this.transport.proxyDatagram!(pair[0]);
    pair[0] = pair[0].subarray(size);
    pair.proxy = header;
    return proxiedAddress(header, clientAddress);
  }

  override shutdownRequest(request: Req): void | Promise<void> {
    // No need to shut down anything.
    return this.closeRequest(request);
  }

  override closeRequest(request: Req): void | Promise<void> {
    // No need to close anything.
  }
}

/**
 * The `[data, socket]` pair of a datagram request: an array whose
 * `truncated` comes from its prototype, so that it is not an own
 * (enumerable) key and the pair stays a pair; far cheaper than
 * Object.defineProperty() on each request.
 */
class DatagramPair extends Array<Buffer | ServerSocket> {
  get truncated(): boolean { return false; }
}

class TruncatedDatagramPair extends DatagramPair {
  override get truncated(): boolean { return true; }
}

/** A stream server on a Unix socket (a path, or '\0name' for an abstract name). */
export class UnixStreamServer<Req = StreamSocket> extends TCPServer<Req> {
  static override addressFamily: number = constants.AF_UNIX;
}

/** A datagram server on a Unix socket (a path, or '\0name' for an abstract name). */
export class UnixDatagramServer<Req = DatagramRequest> extends UDPServer<Req> {
  static override addressFamily: number = constants.AF_UNIX;
}

/** A Unix address's filesystem path, or null for an abstract or unnamed one (never touched). */
function unixPath(address: Address): string | null {
  if (typeof address !== 'string' && !Buffer.isBuffer(address)) return null;
  const path = address.toString();
  return path === '' || path.startsWith('\0') ? null : path;
}

/** Removes a server's socket file if it is still the one its bind made. */
function removeSocketFile(file: { path: string; dev: number; ino: number }): void {
  try {
    const st = fs.statSync(file.path, { throwIfNoEntry: false });
    if (st?.isSocket() && st.dev === file.dev && st.ino === file.ino) fs.unlinkSync(file.path);
  } catch {
    // Gone already, or not ours to remove: nothing to clean.
  }
}

/** EADDRINUSE on a Unix path: say whether a socket file is there, and what to do. */
function explainUnixBindError(error: unknown, path: string): unknown {
  if (!isSystemError(error) || error.code !== 'EADDRINUSE') return error;
  const st = fs.statSync(path, { throwIfNoEntry: false });
  const what = st?.isSocket()
    ? `a socket file is at ${path}: another server is using it, or one left it behind (closed with unlinkOnClose: false, or killed); if none uses it, remove it`
    : `${path} exists and is not a socket`;
  error.message = `${error.message} (${what})`;
  return error;
}

/** Closes a server whose construction failed, without letting a second error hide the first. */
function closeQuietly(server: BaseServer<unknown>): void {
  try {
    const result = server.serverClose();
    if (result instanceof Promise) result.catch(() => {});
  } catch {
    // The construction error is the one to report.
  }
}
