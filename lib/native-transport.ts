/**
 * The default transport: the C++ addon. Its pieces mirror the addon's files:
 * listener.ts (a server's socket and its serve thread), connection.ts (a
 * stream request), datagram.ts (a datagram server's socket, its fast path
 * and sender cache); forking is ProcessControl here, over native/fork.cc.
 */
import { constants } from './constants.js';
import { NativeDatagramHandle } from './datagram.js';
import { isSystemError } from './errors.js';
import { NativeStream } from './connection.js';
import { NativeListenerHandle } from './listener.js';
import { loadAddon } from './native.js';
import type { ListenerHandle, ProcessControl, StreamHandle, Transport } from './transport.js';

const nativeProcesses: ProcessControl = {
  fork: (keepFds, watchdogSeconds) => loadAddon().forkRequest(keepFds, watchdogSeconds),
  exitChild: (status) => loadAddon().exitChild(status),
  reap: (pid, blocking) => loadAddon().reapChild(pid, blocking),
  watchExit(pid, onExit) {
    try {
      return new (loadAddon().ChildWatch)(pid, onExit);
    } catch (error) {
      // The child runs already, so a watch that cannot be made must not
      // fail the request: no pidfd (ENOSYS, Linux < 5.3), no descriptor
      // left (EMFILE), or the loop refused the watch. The caller then polls
      // with reap() instead.
      if (isSystemError(error)) return null;
      throw error;
    }
  },
  getpid: () => loadAddon().getpid(),
  stats: () => loadAddon().forkStats(),
};

export const nativeTransport: Transport = {
  name: 'native',
  processes: nativeProcesses,
  proxyProtocol: true,
  proxyDatagram: (data) => loadAddon().proxyDatagram(data),
  adoptStream(fd: number): StreamHandle {
    const addon = loadAddon();
    return new NativeStream(addon.adoptConnection(fd), addon.constants);
  },
  adoptListener(family: number, type: number, fd: number): ListenerHandle {
    const Handle = type === constants.SOCK_DGRAM ? NativeDatagramHandle : NativeListenerHandle;
    return new Handle(loadAddon(), family, type, fd);
  },
  createListener(family: number, type: number): ListenerHandle {
    const Handle = type === constants.SOCK_DGRAM ? NativeDatagramHandle : NativeListenerHandle;
    return new Handle(loadAddon(), family, type);
  },
};
