#!/usr/bin/python3
"""Test tool: a hostile partner CA for `cmpca cross-certify request`. It
answers every POST with a CMP error message whose statusString is TEXT
(terminal escapes included), either unprotected or signed (SHA-256 with
the EC key KEY, through `openssl dgst`) with the sender CERT's subject.

usage: fakepartner.py PORT CERT KEY unsigned|signed TEXT

Serves on 127.0.0.1:PORT until killed.
"""
import http.server
import subprocess
import sys


def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        head = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, 'big')
        head = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + head + content


def seq(*parts):
    return tlv(0x30, b''.join(parts))


def read_tlv(buf, off):
    """Returns (tag, start of content, end of content) at off."""
    tag = buf[off]
    n = buf[off + 1]
    off += 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(buf[off:off + k], 'big')
        off += k
    return tag, off, off + n


def subject_der(cert_pem):
    der = subprocess.run(['openssl', 'x509', '-in', cert_pem, '-outform',
                          'DER'], check=True, capture_output=True).stdout
    _, c, _ = read_tlv(der, 0)          # Certificate
    _, off, end = read_tlv(der, c)      # TBSCertificate
    fields = []
    while off < end:
        tag, s, e = read_tlv(der, off)
        fields.append(der[off:e])
        off = e
    if fields[0][0] == 0xa0:            # [0] version
        fields = fields[1:]
    return fields[4]                    # serial, alg, issuer, validity, subject


def answer(cert, key, mode, text):
    name = subject_der(cert)
    ecdsa_sha256 = seq(tlv(0x06, bytes.fromhex('2a8648ce3d040302')))
    header = [tlv(0x02, b'\x02'),                      # pvno 2
              tlv(0xa4, name),                         # sender
              tlv(0xa4, seq())]                        # recipient: empty
    if mode == 'signed':
        header.append(tlv(0xa1, ecdsa_sha256))         # protectionAlg
    header.append(tlv(0xa4, tlv(0x04, b'\x01' * 16)))  # transactionID
    header.append(tlv(0xa5, tlv(0x04, b'\x02' * 16)))  # senderNonce
    status = seq(tlv(0x02, b'\x02'),                   # rejection
                 seq(tlv(0x0c, text.encode('utf-8'))),
                 tlv(0x03, b'\x07\x80'))               # badAlg
    body = tlv(0xb7, seq(status))                      # [23] error
    hdr = seq(*header)
    parts = [hdr, body]
    if mode == 'signed':
        sig = subprocess.run(['openssl', 'dgst', '-sha256', '-sign', key],
                             input=seq(hdr, body), check=True,
                             capture_output=True).stdout
        parts.append(tlv(0xa0, tlv(0x03, b'\x00' + sig)))
    return seq(*parts)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get('Content-Length', '0')))
        body = answer(*sys.argv[2:6])
        self.send_response(200)
        self.send_header('Content-Type', 'application/pkixcmp')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == '__main__':
    if len(sys.argv) != 6 or sys.argv[4] not in ('signed', 'unsigned'):
        sys.stderr.write(__doc__)
        sys.exit(2)
    http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])),
                           Handler).serve_forever()
