#!/usr/bin/env node
/**
 * `socketserver` command: serves a handler module.
 *
 *     npx socketserver --tcp 127.0.0.1:9999 ./handler.js
 *     npx socketserver --udp [::1]:9999 --threading ./handler.mjs
 *     npx socketserver --unix /tmp/app.sock --workers 4 ./handler.mjs
 *     npx socketserver --systemd --drain-timeout 30 ./handler.mjs
 *
 * The module's default export (or its export named `Handler`) is the
 * request handler class. SIGTERM or SIGINT drains the server: it stops
 * taking requests and lets those in flight finish for --drain-timeout
 * seconds (a second signal stops at once). Arguments are parsed by
 * node:util's parseArgs; a bad one exits with status 2.
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs as parseArgv } from 'node:util';

import { listenFds, type ListenFd } from './activation.js';
import { constants } from './constants.js';
import type { RequestHandlerClass, ServerOptions, TCPServer } from './servers.js';
import type { Address } from './transport.js';

const USAGE = `usage: socketserver [options] HANDLER_MODULE

Serves the request handler class that HANDLER_MODULE exports (its default
export, or its export named Handler).

Where (one of them, unless the process is socket-activated):
  --tcp HOST:PORT          a TCP server (IPv6 hosts in brackets: [::1]:8000)
  --udp HOST:PORT          a UDP server
  --unix PATH              a Unix stream server
  --unix-dgram PATH        a Unix datagram server
  --systemd                serve the sockets systemd passed (LISTEN_FDS), one
                           server each, of their own kind; passed sockets are
                           used without this option too, it only insists

How requests run (default: one at a time, as Python's servers):
  --threading              concurrently, as tasks on the main thread
                           (ThreadingMixIn)
  --workers N              on N worker threads (ThreadingMixIn, workerThreads)
  --forking                each in a child process (ForkingMixIn; Linux)

Socket:
  --js                     the pure-JavaScript transport (socketserver/js)
  --reuse-port             set SO_REUSEPORT (TCP, UDP): several processes on
                           one port
  --queue-size N           the listen backlog (requestQueueSize; default 5)
  --poll-interval SECONDS  how often serveForever() wakes when idle (0.5)

Behind a load balancer:
  --proxy-protocol v1|v2|any
                           every connection starts with a PROXY protocol
                           header (HAProxy send-proxy / send-proxy-v2); v2
                           only on datagram servers
  --proxy-trusted LIST     comma-separated addresses or CIDRs allowed to send
                           it ('unix' for Unix peers); default: every peer

Stopping:
  --drain-timeout SECONDS  on SIGTERM or SIGINT, let requests in flight finish
                           for this long, then close them (default 10)

  -h, --help               this text`;

type Kind = 'tcp' | 'udp' | 'unix' | 'unix-dgram';

/** A bad command line: its message, then the usage, then exit status 2. */
class UsageError extends Error {}

export interface CliArgs {
  /** Where to serve; null when the sockets come from socket activation. */
  where: { kind: Kind; address: string } | null;
  systemd: boolean;
  module: string;
  mixin: 'none' | 'threading' | 'forking';
  workers: number;
  js: boolean;
  reusePort: boolean;
  queueSize: number | null;
  pollInterval: number;
  drainTimeout: number;
  proxyProtocol: 'v1' | 'v2' | 'any' | null;
  proxyTrusted: string[] | null;
}

function parseHostPort(value: string, option: string): { address: Address; family: number } {
  const m = /^\[([^\]]*)\]:(\d+)$/.exec(value) ?? /^([^:]*):(\d+)$/.exec(value);
  if (m === null || Number(m[2]) > 65535) throw new UsageError(`${option} needs HOST:PORT (port 0-65535), got '${value}'`);
  const family = m[1].includes(':') ? constants.AF_INET6 : constants.AF_INET;
  return { address: [m[1], Number(m[2])], family };
}

function wholeNumber(value: string, option: string, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) > max) throw new UsageError(`${option} needs a whole number 0-${max}, got '${value}'`);
  return Number(value);
}

function seconds(value: string, option: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${option} needs a number of seconds >= 0, got '${value}'`);
  return n;
}

/** The command line, checked. Throws UsageError (help: an empty message). */
export function parseArgs(argv: string[]): CliArgs {
  let parsed;
  try {
    parsed = parseArgv({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        tcp: { type: 'string' },
        udp: { type: 'string' },
        unix: { type: 'string' },
        'unix-dgram': { type: 'string' },
        systemd: { type: 'boolean' },
        threading: { type: 'boolean' },
        workers: { type: 'string' },
        forking: { type: 'boolean' },
        js: { type: 'boolean' },
        'reuse-port': { type: 'boolean' },
        'queue-size': { type: 'string' },
        'poll-interval': { type: 'string' },
        'drain-timeout': { type: 'string' },
        'proxy-protocol': { type: 'string' },
        'proxy-trusted': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) throw new UsageError('');
  const kinds = (['tcp', 'udp', 'unix', 'unix-dgram'] as const).filter((k) => v[k] !== undefined);
  if (kinds.length > 1) throw new UsageError(`give one of --tcp, --udp, --unix, --unix-dgram, not ${kinds.map((k) => `--${k}`).join(' and ')}`);
  if (positionals.length === 0) throw new UsageError('a handler module is required');
  if (positionals.length > 1) throw new UsageError(`one handler module, got ${positionals.map((p) => `'${p}'`).join(', ')}`);
  const workers = v.workers === undefined ? 0 : wholeNumber(v.workers, '--workers', 256);
  if (v.forking && (v.threading || workers > 0)) throw new UsageError('--forking does not go with --threading or --workers');
  if (v.forking && v.js) throw new UsageError('--forking needs the native transport, not --js');
  if (workers > 0 && v.js) throw new UsageError('--workers needs the native transport, not --js');
  if (v.systemd && v.js) throw new UsageError('--systemd needs the native transport, not --js');
  if (v.systemd && kinds.length > 0) throw new UsageError(`--systemd takes its sockets from systemd: no --${kinds[0]}`);
  const proxy = v['proxy-protocol'];
  if (proxy !== undefined && proxy !== 'v1' && proxy !== 'v2' && proxy !== 'any') {
    throw new UsageError(`--proxy-protocol needs v1, v2 or any, got '${proxy}'`);
  }
  if (proxy !== undefined && v.js) throw new UsageError('--proxy-protocol needs the native transport, not --js');
  if (v['proxy-trusted'] !== undefined && proxy === undefined) throw new UsageError('--proxy-trusted goes with --proxy-protocol');
  const trusted = v['proxy-trusted'] === undefined ? null : v['proxy-trusted'].split(',').map((t) => t.trim()).filter((t) => t !== '');
  const kind = kinds[0];
  return {
    where: kind === undefined ? null : { kind, address: v[kind]! },
    systemd: v.systemd === true,
    module: positionals[0],
    mixin: v.forking ? 'forking' : v.threading || workers > 0 ? 'threading' : 'none',
    workers,
    js: v.js === true,
    reusePort: v['reuse-port'] === true,
    queueSize: v['queue-size'] === undefined ? null : wholeNumber(v['queue-size'], '--queue-size', 65535),
    pollInterval: v['poll-interval'] === undefined ? 0.5 : seconds(v['poll-interval'], '--poll-interval'),
    drainTimeout: v['drain-timeout'] === undefined ? 10 : seconds(v['drain-timeout'], '--drain-timeout'),
    proxyProtocol: proxy ?? null,
    proxyTrusted: trusted,
  };
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

type ServerClass = new (address: Address | null, Handler: RequestHandlerClass, options?: ServerOptions) => TCPServer<unknown>;

/** What to make: the class (by its exported name) and its options, for an address or a passed socket. */
interface Plan {
  className: string;
  address: Address | null;
  options: ServerOptions & Record<string, unknown>;
}

const KIND_CLASS: Record<Kind, string> = { tcp: 'TCPServer', udp: 'UDPServer', unix: 'UnixStreamServer', 'unix-dgram': 'UnixDatagramServer' };

/** The kind of server for a socket of this family and type; null for one no server takes. */
function kindOf(family: number, type: number): Kind | null {
  const stream = type === constants.SOCK_STREAM;
  if (!stream && type !== constants.SOCK_DGRAM) return null;
  if (family === constants.AF_UNIX) return stream ? 'unix' : 'unix-dgram';
  if (family === constants.AF_INET || family === constants.AF_INET6) return stream ? 'tcp' : 'udp';
  return null;
}

function kindOfSocket(fd: ListenFd): Kind {
  const kind = kindOf(fd.family, fd.type);
  if (kind === null) throw new UsageError(`the passed descriptor ${fd.fd} (${fd.name}) is not a TCP, UDP or Unix socket`);
  return kind;
}

function plans(args: CliArgs, passed: ListenFd[]): Plan[] {
  const mixin = args.mixin === 'threading' ? 'Threading' : args.mixin === 'forking' ? 'Forking' : '';
  const common: ServerOptions & Record<string, unknown> = {};
  if (args.workers > 0) common.workerThreads = args.workers;
  if (args.reusePort) common.allowReusePort = true;
  if (args.queueSize !== null) common.requestQueueSize = args.queueSize;
  if (args.proxyProtocol !== null) common.proxyProtocol = args.proxyProtocol;
  if (args.proxyTrusted !== null) common.proxyTrusted = args.proxyTrusted;
  if (passed.length > 0) {
    if (args.where !== null) throw new UsageError(`the process was given sockets by its service manager (LISTEN_FDS): no --${args.where.kind}`);
    if (args.js) throw new UsageError('the process was given sockets (LISTEN_FDS), which --js cannot adopt');
    return passed.map((fd) => ({ className: `${mixin}${KIND_CLASS[kindOfSocket(fd)]}`, address: null, options: { ...common, fileno: fd.fd } }));
  }
  if (args.systemd) throw new UsageError('--systemd: no sockets were passed (LISTEN_FDS is not set for this process)');
  if (args.where === null) throw new UsageError('an address option is required (--tcp, --udp, --unix, --unix-dgram), or socket activation');
  const { kind, address } = args.where;
  const options = { ...common };
  let at: Address = address;
  if (kind === 'tcp' || kind === 'udp') {
    const parsed = parseHostPort(address, `--${kind}`);
    at = parsed.address;
    options.addressFamily = parsed.family;
    options.allowReuseAddress = true;
  }
  return [{ className: `${mixin}${KIND_CLASS[kind]}`, address: at, options }];
}

/** True for an error of the arguments' making (a combination the server refuses): exit status 2. */
function isUsageLike(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return error instanceof UsageError || code === 'ERR_SOCKETSERVER_UNSUPPORTED' || code === 'ERR_INVALID_ARG_TYPE' || code === 'ERR_INVALID_ARG_VALUE' || code === 'ERR_OUT_OF_RANGE';
}

function describe(server: TCPServer<unknown>, args: CliArgs): string {
  const where = Array.isArray(server.serverAddress) ? server.serverAddress.slice(0, 2).join(':') : server.serverAddress;
  const kind = kindOf(server.addressFamily, server.socketType);
  const details = [
    args.workers > 0 ? `${args.workers} worker thread${args.workers === 1 ? '' : 's'}` : null,
    args.js ? 'js transport' : null,
    server.fileno() >= 0 && args.where === null ? `socket-activated fd ${server.fileno()}` : null,
    args.reusePort ? 'SO_REUSEPORT' : null,
    args.proxyProtocol !== null ? `PROXY protocol ${args.proxyProtocol}${args.proxyTrusted === null ? '' : ` from ${args.proxyTrusted.join(',')}`}` : null,
    args.queueSize !== null ? `queue size ${args.queueSize}` : null,
    args.pollInterval !== 0.5 ? `poll interval ${args.pollInterval} s` : null,
    `drain timeout ${args.drainTimeout} s`,
  ].filter((d) => d !== null);
  return `socketserver: serving ${kind} on ${where} with ${server.constructor.name} (${details.join(', ')}), pid ${process.pid}`;
}

async function main(argv: string[]): Promise<number> {
  let args: CliArgs;
  let servers: TCPServer<unknown>[] = [];
  try {
    args = parseArgs(argv);
    const passed = args.js ? [] : listenFds();
    const todo = plans(args, passed);
    const Handler = await loadHandler(args.module, args.workers);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ns = require(args.js ? './js.js' : './index.js') as Record<string, ServerClass>;
    for (const plan of todo) servers.push(new ns[plan.className](plan.address, Handler, plan.options));
  } catch (error) {
    await Promise.all(servers.map((s) => s.serverClose()));
    if (!isUsageLike(error)) throw error;
    if (error instanceof UsageError && error.message === '') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    process.stderr.write(`socketserver: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  for (const server of servers) process.stderr.write(`${describe(server, args)}\n`);

  let draining: Promise<void> | null = null;
  const stop = (signal: NodeJS.Signals): void => {
    if (draining !== null) {
      process.stderr.write(`socketserver: ${signal} again: stopping now\n`);
      process.exit(1);
    }
    process.stderr.write(`socketserver: ${signal}: draining (at most ${args.drainTimeout} s)\n`);
    draining = Promise.all(servers.map((s) => s.drain(args.drainTimeout))).then((results) => {
      const finished = results.reduce((n, r) => n + r.finished, 0);
      const aborted = results.reduce((n, r) => n + r.aborted, 0);
      process.stderr.write(`socketserver: drained: ${finished} finished, ${aborted} cut short\n`);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    await Promise.all(servers.map((s) => s.serveForever(args.pollInterval)));
    if (draining !== null) await draining;
  } finally {
    await Promise.all(servers.map((s) => s.serverClose()));
    servers = [];
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
