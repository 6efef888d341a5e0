/**
 * Helpers for the mix-in tests that involve other processes: clients that
 * run out of process (a forked child is a copy of the whole test process,
 * pending callbacks and timers included, so clients living in the server's
 * process would be copied into every child), and views of the process
 * table from /proc.
 */
import * as childProcess from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';

import { Address, HOST, SS, withTimeout } from './helpers';

/** False when the transport refuses ForkingMixIn (ERR_SOCKETSERVER_UNSUPPORTED), as API.md allows. */
export function forkSupported(ss: SS): boolean {
  try {
    const s = new ss.ForkingTCPServer([HOST, 0], ss.StreamRequestHandler, { bindAndActivate: false });
    void s.serverClose();
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_SOCKETSERVER_UNSUPPORTED') return false;
    throw error;
  }
}

// ---------------------------------------------------------------- /proc

export interface ProcInfo {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
}

/** Parses /proc/<pid>/stat; null when the process is gone. */
export function procStat(pid: number): ProcInfo | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const rest = text.slice(close + 2).split(' ');
  return { pid, comm: text.slice(open + 1, close), state: rest[0], ppid: Number(rest[1]) };
}

/** The children of `pid` (zombies included), by scanning /proc/<n>/stat for the parent pid. */
export function childrenOf(pid: number): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const info = procStat(Number(name));
    if (info !== null && info.ppid === pid) out.push(info);
  }
  return out;
}

/** The real pid of the calling process, from procfs (process.pid is a cached value). */
export function realPid(): number {
  return Number(fs.readlinkSync('/proc/self'));
}

// ---------------------------------------------------------------- processes we start

export type ExitStatus = [code: number | null, signal: NodeJS.Signals | null];

/** Resolves with a child_process's exit status (bounded). */
export function exitOf(child: childProcess.ChildProcess, ms = 10000): Promise<ExitStatus> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve([child.exitCode, child.signalCode]);
  return withTimeout(
    new Promise<ExitStatus>((resolve) => child.once('exit', (code, signal) => resolve([code, signal]))),
    ms,
    `exit of process ${child.pid}`,
  );
}

/** Kills a process we started (by its pid) unless it has already exited. */
export async function killAndWait(child: childProcess.ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  try {
    await exitOf(child, 5000);
  } catch {
    /* cleanup */
  }
}

// ---------------------------------------------------------------- the out-of-process client

/**
 * A python3 client process, driven by JSON lines on its stdin; it answers
 * each command with one JSON line, in order. Sockets time out after 10 s.
 */
const CLIENT_PY = String.raw`
import json, os, select, socket, sys, time

socks = {}
bufs = {}

def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()

def addr_of(a):
    return a if isinstance(a, str) else (a[0], a[1])

def family_of(a):
    return socket.AF_UNIX if isinstance(a, str) else socket.AF_INET

def stream(a):
    s = socket.socket(family_of(a), socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(addr_of(a))
    return s

def readline(i):
    s = socks[i]
    while b"\n" not in bufs[i]:
        d = s.recv(65536)
        if not d:
            break
        bufs[i] += d
    n = bufs[i].find(b"\n")
    n = len(bufs[i]) if n < 0 else n + 1
    line, bufs[i] = bufs[i][:n], bufs[i][n:]
    return line

def read_to_eof(s, buf=b""):
    while True:
        d = s.recv(65536)
        if not d:
            return buf
        buf += d

def forked_children(spid):
    # Children of spid with spid's command name (a forked copy), zombies included.
    comm = None
    try:
        with open("/proc/%d/stat" % spid) as f:
            t = f.read()
        comm = t[t.index("(") + 1:t.rindex(")")]
    except OSError:
        return []
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                t = f.read()
        except OSError:
            continue
        rest = t[t.rindex(")") + 2:].split(" ")
        if int(rest[1]) == spid and t[t.index("(") + 1:t.rindex(")")] == comm:
            kids.append((int(name), rest[0]))
    return kids

def run(cmd):
    op = cmd["op"]
    if op == "connect":
        socks[cmd["id"]] = stream(cmd["addr"])
        bufs[cmd["id"]] = b""
        return {}
    if op == "send":
        socks[cmd["id"]].sendall(cmd["data"].encode())
        return {}
    if op == "readline":
        return {"data": readline(cmd["id"]).decode()}
    if op == "readall":
        i = cmd["id"]
        data = read_to_eof(socks[i], bufs[i])
        bufs[i] = b""
        return {"data": data.decode()}
    if op == "close":
        socks.pop(cmd["id"]).close()
        bufs.pop(cmd["id"], None)
        return {}
    if op == "exchange":
        # Connect, send, half-close if asked, read to EOF.
        with stream(cmd["addr"]) as s:
            s.sendall(cmd["data"].encode())
            if cmd.get("halfClose"):
                s.shutdown(socket.SHUT_WR)
            return {"data": read_to_eof(s).decode()}
    if op == "stream_examine":
        # CPython's SocketServerTest.stream_examine.
        with stream(cmd["addr"]) as s:
            s.sendall(cmd["data"].encode())
            buf = data = s.recv(100)
            while data and b"\n" not in buf:
                data = s.recv(100)
                buf += data
            return {"data": buf.decode()}
    if op == "dgram_examine":
        # CPython's SocketServerTest.dgram_examine.
        a = cmd["addr"]
        with socket.socket(family_of(a), socket.SOCK_DGRAM) as s:
            s.settimeout(10)
            if isinstance(a, str):
                s.bind(cmd["bind"])
            s.sendto(cmd["data"].encode(), addr_of(a))
            buf = data = s.recv(100)
            while data and b"\n" not in buf:
                data = s.recv(100)
                buf += data
            return {"data": buf.decode()}
    if op == "dgram_burst":
        # n datagram sockets send at once, then each waits for its reply.
        a = cmd["addr"]
        socks_ = []
        try:
            for i in range(cmd["n"]):
                s = socket.socket(family_of(a), socket.SOCK_DGRAM)
                s.settimeout(10)
                if isinstance(a, str):
                    s.bind(cmd["bind"] + "." + str(i))
                socks_.append(s)
            for i, s in enumerate(socks_):
                s.sendto(("%s %d\n" % (cmd["data"], i)).encode(), addr_of(a))
            return {"replies": [s.recv(65536).decode() for s in socks_]}
        finally:
            for s in socks_:
                s.close()
    if op == "hammer":
        # rounds of n connections at once: each sends a line, reads a line.
        replies = []
        for r in range(cmd["rounds"]):
            conns = [stream(cmd["addr"]) for _ in range(cmd["n"])]
            for i, s in enumerate(conns):
                s.sendall(("%s %d %d\n" % (cmd["data"], r, i)).encode())
            for s in conns:
                buf = b""
                while b"\n" not in buf:
                    d = s.recv(65536)
                    if not d:
                        break
                    buf += d
                replies.append(buf.decode())
                s.close()
        return {"replies": replies}
    if op == "concurrent":
        # n connections at once, each sends data and reads one line; while
        # waiting, counts the server's forked children (zombies included).
        spid = cmd["serverPid"]
        conns = [stream(cmd["addr"]) for _ in range(cmd["n"])]
        for s in conns:
            s.sendall(cmd["data"].encode())
        replies = [b""] * len(conns)
        pending = set(range(len(conns)))
        most = 0
        samples = 0
        seen = set()
        deadline = time.monotonic() + 15
        while pending and time.monotonic() < deadline:
            kids = forked_children(spid)
            samples += 1
            most = max(most, len(kids))
            seen.update(k for k, _ in kids)
            r, _, _ = select.select([conns[i] for i in pending], [], [], 0.002)
            for s in r:
                i = conns.index(s)
                d = s.recv(65536)
                replies[i] += d
                if not d or b"\n" in replies[i]:
                    pending.discard(i)
        for s in conns:
            s.close()
        return {"replies": [r.decode() for r in replies], "maxChildren": most, "samples": samples,
                "seen": sorted(seen), "unanswered": len(pending)}
    if op == "children":
        return {"children": forked_children(cmd["serverPid"])}
    raise ValueError("unknown op %r" % op)

for line in sys.stdin:
    cmd = json.loads(line)
    try:
        res = run(cmd)
        res["ok"] = True
    except Exception as e:
        res = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    out(res)
`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Reply = any;

export class RemoteClient {
  readonly proc: childProcess.ChildProcess;
  private pending: Array<{ resolve(v: Reply): void; reject(e: unknown): void }> = [];
  private out = '';
  private err = '';
  private exitStatus: ExitStatus | null = null;

  constructor() {
    this.proc = childProcess.spawn('python3', ['-u', '-c', CLIENT_PY], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stdout!.on('data', (chunk: string) => {
      this.out += chunk;
      for (let i = this.out.indexOf('\n'); i >= 0; i = this.out.indexOf('\n')) {
        const line = this.out.slice(0, i);
        this.out = this.out.slice(i + 1);
        const waiter = this.pending.shift();
        if (!waiter) continue;
        const reply = JSON.parse(line) as Reply;
        if (reply.ok) waiter.resolve(reply);
        else waiter.reject(new Error(`client: ${reply.error}`));
      }
    });
    this.proc.stderr!.on('data', (chunk: string) => {
      this.err += chunk;
    });
    this.proc.stdin!.on('error', () => undefined);
    // Only the 'exit' event settles what is pending, never the pipes' EOF:
    // in a forked copy of this process the pipes are dead sockets, and a
    // copy must never see its client "finish".
    this.proc.on('exit', (code, signal) => {
      this.exitStatus = [code, signal];
      const waiters = this.pending;
      this.pending = [];
      for (const w of waiters) w.reject(new Error(`client process exited (${code}, ${signal}): ${this.err}`));
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** Sends one command; resolves with its reply. */
  call(cmd: Record<string, unknown>, ms = 15000): Promise<Reply> {
    if (this.exitStatus !== null) return Promise.reject(new Error(`client process has exited: ${this.err}`));
    const p = new Promise<Reply>((resolve, reject) => this.pending.push({ resolve, reject }));
    this.proc.stdin!.write(`${JSON.stringify(cmd)}\n`);
    return withTimeout(p, ms, `client command ${JSON.stringify(cmd)}`);
  }

  connect(id: number, addr: Address): Promise<Reply> {
    return this.call({ op: 'connect', id, addr });
  }
  send(id: number, data: string): Promise<Reply> {
    return this.call({ op: 'send', id, data });
  }
  async readline(id: number): Promise<string> {
    return (await this.call({ op: 'readline', id })).data as string;
  }
  async readall(id: number): Promise<string> {
    return (await this.call({ op: 'readall', id })).data as string;
  }
  closeConn(id: number): Promise<Reply> {
    return this.call({ op: 'close', id });
  }
  async exchange(addr: Address, data: string, halfClose = false): Promise<string> {
    return (await this.call({ op: 'exchange', addr, data, halfClose })).data as string;
  }

  /** Ends the client (stdin EOF) and waits for it to exit; kills it if it does not. */
  async close(): Promise<void> {
    if (this.exitStatus !== null) return;
    this.proc.stdin!.end();
    try {
      await exitOf(this.proc, 5000);
    } catch {
      await killAndWait(this.proc);
    }
  }
}

/** Runs `fn` with a fresh RemoteClient, always closing it. */
export async function withClient<T>(fn: (c: RemoteClient) => Promise<T>): Promise<T> {
  const c = new RemoteClient();
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

// ---------------------------------------------------------------- programs (examples, the CLI)

/** A port free a moment ago, for a program that binds it itself. */
export function freePort(kind: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  return new Promise((resolve, reject) => {
    if (kind === 'udp') {
      const s = dgram.createSocket('udp4');
      s.on('error', reject);
      s.bind(0, HOST, () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
      return;
    }
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, HOST, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface Program {
  child: childProcess.ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/**
 * Starts `command args` (node itself when command is null) and resolves
 * once `ready` matches what it wrote to stderr or stdout (bounded by `ms`);
 * rejects if it exits first.
 */
export function startProgram(
  command: string | null,
  args: string[],
  { env = {}, cwd, ready, ms = 10_000, stdio = [] }: { env?: NodeJS.ProcessEnv; cwd?: string; ready: RegExp; ms?: number; stdio?: number[] },
): Promise<Program> {
  const child = childProcess.spawn(command ?? process.execPath, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', ...stdio],
  });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`not ready within ${ms} ms: ${err}${out}`));
    }, ms);
    const check = (): void => {
      if (ready.test(err) || ready.test(out)) {
        clearTimeout(timer);
        resolve({ child, stdout: () => out, stderr: () => err, exited });
      }
    };
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      check();
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      check();
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready: ${err}`));
    });
  });
}

/** Sends `signal` and resolves with the exit code (bounded by 15 s). */
export async function stopProgram(program: Program, signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
  program.child.kill(signal);
  return withTimeout(program.exited, 15_000, `exit after ${signal}`);
}

/** Resolves once what the program wrote to stderr matches `pattern` (bounded by `ms`). */
export function waitForStderr(program: Program, pattern: RegExp, ms = 10_000): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve) => {
      const check = (): void => {
        if (pattern.test(program.stderr())) {
          program.child.stderr!.off('data', check);
          resolve();
        }
      };
      // After the program's own listener (startProgram's), which appends to stderr().
      program.child.stderr!.on('data', check);
      check();
    }),
    ms,
    `stderr to match ${pattern}`,
  );
}
