#!/usr/bin/env node
/**
 * `socketserver` command: serves a handler module.
 *
 *     npx socketserver --tcp 127.0.0.1:9999 ./handler.js
 *     npx socketserver --udp [::1]:9999 ./handler.mjs
 *     npx socketserver --unix /tmp/app.sock ./handler.js
 *     npx socketserver --unix-dgram /tmp/app.dgram ./handler.js
 *     npx socketserver --tcp 127.0.0.1:9999 --workers 4 ./handler.mjs
 *
 * The module's default export (or its export named `Handler`) is the
 * request handler class. Ctrl-C (SIGINT) or SIGTERM shuts the server down
 * cleanly.
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

import { ThreadingMixIn } from './mixins.js';
import { TCPServer, UDPServer, UnixDatagramServer, UnixStreamServer, type RequestHandlerClass, type ServerOptions } from './servers.js';
import { constants } from './constants.js';
import type { Address } from './transport.js';

const USAGE = `usage: socketserver (--tcp HOST:PORT | --udp HOST:PORT | --unix PATH | --unix-dgram PATH) [--workers N] HANDLER_MODULE

Serves the request handler class exported by HANDLER_MODULE (its default
export, or the export named Handler). IPv6 hosts go in brackets: [::1]:9999.
--workers N: runs the handlers on N worker threads
(ThreadingMixIn's workerThreads). Ctrl-C shuts the server down.`;

type Kind = '--tcp' | '--udp' | '--unix' | '--unix-dgram';

class UsageError extends Error {}

function parseHostPort(value: string): { address: Address; family: number } {
  const m = /^\[([^\]]*)\]:(\d+)$/.exec(value) ?? /^([^:]*):(\d+)$/.exec(value);
  if (m === null) throw new UsageError(`expected HOST:PORT, got '${value}'`);
  const port = Number(m[2]);
  const family = m[1].includes(':') ? constants.AF_INET6 : constants.AF_INET;
  return { address: [m[1], port], family };
}

export function parseArgs(argv: string[]): { kind: Kind; where: string; module: string; workers: number } {
  let kind: Kind | undefined;
  let where: string | undefined;
  let module: string | undefined;
  let workers = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') throw new UsageError('');
    if (arg === '--tcp' || arg === '--udp' || arg === '--unix' || arg === '--unix-dgram') {
      if (kind !== undefined) throw new UsageError('give one of --tcp, --udp, --unix, --unix-dgram');
      kind = arg;
      where = argv[++i];
      if (where === undefined) throw new UsageError(`${arg} needs an address`);
    } else if (arg === '--workers') {
      const value = argv[++i];
      if (value === undefined || !/^\d+$/.test(value) || Number(value) > 256) {
        throw new UsageError(`--workers needs a whole number 0-256, got ${value === undefined ? 'nothing' : `'${value}'`}`);
      }
      workers = Number(value);
    } else if (arg.startsWith('-')) {
      throw new UsageError(`unknown option ${arg}`);
    } else if (module === undefined) {
      module = arg;
    } else {
      throw new UsageError(`unexpected argument ${arg}`);
    }
  }
  if (kind === undefined || where === undefined) throw new UsageError('an address option is required');
  if (module === undefined) throw new UsageError('a handler module is required');
  return { kind, where, module, workers };
}

async function loadHandler(modulePath: string, workers: number): Promise<RequestHandlerClass> {
  const url = pathToFileURL(path.resolve(modulePath)).href;
  const mod = (await import(url)) as Record<string, unknown>;
  // A CommonJS module's module.exports arrives as `default`.
  const candidates = [mod.default, mod.Handler, (mod.default as Record<string, unknown> | undefined)?.Handler];
  const Handler = candidates.find((c) => typeof c === 'function');
  if (Handler === undefined) {
    throw new UsageError(`${modulePath} exports no handler class (a default export, or one named Handler)`);
  }
  // Worker threads import the handler's module: this one, unless the
  // class names its own.
  if (workers > 0 && !Object.prototype.hasOwnProperty.call(Handler, 'module')) {
    Object.defineProperty(Handler, 'module', { value: url, configurable: true, writable: true });
  }
  return Handler as RequestHandlerClass;
}

async function main(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message) process.stderr.write(`socketserver: ${error.message}\n`);
    process.stderr.write(`${USAGE}\n`);
    return error.message ? 2 : 0;
  }
  const Handler = await loadHandler(args.module, args.workers);
  // --workers: ThreadingMixIn over the same server, its handlers on worker threads.
  const withWorkers = (Server: typeof TCPServer): typeof TCPServer =>
    args.workers > 0 ? (ThreadingMixIn(Server) as unknown as typeof TCPServer) : Server;
  const workerOptions: ServerOptions = args.workers > 0 ? ({ workerThreads: args.workers } as ServerOptions) : {};
  let server: TCPServer<unknown>;
  if (args.kind === '--tcp' || args.kind === '--udp') {
    const { address, family } = parseHostPort(args.where);
    const Server = withWorkers(args.kind === '--tcp' ? TCPServer : UDPServer);
    server = new Server(address, Handler, { addressFamily: family, allowReuseAddress: true, ...workerOptions });
  } else {
    const Server = withWorkers(args.kind === '--unix' ? UnixStreamServer : UnixDatagramServer);
    server = new Server(args.where, Handler, workerOptions);
  }
  const stop = (): void => {
    void server.shutdown();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const shown = Array.isArray(server.serverAddress) ? server.serverAddress.slice(0, 2).join(':') : server.serverAddress;
  const threads = args.workers > 0 ? ` on ${args.workers} worker thread${args.workers === 1 ? '' : 's'}` : '';
  process.stderr.write(`socketserver: serving ${args.kind.slice(2)} on ${shown}${threads} (Ctrl-C to stop)\n`);
  try {
    await server.serveForever();
  } finally {
    await server.serverClose();
  }
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`socketserver: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
