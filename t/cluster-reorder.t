#!/usr/bin/python3
# ASK then TRYAGAIN must not let a later command of the same key overtake:
# two scripted cluster nodes, A (which the slot map names) and B (which
# imports the slot), drive the channel through the one interleaving that
# reordered (seen once in ~50 t/cluster.t runs):
#   C1 "RENAME {r}:x {r}:y" goes to A, which answers ASK B;
#   C2 "SET {r}:x v2" is sent after, through the stale map, to A, which
#      holds its answer;
#   B answers C1 (ASKING) with TRYAGAIN only once A holds C2;
#   A answers C2 with ASK only after the channel handled that TRYAGAIN
#      (once a retried C1 reaches A, or a while after).
# B must run C1 before C2, however the retry is routed.
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *  # noqa: E402,F401

TARGETCAT = os.path.join(TBIN, 'targetcat')
SLOT = None


def resp(x):
    if isinstance(x, int):
        return b':%d\r\n' % x
    if isinstance(x, list):
        return b'*%d\r\n' % len(x) + b''.join(resp(e) for e in x)
    if isinstance(x, bytes):
        return b'$%d\r\n%s\r\n' % (len(x), x)
    return x.encode() + b'\r\n'      # '+OK', '-ERR ...'


class FakeNode:
    """A cluster node that answers as its `answer(conn, argv)` says; each
    connection's commands are read by one thread and answered in order by
    another, so an answer may wait for an event while later commands are
    still read (and seen)."""

    def __init__(self, name, answer):
        self.name, self.answer = name, answer
        self.seen = []          # every command read, in order
        self.cv = threading.Condition()
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(('127.0.0.1', 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            q = []
            threading.Thread(target=self._read, args=(c, q), daemon=True).start()
            threading.Thread(target=self._answer, args=(c, q), daemon=True).start()

    def _read(self, c, q):
        f = c.makefile('rb')
        try:
            while True:
                line = f.readline()
                if not line.startswith(b'*'):
                    break
                argv = []
                for _ in range(int(line[1:])):
                    n = int(f.readline()[1:])
                    argv.append(f.read(n + 2)[:-2])
                with self.cv:
                    self.seen.append(argv)
                    q.append(argv)
                    self.cv.notify_all()
        except (OSError, ValueError):
            pass
        with self.cv:
            q.append(None)
            self.cv.notify_all()

    def _answer(self, c, q):
        while True:
            with self.cv:
                while not q:
                    self.cv.wait()
                argv = q.pop(0)
            if argv is None:
                c.close()
                return
            try:
                c.sendall(resp(self.answer(self, argv)))
            except OSError:
                return

    def wait(self, pred, timeout):
        """Until pred(self.seen) holds or timeout seconds passed."""
        end = time.time() + timeout
        with self.cv:
            while not pred(self.seen) and time.time() < end:
                self.cv.wait(0.05)
            return pred(self.seen)


def common(nd, argv):
    cmd = [a.upper() for a in argv[:2]]
    if cmd == [b'INFO', b'SERVER']:
        return b'redis_version:7.0.15\r\n'
    if cmd == [b'INFO', b'CLUSTER']:
        return b'cluster_enabled:1\r\n'
    if cmd == [b'MODULE', b'LIST']:
        return []
    if cmd == [b'CLUSTER', b'SLOTS']:
        return [[0, 16383, [b'127.0.0.1', A.port, b'a' * 40]]]
    if cmd == [b'CLIENT', b'ID']:
        return 7
    if cmd[0] in (b'CLIENT', b'ASKING'):
        return '+OK'
    return None


events = {}
ran = []            # what B ran, in order
renames = lambda seen: sum(1 for a in seen if a[0].upper() == b'RENAME')  # noqa: E731


def answer_a(nd, argv):
    r = common(nd, argv)
    if r is not None:
        return r
    if argv[0].upper() == b'SET':
        events['a_got_c2'] = True
        # after B's TRYAGAIN, and after a retried C1 reached A if one does
        while 'b_tryagain' not in events:
            time.sleep(0.01)
        nd.wait(lambda seen: renames(seen) >= 2, 1)
    return '-ASK %d 127.0.0.1:%d' % (SLOT, B.port)


def answer_b(nd, argv):
    r = common(nd, argv)
    if r is not None:
        return r
    name = argv[0].upper().decode()
    if name == 'RENAME' and 'b_tryagain' not in events:
        events['b_got_c1'] = True
        end = time.time() + 10
        while 'a_got_c2' not in events and time.time() < end:
            time.sleep(0.01)
        events['b_tryagain'] = True
        return '-TRYAGAIN Multiple keys request during rehashing of slot'
    ran.append(name)
    return '+OK'


def wait_event(name, timeout=10):
    end = time.time() + timeout
    while name not in events and time.time() < end:
        time.sleep(0.01)
    return name in events


plan(6)
SLOT = int(run([TARGETCAT, '--slot', '{r}:x']).stdout)
A = FakeNode('A', answer_a)
B = FakeNode('B', answer_b)
p = spawn([TARGETCAT, '--retry-ms', '20000', '127.0.0.1:%d' % A.port], stdin=subprocess.PIPE,
          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
p.stdin.write('RENAME {r}:x {r}:y\n')
p.stdin.flush()
# C1 reached B: the channel handled A's ASK, so C2 is sent alone
ok(wait_event('b_got_c1'), 'C1 was redirected by ASK to the importing node')
p.stdin.write('SET {r}:x v2\n')
p.stdin.flush()
ok(wait_event('a_got_c2'), 'C2 went to the migrating node through the stale map')
try:
    out, err = p.communicate(timeout=60)
except subprocess.TimeoutExpired:
    p.kill()
    out, err = p.communicate()
is_(p.returncode, 0, 'targetcat exits 0')
if p.returncode:
    diag(err[-2000:])
is_(out.splitlines(), ['0 +OK', '1 +OK'], 'both commands answered +OK, no redirection reached the caller')
ok('retries=1' in err and 'ask=' in err, 'one TRYAGAIN retried (%s)' % err.strip().splitlines()[-1:])
is_(ran, ['RENAME', 'SET'], 'the importing node ran C1 before C2')
