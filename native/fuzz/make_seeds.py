#!/usr/bin/env python3
"""Writes the seed corpus native/fuzz/corpus/<target>/ (committed; rerun
after changing an input format). Crash inputs found by scripts/fuzz.sh are
added there by hand, as crash-<what>, and are not touched by this script."""
import os
import socket
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


# fuzz_unix_path: the name's bytes.
for name, data in {
    'path': b'/tmp/socketserver-test/server.sock',
    'relative': b'server.sock',
    'unnamed': b'',
    'abstract': b'\0socketserver',
    'abstract-empty': b'\0',
    'abstract-nuls': b'\0a\0b\0',
    'abstract-108': b'\0' + b'a' * 107,
    'abstract-109': b'\0' + b'a' * 108,
    'path-107': b'/' + b'p' * 106,
    'path-108': b'/' + b'p' * 107,
    'path-nul': b'/tmp/a\0b',
    'utf8': '/tmp/\u00e9\u4e2d.sock'.encode(),
}.items():
    write('fuzz_unix_path', name, data)


# fuzz_inet: selector (bit 0: IPv6; (bits 1..) % 3: flowinfo/scopeId given),
# port, flowinfo, scopeId as doubles, then the host.
def inet(v6, extra, port, flow, scope, host):
    return bytes([(1 if v6 else 0) | (extra << 1)]) + struct.pack('<3d', port, flow, scope) + host


for name, data in {
    'v4': inet(False, 0, 8080, 0, 0, b'127.0.0.1'),
    'v4-any': inet(False, 0, 0, 0, 0, b''),
    'v4-broadcast': inet(False, 0, 9, 0, 0, b'<broadcast>'),
    'v4-name': inet(False, 0, 80, 0, 0, b'localhost'),
    'v4-nul': inet(False, 0, 80, 0, 0, b'127.0.0.1\0evil'),
    'v4-port-nan': inet(False, 0, float('nan'), 0, 0, b'10.0.0.1'),
    'v4-port-big': inet(False, 0, 65536, 0, 0, b'10.0.0.1'),
    'v4-port-frac': inet(False, 0, 1.5, 0, 0, b'10.0.0.1'),
    'v4-port-neg': inet(False, 0, -1, 0, 0, b'10.0.0.1'),
    'v4-port-inf': inet(False, 0, float('inf'), 0, 0, b'10.0.0.1'),
    'v4-octal': inet(False, 0, 1, 0, 0, b'010.1.1.1'),
    'v6': inet(True, 0, 8080, 0, 0, b'::1'),
    'v6-any': inet(True, 0, 0, 0, 0, b''),
    'v6-flow-scope': inet(True, 2, 443, 0xfffff, 4294967295, b'fe80::1'),
    'v6-flow-big': inet(True, 1, 443, 0x100000, 0, b'::1'),
    'v6-scope-big': inet(True, 2, 443, 0, 4294967296, b'::1'),
    'v6-scope-name': inet(True, 0, 443, 0, 0, b'fe80::1%lo'),
    'v6-mapped': inet(True, 0, 53, 0, 0, b'::ffff:192.0.2.1'),
    'v6-full': inet(True, 0, 53, 0, 0, b'2001:0db8:0000:0000:0000:ff00:0042:8329'),
    'v6-bad': inet(True, 0, 53, 0, 0, b'1:2:3:4:5:6:7:8:9'),
}.items():
    write('fuzz_inet', name, data)


# fuzz_sockaddr: socklen_t, selector (0 AF_INET, 1 AF_INET6, 2 AF_UNIX,
# 3 raw family bytes; bit 7: length taken as is), then the sockaddr bytes.
def sa(length, selector, body):
    return struct.pack('<I', length) + bytes([selector]) + body


sin = struct.pack('<H', socket.AF_INET) + struct.pack('!H', 8080) + socket.inet_pton(socket.AF_INET, '127.0.0.1') + bytes(8)
sin6 = (struct.pack('<H', socket.AF_INET6) + struct.pack('!H', 443) + struct.pack('!I', 0x12345)
        + socket.inet_pton(socket.AF_INET6, 'fe80::1') + struct.pack('<I', 2))
fam_unix = struct.pack('<H', socket.AF_UNIX)
for name, data in {
    'in': sa(16, 0, sin),
    'in6': sa(28, 1, sin6),
    'un-path': sa(2 + 7, 2, fam_unix + b'/tmp/x\0'),
    'un-unnamed': sa(2, 2, fam_unix),
    'un-abstract': sa(2 + 5, 2, fam_unix + b'\0name'),
    'un-abstract-nuls': sa(2 + 6, 2, fam_unix + b'\0a\0b\0c'),
    'un-108-no-nul': sa(110, 2, fam_unix + b'p' * 108),
    'un-108-kernel-len': sa(111, 2, fam_unix + b'p' * 108 + b'\0'),
    'un-abstract-108': sa(110, 2, fam_unix + b'\0' + b'a' * 107),
    'un-len-storage': sa(128, 2, fam_unix + b'\0' + b'z' * 125),
    'un-len-huge': sa(0xffffffff, 0x82, fam_unix + b'\0abc'),
    'len-zero': sa(0, 3, bytes(16)),
    'raw-family': sa(16, 3, b'\xff\xff' + bytes(14)),
}.items():
    write('fuzz_sockaddr', name, data)


# fuzz_procmaps: /proc/self/maps text.
write('fuzz_procmaps', 'real', b'''00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/node
7f0a1c000000-7f0a1c021000 rw-p 00000000 00:00 0
7ffd5c1d3000-7ffd5c1f4000 rw-p 00000000 00:00 0                          [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
''')
write('fuzz_procmaps', 'no-newline', b'1000-2000 rw-p 00000000 00:00 0')
write('fuzz_procmaps', 'odd', b'\n\n-1-2\n+10-20\n0x10-0x20\n2000-1000\nzzzz\n1000-\n-\n')
