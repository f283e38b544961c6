#!/usr/bin/python3
# Journal commands a Redis 7.0 target can never run (journal.md section 8)
# are translated where Redis has an equivalent (FIELDEXPIRE -> HEXPIRE on
# a hash, Dragonfly's HSETEX -> HSET, DELEX IFEQ/IFNE -> a script), else
# fail as data errors (no retry can pass) naming the key and the record,
# or under --unsupported skip are counted and the rest applied.
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *

APPLY = os.path.join(TBIN, 'journalapply')
if not os.access(APPLY, os.X_OK):
    skip_all('t/bin/journalapply not built')

TMP = tmpdir('wunsup')


def pu(n):
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xff])
    return b'\x80' + n.to_bytes(4, 'big')


def jcmd(*args):
    args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return (b'\x06' + pu(0) + b'\x0a' + pu(7) + pu(1) + pu(len(args)) +
            pu(sum(map(len, args))) + b''.join(pu(len(a)) + a for a in args))


def apply(url, cmds, skip=False):
    path = os.path.join(TMP, 'j.bin')
    with open(path, 'wb') as f:
        for c in cmds:
            f.write(jcmd(*c))
    r = run([APPLY] + (['-u', 'skip'] if skip else []) + [url, path], timeout=60,
            universal_newlines=True)
    return r.returncode, r.stdout + r.stderr


def like(text, pat, name):
    if not ok(re.search(pat, text), name):
        diag(text[-1500:])


srv = RedisServer()
c = srv.client()
ver = tuple(int(x) for x in c.info('server')['redis_version'].split('.'))
if ver >= (7, 4):
    skip_all('needs a Redis older than 7.4 (has %r)' % (ver,))

# (name, commands, error pattern under fail, lossy, skipped, check under skip)
CASES = [
    ('FIELDEXPIRE on a hash', [('HSET', 'h', 'a', '1'), ('FIELDEXPIRE', 'h', '100', 'a')],
     r'key "h": FIELDEXPIRE: field TTLs need Redis 7.4', 1, 0,
     lambda: c.hgetall('h') == {b'a': b'1'} and c.ttl('h') == -1),
    ("HSETEX, Dragonfly's form", [('HSET', 'h2', 'a', '0'), ('HSETEX', 'h2', 'NX', '100', 'a', '1', 'b', '2')],
     r'key "h2": HSETEX: field TTLs need Redis 7.4', 1, 0,
     lambda: c.hgetall('h2') == {b'a': b'0', b'b': b'2'}),
    ('HEXPIRE before 7.4', [('HSET', 'h3', 'a', '1'), ('HEXPIRE', 'h3', '10', 'FIELDS', '1', 'a')],
     r'key "h3": HEXPIRE: field TTLs need Redis 7.4', 1, 0, lambda: c.hgetall('h3') == {b'a': b'1'}),
    ('HGETEX before 8.0', [('HSET', 'h4', 'a', '1'), ('HGETEX', 'h4', 'PERSIST', 'FIELDS', '1', 'a')],
     r'key "h4": HGETEX: HGETEX needs Redis 8.0', 1, 0, lambda: c.hgetall('h4') == {b'a': b'1'}),
    ('BF.ADD without the module', [('BF.ADD', 'bf', 'x'), ('SET', 'after', '1')],
     r'key "bf": BF.ADD: the target lacks the module', 0, 1,
     lambda: not c.exists('bf') and c.get('after') == b'1'),
    ('CL.THROTTLE without redis-cell', [('CL.THROTTLE', 'cl', '15', '30', '60')],
     r'key "cl": CL.THROTTLE: the target lacks the module', 0, 1, lambda: not c.exists('cl')),
    ('FT.CREATE without search', [('FT.CREATE', 'idx', 'SCHEMA', 'f', 'TEXT')],
     r'key "idx": FT.CREATE: the target lacks the module', 0, 1, lambda: True),
    ('DFLYCLUSTER FLUSHSLOTS', [('DFLYCLUSTER', 'FLUSHSLOTS', '0', '100')],
     r'DFLYCLUSTER: Dragonfly cluster management has no Redis equivalent', 0, 1, lambda: True),
    ('DELEX IFDEQ', [('SET', 'dx', 'v'), ('DELEX', 'dx', 'IFDEQ', 'abc')],
     r'key "dx": DELEX: only IFEQ and IFNE can be emulated', 0, 1, lambda: c.get('dx') == b'v'),
    ('a command the target does not know', [('DFLYFOO', 'u', '1'), ('SET', 'after2', '1')],
     r'key "u": DFLYFOO: the target cannot run it: ERR [Uu]nknown', 0, 1,
     lambda: c.get('after2') == b'1'),
]

for name, cmds, pat, lossy, skipped, check in CASES:
    c.flushall()
    rc, out = apply(srv.url, cmds)
    ok(rc == 1, '%s: fails by default' % name)
    like(out, r'error data: .*' + pat + r'.*--unsupported skip', '%s: a data error naming it' % name)
    c.flushall()
    rc, out = apply(srv.url, cmds, skip=True)
    if not ok(rc == 0, '%s: --unsupported skip goes on' % name):
        diag(out[-1500:])
    like(out, r'lossy %d skipped %d' % (lossy, skipped), '%s: counted (lossy %d, skipped %d)' % (name, lossy, skipped))
    ok(check(), '%s: the target holds the rest' % name)

# translations that lose nothing
c.flushall()
c.mset({'d1': 'v', 'd2': 'v', 'd3': 'v', 'd4': 'v'})
rc, out = apply(srv.url, [('DELEX', 'd1', 'IFEQ', 'v'), ('DELEX', 'd2', 'IFEQ', 'w'),
                          ('DELEX', 'd3', 'IFNE', 'v'), ('DELEX', 'd4', 'IFNE', 'w'), ('DELEX', 'd5'),
                          ('HSETEX', 'hk', 'KEEPTTL', '100', 'a', '1'), ('PREPEND', 'd2', 'x')])
if not ok(rc == 0, 'DELEX IFEQ/IFNE, HSETEX KEEPTTL, PREPEND: applied'):
    diag(out)
like(out, r'lossy 0 skipped 0', 'nothing lost')
is_([c.exists(k) for k in ['d1', 'd2', 'd3', 'd4']], [0, 1, 1, 0], 'DELEX IFEQ/IFNE deleted only on a match')
is_((c.hgetall('hk'), c.get('d2')), ({b'a': b'1'}, b'xv'), 'HSETEX KEEPTTL is HSET; PREPEND')

# a key of another type than the master had: a divergence
c.flushall()
c.set('w', 'x')
rc, out = apply(srv.url, [('LPUSH', 'w', 'y')], skip=True)
like(out, r'error diverged: key "w": LPUSH: WRONGTYPE', 'WRONGTYPE is a divergence, even with --unsupported skip')
srv.stop()

# RENAME across slots on a cluster: keys in two slots
cl = RedisCluster()
cc = cl.client()
cc.set('a', '1')
rc, out = apply(cl.url, [('RENAME', 'a', 'b')])
like(out, r'error data: key "a": RENAME: the target cannot run it: (CROSSSLOT|ERR Script attempted to '
     r'access a non local key)', 'RENAME across nodes: a data error')
cl.stop()
done_testing()
