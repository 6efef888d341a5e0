"""CPython's socketserver running the Python docs' uppercase handlers.

  python3 bench/servers/python-socketserver.py --class NAME --mode conn|keepalive|dgram
                                              (--host H --port P | --unix PATH)

--class: TCPServer, UDPServer, UnixStreamServer, UnixDatagramServer,
  ThreadingTCPServer, ThreadingUnixStreamServer, ForkingTCPServer (any
  class of the module works).
--mode conn: data = self.rfile.readline().strip(); self.wfile.write(data.upper())
--mode keepalive: for line in self.rfile: self.wfile.write(line.upper())
--mode dgram: data, sock = self.request; sock.sendto(data.strip().upper(), client)

--work ROUNDS / --heavy ROUNDS (the worker-thread workloads of issue 10):
  each line (keepalive, conn) first gets ROUNDS steps of 32-bit FNV-1a over
  its bytes, taken cyclically (--heavy ROUNDS for a line starting with
  b"heavy"): the same function as bench/servers/work.js, in pure Python
  (same rounds, same result), then the same uppercase reply.

request_queue_size 1024, allow_reuse_address. Prints "READY <port or path>"
once listening; exits 0 on SIGTERM/SIGINT. No per-request logging.
"""
import argparse
import os
import signal
import socketserver
import stat
import sys
import threading
from itertools import cycle, islice

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
WORK = 0
HEAVY = 0
_sink = 0


def fnv1a_rounds(line, rounds):
    """rounds FNV-1a steps over line's bytes, cyclically (bench/servers/work.js)."""
    h = FNV_OFFSET
    if not line:
        return h
    for b in islice(cycle(line), rounds):
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFF
    return h


def do_work(line):
    global _sink
    rounds = HEAVY if HEAVY and line.startswith(b"heavy") else WORK
    if rounds:
        _sink = (_sink + fnv1a_rounds(line, rounds)) & 0xFFFFFFFF


class ConnHandler(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline()
        if WORK or HEAVY:
            do_work(line)
        self.wfile.write(line.strip().upper())


class KeepaliveHandler(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            if WORK or HEAVY:
                do_work(line)
            self.wfile.write(line.upper())


class DgramHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data.strip().upper(), self.client_address)


HANDLERS = {"conn": ConnHandler, "keepalive": KeepaliveHandler, "dgram": DgramHandler}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--class", dest="cls", default="TCPServer")
    p.add_argument("--mode", choices=sorted(HANDLERS), default="conn")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--unix")
    p.add_argument("--work", type=int, default=0)
    p.add_argument("--heavy", type=int, default=0)
    a = p.parse_args()
    global WORK, HEAVY
    WORK, HEAVY = a.work, a.heavy

    base = getattr(socketserver, a.cls, None)
    if not isinstance(base, type) or not issubclass(base, socketserver.BaseServer):
        p.error(f"unknown server class {a.cls}")

    class Server(base):
        request_queue_size = 1024
        allow_reuse_address = True
        daemon_threads = True  # threading: keep-alive handlers never block the exit

        def handle_error(self, request, client_address):
            # Clients close connection-per-request sockets with a RST:
            # ECONNRESET is expected; keep stderr for real problems.
            exc = sys.exc_info()[1]
            if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
                return
            super().handle_error(request, client_address)

    if a.unix:
        try:
            if stat.S_ISSOCK(os.stat(a.unix).st_mode):
                os.unlink(a.unix)
        except FileNotFoundError:
            pass
        address = a.unix
    else:
        address = (a.host, a.port)

    server = Server(address, HANDLERS[a.mode])

    def stop(signum, frame):
        # shutdown() waits for serve_forever(), which runs in this thread:
        # call it from another one.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ready = server.server_address if a.unix else server.server_address[1]
    print(f"READY {ready}", flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        if a.unix:
            try:
                os.unlink(a.unix)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
