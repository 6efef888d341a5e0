/**
 * socketserver — a framework for network servers: Python's `socketserver`
 * for Node.js, on a native (C++) socket layer.
 *
 * Servers: BaseServer, TCPServer, UDPServer, UnixStreamServer,
 * UnixDatagramServer. Handlers: BaseRequestHandler, StreamRequestHandler,
 * DatagramRequestHandler. See README.md and API.md.
 */
export { constants } from './constants.js';
export type { Constants } from './constants.js';
export { BaseServer, TCPServer, UDPServer, UnixStreamServer, UnixDatagramServer } from './servers.js';
export type { RequestHandlerClass, ServerOptions } from './servers.js';
export { BaseRequestHandler, StreamRequestHandler, DatagramRequestHandler } from './handlers.js';
export type { DatagramRequest, ServerLike } from './handlers.js';
export { ServerSocket, StreamSocket } from './socket.js';
export { SocketReader, SocketWriter, BufferedSocketWriter, BytesReader, BytesWriter } from './streams.js';
export type { Writer } from './streams.js';
export type { Address, SockOptValue, Transport } from './transport.js';
export type { CodedError } from './errors.js';
export { ThreadingMixIn, ForkingMixIn } from './mixins.js';
export { listenFds } from './activation.js';
export type { ListenFd } from './activation.js';
export type { DrainResult } from './drain.js';
export type { ProxyInfo, ProxyProtocolMode, ProxySsl, ProxyTlvs } from './proxy-protocol.js';
export type {
  ThreadingOptions, ThreadingServer, ThreadingServerClass,
  ForkingOptions, ForkingServer, ForkingServerClass, ServerClass,
} from './mixins.js';
export {
  ThreadingTCPServer, ThreadingUDPServer, ThreadingUnixStreamServer, ThreadingUnixDatagramServer,
  ForkingTCPServer, ForkingUDPServer, ForkingUnixStreamServer, ForkingUnixDatagramServer,
} from './composed.js';
