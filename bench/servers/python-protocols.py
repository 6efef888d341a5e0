"""CPython's socketserver running the protocols of bench/servers/http.js,
resp.js, dns.js and burst.js, with the same logic.

  python3 bench/servers/python-protocols.py --proto http|resp|dns|burst
                                            [--host 127.0.0.1] [--port 0]

http: ThreadingTCPServer + StreamRequestHandler, rfile.readline(LINE_LIMIT)
  for the request line and headers up to the empty line, wfile.write(RESPONSE)
  (a fixed 200 with Content-Length), while the connection is kept alive.
resp: ThreadingTCPServer + StreamRequestHandler, multibulk commands read with
  rfile.readline() / rfile.read(len + 2), SET/GET on a dict, PING, CONFIG GET;
  one wfile.write() per reply.
dns: UDPServer + BaseRequestHandler, one A record (127.0.0.1) per A query.
burst: UDPServer + BaseRequestHandler, one os.write() of each message to
  /dev/null (opened once), counted; SIGUSR2 prints "COUNT <n> <t>"
  (t: time.monotonic_ns() of the last message, 0 before any), and so does
  SIGTERM before exiting.

request_queue_size 1024, allow_reuse_address; the stream handlers set
disable_nagle_algorithm (TCP_NODELAY), as the JS servers do. Prints "READY <port>" once
listening; exits 0 on SIGTERM/SIGINT. No per-request logging.
"""
import argparse
import os
import re
import signal
import socketserver
import struct
import sys
import threading
import time

# --------------------------------------------------------------------------
# http

BODY = b"Hello, World!"
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(BODY)) + BODY
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
LINE_LIMIT = 8192


def line_text(line):
    if not line.endswith(b"\n"):
        return None
    return line[:-2] if line.endswith(b"\r\n") else line[:-1]


def parse_request_line(s):
    parts = s.split(b" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        return None
    if parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
        return None
    return {"keep_alive": parts[2] == b"HTTP/1.1", "content_length": 0}


def parse_header(s, req):
    name, sep, value = s.partition(b":")
    name = name.strip().lower()
    if not sep or not name:
        return False
    value = value.strip()
    if name == b"connection":
        v = value.lower()
        if v == b"close":
            req["keep_alive"] = False
        elif v == b"keep-alive":
            req["keep_alive"] = True
    elif name == b"content-length":
        if not re.fullmatch(rb"\d{1,15}", value):
            return False
        req["content_length"] = int(value)
    return True


class HTTPHandler(socketserver.StreamRequestHandler):
    disable_nagle_algorithm = True  # TCP_NODELAY, as the JS servers

    def handle(self):
        while True:
            first = self.rfile.readline(LINE_LIMIT)
            if not first:
                return
            text = line_text(first)
            if text == b"":
                continue
            req = text is not None and parse_request_line(text)
            if not req:
                self.wfile.write(BAD_REQUEST)
                return
            while True:
                line = self.rfile.readline(LINE_LIMIT)
                header = line_text(line)
                if header is None:
                    if line:
                        self.wfile.write(BAD_REQUEST)
                    return
                if header == b"":
                    break
                if not parse_header(header, req):
                    self.wfile.write(BAD_REQUEST)
                    return
            if req["content_length"]:
                body = self.rfile.read(req["content_length"])
                if len(body) < req["content_length"]:
                    return
            self.wfile.write(RESPONSE)
            if not req["keep_alive"]:
                return


# --------------------------------------------------------------------------
# resp

RESP_LINE_LIMIT = 64
MAX_ARGS = 1024 * 1024
MAX_BULK = 512 * 1024 * 1024
CONFIG = {b"save": b"", b"appendonly": b"no"}
store = {}


def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


def error(msg):
    return b"-ERR " + msg + b"\r\n"


def execute(args):
    if not args:
        return error(b"empty command")
    cmd = args[0].upper()
    if cmd == b"SET":
        if len(args) != 3:
            return error(b"wrong number of arguments for 'set' command")
        store[args[1]] = args[2]
        return b"+OK\r\n"
    if cmd == b"GET":
        if len(args) != 2:
            return error(b"wrong number of arguments for 'get' command")
        v = store.get(args[1])
        return b"$-1\r\n" if v is None else bulk(v)
    if cmd == b"PING":
        if len(args) == 1:
            return b"+PONG\r\n"
        if len(args) == 2:
            return bulk(args[1])
        return error(b"wrong number of arguments for 'ping' command")
    if cmd == b"CONFIG":
        if len(args) != 3 or args[1].upper() != b"GET":
            return error(b"only CONFIG GET name is supported")
        name = args[2].lower()
        if name not in CONFIG:
            return b"*0\r\n"
        return b"*2\r\n" + bulk(name) + bulk(CONFIG[name])
    return error(b"unknown command '" + cmd[:64] + b"'")


def header(line, kind, limit):
    if len(line) < 4 or line[:1] != kind or not line.endswith(b"\r\n"):
        return None
    s = line[1:-2]
    if not s.isdigit():
        return None
    v = int(s)
    return v if v <= limit else None


class RESPHandler(socketserver.StreamRequestHandler):
    disable_nagle_algorithm = True  # TCP_NODELAY, as the JS servers

    def handle(self):
        while True:
            line = self.rfile.readline(RESP_LINE_LIMIT)
            if not line:
                return
            n = header(line, b"*", MAX_ARGS)
            if n is None:
                self.wfile.write(b"-ERR Protocol error\r\n")
                return
            args = []
            for _ in range(n):
                length = header(self.rfile.readline(RESP_LINE_LIMIT), b"$", MAX_BULK)
                if length is None:
                    self.wfile.write(b"-ERR Protocol error\r\n")
                    return
                arg = self.rfile.read(length + 2)
                if len(arg) < length + 2:
                    return
                if arg[length:] != b"\r\n":
                    self.wfile.write(b"-ERR Protocol error\r\n")
                    return
                args.append(arg[:length])
            self.wfile.write(execute(args))


# --------------------------------------------------------------------------
# dns

TTL = 300
ANSWER = struct.pack(">HHHIH4B", 0xC00C, 1, 1, TTL, 4, 127, 0, 0, 1)
QR, AA, RD = 0x8000, 0x0400, 0x0100


def header_only(q, flags, rcode):
    return q[:2] + struct.pack(">HHHHH", QR | (flags & 0x7800) | (flags & RD) | rcode, 0, 0, 0, 0)


def answer(q):
    if len(q) < 12:
        return None
    flags, qdcount = struct.unpack_from(">HH", q, 2)
    if flags & QR:
        return None
    if (flags >> 11) & 0xF:
        return header_only(q, flags, 4)
    if qdcount != 1:
        return header_only(q, flags, 1)
    off = 12
    name_len = 0
    while True:
        if off >= len(q):
            return header_only(q, flags, 1)
        n = q[off]
        if n == 0:
            break
        name_len += n + 1
        if n > 63 or name_len > 254:
            return header_only(q, flags, 1)
        off += 1 + n
    off += 1
    if off + 4 > len(q):
        return header_only(q, flags, 1)
    qtype, qclass = struct.unpack_from(">HH", q, off)
    end = off + 4
    an = qtype in (1, 255) and qclass == 1
    reply = q[:2] + struct.pack(">HHHHH", QR | AA | (flags & RD), 1, 1 if an else 0, 0, 0) + q[12:end]
    return reply + ANSWER if an else reply


class DNSHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        reply = answer(data)
        if reply is not None:
            sock.sendto(reply, self.client_address)


# --------------------------------------------------------------------------
# burst

out_fd = os.open(os.devnull, os.O_WRONLY)
counter = {"count": 0, "last": 0}


class SyslogHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data = self.request[0]
        os.write(out_fd, data)
        counter["count"] += 1
        counter["last"] = time.monotonic_ns()


def print_count(*_):
    sys.stdout.write("COUNT %d %d\n" % (counter["count"], counter["last"]))
    sys.stdout.flush()


# --------------------------------------------------------------------------

PROTOS = {
    "http": (socketserver.ThreadingTCPServer, HTTPHandler),
    "resp": (socketserver.ThreadingTCPServer, RESPHandler),
    "dns": (socketserver.UDPServer, DNSHandler),
    "burst": (socketserver.UDPServer, SyslogHandler),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--proto", choices=sorted(PROTOS), required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    a = p.parse_args()
    base, handler = PROTOS[a.proto]

    class Server(base):
        request_queue_size = 1024
        allow_reuse_address = True
        daemon_threads = True  # keep-alive handlers never block the exit

        def handle_error(self, request, client_address):
            # Clients that leave mid-connection: ECONNRESET is expected.
            exc = sys.exc_info()[1]
            if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
                return
            super().handle_error(request, client_address)

    server = Server((a.host, a.port), handler)

    def stop(signum, frame):
        # shutdown() waits for serve_forever(), which runs in this thread:
        # call it from another one.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if a.proto == "burst":
        signal.signal(signal.SIGUSR2, print_count)
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        if a.proto == "burst":
            print_count()
    return 0


if __name__ == "__main__":
    sys.exit(main())
