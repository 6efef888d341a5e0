/**
 * Request handler classes.
 *
 * A new handler is made for each request: the server constructs it with
 * `(request, clientAddress, server)`, then runs `setup()`, `handle()` and
 * `finish()`, awaiting each. `finish()` runs when `handle()` throws, not
 * when `setup()` throws.
 *
 * Methods that may be overridden: `setup()`, `handle()`, `finish()`.
 *
 * Settings (`rbufsize`, `wbufsize`, `timeout`, `disableNagleAlgorithm`) are
 * static properties of the handler class, as Python's class attributes
 * are; an instance property of the same name, when set, wins. Times are in
 * seconds.
 */
import { constants } from './constants.js';
import { isSystemError } from './errors.js';
import type { ProxyInfo } from './proxy-protocol.js';
import type { ServerSocket, StreamSocket } from './socket.js';
import { BufferedSocketWriter, BytesReader, BytesWriter, SocketReader, SocketWriter, type Writer } from './streams.js';
import type { Address } from './transport.js';

/**
 * The request of a datagram server: the pair of the payload and the
 * server's socket. `truncated` (not enumerable, so the pair stays a pair)
 * is true when the datagram was longer than maxPacketSize and was cut to
 * it, as Python's recvfrom(max_packet_size) cuts it (MSG_TRUNC).
 */
export type DatagramRequest = [data: Buffer, socket: ServerSocket] & {
  readonly truncated?: boolean;
  /** The datagram's PROXY protocol v2 header (the server's `proxyProtocol: 'v2'`), taken off `data`. */
  readonly proxy?: ProxyInfo;
};

/** What any server can be typed as from a handler. */
export interface ServerLike {
  readonly serverAddress: Address;
}

/**
 * The base class of request handlers. Subclass it and override `handle()`.
 * `request` is the connected socket for stream servers, `[data, socket]`
 * for datagram servers; `clientAddress` is the peer; `server` the server.
 */
export class BaseRequestHandler<Req = StreamSocket, Srv = ServerLike> {
  request: Req;
  /** The peer; null only for a datagram from an unnamed (unbound) Unix socket, as Python's recvfrom() gives None. */
  clientAddress: Address | null;
  server: Srv;

  constructor(request: Req, clientAddress: Address | null, server: Srv) {
    this.request = request;
    this.clientAddress = clientAddress;
    this.server = server;
  }

  /** Called before `handle()`; does nothing by default. */
  setup(): void | Promise<void> {}

  /** Does the work of the request; does nothing by default. */
  handle(): void | Promise<void> {}

  /** Called after `handle()`, even when it threw; does nothing by default. */
  finish(): void | Promise<void> {}
}

/**
 * What finishRequest() does, wherever it runs (BaseServer on the main
 * thread, a worker thread's server view): makes the handler with
 * `(request, clientAddress, server)`, then awaits setup(), handle() and
 * finish(); finish() runs when handle() throws, not when setup() throws.
 * A step is awaited only when it returns something.
 */
export async function runHandler(Handler: unknown, request: unknown, clientAddress: Address | null, server: unknown): Promise<void> {
  const handler = new (Handler as new (r: unknown, a: Address | null, s: unknown) => {
    setup?: () => unknown;
    handle?: () => unknown;
    finish?: () => unknown;
  })(request, clientAddress, server);
  const setup = handler.setup?.();
  if (setup !== undefined) await setup;
  try {
    const handled = handler.handle?.();
    if (handled !== undefined) await handled;
  } finally {
    const finished = handler.finish?.();
    if (finished !== undefined) await finished;
  }
}

/** An instance setting when set, otherwise the static one of its class. */
function setting<T>(handler: object, name: string): T {
  const own = (handler as Record<string, unknown>)[name];
  return (own !== undefined ? own : (handler.constructor as unknown as Record<string, unknown>)[name]) as T;
}

/**
 * A handler for stream requests with file-like `rfile` and `wfile`.
 *
 * Settings: `rbufsize` (-1: default buffering; 0: unbuffered), `wbufsize`
 * (0: unbuffered, `wfile.write()` sends everything before it resolves),
 * `timeout` (seconds for each socket operation, or null), and
 * `disableNagleAlgorithm` (sets TCP_NODELAY).
 */
export class StreamRequestHandler<Srv = ServerLike> extends BaseRequestHandler<StreamSocket, Srv> {
  static rbufsize = -1;
  static wbufsize = 0;
  static timeout: number | null = null;
  static disableNagleAlgorithm = false;

  declare rbufsize?: number;
  declare wbufsize?: number;
  declare timeout?: number | null;
  declare disableNagleAlgorithm?: boolean;

  /** The peer: never null on a stream (an unnamed Unix peer is ''). */
  declare clientAddress: Address;
  /** The connected socket (the same as `request`). */
  declare connection: StreamSocket;
  declare rfile: SocketReader;
  declare wfile: Writer;

  override setup(): void | Promise<void> {
    this.connection = this.request;
    const timeout = setting<number | null>(this, 'timeout');
    if (timeout !== null && timeout !== undefined) this.connection.timeout = timeout;
    if (setting<boolean>(this, 'disableNagleAlgorithm')) {
      this.connection.setSockOpt(constants.IPPROTO_TCP, constants.TCP_NODELAY, 1);
    }
    this.rfile = new SocketReader(this.connection, setting<number>(this, 'rbufsize'));
    const wbufsize = setting<number>(this, 'wbufsize');
    this.wfile = wbufsize === 0 ? new SocketWriter(this.connection) : new BufferedSocketWriter(this.connection, wbufsize);
  }

  /** Flushes `wfile` (a socket error there is ignored, as in Python) and closes both files. */
  override async finish(): Promise<void> {
    if (!this.wfile.closed) {
      try {
        await this.wfile.flush();
      } catch (error) {
        // A final socket error may have occurred here, such as ECONNRESET.
        if (!isSystemError(error)) throw error;
      }
    }
    try {
      await this.wfile.close();
    } catch (error) {
      if (!isSystemError(error)) throw error;
    }
    this.rfile.close();
  }
}

/**
 * A handler for datagram requests: `packet` is the payload, `socket` the
 * server's socket; `rfile` reads from the packet, `wfile` collects the
 * reply, which `finish()` sends to `clientAddress` (nothing, when that is
 * null: an unnamed Unix sender).
 */
export class DatagramRequestHandler<Srv = ServerLike> extends BaseRequestHandler<DatagramRequest, Srv> {
  declare packet: Buffer;
  declare socket: ServerSocket;
  /** The datagram was longer than the server's maxPacketSize: `packet` holds its start. */
  declare truncated: boolean;
  declare rfile: BytesReader;
  declare wfile: BytesWriter;

  override setup(): void | Promise<void> {
    [this.packet, this.socket] = this.request;
    this.truncated = this.request.truncated === true;
    this.rfile = new BytesReader(this.packet);
    this.wfile = new BytesWriter();
  }

  override async finish(): Promise<void> {
    // An unnamed Unix sender (clientAddress null) cannot be answered: there
    // is no address to send to (Python would raise; syslog clients such as
    // `logger -u` send from unbound sockets and expect no reply).
    if (this.clientAddress === null) return;
    await this.socket.sendTo(this.wfile.getValue(), this.clientAddress);
  }
}
