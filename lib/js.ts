/**
 * socketserver/js — the same API over node:net and node:dgram, with no
 * native addon: for comparison, and where the addon cannot be built.
 *
 * The server logic, mix-ins and handlers are the package's own, shared with
 * the native path; each server class here only selects the js transport.
 * What the transport cannot do (Unix datagram sockets, fork, Linux
 * abstract names, SO_REUSEPORT) throws an error whose `code` is
 * 'ERR_SOCKETSERVER_UNSUPPORTED', at construction.
 */
import { jsTransport } from './js-transport.js';
import { ForkingMixIn, ThreadingMixIn } from './mixins.js';
import * as core from './servers.js';
import type { DatagramRequest } from './handlers.js';
import type { StreamSocket } from './socket.js';
import type { Transport } from './transport.js';

/**
 * Makes `instanceof` follow Python's hierarchy within this module: a js
 * UnixStreamServer is an instance of the js TCPServer, as it is of the
 * shared one. Subclasses keep the ordinary check.
 */
function hierarchy(cls: object, shared: object): void {
  Object.defineProperty(cls, Symbol.hasInstance, {
    value(this: object, value: unknown): boolean {
      if (this !== cls) return Function.prototype[Symbol.hasInstance].call(this, value);
      if (!(value instanceof (shared as new () => unknown))) return false;
      // An instance carries its transport; a prototype's class does.
      const own = (value as { transport?: Transport }).transport;
      const ctor = (value as { constructor?: { transport?: Transport } }).constructor;
      return (own ?? ctor?.transport) === jsTransport;
    },
  });
}

/** Base class for server classes (js transport). */
export class BaseServer<Req = unknown> extends core.BaseServer<Req> {
  static override transport: Transport = jsTransport;
}
/** A TCP server (js transport). */
export class TCPServer<Req = StreamSocket> extends core.TCPServer<Req> {
  static override transport: Transport = jsTransport;
}
/** A UDP server (js transport). */
export class UDPServer<Req = DatagramRequest> extends core.UDPServer<Req> {
  static override transport: Transport = jsTransport;
}
/** A Unix stream server (js transport; paths only, no abstract names). */
export class UnixStreamServer<Req = StreamSocket> extends core.UnixStreamServer<Req> {
  static override transport: Transport = jsTransport;
}
/** Unix datagram sockets have no Node API: constructing one throws ERR_SOCKETSERVER_UNSUPPORTED. */
export class UnixDatagramServer<Req = DatagramRequest> extends core.UnixDatagramServer<Req> {
  static override transport: Transport = jsTransport;
}
hierarchy(BaseServer, core.BaseServer);
hierarchy(TCPServer, core.TCPServer);
hierarchy(UDPServer, core.UDPServer);
hierarchy(UnixStreamServer, core.UnixStreamServer);
hierarchy(UnixDatagramServer, core.UnixDatagramServer);

export class ThreadingTCPServer extends ThreadingMixIn(TCPServer) {}
export class ThreadingUDPServer extends ThreadingMixIn(UDPServer) {}
export class ThreadingUnixStreamServer extends ThreadingMixIn(UnixStreamServer) {}
export class ThreadingUnixDatagramServer extends ThreadingMixIn(UnixDatagramServer) {}
/** fork is not available on the js transport: constructing these throws ERR_SOCKETSERVER_UNSUPPORTED. */
export class ForkingTCPServer extends ForkingMixIn(TCPServer) {}
export class ForkingUDPServer extends ForkingMixIn(UDPServer) {}
export class ForkingUnixStreamServer extends ForkingMixIn(UnixStreamServer) {}
export class ForkingUnixDatagramServer extends ForkingMixIn(UnixDatagramServer) {}

export { constants } from './constants.js';
export type { Constants } from './constants.js';
export type { RequestHandlerClass, ServerOptions } from './servers.js';
export { ThreadingMixIn, ForkingMixIn } from './mixins.js';
export { listenFds } from './activation.js';
export type { ListenFd } from './activation.js';
export type { DrainResult } from './drain.js';
export type { ProxyInfo, ProxyProtocolMode, ProxySsl, ProxyTlvs } from './proxy-protocol.js';
export type {
  ThreadingOptions, ThreadingServer, ThreadingServerClass,
  ForkingOptions, ForkingServer, ForkingServerClass, ServerClass,
} from './mixins.js';
export { BaseRequestHandler, StreamRequestHandler, DatagramRequestHandler } from './handlers.js';
export type { DatagramRequest, ServerLike } from './handlers.js';
export { ServerSocket, StreamSocket } from './socket.js';
export { SocketReader, SocketWriter, BufferedSocketWriter, BytesReader, BytesWriter } from './streams.js';
export type { Writer } from './streams.js';
export type { Address, SockOptValue, Transport } from './transport.js';
export type { CodedError } from './errors.js';
