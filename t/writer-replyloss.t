#!/usr/bin/python3
# Replies lost after the server executed the commands (t/lib/replyloss.py):
# the target reconnects and resends everything unacknowledged, so every
# command the writer sends must come out right when run twice.  Big keys
# of every type with part of their build resent after the rename, and a
# stream's XSETID / groups / consumers / claims resent after it.
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *
from replyloss import ReplyLoss

if not os.access(DF2REDIS, os.X_OK):
    skip_all('bin/df2redis not built')

TMP = tmpdir('replyloss')
N = 2000 if not ASAN else 1200    # 4 or 3 batches of 512


def fill(c):
    p = c.pipeline(transaction=False)
    p.sadd('set', *['m%d' % i for i in range(N)])
    p.hset('hash', mapping={'f%d' % i: 'v%d' % i for i in range(N)})
    p.zadd('zset', {'z%d' % i: i * 1.5 for i in range(N)})
    p.rpush('list', *['e%d' % i for i in range(N)])
    p.execute()
    c.eval("for i=1,tonumber(ARGV[1]) do redis.call('XADD',KEYS[1],i..'-1','f','s'..i) end",
           1, 'stream', N)
    c.xgroup_create('stream', 'g1', id='0')
    c.xreadgroup('g1', 'alice', {'stream': '>'}, count=20)
    c.xreadgroup('g1', 'bob', {'stream': '>'}, count=5)
    c.execute_command('XGROUP', 'CREATECONSUMER', 'stream', 'g1', 'idle')
    c.xdel('stream', '%d-1' % N)


src = RedisServer()
sc = src.client()
fill(sc)
sc.save()
RDB = os.path.join(TMP, 'src.rdb')
shutil.copy(os.path.join(src.dir, 'dump.rdb'), RDB)
want = {k: dump_key(sc, k, detail=True) for k in ['set', 'hash', 'zset', 'list', 'stream']}
src.stop()

tgt = RedisServer()
tc = tgt.client()

# (key, what the lost reply belongs to, a string only that command holds)
CASES = [
    ('set', 'last SADD batch', 'm%d' % (N - 1)),
    ('hash', 'last HSET batch', 'f%d' % (N - 1)),
    ('zset', 'last ZADD batch', 'z%d' % (N - 1)),
    ('list', 'last RPUSH batch', 'e%d' % (N - 1)),
    ('stream', 'last XADD batch', 's%d' % (N - 1)),
    ('stream', 'XSETID', 'XSETID'),
    ('stream', 'XGROUP CREATE', 'CREATE'),
    ('stream', 'XGROUP CREATECONSUMER', 'CREATECONSUMER'),
    ('stream', 'XCLAIM', 'XCLAIM'),
    ('set', 'the rename', 'RENAME'),
]

for key, what, trig in CASES:
    tc.flushall()
    px = ReplyLoss(tgt.port, trig)
    r = run([DF2REDIS, 'import', '--target', px.url, RDB], timeout=60, universal_newlines=True)
    px.stop()
    name = '%s, replies lost from the %s on' % (key, what)
    ok(px.dropped.is_set() and px.withheld > 0,
       '%s: the proxy withheld %d replies' % (name, px.withheld))
    if not ok(r.returncode == 0, name + ': import exits 0'):
        diag(r.stderr[-2000:])
    for k in want:
        if not ok(dump_key(tc, k, detail=True) == want[k], '%s: %s complete' % (name, k)):
            g = dump_key(tc, k, detail=True)
            diag('got %r' % (str(g)[:300],))
    is_(sorted(x for x in tc.keys() if b'df2redis' in x), [], name + ': no temporary key left')

tgt.stop()
done_testing()
