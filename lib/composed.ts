/**
 * The composed servers of Python's module: each server class with each
 * mix-in (mix-in first, as in Python).
 */
import { ForkingMixIn, ThreadingMixIn } from './mixins.js';
import { TCPServer, UDPServer, UnixDatagramServer, UnixStreamServer } from './servers.js';

export class ForkingTCPServer extends ForkingMixIn(TCPServer) {}
export class ForkingUDPServer extends ForkingMixIn(UDPServer) {}
export class ForkingUnixStreamServer extends ForkingMixIn(UnixStreamServer) {}
export class ForkingUnixDatagramServer extends ForkingMixIn(UnixDatagramServer) {}
export class ThreadingTCPServer extends ThreadingMixIn(TCPServer) {}
export class ThreadingUDPServer extends ThreadingMixIn(UDPServer) {}
export class ThreadingUnixStreamServer extends ThreadingMixIn(UnixStreamServer) {}
export class ThreadingUnixDatagramServer extends ThreadingMixIn(UnixDatagramServer) {}
