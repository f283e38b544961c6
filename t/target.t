#!/usr/bin/python3
# The target layer against a standalone redis-server, through t/bin/targetcat:
# URL parsing, pipelined order, AUTH, SELECT, a dropped connection and a
# server restart in the middle of a stream, OOM replies, dead servers.
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *

TARGETCAT = os.path.join(TBIN, 'targetcat')
N = 20000 if ASAN else 200000


def targetcat(args, text='', env=None, timeout=120):
    e = dict(os.environ)
    e.pop('TARGETCAT_PASSWORD', None)
    e.update(env or {})
    return run([TARGETCAT] + args, input=text, text=True, env=e, timeout=timeout)


class Stream:
    """targetcat fed from a pipe, a part at a time."""

    def __init__(self, args):
        self.p = spawn([TARGETCAT] + args, stdin=subprocess.PIPE,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def send(self, lines):
        self.p.stdin.write(''.join(l + '\n' for l in lines))
        self.p.stdin.flush()

    def finish(self, timeout=120):
        out, err = self.p.communicate(timeout=timeout)
        return self.p.returncode, out, err


def wait_for(cond, what, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.02)
    diag('timed out waiting for ' + what)
    return False


def resent(err):
    """Commands the layer said it had to resend after a lost connection."""
    return sum(int(m) for m in re.findall(r'connection lost .*; (\d+) commands to resend', err))


def stats(err):
    m = re.search(r'moved=(\d+) ask=(\d+) retries=(\d+) reconnects=(\d+)', err)
    return dict(zip(('moved', 'ask', 'retries', 'reconnects'), map(int, m.groups()))) if m else {}


# ---------------------------------------------------------------- URLs

good = [
    ('127.0.0.1:6379', 'host=127.0.0.1 port=6379 user= password=no db=0 have_db=0'),
    ('[::1]:7000', 'host=::1 port=7000 user= password=no db=0 have_db=0'),
    ('redis://u%40x:p%3Aw@h.example:7001/3', 'host=h.example port=7001 user=u@x password=yes db=3 have_db=1'),
    ('redis://h', 'host=h port=6379 user= password=no db=0 have_db=0'),
    ('redis://[::1]:7002/0', 'host=::1 port=7002 user= password=no db=0 have_db=1'),
    ('redis://:pw@h:5', 'host=h port=5 user= password=yes db=0 have_db=0'),
    ('REDIS://h:5/', 'host=h port=5 user= password=no db=0 have_db=0'),
    ('rediss://u:p@h:6380/2', 'host=h port=6380 user=u password=yes db=2 have_db=1 tls=yes'),
]
for url, want in good:
    r = targetcat(['--parse', url])
    is_((r.returncode, r.stdout.strip()), (0, want), 'parse %s' % url)

bad = [
    ('', 'empty address'),
    ('localhost', 'missing :PORT'),
    ('h:0', 'bad port "0"'),
    ('h:99999', 'bad port "99999"'),
    ('h:abc', 'bad port "abc"'),
    ('redis://u:Sekr3t%zz@h:1', 'bad password in URL'),
    ('redis://u%g1:Sekr3t@h:1', 'bad user name in URL'),
    ('rediss://h:1?x', 'not supported'),
    ('http://h:1', 'unknown URL scheme'),
    ('::1:7000', '[ADDRESS]:PORT'),
    ('redis://[::1:7000', "missing ']'"),
    ('redis://h:1?db=2', 'not supported'),
    ('redis://h:1/x', 'bad db number "x"'),
    ('redis://:Sekr3t@:1', 'missing host'),
    ('user:Sekr3t@h:1', 'expected HOST:PORT'),
]
for url, want in bad:
    r = targetcat(['--parse', url])
    ok(r.returncode == 1 and want in r.stderr and 'Sekr3t' not in r.stderr + r.stdout,
       'parse error for %r: %s' % (url, r.stderr.strip()))

# ---------------------------------------------------------------- pipelining

srv = RedisServer()
c = srv.client()
lines, incr_tags, set_tags = [], [], []
for i in range(N):
    if i % 10 == 0:
        incr_tags.append(len(lines))
        lines.append('INCR counter')
    set_tags.append(len(lines))
    lines.append('SET k:%d v:%d' % (i, i))
    if i % 7 == 0:
        lines.append('HSET h:%d f %d g \\x00\\xff\\s%d' % (i % 1000, i, i))
        lines.append('RPUSH list %d' % i)
t0 = time.time()
r = targetcat(['--window', '512', 'redis://127.0.0.1:%d' % srv.port], '\n'.join(lines) + '\n')
elapsed = time.time() - t0
is_(r.returncode, 0, 'pipelined stream of %d commands exits 0' % len(lines))
out = r.stdout.splitlines()
is_(len(out), len(lines), 'one reply line per command')
incrs = [out[t] for t in incr_tags]
is_(incrs, ['%d :%d' % (t, k + 1) for k, t in enumerate(incr_tags)],
    'INCR replies come back in order, matched to their tags')
ok(all(out[t] == '%d +OK' % t for t in set_tags), 'every SET answered +OK under its own tag')
is_(c.dbsize(), N + 1 + 1 + min(1000, (N + 6) // 7), 'key count')
vals = c.mget(['k:%d' % i for i in range(N)])
bad_vals = [i for i, v in enumerate(vals) if v != b'v:%d' % i]
is_(bad_vals[:5], [], 'every SET value on the server')
is_([int(x) for x in c.lrange('list', 0, -1)], list(range(0, N, 7)), 'RPUSH order preserved')
h = {}
for i in range(0, N, 7):
    h['h:%d' % (i % 1000)] = i
ok(all(c.hgetall(k) == {b'f': str(i).encode(), b'g': b'\x00\xff ' + str(i).encode()}
       for k, i in h.items()), 'binary hash fields, last write wins per key')
diag('%d commands in %.2fs (%.0f/s, targetcat incl. startup)' % (len(lines), elapsed, len(lines) / elapsed))

r = targetcat(['--count-only', srv.url], 'PING\n@all DBSIZE\nGET k:1\n')
is_((r.returncode, r.stdout.strip()), (0, 'commands=3 replies=3 errors=0'), '--count-only')

HUGE = (2 if ASAN else 16) << 20
r = targetcat([srv.url], 'SET huge %s\nSTRLEN huge\nDEL huge\n' % ('h' * HUGE))
is_((r.returncode, r.stdout.splitlines()), (0, ['0 +OK', '1 :%d' % HUGE, '2 :1']),
    'a %d MB command goes through whole' % (HUGE >> 20))

# ---------------------------------------------------------------- AUTH

c.execute_command('ACL', 'SETUSER', 'alice', 'on', '>Al1ce:pw@x', '~*', '&*', '+@all')
r = targetcat(['redis://alice:Al1ce%%3Apw%%40x@127.0.0.1:%d' % srv.port], 'SET authed yes\n')
is_((r.returncode, r.stdout.strip()), (0, '0 +OK'), 'AUTH user + percent-encoded password')
is_(c.get('authed'), b'yes', 'write done as alice')
r = targetcat(['redis://alice:WrongSecret99@127.0.0.1:%d' % srv.port], 'SET nope 1\n')
ok(r.returncode == 1, 'wrong password: exit 1')
ok('target 127.0.0.1:%d: authentication failed: WRONGPASS' % srv.port in r.stderr,
   'wrong password: clear error (%s)' % r.stderr.strip())
ok('WrongSecret99' not in r.stderr + r.stdout, 'the password appears in no message')
is_(c.get('nope'), None, 'nothing written with a wrong password')
r = targetcat(['redis://alice@127.0.0.1:%d' % srv.port], 'SET x 1\n',
              env={'TARGETCAT_PASSWORD': 'Al1ce:pw@x'})
is_((r.returncode, r.stdout.strip()), (0, '0 +OK'), 'password from the environment')

psrv = RedisServer(password='Only%Pass')
r = targetcat(['redis://:Only%%25Pass@127.0.0.1:%d' % psrv.port], 'SET p 1\n')
is_((r.returncode, r.stdout.strip()), (0, '0 +OK'), 'password only (requirepass)')
r = targetcat([psrv.url], 'SET p 2\n')
ok(r.returncode == 1 and 'NOAUTH' in r.stderr and '127.0.0.1:%d' % psrv.port in r.stderr,
   'no password where one is needed: %s' % r.stderr.strip())
r = targetcat(['redis://:bad@127.0.0.1:%d' % psrv.port], 'SET p 3\n')
ok(r.returncode == 1 and 'authentication failed' in r.stderr, 'wrong requirepass password')
psrv.stop()

# ---------------------------------------------------------------- SELECT

r = targetcat(['redis://127.0.0.1:%d/5' % srv.port], 'SET in5 yes\n')
is_(r.returncode, 0, 'db 5 from the URL')
is_((srv.client(db=5).get('in5'), c.get('in5')), (b'yes', None), 'the write landed in db 5 only')
r = targetcat(['redis://127.0.0.1:%d/999' % srv.port], 'SET x 1\n')
ok(r.returncode == 1 and 'SELECT' in r.stderr and 'out of range' in r.stderr,
   'db out of range: %s' % r.stderr.strip())

# ---------------------------------------------------------------- errors to the caller

oom = RedisServer(args=['--maxmemory', '1mb', '--maxmemory-policy', 'noeviction'])
big = 'x' * 10000
r = targetcat([oom.url], ''.join('SET big:%d %s\n' % (i, big) for i in range(300)))
is_(r.returncode, 0, 'OOM: the layer itself does not fail')
oomlines = [l for l in r.stdout.splitlines() if l.split(' ', 1)[1].startswith('-OOM')]
ok(len(oomlines) > 0 and len(r.stdout.splitlines()) == 300,
   'OOM error replies reach the callback (%d of 300)' % len(oomlines))
oom.stop()

port = free_port()
r = targetcat(['127.0.0.1:%d' % port], 'SET x 1\n')
ok(r.returncode == 1 and 'target 127.0.0.1:%d: connect: Connection refused' % port in r.stderr,
   'nobody listening: %s' % r.stderr.strip())

# ---------------------------------------------------------------- lost connections

M = 3000 if ASAN else 20000


def part(lo, hi, gen):
    return ['SET s:%d g%d:%d' % (i, gen, i) if i % 2 else 'HSET hs:%d f g%d:%d' % (i, gen, i)
            for i in range(lo, hi)]


def check_parts(cl, hi, gen, what, lo=0):
    bad = []
    for i in range(lo, hi):
        got = cl.get('s:%d' % i) if i % 2 else cl.hget('hs:%d' % i, 'f')
        if got != b'g%d:%d' % (gen, i):
            bad.append((i, got))
    is_(bad[:5], [], what)


# CLIENT KILL while the server holds back every write: the commands in flight
# are lost with the connection, and must be sent again.
# The stream switches to db 3 before: the resend must happen in db 3 too.
c.flushall()
c3 = srv.client(db=3)
st = Stream(['--window', '4096', srv.url])
st.send(part(0, M, 1) + ['SELECT 3'] + part(M, M + 100, 1))
wait_for(lambda: c3.dbsize() == 100, 'first part')
c.execute_command('CLIENT', 'PAUSE', 10000, 'WRITE')
st.send(part(M + 100, M + 2100, 1))
time.sleep(0.5)
killed = c.execute_command('CLIENT', 'KILL', 'TYPE', 'normal')
c.execute_command('CLIENT', 'UNPAUSE')
st.send(part(M + 2100, 2 * M, 1))
rc, out, err = st.finish()
is_(rc, 0, 'CLIENT KILL mid-stream: exit 0')
ok(killed >= 1 and resent(err) >= 2000, 'the unacknowledged commands were resent (%d)' % resent(err))
is_(stats(err).get('reconnects'), 1, 'one reconnect')
check_parts(c, M, 1, 'after CLIENT KILL: every command before SELECT 3 in db 0')
check_parts(c3, 2 * M, 1, 'after CLIENT KILL: every later command in db 3 (SELECT restored)', lo=M)
is_((c.dbsize(), c3.dbsize()), (M, M), 'nothing in the wrong db')
is_(len(out.splitlines()), 2 * M + 1, 'one reply per command after the reconnect')

# kill -9 and restart on the same port (AOF, so acknowledged writes survive)
asrv = RedisServer(args=['--appendonly', 'yes', '--appendfsync', 'always'])
ac = asrv.client()
st = Stream(['--window', '4096', 'redis://127.0.0.1:%d/2' % asrv.port])
st.send(part(0, M, 2))
ac2 = asrv.client(db=2)
wait_for(lambda: ac2.dbsize() == M, 'first part')
ac.execute_command('CLIENT', 'PAUSE', 10000, 'WRITE')
st.send(part(M, M + 2000, 2))
time.sleep(0.5)
asrv.kill()
time.sleep(0.5)
asrv.start()
st.send(part(M + 2000, 2 * M, 2))
rc, out, err = st.finish()
is_(rc, 0, 'server restarted mid-stream: exit 0')
ok(resent(err) >= 2000, 'unacknowledged commands resent after the restart (%d)' % resent(err))
ok(stats(err).get('reconnects', 0) >= 1, 'reconnected (%s)' % stats(err))
ac2 = asrv.client(db=2)
check_parts(ac2, 2 * M, 2, 'after the restart: every command applied, in db 2 (re-SELECT)')
is_(asrv.client(db=0).dbsize(), 0, 'nothing went to db 0 after the reconnect')

# restart from an RDB that takes a while to load: the server answers
# LOADING, the layer backs off and retries
lsrv = RedisServer()
lc = lsrv.client()
lc6 = lsrv.client(db=6)
st = Stream(['--window', '4096', lsrv.url])
st.send(part(0, M, 4) + ['SELECT 6'])
wait_for(lambda: lc.dbsize() == M, 'first part')
lc.execute_command('SAVE')
lc.execute_command('CLIENT', 'PAUSE', 10000, 'WRITE')
st.send(part(M, M + 2000, 4))
time.sleep(0.5)
lsrv.kill()
lsrv.argv += ['--dbfilename', 'dump.rdb', '--key-load-delay', str(int(2e6 / M)),
              '--loading-process-events-interval-bytes', '1024']
lsrv.proc = spawn(lsrv.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wait_port(lsrv.port, proc=lsrv.proc)
st.send(part(M + 2000, 2 * M, 4))
rc, out, err = st.finish()
is_(rc, 0, 'restart with a slow load: exit 0')
ok(stats(err).get('retries', 0) > 0 and 'LOADING' in err, 'LOADING replies were retried (%s)' % stats(err))
lsrv.start()
check_parts(lsrv.client(), M, 4, 'after LOADING: every command applied (db 0)')
check_parts(lsrv.client(db=6), 2 * M, 4, 'after LOADING: every command applied (db 6)', lo=M)
lsrv.stop()

# the server does not come back: a clear error naming it, after retry_ms
st = Stream(['--retry-ms', '1500', asrv.url])
st.send(part(0, 100, 3))
wait_for(lambda: ac.dbsize() > 0 and ac.get('s:99') == b'g3:99', 'first part')
ac.execute_command('CLIENT', 'PAUSE', 10000, 'WRITE')
st.send(part(100, 200, 3))
time.sleep(0.3)
asrv.kill()
t0 = time.time()
rc, out, err = st.finish(timeout=30)
ok(rc == 1 and 'target 127.0.0.1:%d' % asrv.port in err and 'gave up after 1500 ms' in err
   and '100 commands unacknowledged' in err, 'dead server: %s' % err.strip().splitlines()[-1])
ok(time.time() - t0 < 10, 'gave up in bounded time')

# ---------------------------------------------------------------- silent server

# A stopped server (SIGSTOP) accepts connections and answers nothing.  The
# layer warns while it waits, gives the connection up after the reply
# timeout, and once the server runs again resends on a new connection; the
# old one, whose commands the server may not have read yet, is killed
# first so they cannot run after the newer ones.
import signal
qs = RedisServer()
qc = qs.client()
Q = 2000 if ASAN else 10000
st = Stream(['--window', '8192', '--reply-timeout-ms', '2000', '--connect-timeout-ms', '500',
             '--retry-ms', '30000', qs.url])
st.send(part(0, Q, 1))
wait_for(lambda: qc.get('s:%d' % (Q - 1)) == b'g1:%d' % (Q - 1), 'first part')
qs.proc.send_signal(signal.SIGSTOP)
st.send(part(0, Q, 2))
time.sleep(3.5)
qs.proc.send_signal(signal.SIGCONT)
st.send(part(0, Q, 3))
rc, out, err = st.finish()
is_(rc, 0, 'server stopped for 3.5 s mid-stream: exit 0')
ok(re.search(r'target 127.0.0.1:%d: no reply for 1\.\d s, \d+ commands unacknowledged' % qs.port, err),
   'a warning while waiting')
ok(re.search(r'connection lost \(no reply for 2\d\d\d ms\); \d+ commands to resend', err),
   'the connection given up after the 2 s reply timeout')
ok(stats(err).get('reconnects', 0) >= 1, 'reconnected (%s)' % stats(err))
check_parts(qc, Q, 3, 'every key has its last value: the old connection ran nothing late')
is_(len(out.splitlines()), 3 * Q, 'one reply per command')

# still stopped after retry_ms: a clear error in bounded time
st = Stream(['--reply-timeout-ms', '500', '--connect-timeout-ms', '300', '--retry-ms', '2000', qs.url])
st.send(part(0, 100, 4))
wait_for(lambda: qc.get('s:99') == b'g4:99', 'first part')
qs.proc.send_signal(signal.SIGSTOP)
st.send(part(100, 200, 4))
t0 = time.time()
rc, out, err = st.finish(timeout=30)
qs.proc.send_signal(signal.SIGCONT)
last = err.strip().splitlines()[-1] if err.strip() else ''
ok(rc == 1 and 'target 127.0.0.1:%d' % qs.port in last and 'gave up after 2000 ms' in last and 'no answer within 300 ms' in err and
   '100 commands unacknowledged' in last, 'stopped server: %s' % last)
ok(time.time() - t0 < 10, 'gave up in bounded time (%.1f s)' % (time.time() - t0))
qs.stop()

# ---------------------------------------------------------------- replies lost

class ReplyEater:
    """A TCP relay to a server that, on the first connection whose client
    sends `trigger`, passes only the first `keep` reply lines: the server
    runs every command, the client sees its connection close with replies
    missing.  Other connections pass untouched."""

    def __init__(self, port, keep, trigger):
        self.port, self.keep, self.trigger = port, keep, trigger.encode()
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(('127.0.0.1', 0))
        self.lsock.listen(8)
        self.lport = self.lsock.getsockname()[1]
        self.used = False
        # withheld: set before the close the client sees, so it is set by
        # the time the client exits; dropped: set after it, so commands
        # sent from then on cannot go to the old connection
        self.withheld = threading.Event()
        self.dropped = threading.Event()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            s = socket.create_connection(('127.0.0.1', self.port))
            threading.Thread(target=self.serve, args=(c, s), daemon=True).start()

    def serve(self, c, s):
        seen = threading.Event()

        def up():
            tail = b''
            try:
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    if self.trigger in tail + d:
                        seen.set()
                    tail = d[-64:]
                    s.sendall(d)
            except OSError:
                pass
        threading.Thread(target=up, daemon=True).start()
        faulty, passed, buf, quiet = False, 0, b'', time.time()
        s.settimeout(0.05)
        while True:
            try:
                d = s.recv(65536)
                if not d:
                    break
                buf += d
                quiet = time.time()
            except socket.timeout:
                pass
            except OSError:
                break
            if seen.is_set() and not self.used:
                self.used = faulty = True
            while b'\r\n' in buf and (not faulty or passed < self.keep):
                i = buf.index(b'\r\n') + 2
                try:
                    c.sendall(buf[:i])
                except OSError:
                    return
                buf, passed = buf[i:], passed + 1
            if faulty and passed >= self.keep and time.time() - quiet > 0.5:
                break
        if faulty:
            self.withheld.set()
        for x in (c, s):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            x.close()
        if faulty:
            self.dropped.set()

    def close(self):
        self.lsock.close()


import socket
import threading
ls = RedisServer()
lc = ls.client()
text = 'SET c 0\n' + '!INCR c\n' * 10 + '!RPUSH l a\n'
pr = ReplyEater(ls.port, 4, 'INCR')
r = targetcat(['--retry-ms', '5000', '127.0.0.1:%d' % pr.lport], text, timeout=60)
ok(pr.withheld.is_set(), 'the relay withheld replies and closed the connection')
ok(r.returncode == 1 and 'connection to 127.0.0.1:%d lost' % pr.lport in r.stderr and
   'with 9 unacknowledged commands that are not safe to resend' in r.stderr,
   'TARGET_NORESEND: %s' % r.stderr.strip().splitlines()[-1])
is_((lc.get('c'), lc.llen('l')), (b'10', 1), 'each INCR and the RPUSH ran once')
pr.close()

lc.flushall()
pr = ReplyEater(ls.port, 4, 'INCR')
r = targetcat(['--retry-ms', '5000', '127.0.0.1:%d' % pr.lport], text.replace('!', ''), timeout=60)
ok(pr.withheld.is_set() and r.returncode == 0 and resent(r.stderr) == 9,
   'without the flag the same loss resends the 9 commands after the 2nd INCR (%d)' % resent(r.stderr))
is_((lc.get('c'), lc.llen('l')), (b'18', 2), 'and they ran twice: INCR 8 more, RPUSH once more')
pr.close()

# not yet written when the connection went: resent even with the flag
lc.flushall()
pr = ReplyEater(ls.port, 2, 'MARK')
st = Stream(['--retry-ms', '5000', '127.0.0.1:%d' % pr.lport])
st.send(['SET c 0', 'SET MARK 1'])
wait_for(pr.dropped.is_set, 'the relay to drop the connection')
st.send(['!INCR c'] * 5)
rc, out, err = st.finish(timeout=60)
ok(rc == 0 and stats(err).get('reconnects') == 1, 'commands queued after the loss are sent on the new connection')
is_(lc.get('c'), b'5', 'and run once each')
pr.close()
ls.stop()

srv.stop()
done_testing()
