#!/usr/bin/python3
# The writer fed as a FLOW worker feeds it (t/bin/writerfeed): keys of
# several dbs whose pieces interleave (Dragonfly's tagged chunks), small
# keys and journal commands of other dbs in between, every type, big
# (temporary name + rename) and small; the target is compared key by key.
# Then divergences: someone else writes to or deletes a temporary key
# mid-build, which must fail naming the key, the command and the counts;
# and resends of a key's commands after it was renamed (what the target
# does after a reconnect), which must be recognised as already applied.
import os
import random
import re
import socket
import sys
import threading
import time
from urllib.parse import quote

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *

FEED = os.path.join(TBIN, 'writerfeed')
if not os.access(FEED, os.X_OK):
    skip_all('t/bin/writerfeed not built')

TMP = tmpdir('interleave')
BATCH = 16
BIGSTR = (1 << 20) + 300000      # past the writer's 1 MiB APPEND chunk
NKEYS = 120 if not ASAN else 40
DBS = 4


def q(s):
    return quote(s.encode('utf-8'), safe='')


def l1(s):
    """A name as dump_server() shows it: its UTF-8 bytes as latin-1."""
    return s.encode('utf-8').decode('latin-1')


def feed(url, lines, batch=BATCH):
    path = os.path.join(TMP, 'feed.txt')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return run([FEED, '-b', str(batch), url, path], timeout=120)


def out(r):
    return (r.stdout + r.stderr).decode(errors='replace').strip()


# ---------------------------------------------------------------- model

def gen_key(rng, i):
    """(name, type, expire_ms, body lines with @ for the eid, expected)"""
    t = ['string', 'list', 'set', 'zset', 'hash', 'stream'][i % 6]
    big = rng.random() < 0.5
    n = rng.randint(BATCH * 2, BATCH * 12) if big else rng.randint(1, BATCH - 2)
    name = 'k:%d:%s%s' % (i, t, rng.choice(['', ' sp', '{tag}', '\u00e9']))
    exp = -1
    if rng.random() < 0.2:
        exp = int(time.time() * 1000) + 3600 * 1000 + i
    body = []
    if t == 'string':
        if big and i % 12 == 0:
            v = ('%d-' % i) * (BIGSTR // len('%d-' % i))
            for off in range(0, len(v), 200000):
                body.append('piece @ ' + q(v[off:off + 200000]))
            body.append('item @')
        else:
            v = 'v%d' % i * rng.randint(1, 50)
            body.append('item @ ' + q(v))
        val = v
    elif t == 'list':
        val = ['e%d.%d' % (i, j) for j in range(n)]
        body = ['item @ ' + q(x) for x in val]
    elif t == 'set':
        val = sorted('m%d.%d' % (i, j) for j in range(n))
        body = ['item @ ' + q(x) for x in val]
    elif t == 'zset':
        mem = [('z%d.%d' % (i, j), j * 1.5 - 7) for j in range(n)]
        body = ['item @ %s %r' % (q(m), s) for m, s in mem]
        val = [[m, repr(float(s))] for m, s in sorted(mem, key=lambda x: (x[1], x[0]))]
    elif t == 'hash':
        pairs = [('f%d' % j, 'h%d.%d' % (i, j)) for j in range(n)]
        body = ['item @ %s %s' % (q(f), q(v)) for f, v in pairs]
        val = sorted([f, v] for f, v in pairs)
    else:
        ents = [('%d-%d' % (1000 + j, j % 3), ['a', 'x%d' % j, 'b', str(i)]) for j in range(n)]
        body = ['entry @ %s %s' % (e, ' '.join(q(x) for x in fv)) for e, fv in ents]
        body.append('meta @ %s' % ents[-1][0])
        val = {'entries': [[e, fv] for e, fv in ents], 'groups': []}
    return name, t, exp, body, {'type': t, 'value': val, 'pexpiretime': exp}


def schedule(rng):
    """Event lines interleaving keys of every db, and the expected keyspace."""
    want = {}
    lines = []
    names = {}
    todo = [gen_key(rng, i) + (rng.randrange(DBS),) for i in range(NKEYS)]
    open_ = {}      # eid -> [db, name, body, pos, expected]
    next_eid = 1
    jn = 0
    done = []       # (db, name) of complete keys

    def finish(db, name, exp_val):
        want.setdefault(str(db), {})[l1(name)] = exp_val
        names[l1(name)] = name
        done.append((db, l1(name)))

    while todo or open_:
        r = rng.random()
        if todo and (r < 0.15 or not open_) and len(open_) < 4:
            name, t, exp, body, ev, db = todo.pop()
            eid = next_eid
            next_eid += 1
            lines.append('key %d %d %s %s %d' % (eid, db, t, q(name), exp))
            open_[eid] = [db, name, body, 0, ev]
        elif todo and r < 0.3:
            # a whole key with no tagged chunk, between the chunks
            name, t, exp, body, ev, db = todo.pop()
            lines.append('key 0 %d %s %s %d' % (db, t, q(name), exp))
            lines += [b.replace('@', '0', 1) for b in body]
            lines.append('end 0')
            finish(db, name, ev)
        elif r < 0.45:
            # journal commands of another db in between
            jn += 1
            db = rng.randrange(DBS)
            if done and rng.random() < 0.5:
                ddb, dname = rng.choice(done)
                cur = want[str(ddb)][dname]
                if cur['type'] == 'hash':
                    lines.append('j %d HSET %s jf %d' % (ddb, q(names[dname]), jn))
                    cur['value'] = sorted([p for p in cur['value'] if p[0] != 'jf'] + [['jf', str(jn)]])
                    continue
                if cur['type'] == 'list':
                    lines.append('j %d RPUSH %s j%d' % (ddb, q(names[dname]), jn))
                    cur['value'].append('j%d' % jn)
                    continue
            lines.append('j %d SET j:%d jv%d' % (db, jn, jn))
            want.setdefault(str(db), {})['j:%d' % jn] = {
                'type': 'string', 'value': 'jv%d' % jn, 'pexpiretime': -1}
        elif rng.random() < 0.03:
            lines.append('sync')
        elif open_:
            eid = rng.choice(sorted(open_))
            st = open_[eid]
            k = rng.randint(1, BATCH * 2)
            lines += [b.replace('@', str(eid), 1) for b in st[2][st[3]:st[3] + k]]
            st[3] += k
            if st[3] >= len(st[2]):
                lines.append('end %d' % eid)
                finish(st[0], st[1], st[4])
                del open_[eid]
    return lines, want


# ---------------------------------------------------------------- MONITOR

def unquote_monitor(s):
    out = bytearray()
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == '\\' and i + 1 < len(s):
            n = s[i + 1]
            if n == 'x':
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
            out += {'n': b'\n', 'r': b'\r', 't': b'\t', 'a': b'\a', 'b': b'\b'}.get(n, n.encode('latin-1'))
            i += 2
            continue
        out += ch.encode('latin-1')
        i += 1
    return bytes(out)


class Monitor:
    """The commands the target runs, as (db, [args]), from MONITOR."""

    def __init__(self, port):
        self.s = socket.create_connection(('127.0.0.1', port))
        self.s.sendall(b'MONITOR\r\n')
        self.buf = b''
        while b'\r\n' not in self.buf:
            self.buf += self.s.recv(65536)
        self.buf = self.buf.split(b'\r\n', 1)[1]
        self.cmds = []
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while True:
            try:
                d = self.s.recv(1 << 20)
            except OSError:
                return
            if not d:
                return
            self.buf += d
            while b'\r\n' in self.buf:
                line, self.buf = self.buf.split(b'\r\n', 1)
                m = re.match(rb'^\+\S+ \[(\d+) [^\]]*\] (.*)$', line, re.S)
                if m:
                    args = re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2).decode('latin-1'))
                    self.cmds.append((int(m.group(1)), [unquote_monitor(a) for a in args]))

    def close(self, client):
        """Stop after a marker command: everything before it was seen."""
        client.echo('monitor-end')
        end = time.time() + 20
        while time.time() < end and not any(a == [b'ECHO', b'monitor-end'] for _, a in self.cmds):
            time.sleep(0.02)
        self.s.close()


# ---------------------------------------------------------------- tests

# 1. interleaved keys of four dbs, journal in between, compared key by key
for seed in (1, 2):
    srv = RedisServer()
    lines, want = schedule(random.Random(seed))
    r = feed(srv.url, lines)
    is_(r.returncode, 0, 'seed %d: %d lines fed (%s)' % (seed, len(lines), out(r)[-300:]))
    c = srv.client()
    got = dump_server(c, dbs=DBS + 1)
    diff = diff_keyspaces(got, want, limit=5)
    for d in diff:
        diag(d[:400])
    ok(not diff, 'seed %d: %d keys in %d dbs, each in its own db and whole' %
       (seed, sum(len(v) for v in want.values()), len(want)))
    tmps = [k for db in range(DBS) for k in srv.client(db).keys('*df2redis:tmp:*')]
    is_(tmps, [], 'seed %d: no temporary key left' % seed)
    srv.stop()

# 2. divergences: someone else writes to a temporary key mid-build
INTRUDE = "for _,k in ipairs(redis.call('KEYS','*df2redis:tmp:*')) do redis.call(%s) end return 1"


def other(db, script):
    return 'other %d EVAL %s 0' % (db, q(INTRUDE % script))


def diverge(name, lines, want_re, key, db=1):
    srv = RedisServer()
    r = feed(srv.url, lines, batch=10)
    o = out(r)
    is_(r.returncode, 1, '%s: writerfeed fails' % name)
    ok(o.startswith('error diverged:'), '%s: the error is a divergence (%s)' % (name, o[:300]))
    ok(re.search(want_re, o) is not None, '%s: the error names key, command and counts' % name)
    is_(srv.client(db).exists(key), 0, '%s: the key was not put in place' % name)
    srv.stop()


items = ['item 7 e%d' % j for j in range(200)]
diverge('RPUSH mid-build',
        ['key 7 1 list victim'] + items[:50] + ['sync', other(1, "'RPUSH',k,'intruder'")] +
        items[50:] + ['end 7'],
        r'key "victim": RPUSH: its temporary key \{\d+\}df2redis:tmp:\d+:1 holds 51 '
        r'elements where 50 were expected', 'victim')
diverge('RPUSH after the last batch',
        ['key 7 1 list victim'] + items + ['sync', other(1, "'RPUSH',k,'a','b'")] + ['end 7'],
        r'key "victim": before the rename: its temporary key \S+ holds 202 elements '
        r'where 200 were expected', 'victim')
diverge('temporary list deleted mid-build',
        ['key 7 1 list victim'] + items[:50] + ['sync', other(1, "'DEL',k")] + items[50:] +
        ['end 7'], r'key "victim": its temporary key \S+ vanished before the rename, and the '
        r'key does not hold the 200 elements written', 'victim')
diverge('temporary set deleted mid-build',
        ['key 7 1 set victim'] + items[:50] + ['sync', other(1, "'DEL',k")] + items[50:] +
        ['end 7'], r'key "victim": before the rename: its temporary key \S+ holds 150 members '
        r'where 200 were expected', 'victim')
diverge('SADD after the last batch',
        ['key 7 1 set victim'] + items + ['sync', other(1, "'SADD',k,'a'")] + ['end 7'],
        r'key "victim": before the rename: its temporary key \S+ holds 201 members '
        r'where 200 were expected', 'victim')
big = 'x' * 600000
diverge('APPEND mid-build',
        ['key 9 1 string victim', 'piece 9 ' + big, 'piece 9 ' + big, 'sync',
         other(1, "'APPEND',k,'zz'"), 'piece 9 ' + big, 'piece 9 ' + big, 'item 9', 'end 9'],
        r'key "victim": APPEND: its temporary key \S+ holds 1200002 bytes where 1200000 '
        r'were expected', 'victim')
ents = ['entry 4 %d-0 f v%d' % (100 + j, j) for j in range(40)]
diverge('XADD mid-build',
        ['key 4 1 stream victim'] + ents[:20] + ['sync', other(1, "'XADD',k,'9999-0','f','x'")] +
        ents[20:] + ['meta 4 139-0', 'end 4'],
        r'key "victim": XADD: its temporary key \S+ holds 21 entries where 20 were expected',
        'victim')

# 3. resends of commands the target already ran: no error, no change
srv = RedisServer()
mon = Monitor(srv.port)
lines = ['key 2 0 list L'] + ['item 2 e%d' % j for j in range(100)] + \
        ['key 0 1 string s', 'item 0 x', 'end 0', 'end 2',
         'key 3 1 string S', 'piece 3 ' + 'y' * 700000, 'piece 3 ' + 'z' * 700000,
         'piece 3 ' + 'w' * 700000,
         'item 3', 'end 3']
r = feed(srv.url, lines, batch=10)
mon.close(srv.client())
is_(r.returncode, 0, 'resend: fed (%s)' % out(r)[-200:])
c0, c1 = srv.client(0), srv.client(1)
before = (c0.lrange('L', 0, -1), c1.get('S'))
evals = [(db, a) for db, a in mon.cmds if a and a[0].upper() == b'EVAL']
rpush = [(db, a) for db, a in evals if b"'RPUSH'" in a[1]]
finish = [(db, a) for db, a in evals if b"'RENAME'" in a[1]]
append = [(db, a) for db, a in evals if b"'APPEND'" in a[1]]
is_(len(rpush), 10, 'resend: 10 checked RPUSH seen')
is_([db for db, a in finish], [0, 1], 'resend: a rename in db 0 then one in db 1')


def tmp_left(srv):
    return [k for db in range(DBS) for k in srv.client(db).keys('*df2redis:tmp:*')]


def replay(cmds):
    out = []
    for db, a in cmds:
        out.append(srv.client(db).execute_command(*a))
    return out


got = replay(rpush[3:] + finish[:1])
is_(got[:-1], [[2, 0, 10 * (3 + i)] for i in range(7)],
    'resend after the rename: each RPUSH finds its tmp gone')
is_(got[-1], [1, 100, 100], 'resend after the rename: the rename finds it done')
got = replay(append + finish[1:])
is_(got, [[2, 0, 1400000], [1, 2100000, 2100000]],
    'resend of a string: APPEND finds tmp gone, the rename finds it done')
tmpname = rpush[0][1][3]
srv.client(0).rpush(tmpname, *['e%d' % j for j in range(30)])
got = replay(rpush[1:3])
is_(got, [[1, 30, 10], [1, 30, 20]], 'resend before the rename: RPUSH finds its work done')
srv.client(0).delete(tmpname)
is_((c0.lrange('L', 0, -1), c1.get('S')), before, 'resends changed nothing')
srv.stop()

# SADD resent after the rename starts a stray tmp: the rename clears it
srv = RedisServer()
mon = Monitor(srv.port)
r = feed(srv.url, ['key 2 0 set H'] + ['item 2 m%d' % j for j in range(100)] + ['end 2'],
         batch=10)
mon.close(srv.client())
sadd = [(db, a) for db, a in mon.cmds if a and a[0] == b'SADD']
finish = [(db, a) for db, a in mon.cmds if a and a[0] == b'EVAL' and b"'RENAME'" in a[1]]
is_((r.returncode, len(sadd), len(finish)), (0, 10, 1), 'stray: a set in 10 SADD and a rename')
got = replay(sadd[6:] + finish)
is_(got[-1], [1, 100, 100], 'stray: the rename resent finds the key in place and a stray tmp')
is_((srv.client().scard('H'), tmp_left(srv)), (100, []), 'stray: deleted, the set intact')
srv.stop()

done_testing()
