/**
 * A worker thread of ThreadingMixIn's `workerThreads` (the worker's side;
 * lib/worker-pool.ts is the main thread's). A datagram server's worker
 * first adopts its reply socket (a dup() of the server's, taken in the
 * shared slot table: SENT → ADOPTED). It imports the handler's module,
 * then runs each request it is given: a connection's descriptor it adopts
 * (taken the same way); a datagram becomes `[payload, reply socket]`. It
 * runs finishRequest() (the handler's setup/handle/finish) and
 * shutdownRequest(), reports a failure to the main thread, where
 * handleError() runs, and says "done".
 *
 * `this.server` in a handler here is a WorkerServerView: serverAddress,
 * the server's settings, RequestHandlerClass, workerData, and shutdown().
 */
import * as fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

import { constants } from './constants.js';
import { type DatagramRequest, runHandler } from './handlers.js';
import { nativeTransport } from './native-transport.js';
import { type ProxyInfo, reviveProxyInfo } from './proxy-protocol.js';
import { RingReader, type RingRequest } from './worker-ring.js';
import type { RequestHandlerClass } from './servers.js';
import { ServerSocket, StreamSocket } from './socket.js';
import type { Address } from './transport.js';
import {
  activeIndex,
  type FromWorker,
  replyIndex,
  serializeError,
  SLOT_ADOPTED,
  SLOT_SENT,
  type ToWorker,
  type WorkerInit,
} from './worker-pool.js';

/** A request in a worker: a connection, or a datagram with the reply socket. */
type WorkerRequest = StreamSocket | DatagramRequest;

/**
 * The server as a handler in a worker thread sees it. Its settings are
 * copies, made when the worker started.
 */
export class WorkerServerView {
  readonly serverAddress: Address;
  readonly RequestHandlerClass: RequestHandlerClass;
  readonly workerData: unknown;
  readonly #post: (m: FromWorker) => void;

  constructor(init: WorkerInit, Handler: RequestHandlerClass, post: (m: FromWorker) => void) {
    Object.assign(this, init.settings);
    this.serverAddress = init.serverAddress;
    this.RequestHandlerClass = Handler;
    this.workerData = init.workerData;
    this.#post = post;
  }

  /**
   * Asks the main thread to stop its serveForever() loop. Resolves at once
   * (the loop stops after the requests it is waiting for); do not await
   * more than that from a handler.
   */
  shutdown(): Promise<void> {
    this.#post({ t: 'shutdown' });
    return Promise.resolve();
  }

  /** BaseServer.finishRequest(): the handler's setup(), handle(), finish(). */
  finishRequest(request: WorkerRequest, clientAddress: Address | null): Promise<void> {
    return runHandler(this.RequestHandlerClass, request, clientAddress, this);
  }

  /**
   * TCPServer.shutdownRequest(): shuts the connection down for writing,
   * then closes it. A datagram has nothing to close (UDPServer's).
   */
  shutdownRequest(request: WorkerRequest): void {
    if (!(request instanceof StreamSocket)) return;
    try {
      request.shutdown(constants.SHUT_WR);
    } catch {
      // ENOTCONN: the peer is gone already.
    }
    request.close();
  }
}

/**
 * The handler class in its module: the export of that name, else an export
 * that is a class of that name (`export { Upper as Handler }`), else the
 * default export.
 */
async function loadHandler(spec: string, name: string): Promise<RequestHandlerClass> {
  const url = spec.startsWith('file:') ? spec : pathToFileURL(spec).href;
  const mod = (await import(url)) as Record<string, unknown>;
  const def = mod.default as Record<string, unknown> | undefined;
  const nested = typeof def === 'function' || typeof def === 'object' ? def?.[name] : undefined;
  for (const candidate of [mod[name], nested, ...Object.values(mod)]) {
    if (typeof candidate === 'function' && candidate.name === name) return candidate as RequestHandlerClass;
  }
  if (typeof def === 'function') return def as unknown as RequestHandlerClass;
  throw new TypeError(`the handler's module ${spec} has no export named ${name} and no default export class (workerThreads)`);
}

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('lib/worker.js runs in a worker thread only');
  const init = workerData as WorkerInit;
  const states = new Int32Array(init.slots);
  const active = activeIndex(init.size, init.index);
  const post = (m: FromWorker): void => port.postMessage(m);
  const replySocket = init.datagram === null ? null : adoptReplySocket(init, states);
  const Handler = await loadHandler(init.module, init.className);
  const view = new WorkerServerView(init, Handler, post);

  async function run(m: Handed): Promise<void> {
    // Take the descriptor, unless the main thread took it back (it does
    // that only for a worker that died, so this is a guard, not a path).
    if (m.t === 'req' && Atomics.compareExchange(states, m.slot, SLOT_SENT, SLOT_ADOPTED) !== SLOT_SENT) return;
    let counted = true;
    // No longer busy, said before the connection closes (activeIndex()).
    const idle = (): void => {
      if (counted) Atomics.sub(states, active, 1);
      counted = false;
    };
    try {
      const request: WorkerRequest = m.t === 'req' ? adoptStream(m) : datagramRequest(m, replySocket!);
      try {
        await view.finishRequest(request, m.clientAddress);
      } catch (error) {
        post({ t: 'error', slot: m.slot, error: serializeError(error) });
      } finally {
        idle();
        view.shutdownRequest(request);
      }
    } catch (error) {
      post({ t: 'error', slot: m.slot, error: serializeError(error) });
    } finally {
      idle();
      post({ t: 'done', slot: m.slot });
    }
  }

  // Requests come in the ring (most) and in messages (the rest).
  new RingReader(init.ring).consume((m) => void run(m));
  port.on('message', (m: ToWorker) => {
    if (m.t === 'req' || m.t === 'dgram') void run(m);
  });
  post({ t: 'ready' });
}

/** A request as it arrives: in a message, or in the ring (no PROXY extras there). */
type Handed = ToWorker | RingRequest;

/** A connection handed over: the descriptor, what was read with its PROXY header, the header. */
function adoptStream(m: Extract<Handed, { t: 'req' }>): StreamSocket {
  const sock = new StreamSocket(nativeTransport.adoptStream!(m.fd));
  if ('pending' in m && m.pending !== null) sock._unread(Buffer.from(m.pending));
  if ('proxy' in m && m.proxy !== null) sock.proxy = reviveProxyInfo(m.proxy);
  return sock;
}

/** A datagram handed over: `[payload, reply socket]`, truncated, and its PROXY header. */
function datagramRequest(m: Extract<Handed, { t: 'dgram' }>, socket: ServerSocket): DatagramRequest {
  const extra: { truncated: boolean; proxy?: ProxyInfo } = { truncated: m.truncated };
  if ('proxy' in m && m.proxy !== null) extra.proxy = reviveProxyInfo(m.proxy);
  // From the ring: a Buffer of its own already; from a message: the transferred ArrayBuffer.
  const data = Buffer.isBuffer(m.data) ? m.data : Buffer.from(m.data as ArrayBuffer);
  return Object.assign([data, socket] as [Buffer, ServerSocket], extra);
}

/**
 * A datagram server's worker: its own socket to reply on, a dup() of the
 * server's that the main thread made for it. Taken (SENT → ADOPTED)
 * before anything else can fail, so that it is closed by exactly one side.
 */
function adoptReplySocket(init: WorkerInit, states: Int32Array): ServerSocket {
  const { family, type } = init.datagram!;
  if (Atomics.compareExchange(states, replyIndex(init.size, init.index), SLOT_SENT, SLOT_ADOPTED) !== SLOT_SENT) {
    throw new Error('the reply socket was taken back before the worker thread started');
  }
  try {
    return new ServerSocket(nativeTransport.adoptListener!(family, type, init.replyFd));
  } catch (error) {
    fs.closeSync(init.replyFd);
    throw error;
  }
}

main().catch((error: unknown) => {
  // Uncaught: the main thread hears it as this worker's 'error', then 'exit'.
  process.nextTick(() => {
    throw error;
  });
});
