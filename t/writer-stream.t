#!/usr/bin/python3
# The writer with a big stream, through df2redis import: 200k entries with
# deletions, two consumer groups, pending entries and an idle consumer, and
# an empty stream that only has a group; compared entry by entry, PEL by
# PEL with the server that wrote the file.
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *

if not os.access(DF2REDIS, os.X_OK):
    skip_all('bin/df2redis not built')

NSTREAM = 200000 if not ASAN else 4000
BATCH = 512


def fill(c):
    c.eval("for i=1,tonumber(ARGV[1]) do redis.call('XADD',KEYS[1],i..'-1','f',i,'g','x') end",
           1, 'stream', NSTREAM)
    c.xgroup_create('stream', 'g1', id='0')
    c.xgroup_create('stream', 'g2', id='0')
    c.xreadgroup('g1', 'alice', {'stream': '>'}, count=50)
    c.xreadgroup('g1', 'bob', {'stream': '>'}, count=30)
    c.xreadgroup('g2', 'carol', {'stream': '>'}, count=10)
    c.xack('stream', 'g1', '1-1', '2-1')
    c.xdel('stream', '%d-1' % NSTREAM, '100-1')
    c.execute_command('XGROUP', 'CREATECONSUMER', 'stream', 'g2', 'idle')
    c.pexpireat('stream', int(time.time() * 1000) + 86400000)
    c.xadd('emptystream', {'a': 'b'}, id='5-5')
    c.xdel('emptystream', '5-5')
    c.xgroup_create('emptystream', 'g', id='0')


def info(c, key, field):
    i = c.execute_command('XINFO', 'STREAM', key)
    return dict(zip(i[::2], i[1::2]))[field]


src = RedisServer(args=['--rdbcompression', 'no'])
sc = src.client()
t0 = time.time()
fill(sc)
sc.save()
path = os.path.join(src.dir, 'dump.rdb')
diag('%.0f MB file made in %.1f s' % (os.path.getsize(path) / 1e6, time.time() - t0))
tgt = RedisServer()
tc = tgt.client()
t0 = time.time()
r = run([DF2REDIS, 'import', '--target', tgt.url, path], timeout=300, universal_newlines=True)
if not ok(r.returncode == 0, 'streams imported: exit 0'):
    diag(r.stderr[-3000:])
diag('imported in %.1f s' % (time.time() - t0))
n = tc.info('commandstats').get('cmdstat_eval', {}).get('calls', 0)
ok(n >= NSTREAM // BATCH, 'stream built in many commands (%d EVAL, at least %d)' % (n, NSTREAM // BATCH))
for k in ['stream', 'emptystream']:
    is_(dump_key(tc, k, detail=True), dump_key(sc, k, detail=True),
        '%s: entries, last id, groups, PEL, consumers and expiry' % k)
    is_(info(tc, k, b'entries-added'), info(sc, k, b'entries-added'), '%s: entries-added' % k)
    is_(info(tc, k, b'max-deleted-entry-id'), info(sc, k, b'max-deleted-entry-id'),
        '%s: max-deleted-entry-id' % k)
is_(sorted(tc.keys()), sorted(sc.keys()), 'the two streams and no temporary key')
tgt.stop()
src.stop()
done_testing()
