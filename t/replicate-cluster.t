#!/usr/bin/python3
# df2redis migrate into a Redis Cluster: a big value, many keys, and a
# burst of writes landing while the snapshot runs.
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

if not HAVE_MASTER:
    skip_all('t/dflymaster/dflymaster not built')

BIG = (5 << 20) if ASAN else (50 << 20)
POP = 20000 if ASAN else 50000

# slow enough that the burst below lands mid-snapshot even on a loaded machine
m = Master(4, ['--compression', 'lz4', '--snapshot-delay-us', '2000' if ASAN else '800'])
c = m.client()
c.execute_command('DEBUG', 'POPULATE', POP, 'pop', 100)
big = bytes(range(256)) * (BIG // 256)
c.set('big:value', big)
c.hset('big:hash', mapping={('f%d' % i): ('v%d' % i) * 10 for i in range(20000)})
cl = RedisCluster()
sd = tmpdir('state')
sock = os.path.join(sd, 'df2redis.sock')
p = spawn([DF2REDIS, 'migrate', '-d', '--source', m.addr, '--target', cl.url, '--state-dir', sd],
          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
# a burst of writes while the snapshot runs
st = wait_status(sock, lambda t: any(ph == 'full-sync' and k > 0 for ph, k, _ in status_flows(t).values()), proc=p)
ok(st is not None, 'the snapshot is under way')
pl = c.pipeline(transaction=False)
for i in range(500):
    pl.set('during:%d' % i, 'v%d' % i)
    pl.set('pop:%d' % i, 'overwritten-%d' % i)
    pl.hset('big:hash', 'f%d' % i, 'changed')
    pl.rpush('during:list', i)
    pl.delete('pop:%d' % (1000 + i))
pl.execute()
out, err = p.communicate(timeout=300)
# the master counts what it journaled into the full sync (JOURNAL_BLOBs):
# every one of the 2500 writes, not a status read racing the snapshot
stats = m.client().execute_command('DFLYMASTER', 'STATS').decode()
blobs = int(re.search(r'journal_blobs:(\d+)', stats).group(1))
ok(blobs >= 2000, 'writes landed before STARTSTABLE, as journal blobs (%d)' % blobs)
is_(p.returncode, 0, 'migrate into a cluster with a %d MB value: exit 0' % (BIG >> 20))
if p.returncode:
    diag(err.decode()[-3000:])
got = dump_cluster(cl)
want = dump_server(m.client())
compare(got, want, 'cluster target equals master (%d keys)' % len(want.get('0', {})))
ok(got.get('0', {}).get('during:499', {}).get('value') == 'v499' and
   'pop:1499' not in got.get('0', {}), 'writes during the snapshot applied')
ok(m.alive(), 'master saw no barrier violation')
m.stop()
cl.stop()

done_testing()
