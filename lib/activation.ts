/**
 * Socket activation, as systemd does it (native/activation.cc is the other
 * half): listenFds() takes the descriptors a service manager passed in
 * (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES; sd_listen_fds(3)), and
 * adoptServerSocket() makes one of them a server's socket (the `fileno`
 * server option) instead of a new one.
 */
import { constants } from './constants.js';
import { invalidArgType, invalidArgValue, outOfRange, unsupported, withCode } from './errors.js';
import { loadAddon } from './native.js';
import type { ListenerHandle, Transport } from './transport.js';

/** A descriptor passed in by the service manager. */
export interface ListenFd {
  fd: number;
  /** Its name (systemd's FileDescriptorName=, or the socket unit's name); 'unknown' when none was given. */
  name: string;
  /** AF_INET, AF_INET6, AF_UNIX…; 0 when it is not a socket, or (js transport without the addon) cannot be asked. */
  family: number;
  /** SOCK_STREAM or SOCK_DGRAM; 0 likewise. */
  type: number;
}

/** The first descriptor passed (SD_LISTEN_FDS_START). */
const LISTEN_FDS_START = 3;

/** What the addon tells of a descriptor, or null where the addon cannot load (the js transport may run without it). */
function kindOf(fd: number): { family: number; type: number } | null {
  let addon;
  try {
    addon = loadAddon();
  } catch {
    return null;
  }
  try {
    addon.setCloexec(fd);
    const { family, type } = addon.socketKind(fd);
    return { family, type };
  } catch (error) {
    // Not a socket (a FIFO of ListenFIFO=): listed, of family 0.
    if ((error as { code?: string }).code === 'ENOTSOCK') return { family: 0, type: 0 };
    throw error;
  }
}

/**
 * The descriptors the service manager passed to this process, in order
 * (from 3): each checked (family, type), marked close-on-exec. The
 * variables are removed from process.env whatever they held, as
 * sd_listen_fds(1) does, so that a child process does not take them for
 * its own. Empty when the process was not socket-activated, or when
 * LISTEN_PID names another process (the variables were inherited).
 * Malformed variables: an Error with code ERR_SOCKETSERVER_LISTEN_FDS.
 */
export function listenFds(): ListenFd[] {
  const { LISTEN_PID: pid, LISTEN_FDS: count, LISTEN_FDNAMES: names } = process.env;
  delete process.env.LISTEN_PID;
  delete process.env.LISTEN_FDS;
  delete process.env.LISTEN_FDNAMES;
  if (pid === undefined || count === undefined) return [];
  const bad = (what: string): Error => withCode(new Error(`socket activation: ${what}`), 'ERR_SOCKETSERVER_LISTEN_FDS');
  if (!/^[1-9][0-9]*$/.test(pid)) throw bad(`LISTEN_PID is not a process id: ${JSON.stringify(pid)}`);
  if (Number(pid) !== process.pid) return [];
  if (!/^[0-9]+$/.test(count) || Number(count) > 65536) throw bad(`LISTEN_FDS is not a count of descriptors: ${JSON.stringify(count)}`);
  const n = Number(count);
  const named = names === undefined || names === '' ? [] : names.split(':');
  if (named.length > 0 && named.length !== n) throw bad(`LISTEN_FDNAMES has ${named.length} names for ${n} descriptors`);
  const fds: ListenFd[] = [];
  for (let i = 0; i < n; i++) {
    const fd = LISTEN_FDS_START + i;
    const kind = kindOf(fd) ?? { family: 0, type: 0 };
    fds.push({ fd, name: named[i] ?? 'unknown', ...kind });
  }
  return fds;
}

/** The `fileno` option, checked: an integer descriptor number. */
export function checkFileno(value: unknown): number {
  if (typeof value !== 'number') throw invalidArgType(`fileno must be a descriptor number, got ${typeof value}`);
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) throw outOfRange(`fileno must be an integer >= 0, got ${value}`);
  return value;
}

/**
 * Makes descriptor `fd` the server's socket (the `fileno` option): it must
 * be of the server's kind (an IPv4 or IPv6 socket for an internet server,
 * so that TCPServer takes the dual-stack socket systemd makes for
 * `ListenStream=8000`; AF_UNIX for a Unix one), of its type, and listening
 * if a stream socket. Returns the handle and the socket's real family.
 * On a TypeError the descriptor is left open, the caller's.
 */
export function adoptServerSocket(transport: Transport, fd: number, family: number, type: number): { handle: ListenerHandle; family: number } {
  if (transport.adoptListener === undefined) throw unsupported(`fileno (adopting a descriptor) on the ${transport.name} transport`);
  const kind = loadAddon().socketKind(fd);
  const inet = (f: number): boolean => f === constants.AF_INET || f === constants.AF_INET6;
  const familyOk = kind.family === family || (inet(family) && inet(kind.family));
  const typeName = (t: number): string => (t === constants.SOCK_STREAM ? 'SOCK_STREAM' : t === constants.SOCK_DGRAM ? 'SOCK_DGRAM' : `type ${t}`);
  const familyName = (f: number): string => (f === constants.AF_UNIX ? 'AF_UNIX' : inet(f) ? 'AF_INET/AF_INET6' : `family ${f}`);
  if (!familyOk || kind.type !== type) {
    throw invalidArgValue(
      `fileno ${fd} is a socket of ${familyName(kind.family)}, ${typeName(kind.type)}; this server needs ${familyName(family)}, ${typeName(type)}`,
    );
  }
  if (type === constants.SOCK_STREAM && !kind.listening) {
    throw invalidArgValue(`fileno ${fd} is a stream socket that is not listening (bind and listen() it first, as systemd does)`);
  }
  return { handle: transport.adoptListener(kind.family, type, fd), family: kind.family };
}
