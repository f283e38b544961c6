#!/usr/bin/python3
# Temporary keys ({N}df2redis:tmp:PID:N) left behind by a killed import or
# worker carry a pid no later run has: import deletes them before writing,
# replicate/migrate once per session, on every master and in every db;
# user keys that merely look alike are left alone.
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import Master, migrate  # noqa: E402

if not os.access(DF2REDIS, os.X_OK):
    skip_all('bin/df2redis not built')

TMP = tmpdir('cleanup')
BIG = 300000 if not ASAN else 30000
LEFT = [(0, '{123}df2redis:tmp:999:4'), (5, '{77}df2redis:tmp:1:2'),
        (0, '{9}df2redis:seq:999.1.0a1b2c3d'), (5, '{4107}df2redis:seq:12.3.ffffffff')]
ALIKE = ['x{123}df2redis:tmp:999:4', '{123}df2redis:tmp:999:4:x', '{12a}df2redis:tmp:9:4',
         'df2redis:tmp:1:1', '{1}df2redis:tmpx:1:1', '{1}df2redis:tmp:1:', '{}df2redis:tmp:1:1',
         '{9}df2redis:seq:999.1.0a1b2c3', '{9}df2redis:seq:999.1.0A1B2C3D', '{9}df2redis:seq:999.0a1b2c3d',
         '{9}df2redis:seq:999.1.0a1b2c3dx', 'df2redis:seq:999.1.0a1b2c3d']


def plant(srv):
    for db, k in LEFT:
        srv.client(db).rpush(k, 'half', 'built')
    for db in (0, 5):
        for k in ALIKE:
            srv.client(db).set(k, 'user')


def check_planted(srv, name):
    is_([srv.client(db).exists(k) for db, k in LEFT], [0] * len(LEFT),
        '%s: the leftover temporary keys and sequence markers of dbs 0 and 5 are gone' % name)
    is_([srv.client(db).get(k) for db in (0, 5) for k in ALIKE], [b'user'] * len(ALIKE) * 2,
        '%s: keys that only look like them are untouched' % name)


def gen_rdb(name, fill):
    s = RedisServer()
    fill(s.client())
    s.client().save()
    path = os.path.join(TMP, name + '.rdb')
    shutil.copy(os.path.join(s.dir, 'dump.rdb'), path)
    s.stop()
    return path


def imp(url, files, extra=()):
    return run([DF2REDIS, 'import', '-v', '--target', url] + list(extra) + list(files), timeout=120)


def tmp_keys(c):
    return [k for k in c.scan_iter(match='*df2redis:tmp:*', count=1000)
            if re.fullmatch(rb'\{\d+\}df2redis:tmp:\d+:\d+', k)]


small = gen_rdb('small', lambda c: c.mset({'a': '1', 'b': '2'}))

# ------------------------------------------------------------ import, standalone
srv = RedisServer()
plant(srv)
r = imp(srv.url, [small])
is_(r.returncode, 0, 'import after a killed run: exit 0')
ok('deleted %d temporary keys' % len(LEFT) in r.stderr.decode(), 'import logs how many it deleted')
check_planted(srv, 'import')
is_(srv.client().mget('a', 'b'), [b'1', b'2'], 'import: the file was written')
srv.stop()

# a real leftover: an import killed while it builds a big list
big = gen_rdb('big', lambda c: [c.rpush('L', *range(i, i + 10000)) for i in range(0, BIG, 10000)])
srv = RedisServer()
p = spawn([DF2REDIS, 'import', '--batch', '10', '--target', srv.url, big],
          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
c = srv.client()
end = time.time() + 30
left = []
while time.time() < end and not left and p.poll() is None:
    left = tmp_keys(c)
p.send_signal(signal.SIGKILL)
p.wait(10)
ok(len(left) == 1 and c.exists(left[0]) and not c.exists('L'),
   'a killed import leaves its temporary key behind: %r' % left)
r = imp(srv.url, [big])
is_(r.returncode, 0, 'the next import: exit 0')
is_((tmp_keys(c), c.llen('L')), ([], BIG), 'the next import deleted it and wrote the list whole')
srv.stop()

# ------------------------------------------------------------ import, cluster
cl = RedisCluster()
cc = cl.client()
left = ['{%d}df2redis:tmp:4242:%d' % (i, i) for i in range(12)]
for k in left:
    cc.set(k, 'x')
cc.set('{5}df2redis:tmp:x', 'user')
masters = sum(1 for n in cl.nodes if tmp_keys(n.client()))
r = imp(cl.url, [small])
is_(r.returncode, 0, 'import into a cluster: exit 0')
is_((masters, [n for n in cl.nodes if tmp_keys(n.client())]), (3, []),
    'the leftovers on all three masters are gone')
is_(cc.get('{5}df2redis:tmp:x'), b'user', 'a look-alike on the cluster is untouched')
cl.stop()

# ------------------------------------------------------------ migrate
m = Master(shards=2)
mc = m.client()
for i in range(50):
    mc.set('k%d' % i, 'v%d' % i)
srv = RedisServer()
plant(srv)
r = migrate(m, srv.url, timeout=60)
is_(r.returncode, 0, 'migrate: exit 0')
ok('deleted %d temporary keys' % len(LEFT) in r.stderr, 'migrate logs how many it deleted')
check_planted(srv, 'migrate')
is_(srv.client().dbsize(), 50 + len(ALIKE), 'migrate: the snapshot was written')
srv.stop()

done_testing()
