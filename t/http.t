#!/usr/bin/python3
# The HTTP request parser (http.h) on its own, through t/bin/httptest:
# whole requests however they are cut, the query dropped, CRLF or bare LF,
# malformed request lines and headers refused, heads past the limit
# refused, an incomplete head waiting for more.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401

TOOL = os.path.join(TBIN, 'httptest')
if not os.access(TOOL, os.X_OK):
    skip_all('t/bin/httptest not built')


def parse(req, chunk=4096):
    r = run([TOOL, str(chunk)], input=req, timeout=30)
    return r.stdout.decode().split(' ')[0:-1] if r.returncode == 0 else ['exit', str(r.returncode)]


GET = b'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9121\r\nAccept: */*\r\n\r\n'
for chunk in (1, 2, 7, 4096):
    is_(parse(GET, chunk), ['request', 'GET', '/metrics', '1.1'], 'a GET fed %d bytes at a time' % chunk)
is_(parse(b'GET /?x=1&y=2 HTTP/1.0\n\n'), ['request', 'GET', '/', '1.0'], 'bare LF, the query dropped')
is_(parse(b'HEAD / HTTP/1.1\r\n\r\n'), ['request', 'HEAD', '/', '1.1'], 'HEAD')
is_(parse(b'POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc'), ['request', 'POST', '/metrics', '1.1'],
    'another method is parsed (the server answers 405)')
is_(parse(b'GET /metrics HTTP/1.1\r\nHost: x\r\n'), ['again'], 'no empty line yet: waits for more')
for bad, why in ((b'GARBAGE\r\n\r\n', 'one word'),
                 (b'GET metrics HTTP/1.1\r\n\r\n', 'a path without /'),
                 (b'GET / HTTP/2.0\r\n\r\n', 'HTTP/2.0'),
                 (b'GET / HTTP/1.1 x\r\n\r\n', 'a fourth word'),
                 (b'GET  / HTTP/1.1\r\n\r\n', 'two spaces'),
                 (b'G(T / HTTP/1.1\r\n\r\n', 'a method that is no token'),
                 (b'GET /a\x01b HTTP/1.1\r\n\r\n', 'a control byte in the path'),
                 (b'GET / HTTP/1.1\r\nno colon here\r\n\r\n', 'a header without a colon'),
                 (b'GET / HTTP/1.1\r\n: value\r\n\r\n', 'a header without a name'),
                 (b'\r\n\r\n', 'an empty request line')):
    is_(parse(bad), ['bad'], 'refused: %s' % why)
is_(parse(b'GET / HTTP/1.1\r\nX: ' + b'a' * 5000 + b'\r\n\r\n', 100), ['toobig'],
    'a head past 4096 bytes: too big, whatever the cut')
is_(parse(b'GET /' + b'p' * 300 + b' HTTP/1.1\r\n\r\n'), ['toobig'], 'a path past 255 bytes: too big')
r = run([TOOL, str(4096)], input=b'GET / HTTP/1.1\r\nX: ' + b'a' * 5000 + b'\r\n\r\n', timeout=30)
is_(r.stdout.decode().split(), ['toobig', '4096'], 'the verdict comes once 4096 bytes are held, not later')
done_testing()
