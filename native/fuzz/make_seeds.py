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


# fuzz_proxy_protocol: 1 byte of options (bits 0-1: mode 0 v1, 1 v2, 2 any;
# bits 2-3: v2 length cap 0 default, 1 64, 2 300, 3 65535), 1 byte seeding
# the split between Feed() calls, then the bytes a connection starts with
# (the header, often followed by the request's first bytes).
V1, V2, ANY = 0, 1, 2
PP2_SIG = b'\r\n\r\n\x00\r\nQUIT\n'


def pp(mode, data, cap=0, split=0x5a):
    return bytes([mode | cap << 2, split]) + data


def tlv(t, value):
    return bytes([t]) + struct.pack('!H', len(value)) + value


def v2(ver_cmd, fam, body):
    return PP2_SIG + bytes([ver_cmd, fam]) + struct.pack('!H', len(body)) + body


def inet4(src, dst, sport, dport):
    return socket.inet_pton(socket.AF_INET, src) + socket.inet_pton(socket.AF_INET, dst) + struct.pack('!HH', sport, dport)


def inet6(src, dst, sport, dport):
    return socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + struct.pack('!HH', sport, dport)


def unix(src, dst):
    return src.ljust(108, b'\0') + dst.ljust(108, b'\0')


def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xffffffff


def with_crc(header):
    """A complete v2 header with a PP2_TYPE_CRC32C TLV appended and filled in."""
    h = bytearray(header + tlv(0x03, bytes(4)))
    h[14:16] = struct.pack('!H', len(h) - 16)
    h[-4:] = struct.pack('!I', crc32c(bytes(h)))
    return bytes(h)


A4 = inet4('192.0.2.1', '198.51.100.2', 56324, 443)
SSL = (bytes([0x07]) + struct.pack('!I', 0) + tlv(0x21, b'TLSv1.3') + tlv(0x22, b'client.example')
       + tlv(0x23, b'TLS_AES_256_GCM_SHA384') + tlv(0x24, b'RSA-SHA256') + tlv(0x25, b'RSA2048'))
REQ = b'GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n'
for name, data in {
    # v1, as the spec writes it, then broken one way each.
    'v1-tcp4': pp(ANY, b'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n' + REQ),
    'v1-tcp4-v1-mode': pp(V1, b'PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n'),
    'v1-tcp6-longest': pp(ANY, b'PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff '
                          b'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n' + REQ),
    'v1-tcp6-short': pp(ANY, b'PROXY TCP6 2001:db8::1 ::ffff:192.0.2.7 1 8080\r\nx'),
    'v1-tcp6-upper': pp(V1, b'PROXY TCP6 2001:DB8:0:0:0:0:0:1 1::1.2.3.4 1 2\r\n'),
    'v1-unknown': pp(ANY, b'PROXY UNKNOWN\r\n' + REQ),
    'v1-unknown-worst': pp(V1, b'PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff '
                           b'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n'),
    'v1-too-long': pp(ANY, b'PROXY UNKNOWN ' + b'x' * 92 + b'\r\n'),
    'v1-bare-lf': pp(ANY, b'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'),
    'v1-bare-cr': pp(ANY, b'PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n'),
    'v1-leading-zero-port': pp(ANY, b'PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n'),
    'v1-leading-zero-addr': pp(ANY, b'PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n'),
    'v1-port-range': pp(ANY, b'PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n'),
    'v1-family-mismatch': pp(ANY, b'PROXY TCP4 ::1 5.6.7.8 1 2\r\n'),
    'v1-two-spaces': pp(ANY, b'PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n'),
    'v1-extra-field': pp(ANY, b'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n'),
    'v1-bad-token': pp(ANY, b'PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n'),
    'v1-truncated': pp(ANY, b'PROXY TCP4 1.2.3.4 5.6.7.8 1'),
    'not-proxy-http': pp(ANY, REQ),
    'v1-in-v2-mode': pp(V2, b'PROXY UNKNOWN\r\n'),
    # v2, every family, and the TLVs HAProxy can send.
    'v2-tcp4': pp(ANY, v2(0x21, 0x11, A4) + b'\x16\x03\x01\x00\x05hello'),
    'v2-udp4': pp(V2, v2(0x21, 0x12, inet4('10.0.0.1', '10.0.0.2', 53, 5353)) + b'dns'),
    'v2-tcp6': pp(ANY, v2(0x21, 0x21, inet6('2001:db8::1', '::ffff:192.0.2.9', 1, 65535))),
    'v2-udp6': pp(ANY, v2(0x21, 0x22, inet6('fe80::1', 'ff02::fb', 5353, 5353))),
    'v2-unix-stream': pp(ANY, v2(0x21, 0x31, unix(b'/run/haproxy/client.sock', b'\0abstract'))),
    'v2-unix-dgram-108': pp(ANY, v2(0x21, 0x32, unix(b'', b'/' + b'p' * 107))),
    'v2-local': pp(ANY, v2(0x20, 0x00, b'') + REQ),
    'v2-local-inet-tlvs': pp(ANY, v2(0x20, 0x11, A4 + tlv(0x02, b'h'))),
    'v2-proxy-unspec': pp(ANY, v2(0x21, 0x00, tlv(0x04, b''))),
    'v2-all-tlvs-crc': pp(ANY, with_crc(v2(0x21, 0x11, A4 + tlv(0x01, b'h2') + tlv(0x02, b'www.example.com')
                                          + tlv(0x05, b'abc-123') + tlv(0x20, SSL) + tlv(0x30, b'blue')
                                          + tlv(0x04, bytes(3)) + tlv(0xE0, b'custom'))) + REQ),
    'v2-unique-id-128': pp(ANY, v2(0x21, 0x11, A4 + tlv(0x05, b'u' * 128))),
    'v2-unique-id-129': pp(ANY, v2(0x21, 0x11, A4 + tlv(0x05, b'u' * 129))),
    'v2-crc-bad': pp(ANY, with_crc(v2(0x21, 0x11, A4))[:-1] + b'\0'),
    'v2-crc-short': pp(ANY, v2(0x21, 0x00, tlv(0x03, b'abc'))),
    'v2-tlv-overrun': pp(ANY, v2(0x21, 0x11, A4 + b'\x02\x00\x05a')),
    'v2-tlv-stray': pp(ANY, v2(0x21, 0x11, A4 + b'\x04\x00')),
    'v2-tlv-dup': pp(ANY, v2(0x21, 0x11, A4 + tlv(0x02, b'a') + tlv(0x02, b'b'))),
    'v2-ssl-short': pp(ANY, v2(0x21, 0x11, A4 + tlv(0x20, bytes(4)))),
    'v2-ssl-sub-overrun': pp(ANY, v2(0x21, 0x11, A4 + tlv(0x20, bytes(5) + b'\x21\x00\x09x'))),
    'v2-bad-version': pp(ANY, v2(0x11, 0x11, A4)),
    'v2-bad-command': pp(ANY, v2(0x22, 0x11, A4)),
    'v2-bad-family': pp(ANY, v2(0x21, 0x41, A4)),
    'v2-bad-transport': pp(ANY, v2(0x21, 0x13, A4)),
    'v2-family-0x10': pp(ANY, v2(0x21, 0x10, A4)),
    'v2-short-for-family': pp(ANY, v2(0x21, 0x21, A4)),
    'v2-big-noop': pp(ANY, v2(0x21, 0x11, A4 + tlv(0x04, bytes(1500))) + REQ),
    'v2-over-cap-64': pp(ANY, v2(0x21, 0x11, A4 + tlv(0x04, bytes(60))), cap=1),
    'v2-in-v1-mode': pp(V1, v2(0x21, 0x11, A4)),
    'v2-truncated': pp(ANY, v2(0x21, 0x21, inet6('::1', '::2', 1, 2))[:40]),
}.items():
    write('fuzz_proxy_protocol', name, data)

# Headers HAProxy 2.6.12 (Debian 12) sent to its servers, captured with the
# request bytes that followed ("hello\n") where there were some: a capture
# listener behind frontends on IPv4, IPv6 (::1), a Unix socket and TLS
# (ALPN h2, a client certificate with CN client.example, SNI
# www.example.com), each backend's server line as the comment says.
HAPROXY = {
    # send-proxy, client over IPv4
    'haproxy-v1-tcp4': (
        '50524f58592054435034203132372e302e302e31203132372e302e302e3120343331363820383030310d0a68'
        '656c6c6f0a'
    ),
    # send-proxy, client over IPv6 (::1)
    'haproxy-v1-tcp6': '50524f58592054435036203a3a31203a3a3120333838313820383030320d0a68656c6c6f0a',
    # send-proxy-v2
    'haproxy-v2-tcp4': '0d0a0d0a000d0a515549540a2111000c7f0000017f0000018b281f4368656c6c6f0a',
    # send-proxy-v2, client over IPv6
    'haproxy-v2-tcp6': (
        '0d0a0d0a000d0a515549540a2121002400000000000000000000000000000001000000000000000000000000'
        '00000001ee201f4468656c6c6f0a'
    ),
    # send-proxy-v2 proxy-v2-options crc32c,unique-id
    'haproxy-v2-crc-uniqueid': (
        '0d0a0d0a000d0a515549540a211100447f0000017f000001b1a41f450300042cc85fe505002e374630303030'
        '30313a423141345f37463030303030313a314634355f36423134454641465f303030343a3033324568656c6c'
        '6f0a'
    ),
    # send-proxy-v2 proxy-v2-options crc32c, client on a Unix socket: LOCAL, UNSPEC
    'haproxy-v2-unix-client-local': '0d0a0d0a000d0a515549540a20000007030004a9b87e8f68656c6c6f0a',
    # send-proxy, client on a Unix socket: UNKNOWN
    'haproxy-v1-unix-client-unknown': '50524f585920554e4b4e4f574e0d0a68656c6c6f0a',
    # send-proxy-v2-ssl, TLS client with ALPN h2 and a certificate
    'haproxy-v2-ssl': (
        '0d0a0d0a000d0a515549540a211100237f0000017f000001e7d220fb010002683220000f0700000000210007'
        '544c5376312e3368656c6c6f0a'
    ),
    # send-proxy-v2-ssl-cn
    'haproxy-v2-ssl-cn': (
        '0d0a0d0a000d0a515549540a211100347f0000017f000001c87a20fc01000268322000200700000000210007'
        '544c5376312e3322000e636c69656e742e6578616d706c6568656c6c6f0a'
    ),
    # send-proxy-v2 proxy-v2-options ssl,cert-cn,ssl-cipher,cert-sig,cert-key,authority,crc32c,unique-id
    'haproxy-v2-ssl-all': (
        '0d0a0d0a000d0a515549540a211100ae7f0000017f000001a5e820fd030004a6de2ef2010002683202000f77'
        '77772e6578616d706c652e636f6d05002e37463030303030313a413545385f37463030303030313a32304644'
        '5f36423134454641465f303030393a303332452000500700000000210007544c5376312e3322000e636c6965'
        '6e742e6578616d706c652500075253413230343824000a5253412d534841323536230016544c535f4145535f'
        '3235365f47434d5f53484133383468656c6c6f0a'
    ),
    # send-proxy-v2 check check-send-proxy: a health check
    'haproxy-v2-check-local': '0d0a0d0a000d0a515549540a20000000',
    # send-proxy check check-send-proxy: a health check
    'haproxy-v1-check': '50524f58592054435034203132372e302e302e31203132372e302e302e3120353738303820393031320d0a',
    # send-proxy-v2 proxy-v2-options crc32c check check-send-proxy
    'haproxy-v2-check-local-crc': '0d0a0d0a000d0a515549540a20000007030004a9b87e8f',
    # accept-proxy then send-proxy-v2 proxy-v2-options crc32c, given "PROXY TCP6 2001:db8::1 2001:db8:ffff::2 51234 443"
    'haproxy-v2-relayed-tcp6-crc': (
        '0d0a0d0a000d0a515549540a2121002b20010db800000000000000000000000120010db8ffff000000000000'
        '00000002c82201bb030004e47a715c68656c6c6f0a'
    ),
    # accept-proxy then send-proxy, given the same line
    'haproxy-v1-relayed-tcp6': (
        '50524f5859205443503620323030313a6462383a3a3120323030313a6462383a666666663a3a322035313233'
        '34203434330d0a68656c6c6f0a'
    ),
}
for name, data in HAPROXY.items():
    write('fuzz_proxy_protocol', name, pp(ANY, bytes.fromhex(''.join(data))))
