#!/usr/bin/python3
# The Dragonfly test master (t/dflymaster/dflymaster): handshake replies and
# errors byte for byte (replication.md 2-3), state rules, a full session
# decoded with t/bin/rdbevents, the journal, partial sync, the barrier hook,
# fault switches, TAKEOVER, replay of the real recordings, and the stream
# structure compared with a real Dragonfly's.
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *  # noqa

RDBEVENTS = os.path.join(TBIN, 'rdbevents')
TMP = tmpdir('dflymaster')


class Master:
    all = []

    def __init__(self, *args, shards=3):
        Master.all.append(self)
        self.err = open(os.path.join(TMP, 'master-%d.log' % time.monotonic_ns()), 'w+')
        self.p = spawn([DFLYMASTER, '--port', '0', '--shards', str(shards)] + list(args),
                       stdout=subprocess.PIPE, stderr=self.err)
        line = self.p.stdout.readline().decode()
        m = re.match(r'ready (\d+)', line)
        if not m:
            raise RuntimeError('dflymaster did not start: %r' % line)
        self.port = int(m.group(1))
        self.shards = shards

    def conn(self):
        return Conn(self.port)

    def stderr(self):
        self.err.flush()
        self.err.seek(0)
        return self.err.read()

    def wait(self, timeout=10):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """SIGTERM (a clean exit, so LeakSanitizer checks the heap), then
        SIGKILL; returns the exit status."""
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        return self.p.returncode


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(('127.0.0.1', port), 5)
        self.s.settimeout(5)
        self.buf = b''

    def send(self, *args):
        args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        self.s.sendall(b'*%d\r\n' % len(args) +
                       b''.join(b'$%d\r\n%s\r\n' % (len(a), a) for a in args))

    def fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise EOFError('connection closed')
        self.buf += d

    def line(self):
        while b'\r\n' not in self.buf:
            self.fill()
        i = self.buf.index(b'\r\n')
        ln, self.buf = self.buf[:i], self.buf[i + 2:]
        return ln

    def raw_reply(self):
        """One reply as its exact bytes."""
        out = b''
        ln = self.line()
        out += ln + b'\r\n'
        if ln[:1] == b'*':
            for _ in range(max(int(ln[1:]), 0)):
                out += self.raw_reply()
        elif ln[:1] == b'$' and int(ln[1:]) >= 0:
            n = int(ln[1:])
            while len(self.buf) < n + 2:
                self.fill()
            out += self.buf[:n + 2]
            self.buf = self.buf[n + 2:]
        return out

    def cmd(self, *args):
        self.send(*args)
        return self.raw_reply()

    def read_exact(self, n, timeout=10):
        end = time.time() + timeout
        while len(self.buf) < n and time.time() < end:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_until(self, pred, timeout=10):
        """Read until pred(buf) is true; return everything read."""
        end = time.time() + timeout
        while not pred(self.buf):
            if time.time() > end:
                raise TimeoutError('no data matching in %d bytes' % len(self.buf))
            self.s.settimeout(max(0.05, end - time.time()))
            self.fill()
        out, self.buf = self.buf, b''
        return out

    def drain(self, quiet=0.3):
        self.s.settimeout(quiet)
        try:
            while True:
                self.fill()
        except (socket.timeout, EOFError):
            pass
        self.s.settimeout(5)
        out, self.buf = self.buf, b''
        return out

    def closed(self, timeout=3):
        self.s.settimeout(timeout)
        try:
            while True:
                if not self.s.recv(1 << 16):
                    return True
        except socket.timeout:
            return False
        except OSError:
            return True

    def close(self):
        self.s.close()


def handshake(m, ctl=None):
    ctl = ctl or m.conn()
    r = ctl.cmd('REPLCONF', 'capa', 'dragonfly')
    parts = r.split(b'\r\n')
    return ctl, parts[1][1:].decode(), parts[2][1:].decode()


def open_flows(m, mid, sid, lsns=None):
    flows, replies = [], []
    for i in range(m.shards):
        f = m.conn()
        args = ['DFLY', 'FLOW', mid, sid, i] + ([lsns[i]] if lsns else [])
        replies.append(f.cmd(*args))
        flows.append(f)
    return flows, replies


EOF_MARK = b'\xff' + b'\0' * 8


def full_session(m, before_stable=None, after_stable=None):
    """SYNC, read to FULLSYNC_END, STARTSTABLE, read to the token.
    Returns ctl, flows, tokens, streams (bytes up to and incl. the token)."""
    ctl, mid, sid = handshake(m)
    flows, replies = open_flows(m, mid, sid)
    tokens = [r.split(b'\r\n')[2][1:] for r in replies]
    assert ctl.cmd('DFLY', 'SYNC', sid) == b'+OK\r\n'
    streams = [f.read_until(lambda b: b'\xc8' + b'\0' * 8 in b) for f in flows]
    if before_stable:
        before_stable(ctl, flows)
    assert ctl.cmd('DFLY', 'STARTSTABLE', sid) == b'+OK\r\n', 'STARTSTABLE'
    for i, f in enumerate(flows):
        streams[i] += f.read_until(lambda b, t=tokens[i]: EOF_MARK + t in b)
        k = streams[i].index(EOF_MARK + tokens[i]) + 9 + 40
        f.buf = streams[i][k:]
        streams[i] = streams[i][:k]
    return ctl, sid, flows, tokens, streams


def rdbevents(data, name):
    path = os.path.join(TMP, name)
    with open(path, 'wb') as f:
        f.write(data)
    r = run([RDBEVENTS, '--flow', path])
    return r.returncode, r.stdout.decode('latin-1'), r.stderr.decode('latin-1')


def pu(d, p):
    b = d[p]
    t = b >> 6
    if t == 0:
        return b & 63, p + 1
    if t == 1:
        return ((b & 63) << 8) | d[p + 1], p + 2
    if b == 0x80:
        return struct.unpack('>I', d[p + 1:p + 5])[0], p + 5
    return struct.unpack('>Q', d[p + 1:p + 9])[0], p + 9


def journal(d):
    """Parse journal bytes (journal.md 3): list of ('cmd', db, txid, args) /
    ('ping',) / ('lsn', n); stops at an incomplete record."""
    out, p, db = [], 0, 0
    try:
        while p < len(d):
            op, q = pu(d, p)
            if op == 6:
                db, q = pu(d, q)
                op, q = pu(d, q)
            if op == 13:
                out.append(('ping',))
            elif op == 15:
                n, q = pu(d, q)
                out.append(('lsn', n))
            elif op == 10:
                tx, q = pu(d, q)
                _, q = pu(d, q)
                na, q = pu(d, q)
                _, q = pu(d, q)
                args = []
                for _ in range(na):
                    ln, q = pu(d, q)
                    if q + ln > len(d):
                        raise IndexError
                    args.append(d[q:q + ln])
                    q += ln
                out.append(('cmd', db, tx, args))
            else:
                raise ValueError('opcode %d at %d' % (op, p))
            p = q
    except IndexError:
        pass
    return out


def stats(c):
    r = c.cmd('DFLYMASTER', 'STATS').decode()
    return dict(x.split(':') for x in r.split('\r\n')[1:] if ':' in x)


# ------------------------------------------------------------ handshake
m = Master(shards=3)
c = m.conn()
is_(c.cmd('PING'), b'+PONG\r\n', 'PING -> +PONG')
is_(c.cmd('REPLCONF', 'listening-port', '6380'), b'+OK\r\n', 'listening-port -> +OK')
is_(c.cmd('REPLCONF', 'listening-port', 'x'),
    b'-ERR value is not an integer or out of range\r\n', 'listening-port non-integer')
is_(c.cmd('REPLCONF', 'ip-address', '10.0.0.1'), b'+OK\r\n', 'ip-address -> +OK')
is_(c.cmd('REPLCONF', 'capa', 'eof', 'capa', 'psync2'), b'+OK\r\n', 'capa eof capa psync2 -> +OK')
is_(c.cmd('REPLCONF', 'capa', 'eof', 'capa', 'dragonfly'), b'+OK\r\n',
    'capa eof capa dragonfly -> +OK, no session')
is_(c.cmd('REPLCONF', 'capa'), b'-ERR syntax error\r\n', 'odd REPLCONF args -> syntax error')
is_(c.cmd('REPLCONF', 'version', '1'), b'-ERR syntax error\r\n', 'unknown REPLCONF key -> syntax error')
is_(stats(c)['sessions'], '0', 'no session created yet')
r = c.cmd('REPLCONF', 'capa', 'dragonfly')
mm = re.fullmatch(rb'\*5\r\n\+([0-9a-f]{40})\r\n\+SYNC(\d+)\r\n:3\r\n:5\r\n\+([0-9a-f]{40})\r\n', r)
ok(mm and mm.group(1) == mm.group(3), 'capa dragonfly: *5 +replid +SYNCn :3 :5 +lineage')
mid, sid = mm.group(1).decode(), 'SYNC' + mm.group(2).decode()
is_(c.cmd('REPLCONF', 'CLIENT-VERSION', '4'), b'+OK\r\n', 'CLIENT-VERSION -> +OK')
is_(c.cmd('REPLCONF', 'CLIENT-ID', 'abc'), b'+OK\r\n', 'CLIENT-ID -> +OK')
c.send('REPLCONF', 'ACK', '5')
is_(c.cmd('PING'), b'+PONG\r\n', 'REPLCONF ACK on the control connection: no reply')

# ------------------------------------------------------------ DFLY FLOW errors
f = m.conn()
is_(f.cmd('DFLY', 'FLOW', '0' * 40, sid, '0'), b'-ERR bad master id\r\n', 'FLOW bad master id')
is_(f.cmd('DFLY', 'FLOW', mid, 'SYNCx', '0'), b'-ERR bad sync id\r\n', 'FLOW bad sync id')
is_(f.cmd('DFLY', 'FLOW', mid, 'FOO1', '0'), b'-ERR bad sync id\r\n', 'FLOW sync id without SYNC prefix')
is_(f.cmd('DFLY', 'FLOW', mid, 'SYNC999', '0'), b'-ERR syncid not found\r\n', 'FLOW syncid not found')
is_(f.cmd('DFLY', 'FLOW', mid, sid, '3'),
    b'-ERR value is not an integer or out of range\r\n', 'FLOW flow id out of range')
is_(f.cmd('DFLY', 'FLOW', mid, sid, 'x'),
    b'-ERR value is not an integer or out of range\r\n', 'FLOW flow id not an integer')
is_(f.cmd('DFLY', 'FLOW', mid, sid, '0', 'notanlsn'),
    b'-ERR value is not an integer or out of range\r\n', 'FLOW lsn not an integer')
is_(f.cmd('DFLY', 'FLOW', mid, sid, '0', 'x', '1-z'),
    b'-ERR value is not an integer or out of range\r\n', 'FLOW lsn vector not integers')
is_(f.cmd('DFLY', 'FLOW', mid, sid), b'-ERR syntax error\r\n', 'FLOW too few args')
is_(f.cmd('DFLY', 'FLOW', mid, sid, '0', '1', '2', '3'), b'-ERR syntax error\r\n', 'FLOW too many args')
is_(c.cmd('DFLY', 'SYNC', sid), b'-ERR invalid state\r\n', 'DFLY SYNC before all flows -> invalid state')
is_(c.cmd('DFLY', 'STARTSTABLE', sid), b'-ERR invalid state\r\n', 'STARTSTABLE before flows -> invalid state')
r = f.cmd('DFLY', 'FLOW', mid, sid, '0')
ok(re.fullmatch(rb'\*2\r\n\+FULL\r\n\+[0-9a-f]{40}\r\n', r), 'FLOW -> *2 +FULL +token40')
flows = [f] + [m.conn() for _ in range(2)]
for i in (1, 2):
    flows[i].cmd('DFLY', 'FLOW', mid, sid, i)
is_(c.cmd('DFLY', 'STARTSTABLE', sid), b'-ERR invalid state\r\n',
    'STARTSTABLE without SYNC on FULL flows -> invalid state')
is_(c.cmd('DFLY', 'SYNC', sid), b'+OK\r\n', 'DFLY SYNC -> +OK')
late = m.conn()
is_(late.cmd('DFLY', 'FLOW', mid, sid, '0'), b'-ERR invalid state\r\n', 'FLOW after SYNC -> invalid state')
is_(c.cmd('DFLY', 'SYNC', sid), b'-ERR invalid state\r\n', 'second DFLY SYNC -> invalid state')
ok(flows[0].read_exact(9) == b'REDIS0009', 'flow stream starts with REDIS0009')
flows[1].close()
time.sleep(0.2)
# replication.md 9: the flows are shut down; the control connection is a
# plain connection again, and the session id is gone
is_(c.cmd('DFLY', 'STARTSTABLE', sid), b'-ERR syncid not found\r\n',
    'closing one flow cancels the session; the control connection stays open')
ok(flows[2].closed(), '... and the other flows')
c = m.conn()
is_(stats(c)['cancelled'], '1', 'STATS counts the cancelled session')
is_(c.cmd('DFLY', 'REPLICAOFFSET'), b'*3\r\n:1\r\n:1\r\n:1\r\n', 'REPLICAOFFSET: next LSN per shard, from 1')
m.stop()

# ------------------------------------------------------------ AUTH
m = Master('--requirepass', 'pw', '--user', 'repl', shards=1)
c = m.conn()
is_(c.cmd('PING'), b'-NOAUTH Authentication required.\r\n', 'NOAUTH before AUTH')
ok(c.cmd('AUTH', 'repl', 'bad').startswith(b'-WRONGPASS'), 'AUTH wrong password')
is_(c.cmd('AUTH', 'repl', 'pw'), b'+OK\r\n', 'AUTH user pass')
is_(c.cmd('PING'), b'+PONG\r\n', 'PING after AUTH')
m.stop()

# ------------------------------------------------------------ full session
m = Master('--chunk-size', '16384', shards=3)
c = m.conn()
is_(c.cmd('DFLYMASTER', 'LOAD-SAMPLE'), b'+OK\r\n', 'LOAD-SAMPLE')
ctl, sid, flows, tokens, streams = full_session(m)
decoded = [rdbevents(s, 'gen-%d.bin' % i) for i, s in enumerate(streams)]
ok(all(d[0] == 0 for d in decoded), 'rdbevents decodes every generated flow to the end')
for d in decoded:
    if d[0]:
        diag(d[2])
allev = ''.join(d[1] for d in decoded)
keys = set(re.findall(r'^key \d+ (\d+) \S+ (\d+) \S+ \S+ (.*)$', allev, re.M))
want = {('0', '0', 's:plain'), ('0', '18', 'l:big'), ('0', '18', 'l:small'), ('0', '11', 'set:int'),
        ('0', '2', 'set:str'), ('0', '17', 'z:small'), ('0', '5', 'z:big'), ('0', '16', 'h:small'),
        ('0', '4', 'h:big'), ('0', '21', 'x:s'), ('0', '30', 'j:doc'), ('1', '0', 'db1:s'),
        ('1', '11', 'db1:set'), ('0', '0', 'bin:\\x01\\x00\\xff')}
ok(want <= keys, 'types per encoding (snapshot.md 6.0) and dbs as Dragonfly picks them')
if not want <= keys:
    diag('missing: %r' % (want - keys))
is_(len(keys), 26, 'every sample key serialized exactly once')
ok(all(s.endswith(EOF_MARK + tokens[i]) for i, s in enumerate(streams)), 'EOF + 8 zeros + FLOW token end each full sync')
offs = [int(x) for d in decoded for x in re.findall(r'^journal_offset (\d+)', d[1], re.M)]
r = ctl.cmd('DFLY', 'REPLICAOFFSET')
is_(offs, [int(x) for x in re.findall(rb':(\d+)', r)], 'JOURNAL_OFFSET of each flow = REPLICAOFFSET')
order = [re.findall(r'^(fullsync_end|journal_offset|eof)', d[1], re.M) for d in decoded]
ok(all(o == ['fullsync_end', 'journal_offset', 'eof'] for o in order), 'FULLSYNC_END -> JOURNAL_OFFSET -> EOF')
ok(all(s[s.index(b'shard-id') + 10:][:1] == b'\xca' for s in streams if len(s) > 2000),
   'snapshot entries travel in LZ4 blobs (snapshot.md 7)')
# journal after writes
w = m.conn()
w.cmd('SET', 'k1', 'v1')
w.cmd('SET', 'kx', 'v', 'EX', '100')
w.cmd('MSET', 'a', '1', 'b', '2', 'c', '3', 'd', '4')
w.cmd('INCRBYFLOAT', 'f', '1.5')
w.cmd('SADD', 'sp', 'x', 'y', 'z')
w.cmd('SPOP', 'sp')
w.cmd('XADD', 'xs', '*', 'f', 'v')
w.cmd('FLUSHDB')
recs = []
for i, f in enumerate(flows):
    time.sleep(0.05)
    recs.append(journal(f.drain(0.3)))
cmds = [r for rs in recs for r in rs if r[0] == 'cmd']
names = [r[3][0] for r in cmds]
ok(any(r[3][:2] == [b'SET', b'k1'] and r[2] == 0 for r in cmds), 'SET journaled, txid 0')
ok(any(r[3][0] == b'SET' and r[3][1] == b'kx' and r[3][3] == b'PXAT' for r in cmds), 'SET EX -> SET k v PXAT ms')
msets = [r for r in cmds if r[3][0] == b'MSET']
ok(len(msets) >= 2 and len({r[2] for r in msets}) == 1 and msets[0][2] > 0, 'MSET split per shard, one txid')
ok(any(r[3] == [b'INCRBYFLOAT', b'f', b'1.5'] for r in cmds), 'INCRBYFLOAT verbatim')
ok(any(r[3][0] == b'SREM' and r[3][1] == b'sp' and len(r[3]) == 3 for r in cmds), 'SPOP -> SREM popped member')
ok(any(r[3][0] == b'XADD' and re.fullmatch(rb'\d+-\d+', r[3][2]) for r in cmds), 'XADD * -> resolved id')
fl = [r for r in cmds if r[3][0] == b'FLUSHDB']
ok(len(fl) == 3 and len({r[2] for r in fl}) == 1, 'FLUSHDB on every shard with one txid')
ctl.close()
for f in flows:
    f.close()
m.stop()

# ------------------------------------------------------------ writes during a full sync
m = Master('--chunk-size', '8192', '--snapshot-delay-us', '2000', '--compression', 'none', shards=2)
c = m.conn()
c.cmd('DEBUG', 'POPULATE', '3000', 'key', '20')
for i in range(3):
    c.cmd('RPUSH', 'biglist%d' % i, *['e%05d-%s' % (j, 'x' * 30) for j in range(600)])


ctl, mid, sid = handshake(m)
flows, _ = open_flows(m, mid, sid)
ctl.cmd('DFLY', 'SYNC', sid)
for i in range(200):
    c.cmd('SET', 'key:%d' % (i * 13), 'new-%d' % i)
    c.cmd('RPUSH', 'biglist1', 'late-%d' % i)
streams = [f.read_until(lambda b: b'\xc8' + b'\0' * 8 in b, 30) for f in flows]
is_(ctl.cmd('DFLY', 'STARTSTABLE', sid), b'+OK\r\n',
    'full sync with concurrent writes: every flow reached FULLSYNC_END, STARTSTABLE +OK')
tokens = []
ev = []
for i, f in enumerate(flows):
    streams[i] += f.read_until(lambda b: re.search(EOF_MARK + b'[0-9a-f]{40}', b) is not None)
    rc, out, err = rdbevents(streams[i], 'during-%d.bin' % i)
    ev.append((rc, out))
ok(all(e[0] == 0 for e in ev), 'streams with interleaved journal blobs decode')
# ordering invariant: a key's journal blob never precedes its snapshot entry
bad = 0
for rc, out in ev:
    seen = set()
    for ln in out.splitlines():
        if ln.startswith('key '):
            seen.add(ln.split(' ', 7)[7])
        elif ln.startswith('journal '):
            rec = journal(bytes.fromhex(ln.split()[2]))
            for r in rec:
                if r[0] == 'cmd' and r[3][1].decode('latin-1') not in seen and \
                        r[3][1].startswith(b'key:'):
                    bad += 1
is_(bad, 0, 'no journal blob for a key before the key\'s snapshot entry (replication.md 4.2)')
alltxt = ''.join(e[1] for e in ev)
ok(len(re.findall(r'^journal ', alltxt, re.M)) >= 400, 'writes made during the full sync arrive as JOURNAL_BLOBs')
inter = 0
for rc, out in ev:
    lines = out.splitlines()
    for i, ln in enumerate(lines):
        mm = re.match(r'key (\d+) .* (biglist\d)$', ln)
        if mm:
            end = lines.index('keyend %s %s' % (mm.group(1), mm.group(2)), i)
            inter += any(x.startswith(('key ', 'journal ')) for x in lines[i + 1:end])
if not ok(inter >= 1, 'other entries and journal blobs arrive between the tagged pieces of a big list'):
    diag('\n'.join(x[:80] for e in ev for x in e[1].splitlines() if 'biglist' in x or x.startswith('journal'))[:3000])
m.stop()

# ------------------------------------------------------------ partial sync
m = Master('--master-id', 'ab' * 20, shards=2)
w = m.conn()
for i in range(20):
    w.cmd('SET', 'p%d' % i, i)
ctl, sid, flows, tokens, streams = full_session(m)
for i in range(10):
    w.cmd('INCR', 'p%d' % i)
recs = [journal(f.drain(0.3)) for f in flows]
lsns = [int(x) for x in re.findall(rb':(\d+)', ctl.cmd('DFLY', 'REPLICAOFFSET'))]
for i, f in enumerate(flows):
    f.send('REPLCONF', 'ACK', lsns[i])
ctl.close()
for f in flows:
    f.close()
time.sleep(0.2)
for i in range(10, 20):
    w.cmd('INCR', 'p%d' % i)
ctl, mid, sid2 = handshake(m)
is_(mid, 'ab' * 20, '--master-id fixes the replication id')
flows, replies = open_flows(m, mid, sid2, lsns)
ok(all(r.startswith(b'*2\r\n+PARTIAL\r\n+') for r in replies), 'reconnect with the acked LSNs -> PARTIAL on every flow')
is_(ctl.cmd('DFLY', 'SYNC', sid2), b'-ERR invalid state\r\n', 'DFLY SYNC on a PARTIAL session -> invalid state')
is_(ctl.cmd('DFLY', 'STARTSTABLE', sid2), b'+OK\r\n', 'STARTSTABLE without SYNC on an all-PARTIAL session')
got = [journal(f.drain(0.3)) for f in flows]
incrs = sorted(r[3][1] for rs in got for r in rs if r[0] == 'cmd')
is_(incrs, sorted(b'p%d' % i for i in range(10, 20)), 'partial flows carry exactly the records from the LSN on')
is_(stats(w)['partial_syncs'], '1', 'STATS counts the partial sync')
ctl.close()
for f in flows:
    f.close()
time.sleep(0.1)
ctl, mid, sid3 = handshake(m)
flows, replies = open_flows(m, mid, sid3, [1, 1])
ok(all(r.startswith(b'*2\r\n+PARTIAL') for r in replies), 'LSN 1 still in the backlog -> PARTIAL')
ctl.close()
for f in flows:
    f.close()
ctl, mid, sid4 = handshake(m)
flows, replies = open_flows(m, mid, sid4, [10 ** 6, 10 ** 6])
ok(all(r.startswith(b'*2\r\n+FULL') for r in replies), 'LSN beyond the journal -> FULL')
m.stop()

m = Master('--backlog-records', '5', shards=1)
w = m.conn()
for i in range(20):
    w.cmd('SET', 'q', i)
ctl, mid, sid = handshake(m)
f = m.conn()
ok(f.cmd('DFLY', 'FLOW', mid, sid, 0, 2).startswith(b'*2\r\n+FULL'), 'LSN evicted from the backlog -> FULL')
ok(m.conn().cmd('DFLY', 'FLOW', mid, sid, 0, 18).startswith(b'-ERR invalid state'), 'slot taken -> invalid state')
m.stop()
m = Master('--refuse-partial', shards=1)
ctl, mid, sid = handshake(m)
ok(m.conn().cmd('DFLY', 'FLOW', mid, sid, 0, 1).startswith(b'*2\r\n+FULL'), '--refuse-partial -> FULL')
m.stop()

# ------------------------------------------------------------ journal rules
m = Master('--lsn-interval-ms', '0', shards=2)
w = m.conn()
ctl, sid, flows, tokens, streams = full_session(m)
offs = [int(x) for x in re.findall(rb':(\d+)', ctl.cmd('DFLY', 'REPLICAOFFSET'))]
w.cmd('SET', 'e1', 'v', 'PX', '50')
w.cmd('MULTI')
w.cmd('SET', 'm1', '1')
w.cmd('SET', 'm2', '2')
w.cmd('INCR', 'm3')
is_(w.raw_reply() if False else w.cmd('EXEC'), b'*3\r\n+OK\r\n+OK\r\n:1\r\n', 'MULTI/EXEC replies')
time.sleep(0.2)
w.cmd('GET', 'e1')
w.cmd('SET', 'k', 'old')
for i in range(6):
    w.cmd('RENAME', 'k' if i == 0 else 'renamed-%d' % (i - 1), 'renamed-%d' % i)
w.cmd('EXPIRE', 'm1', '-1')
for i in range(4):
    w.cmd('XADD', 'xs', 'MAXLEN', '3', '%d-0' % (i + 1), 'f', i)
w.cmd('XGROUP', 'CREATE', 'xs', 'g', '0')
w.cmd('XREADGROUP', 'GROUP', 'g', 'c1', 'COUNT', '2', 'STREAMS', 'xs', '>')
recs = [journal(f.drain(0.3)) for f in flows]
xr = [r[3] for rs in recs for r in rs if r[0] == 'cmd' and r[3][0] in (b'XADD', b'XGROUP', b'XCLAIM')]
is_(xr[3][:5], [b'XADD', b'xs', b'MINID', b'2-0', b'4-0'], 'XADD MAXLEN -> XADD k MINID <first> <id>')
is_([x[:2] for x in xr[4:]], [[b'XGROUP', b'CREATE'], [b'XGROUP', b'CREATECONSUMER'], [b'XCLAIM', b'xs'],
                              [b'XCLAIM', b'xs'], [b'XGROUP', b'SETID']],
    'XREADGROUP -> CREATECONSUMER, XCLAIM per entry, XGROUP SETID')
ok(xr[6][5:] == [b'2-0', b'TIME', xr[6][7], b'RETRYCOUNT', b'1', b'FORCE', b'JUSTID', b'LASTID', b'2-0'] and
   xr[8][4:] == [b'3-0', b'ENTRIESREAD', b'2'], 'XCLAIM/SETID arguments as journal.md 7')
allr = [r for rs in recs for r in rs]
multi = [r for r in allr if r[0] == 'cmd' and r[3][1] in (b'm1', b'm2', b'm3') and r[3][0] != b'DEL']
ok(len(multi) == 3 and len({r[2] for r in multi}) == 1 and multi[0][2] > 0,
   'MULTI/EXEC inner writes journaled individually with one txid')
ok(any(r[0] == 'cmd' and r[3] == [b'DEL', b'e1'] and r[2] == 0 for r in allr), 'expired key -> DEL k with txid 0')
ok(any(r[0] == 'cmd' and r[3] == [b'DEL', b'm1'] for r in allr), 'EXPIRE in the past -> DEL')
good = True
for i, rs in enumerate(recs):
    n = offs[i]
    for r in rs:
        if r[0] == 'lsn':
            good &= r[1] == n - 1
        else:
            n += 1
    good &= any(r[0] == 'lsn' for r in rs)
ok(good, 'LSN entries carry the LSN of the record before them (journal.md 3.5, 4)')
ren = [r for r in allr if r[0] == 'cmd' and r[3][0] in (b'RENAME', b'RESTORE', b'DEL') and
       r[3][1].startswith((b'k', b'renamed'))]
restores = [r for r in ren if r[3][0] == b'RESTORE']
ok(any(r[3][0] == b'RENAME' for r in ren) and restores and
   len([r for r in ren if r[3][0] == b'DEL']) == len(restores),
   'RENAME verbatim within a shard, DEL + RESTORE across shards')
rs = RedisServer()
rc = rs.client()
for i, r in enumerate(restores):
    rc.execute_command('RESTORE', 'x%d' % i, 0, r[3][3])
is_([rc.get('x%d' % i) for i in range(len(restores))], [b'old'] * len(restores),
    'the RESTORE payloads (DUMP format, CRC-64) load into a real Redis')
rs.stop()
ctl.close()
m.stop()
a, b = Master(shards=1), Master(shards=1)
ok(handshake(a)[1] != handshake(b)[1], 'a random replication id per start')
a.stop()
b.stop()

# ------------------------------------------------------------ barrier hook
m = Master('--snapshot-delay-us', '20000', shards=2)
c = m.conn()
c.cmd('DEBUG', 'POPULATE', '20000', 'key', '100')
ctl, mid, sid = handshake(m)
flows, _ = open_flows(m, mid, sid)
ctl.cmd('DFLY', 'SYNC', sid)
ctl.send('DFLY', 'STARTSTABLE', sid)
is_(m.wait(10), 3, 'STARTSTABLE before FULLSYNC_END: exit status 3')
ok('BARRIER VIOLATION' in m.stderr(), '... printing BARRIER VIOLATION')

# ------------------------------------------------------------ faults
m = Master('--fault-close-flow', '1:100', shards=2)
m.conn().cmd('DFLYMASTER', 'LOAD-SAMPLE')
ctl, mid, sid = handshake(m)
flows, rep = open_flows(m, mid, sid)
ctl.cmd('DFLY', 'SYNC', sid)
d = flows[1].drain(1.0)
is_(len(d), 100, '--fault-close-flow 1:100: exactly 100 stream bytes')
ok(flows[1].closed(1), '... then the flow is closed')
is_(ctl.cmd('DFLY', 'SYNC', sid), b'-ERR syncid not found\r\n', '... and the session cancelled')
m.stop()
m = Master('--fault-stall-flow', '0:50', shards=2)
m.conn().cmd('DFLYMASTER', 'LOAD-SAMPLE')
ctl, mid, sid = handshake(m)
flows, rep = open_flows(m, mid, sid)
ctl.cmd('DFLY', 'SYNC', sid)
is_(len(flows[0].drain(1.0)), 50, '--fault-stall-flow 0:50: 50 bytes then silence')
ok(not flows[0].closed(0.5), '... socket stays open')
ok(len(flows[1].drain(0.5)) > 50, '... other flows unaffected')
m.stop()
m = Master('--fault-flip-byte', '0:2', shards=1)
ctl, mid, sid = handshake(m)
flows, rep = open_flows(m, mid, sid)
ctl.cmd('DFLY', 'SYNC', sid)
is_(flows[0].read_exact(9), b'REEIS0009', '--fault-flip-byte 0:2 flips a bit of byte 2')
m.stop()
m = Master('--fault-startstable-error', shards=1)
ctl, mid, sid = handshake(m)
flows, rep = open_flows(m, mid, sid)
ctl.cmd('DFLY', 'SYNC', sid)
flows[0].read_until(lambda b: b'\xc8' + b'\0' * 8 in b)
is_(ctl.cmd('DFLY', 'STARTSTABLE', sid), b'-ERR invalid state\r\n', '--fault-startstable-error: first STARTSTABLE fails')
is_(ctl.cmd('DFLY', 'STARTSTABLE', sid), b'+OK\r\n', '... the second succeeds')
m.stop()
# --fault-once: the first full sync is hit, the retry is clean
m = Master('--fault-once', '--fault-close-flow', '1:100', '--fault-startstable-error', shards=2)
w = m.conn()
w.cmd('DFLYMASTER', 'LOAD-SAMPLE')
ctl, mid, sid = handshake(m)
flows, rep = open_flows(m, mid, sid)
ctl.cmd('DFLY', 'SYNC', sid)
is_(len(flows[1].drain(1.0)), 100, '--fault-once: the first full sync is cut after 100 bytes')
is_(ctl.cmd('DFLY', 'SYNC', sid), b'-ERR syncid not found\r\n', '... and cancelled')
is_(stats(w)['faults'], '1', '... STATS counts the fault')
ctl, mid, sid = handshake(m)
flows, rep = open_flows(m, mid, sid)
is_(ctl.cmd('DFLY', 'SYNC', sid), b'+OK\r\n', 'second session: DFLY SYNC')
streams = [f.read_until(lambda b: b'\xc8' + b'\0' * 8 in b) for f in flows]
is_(ctl.cmd('DFLY', 'STARTSTABLE', sid), b'+OK\r\n', '... STARTSTABLE succeeds at once (--fault-startstable-error spent)')
for i, f in enumerate(flows):
    streams[i] += f.read_until(lambda b: re.search(EOF_MARK + b'[0-9a-f]{40}', b) is not None)
dec = [rdbevents(s, 'once-%d.bin' % i) for i, s in enumerate(streams)]
ok(all(d[0] == 0 for d in dec), '... every flow decodes to the end')
is_(len(re.findall(r'^key ', ''.join(d[1] for d in dec), re.M)), 26, '... with every sample key')
is_(stats(w)['faults'], '1', '... and no further fault')
m.stop()
m = Master('--fault-once', '--fault-stall-flow', '0:50', shards=2)
w = m.conn()
w.cmd('DFLYMASTER', 'LOAD-SAMPLE')
ctl, mid, sid = handshake(m)
flows, rep = open_flows(m, mid, sid)
ctl.cmd('DFLY', 'SYNC', sid)
is_(len(flows[0].drain(1.0)), 50, '--fault-once --fault-stall-flow 0:50: the first full sync stalls at 50 bytes')
is_(stats(w)['faults'], '1', '... one fault counted')
for x in [ctl] + flows:
    x.close()
ok(wait_for(lambda: stats(w)['active_sessions'] == '0'), '... the replica gives up: session gone')
ctl, sid, flows, tokens, streams = full_session(m)
ok(all(rdbevents(s, 'oncestall-%d.bin' % i)[0] == 0 for i, s in enumerate(streams)),
   '... the retry streams every flow to its EOF token')
m.stop()
m = Master('--fault-once', '--fault-flip-byte', '0:2', '--master-id', 'cd' * 20, shards=1)
w = m.conn()
w.cmd('SET', 'a', '1')
ctl, mid, sid = handshake(m)
flows, rep = open_flows(m, mid, sid, [1])
ok(rep[0].startswith(b'*2\r\n+PARTIAL'), '--fault-once: a partial session first')
is_(ctl.cmd('DFLY', 'STARTSTABLE', sid), b'+OK\r\n', '... stable')
ok(journal(flows[0].drain(0.3))[0][3] == [b'SET', b'a', b'1'], '... its journal is not flipped')
ctl.close()
flows[0].close()
for n, want in ((1, b'REEIS0009'), (2, b'REDIS0009'), (3, b'REDIS0009')):
    ctl, mid, sid = handshake(m)
    flows, rep = open_flows(m, mid, sid)
    ctl.cmd('DFLY', 'SYNC', sid)
    is_(flows[0].read_exact(9), want, '--fault-once --fault-flip-byte 0:2: full sync %d starts %r' % (n, want))
    ctl.close()
    flows[0].close()
    wait_for(lambda: stats(w)['active_sessions'] == '0')
m.stop()

# ------------------------------------------------------------ strings: growth, reads (vs. a real Redis)
# Every way a string is born, then APPEND/SETRANGE growth and the cheap reads,
# sent to this master and to redis-server; the raw replies must be equal.
m = Master(shards=3)
mc = m.conn()
rs = RedisServer()
rc = Conn(rs.port)
both = [mc, rc]


def same(*args):
    return [x.cmd(*args) for x in both]


mc.cmd('DFLYMASTER', 'LOAD-SAMPLE')
mc.cmd('DEBUG', 'POPULATE', 2, 'g:pop', 0)
mc.cmd('DEBUG', 'POPULATE', 1, 'g:pop7', 7)
mc.cmd('DEBUG', 'POPULATE', 1, 'g:popbig', 3000)
born = ['s:plain', 's:empty', 's:big', 's:int', 'g:pop:0', 'g:pop:1', 'g:pop7:0', 'g:popbig:0']
is_(mc.cmd('GET', 'g:popbig:0'), b'$3000\r\nvalue:0' + b'x' * 2993 + b'\r\n',
    'DEBUG POPULATE value: value:<i> padded with x to the size')
for k in born:    # no DEBUG POPULATE / LOAD-SAMPLE in Redis: copy the value
    v = mc.cmd('GET', k)
    rc.cmd('SET', k, v[v.index(b'\r\n') + 2:-2])
same('SET', 'g:set', 'abc')
same('SETEX', 'g:setex', 100, 'abc')
same('PSETEX', 'g:psetex', 100000, 'abc')
same('SET', 'g:ex', 'abc', 'EX', 100)
same('SET', 'g:get', 'abc', 'GET')
same('MSET', 'g:mset1', 'abc', 'g:mset2', '')
same('INCR', 'g:incr')
same('INCRBYFLOAT', 'g:float', '1.5')
same('APPEND', 'g:append', 'abc')
same('SETRANGE', 'g:setrange', 2, 'abc')
same('SET', 'g:src', 'abc')
same('RENAME', 'g:src', 'g:renamed')
same('MULTI')
same('SET', 'g:multi', 'abc')
same('APPEND', 'g:multi', 'def')
same('EXEC')
born += ['g:set', 'g:setex', 'g:psetex', 'g:ex', 'g:get', 'g:mset1', 'g:mset2', 'g:incr',
         'g:float', 'g:append', 'g:setrange', 'g:renamed', 'g:multi']
bad = []
for k in born:
    for args in (('APPEND', k, 'XYZ'), ('APPEND', k, 'p' * 5000), ('APPEND', k, ''),
                 ('SETRANGE', k, 1, 'ab'), ('SETRANGE', k, 0, ''), ('SETRANGE', k, 120000, 'Q'),
                 ('APPEND', k, 'tail'), ('GET', k), ('STRLEN', k), ('GETRANGE', k, 0, 9),
                 ('GETRANGE', k, -5, -1), ('GETRANGE', k, 100, 50), ('GETRANGE', k, -10 ** 6, 2),
                 ('GETRANGE', k, 119990, 10 ** 9)):
        r = same(*args)
        if r[0] != r[1]:
            bad.append((args[:2], r[0][:60], r[1][:60]))
is_(bad, [], 'APPEND/SETRANGE growth on %d strings born %d ways: same replies as Redis' %
    (len(born), len(born)))
same('RPUSH', 'r:l', 'a', 'b')
same('SADD', 'r:s', 'a', 'b', 'c')
same('HSET', 'r:h', 'f', 'v')
same('ZADD', 'r:z', 1, 'a', 2, 'b')
same('XADD', 'r:x', '1-1', 'f', 'v')
same('XADD', 'r:x', '1-2', 'f', 'v')
reads = [('MGET', 'g:set', 'nope', 'r:l', 's:plain', 'g:mset2'), ('MGET', 'nope'),
         ('EXISTS', 'g:set', 'g:set', 'nope', 'r:l'), ('EXISTS', 'nope'),
         ('STRLEN', 'nope'), ('STRLEN', 'r:l'), ('LLEN', 'r:l'), ('LLEN', 'nope'), ('LLEN', 'g:set'),
         ('SCARD', 'r:s'), ('SCARD', 'nope'), ('SCARD', 'r:h'), ('HLEN', 'r:h'), ('HLEN', 'nope'),
         ('HLEN', 'r:z'), ('ZCARD', 'r:z'), ('ZCARD', 'nope'), ('ZCARD', 'r:x'), ('XLEN', 'r:x'),
         ('XLEN', 'nope'), ('XLEN', 'r:s'), ('MGET',), ('GETRANGE', 'nope', 0, -1),
         ('GETRANGE', 'r:l', 0, 1), ('GETRANGE', 'g:set', 'a', 1),
         ('SETRANGE', 'nope', 5, ''), ('EXISTS', 'nope'), ('SETRANGE', 'g:set', -1, 'x'),
         ('SETRANGE', 'g:set', 'x', 'x'), ('SETRANGE', 'g:set', 512 << 20, 'x'),
         ('SETRANGE', 'nope', (512 << 20) - 1, ''), ('SETRANGE', 'r:l', 0, ''), ('SETRANGE', 'r:l', 0, 'x'),
         ('APPEND', 'r:l', 'x'), ('GET', 'g:set')]
bad = [(a, r) for a in reads for r in [same(*a)] if r[0] != r[1]]
is_(bad, [], 'MGET, EXISTS k k .., STRLEN, LLEN, SCARD, HLEN, ZCARD, XLEN, errors: %d replies as Redis' %
    len(reads))
same('SET', 'm:a', '1')
is_(mc.cmd('MGET', 'm:a', 'nope', 'r:l'), b'*3\r\n$1\r\n1\r\n$-1\r\n$-1\r\n',
    'MGET: a string, then nil for missing and wrong-type keys')
rs.stop()
m.stop()

# ------------------------------------------------------------ DEBUG POPULATE, APPEND, SETRANGE are journaled
m = Master(shards=2)
w = m.conn()
w.cmd('SET', 'jp:0', 'kept')
ctl, sid, flows, tokens, streams = full_session(m)
w.cmd('DEBUG', 'POPULATE', 30, 'jp', 12)
w.cmd('APPEND', 'jp:1', 'more')
w.cmd('SETRANGE', 'jp:2', 20, 'r')
w.cmd('DEBUG', 'POPULATE', 31, 'jp', 12)
recs = [r for f in flows for r in journal(f.drain(0.3)) if r[0] == 'cmd']
sets = sorted(r[3][1] for r in recs if r[3][0] == b'SET')
is_(sets, sorted(b'jp:%d' % i for i in range(1, 31)),
    'stable sync: DEBUG POPULATE journals one SET per key it added (existing keys skipped)')
ok(sets and all(r[2] == 0 and r[3] == [b'SET', r[3][1], b'value:%s' % r[3][1][3:] + b'x' * (12 - 6 - len(r[3][1][3:]))]
       for r in recs if r[3][0] == b'SET'), '... SET k <value>, txid 0')
ok([b'APPEND', b'jp:1', b'more'] in [r[3] for r in recs] and [b'SETRANGE', b'jp:2', b'20', b'r'] in
   [r[3] for r in recs], 'APPEND and SETRANGE journaled verbatim')
ctl.close()
m.stop()

n = 400 if ASAN else 2000
m = Master('--snapshot-delay-us', '3000', '--compression', 'none', '--chunk-size', '4096', shards=2)
w = m.conn()
w.cmd('DEBUG', 'POPULATE', n, 'old', 200)
ctl, mid, sid = handshake(m)
flows, _ = open_flows(m, mid, sid)
ctl.cmd('DFLY', 'SYNC', sid)
time.sleep(0.05)
w.cmd('DEBUG', 'POPULATE', 300, 'during', 10)
streams = [f.read_until(lambda b: b'\xc8' + b'\0' * 8 in b, 30) for f in flows]
ctl.cmd('DFLY', 'STARTSTABLE', sid)
got, injournal, dec_ok = set(), 0, True
for i, f in enumerate(flows):
    streams[i] += f.read_until(lambda b: re.search(EOF_MARK + b'[0-9a-f]{40}', b) is not None)
    rc_, out, err = rdbevents(streams[i], 'popduring-%d.bin' % i)
    dec_ok &= rc_ == 0
    for ln in out.splitlines():
        if ln.startswith('key ') and ' during:' in ln:
            got.add(ln.split(' ')[-1].encode())
        elif ln.startswith('journal '):
            for r in journal(bytes.fromhex(ln.split()[2])):
                if r[0] == 'cmd' and r[3][0] == b'SET' and r[3][1].startswith(b'during:'):
                    got.add(r[3][1])
                    injournal += 1
ok(dec_ok, 'full sync with DEBUG POPULATE running during it decodes')
is_(len(got), 300, 'every key DEBUG POPULATE added during the full sync reaches the replica')
ok(injournal > 0, '... as JOURNAL_BLOB SETs (%d of them)' % injournal)
m.stop()

# ------------------------------------------------------------ zstd, throttling
m = Master('--compression', 'zstd', shards=2)
m.conn().cmd('DFLYMASTER', 'LOAD-SAMPLE')
ctl, sid, flows, tokens, streams = full_session(m)
ok(all(s[s.index(b'shard-id') + 10:][:1] == b'\xc9' for s in streams), '--compression zstd: ZSTD blobs')
ok(all(rdbevents(s[:-40], 'zstd-%d.bin' % i)[0] == 0 for i, s in enumerate(streams)), '... that decode')
m.stop()


def rss(pid):
    with open('/proc/%d/status' % pid) as f:
        return int(re.search(r'VmRSS:\s+(\d+)', f.read()).group(1)) * 1024


n = 300000
limit = (24 if ASAN else 8) << 20     # ASan's quarantine keeps freed buffers
m = Master('--fault-stall-flow', '0:1000', '--compression', 'none', shards=1)
m.conn().cmd('DEBUG', 'POPULATE', n, 'key', 100)
before = rss(m.p.pid)
ctl, mid, sid = handshake(m)
flows, _ = open_flows(m, mid, sid)
ctl.cmd('DFLY', 'SYNC', sid)
time.sleep(1.0)
grown = rss(m.p.pid) - before
ok(grown < limit, 'a stalled flow pauses its snapshot: RSS grew %d KB for %d MB of data' %
   (grown >> 10, n * 110 >> 20))
ok(m.conn().cmd('SET', 'still', 'served') == b'+OK\r\n', 'clients are served while a flow is stalled')
m.stop()

# ------------------------------------------------------------ takeover
m = Master(shards=2)
w = m.conn()
w.cmd('SET', 'a', '1')
ctl, sid, flows, tokens, streams = full_session(m)
is_(ctl.cmd('DFLY', 'TAKEOVER', '-1', sid), b'-ERR timeout is negative\r\n', 'TAKEOVER negative timeout')
ctl.send('DFLY', 'TAKEOVER', '1', sid)
time.sleep(0.1)
ok(w.cmd('SET', 'a', '2').startswith(b'-LOADING'), 'writes are refused during TAKEOVER')
is_(ctl.raw_reply(), b'-ERR Takeover failed!\r\n', 'TAKEOVER without ACKs times out')
is_(w.cmd('SET', 'a', '3'), b'+OK\r\n', 'writes resume after a failed TAKEOVER')
lsn = [int(x) for x in re.findall(rb':(\d+)', ctl.cmd('DFLY', 'REPLICAOFFSET'))]
ctl.send('DFLY', 'TAKEOVER', '5', sid)
time.sleep(0.2)
pings = [journal(f.drain(0.2)) for f in flows]
ok(all(('ping',) in p for p in pings), 'TAKEOVER writes a PING record on every shard')
for i, f in enumerate(flows):
    f.send('REPLCONF', 'ACK', lsn[i] + 1)
is_(ctl.raw_reply(), b'+OK\r\n', 'TAKEOVER +OK once every flow ACKed the PING')
is_(m.wait(5), 0, 'master exits 0 after a takeover')

# ------------------------------------------------------------ replay
# the recorded Dragonfly sessions of the fixtures, replayed byte for byte
if have_fixtures():
    for name in sorted(os.listdir(CAPTURES)) + ['partial-lz4/first']:
        d = os.path.join(CAPTURES, name)
        if not os.path.isfile(os.path.join(d, 'manifest.json')):
            continue
        man = load_expected(os.path.join(d, 'manifest.json'))
        m = Master('--replay', d, shards=len(man['flows']))
        ctl = m.conn()
        good = split_ok = True
        flows, firsts = [], []
        order = man['control']
        stable_at = [i for i, x in enumerate(order) if x['cmd'][:2] == ['DFLY', 'STARTSTABLE']][0]
        for i, step in enumerate(order):
            if i == stable_at or (step['cmd'][:2] == ['DFLY', 'SYNC']):
                if not flows:
                    for fl in man['flows']:
                        fc = m.conn()
                        r = fc.cmd(*fl['cmd'])
                        good &= r == ('*2\r\n%s\r\n%s\r\n' % tuple(fl['reply'])).encode()
                        flows.append(fc)
            r = ctl.cmd(*step['cmd'])
            if step['cmd'][:2] == ['DFLY', 'SYNC']:
                for i, fc in enumerate(flows):
                    n = man['flows'][i]['bytes_before_startstable']
                    firsts.append(fc.read_exact(n))
                    split_ok &= fc.drain(0.1) == b''
            want = step['reply']
            if isinstance(want, list):
                want = '*%d\r\n' % len(want) + ''.join(
                    (':%d\r\n' % x) if isinstance(x, int) else x + '\r\n' for x in want)
            else:
                want += '\r\n'
            good &= r == want.encode()
        ok(good, 'replay %s: control and FLOW replies as recorded' % name)
        same = True
        for i, fc in enumerate(flows):
            want = open(os.path.join(d, 'flow-%d.bin' % i), 'rb').read()
            got = firsts[i] if firsts else b''
            got += fc.read_exact(len(want) - len(got), 10) if want else fc.drain(0.1)
            same &= got == want
        ok(split_ok, 'replay %s: only bytes_before_startstable bytes before STARTSTABLE' % name)
        ok(same, 'replay %s: every flow byte-for-byte equal to flow-<i>.bin' % name)
        m.stop()
else:
    skip('replay of the Dragonfly captures', NO_FIXTURES)

# ------------------------------------------------------------ structure vs. a real Dragonfly
if have_fixtures():
    cap = os.path.join(CAPTURES, 'types-lz4')
    real = open(os.path.join(cap, 'flow-0.bin'), 'rb').read()
    man = load_expected(os.path.join(cap, 'manifest.json'))
    tok = man['flows'][0]['reply'][1][1:].encode()
    real = real[:real.index(EOF_MARK + tok) + 9]
    rc, real_ev, _ = rdbevents(real, 'real-0.bin')
    m = Master(shards=4)
    c = m.conn()
    c.cmd('DFLYMASTER', 'LOAD-SAMPLE')
    ctl, sid, flows, tokens, streams = full_session(m)
    mine = streams[0][:-40]
    rc2, my_ev, _ = rdbevents(mine, 'mine-0.bin')
    is_((rc, rc2), (0, 0), 'both flow-0 streams decode')
    is_(re.findall(r'^aux (\S+)', my_ev, re.M), re.findall(r'^aux (\S+)', real_ev, re.M),
        'AUX names in the same order as a real Dragonfly flow 0')


    def kinds(ev):
        return sorted(set(re.findall(r'^key \d+ \d+ (\S+ \d+)', ev, re.M)))


    real_all = ''
    for capname in ('types-lz4', 'big-lz4'):
        cd = os.path.join(CAPTURES, capname)
        cm = load_expected(os.path.join(cd, 'manifest.json'))
        for i in range(len(cm['flows'])):
            b = open(os.path.join(cd, 'flow-%d.bin' % i), 'rb').read()
            t = cm['flows'][i]['reply'][1][1:].encode()
            real_all += rdbevents(b[:b.index(EOF_MARK + t) + 9], 'real-%s-%d.bin' % (capname, i))[1]
    my_all = ''.join(rdbevents(s[:-40], 'mine-%d.bin' % i)[1] for i, s in enumerate(streams))
    is_([k for k in kinds(my_all)], [k for k in kinds(real_all) if k.split()[1] not in ('31', '32', '34')],
        'same RDB types per value kind as Dragonfly in types-lz4 + big-lz4 (sans field/member TTLs, bloom)')


    def tail(ev):
        return [ln.split()[0] for ln in ev.splitlines() if ln.split()[0] in ('fullsync_end', 'journal_offset', 'eof')]


    is_(tail(my_ev), tail(real_ev), 'FULLSYNC_END -> JOURNAL_OFFSET -> EOF as in the recording')


    def framing(b):
        """Top-level framing after the AUX fields: 'blob' for CA/C9, else the opcode."""
        p = 9
        out = []
        while b[p] == 0xFA:
            p += 1
            for _ in range(2):
                x = b[p]
                if x >> 6 == 3:
                    p += 1 + [1, 2, 4][x & 3]
                else:
                    n, p = pu(b, p)
                    p += n
        while p < len(b):
            if b[p] in (0xCA, 0xC9):
                n, q = pu(b, p + 1)
                out.append('blob')
                p = q + n
            else:
                out.append('%02x' % b[p])
                break
        return out


    ok(framing(mine)[:1] == framing(real)[:1] == ['blob'], 'entries travel in LZ4 blobs right after the AUX fields')
    ok(mine[len(mine) - 18:len(mine) - 9][:1] in (b'\xd3',) or b'\xca' in mine[-400:],
       'JOURNAL_OFFSET ends the stream before EOF (plain or inside a blob)')
    big = os.path.join(CAPTURES, 'big-lz4', 'flow-0.bin')
    ok(b'\xe0' in open(big, 'rb').read(), 'the recording uses tagged chunks for big values')
    is_(m.stop(), 0, 'SIGTERM: the master exits 0')
else:
    skip('streams compared with a real Dragonfly capture', NO_FIXTURES, 8)
# ------------------------------------------------------------ member cursors
# HSCAN/SSCAN/ZSCAN walk a container as SCAN walks the keyspace (a cursor,
# COUNT, MATCH); HMGET, SMISMEMBER and ZMSCORE look members up
m = Master(shards=2)
r = redis.Redis(port=m.port)
r.hset('h', mapping={'f%d' % i: 'v%d' % i for i in range(3000)})
r.sadd('s', *('m%d' % i for i in range(3000)))
r.zadd('z', {'m%d' % i: i + 0.5 for i in range(3000)})
for cmd, scan in (('HSCAN', lambda c: r.hscan('h', c, count=100)),
                  ('SSCAN', lambda c: r.sscan('s', c, count=100)),
                  ('ZSCAN', lambda c: r.zscan('z', c, count=100))):
    cur, seen, calls = 0, [], 0
    while calls < 10000:
        cur, items = scan(cur)
        seen += list(items.items()) if isinstance(items, dict) else list(items)
        calls += 1
        if cur == 0:
            break
    ok(cur == 0 and calls > 10 and len(set(seen)) == 3000,
       '%s: the cursor walk yields every member, in %d calls of COUNT 100' % (cmd, calls))
ok(dict(seen)[b'm7'] == 7.5, 'ZSCAN: member and score')
cur, items = r.hscan('h', 0, match='f12*', count=10000)
ok(cur == 0 and len(items) == 111 and all(k.startswith(b'f12') for k in items),
   'HSCAN MATCH f12*: the 111 fields that match')
is_(r.hscan('nokey', 0), (0, {}), 'HSCAN of no key: cursor 0, nothing')
is_(r.execute_command('HMGET', 'h', 'f1', 'nope', 'f2'), [b'v1', None, b'v2'], 'HMGET: nil for a missing field')
is_(r.execute_command('SMISMEMBER', 's', 'm1', 'x', 'm2999'), [1, 0, 1], 'SMISMEMBER: 1 0 1')
is_(r.zmscore('z', ['m1', 'x']), [1.5, None], 'ZMSCORE: a score, nil')
is_(r.execute_command('ZMSCORE', 'nokey', 'm1'), [None], 'ZMSCORE of no key: nil')
try:
    r.execute_command('SSCAN', 'h', 0)
    ok(False, 'SSCAN of a hash: WRONGTYPE')
except redis.exceptions.ResponseError as e:
    ok(str(e).startswith('WRONGTYPE'), 'SSCAN of a hash: WRONGTYPE')
try:
    r.execute_command('HSCAN', 'h', 'x')
    ok(False, 'HSCAN bad cursor: an error')
except redis.exceptions.ResponseError as e:
    ok('invalid cursor' in str(e), 'HSCAN bad cursor: ERR invalid cursor')
is_(m.stop(), 0, 'SIGTERM: the master exits 0')
reports = [x.stderr() for x in Master.all]
reports = [r for r in reports if re.search(r'(Address|Leak)Sanitizer|runtime error:', r)]
if not ok(not reports, 'no sanitizer report in any of the %d masters\' logs' % len(Master.all)):
    r = reports[0]
    diag(r[re.search(r'==\d+==|runtime error:', r).start():][:3000])
done_testing()
