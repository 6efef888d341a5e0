/**
 * A worker thread of ThreadingMixIn's `workerThreads` (the worker's side;
 * lib/worker-pool.ts is the main thread's). It imports the handler's
 * module, then runs each request it is given: adopts the descriptor (after
 * taking it in the shared slot table: SENT → ADOPTED), runs
 * finishRequest() (the handler's setup/handle/finish) and
 * shutdownRequest(), reports a failure to the main thread, where
 * handleError() runs, and says "done".
 *
 * `this.server` in a handler here is a WorkerServerView: serverAddress,
 * the server's settings, RequestHandlerClass, workerData, and shutdown().
 */
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

import { constants } from './constants.js';
import { runHandler } from './handlers.js';
import { nativeTransport } from './native-transport.js';
import type { RequestHandlerClass } from './servers.js';
import { StreamSocket } from './socket.js';
import type { Address } from './transport.js';
import { activeIndex, type FromWorker, serializeError, SLOT_ADOPTED, SLOT_SENT, type ToWorker, type WorkerInit } from './worker-pool.js';

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
  finishRequest(request: StreamSocket, clientAddress: Address | null): Promise<void> {
    return runHandler(this.RequestHandlerClass, request, clientAddress, this);
  }

  /** TCPServer.shutdownRequest(): shuts the connection down for writing, then closes it. */
  shutdownRequest(request: StreamSocket): void {
    try {
      request.shutdown(constants.SHUT_WR);
    } catch {
      // ENOTCONN: the peer is gone already.
    }
    request.close();
  }
}

/** The handler class in its module: the export of that name, else the default export. */
async function loadHandler(spec: string, name: string): Promise<RequestHandlerClass> {
  const url = spec.startsWith('file:') ? spec : pathToFileURL(spec).href;
  const mod = (await import(url)) as Record<string, unknown>;
  const def = mod.default as Record<string, unknown> | undefined;
  for (const candidate of [mod[name], typeof def === 'function' || typeof def === 'object' ? def?.[name] : undefined]) {
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
  const Handler = await loadHandler(init.module, init.className);
  const view = new WorkerServerView(init, Handler, post);

  async function run(m: ToWorker): Promise<void> {
    // Take the descriptor, unless the main thread took it back (it does
    // that only for a worker that died, so this is a guard, not a path).
    if (Atomics.compareExchange(states, m.slot, SLOT_SENT, SLOT_ADOPTED) !== SLOT_SENT) return;
    let counted = true;
    // No longer busy, said before the connection closes (activeIndex()).
    const idle = (): void => {
      if (counted) Atomics.sub(states, active, 1);
      counted = false;
    };
    try {
      const request = new StreamSocket(nativeTransport.adoptStream!(m.fd));
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

  port.on('message', (m: ToWorker) => {
    if (m.t === 'req') void run(m);
  });
  post({ t: 'ready' });
}

main().catch((error: unknown) => {
  // Uncaught: the main thread hears it as this worker's 'error', then 'exit'.
  process.nextTick(() => {
    throw error;
  });
});
