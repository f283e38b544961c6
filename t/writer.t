#!/usr/bin/python3
# The writer under load and faults, through df2redis import: big values
# built in many commands (2M-member set, 1M-field hash, 1M-element list,
# 100 MB string, a stream with groups and PEL), a slot migrating during an
# import (ASK, then MOVED) and a target killed and restarted mid-import.
import glob
import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *

if not os.access(DF2REDIS, os.X_OK):
    skip_all('bin/df2redis not built')

TMP = tmpdir('import')
SCALE = 1 if not ASAN else 0.01


def raw(c):
    """dftest's detail dump reads XPENDING raw; redis-py would parse it."""
    c.set_response_callback('XPENDING', lambda r, **kw: r)
    return c


def gen_rdb(name, fill, args=()):
    """Fill a scratch redis-server, SAVE, keep its dump.rdb."""
    s = RedisServer(args=list(args))
    c = s.client()
    fill(c)
    c.save()
    path = os.path.join(TMP, name + '.rdb')
    shutil.copy(os.path.join(s.dir, 'dump.rdb'), path)
    s.stop()
    return path


def imp(url, files, *opts, env=None, timeout=300):
    e = dict(os.environ)
    e.update(env or {})
    return run([DF2REDIS, 'import', '--target', url] + list(opts) + list(files),
               env=e, timeout=timeout, universal_newlines=True)


def native(path):
    s = RedisServer(rdb=path)
    d = dump_server(raw(s.client()), detail=True)
    s.stop()
    return d


def cluster_dump(cl):
    out = {}
    for n in cl.nodes:
        out.update(dump_db(raw(n.client()), detail=True))
    return {'0': out} if out else {}


def collapse(d):
    out = {}
    for db in d.values():
        out.update(db)
    return {'0': out} if out else {}


def flush_cluster(cl):
    for n in cl.nodes:
        n.client().flushall()


def same(got, want, name):
    diff = diff_keyspaces(got, want)
    if not ok(not diff, name):
        for l in diff:
            diag(l)


def check_run(r, name):
    if not ok(r.returncode == 0, name + ': exit 0'):
        diag(r.stderr[-3000:])
    return r.returncode == 0


def summary_count(r, what):
    m = re.search(r'(\d+) ' + what, r.stderr)
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- big values
NSET, NHASH, NLIST = int(2000000 * SCALE), int(1000000 * SCALE), int(1000000 * SCALE)
STRMB = 100 if not ASAN else 3
NSTREAM = int(200000 * SCALE) or 2000


def fill_big(c):
    c.eval("for i=1,tonumber(ARGV[1]) do redis.call('SADD',KEYS[1],'member:'..i) end", 1, 'bigset', NSET)
    c.eval("for i=1,tonumber(ARGV[1]),100 do local t={} for j=i,i+99 do t[#t+1]='f'..j t[#t+1]='v'..j end "
           "redis.call('HSET',KEYS[1],unpack(t)) end", 1, 'bighash', NHASH)
    c.eval("for i=1,tonumber(ARGV[1]),100 do local t={} for j=i,i+99 do t[#t+1]='e'..j end "
           "redis.call('RPUSH',KEYS[1],unpack(t)) end", 1, 'biglist', NLIST)
    c.eval("local s=string.rep('0123456789abcdef',65536) for i=1,tonumber(ARGV[1]) do "
           "redis.call('APPEND',KEYS[1],s) redis.call('APPEND',KEYS[1],tostring(i)) end", 1, 'bigstr', STRMB)
    c.pexpireat('bigset', int(time.time() * 1000) + 86400000)
    c.eval("for i=1,tonumber(ARGV[1]) do redis.call('XADD',KEYS[1],i..'-1','f',i,'g','x') end", 1, 'stream', NSTREAM)
    c.xgroup_create('stream', 'g1', id='0')
    c.xgroup_create('stream', 'g2', id='0')
    c.xreadgroup('g1', 'alice', {'stream': '>'}, count=50)
    c.xreadgroup('g1', 'bob', {'stream': '>'}, count=30)
    c.xreadgroup('g2', 'carol', {'stream': '>'}, count=10)
    c.xack('stream', 'g1', '1-1', '2-1')
    c.xdel('stream', '%d-1' % NSTREAM)
    c.execute_command('XGROUP', 'CREATECONSUMER', 'stream', 'g2', 'idle')
    c.xadd('emptystream', {'a': 'b'}, id='5-5')
    c.xdel('emptystream', '5-5')
    c.xgroup_create('emptystream', 'g', id='0')


t0 = time.time()
big = gen_rdb('big', fill_big, args=['--rdbcompression', 'no'])
diag('big file: %.0f MB generated in %.1f s' % (os.path.getsize(big) / 1e6, time.time() - t0))
nat = RedisServer(rdb=big, args=['--enable-debug-command', 'yes'])
tgt = RedisServer(args=['--enable-debug-command', 'yes'])
t0 = time.time()
r = imp(tgt.url, [big], timeout=600)
check_run(r, 'big values')
diag('big values imported in %.1f s' % (time.time() - t0))
nc, tc = raw(nat.client()), raw(tgt.client())
for k in ['bigset', 'bighash', 'biglist', 'bigstr']:
    is_((tc.type(k), tc.execute_command('DEBUG', 'DIGEST-VALUE', k), tc.execute_command('PEXPIRETIME', k)),
        (nc.type(k), nc.execute_command('DEBUG', 'DIGEST-VALUE', k), nc.execute_command('PEXPIRETIME', k)),
        'big %s: same type, digest and expiry' % k)
for k in ['stream', 'emptystream']:
    is_(dump_key(tc, k, detail=True), dump_key(nc, k, detail=True),
        '%s: entries, last id, groups, PEL and consumers' % k)
is_(tc.execute_command('XINFO', 'STREAM', 'stream')[tc.execute_command('XINFO', 'STREAM', 'stream').index(b'entries-added') + 1],
    nc.execute_command('XINFO', 'STREAM', 'stream')[nc.execute_command('XINFO', 'STREAM', 'stream').index(b'entries-added') + 1],
    'stream entries-added restored')
is_(sorted(k for k in tc.keys() if b'df2redis:tmp' in k), [], 'no temporary key left behind')
nat.stop()
tgt.stop()

cl = RedisCluster()

# ---------------------------------------------------------------- faults: slot migration (ASK, then MOVED)
NMIG = int(5000 * SCALE) or 500


def fill_mig(c):
    p = c.pipeline(transaction=False)
    for i in range(NMIG):
        p.set('{mig}:%d' % i, 'v%d' % i)
        p.set('other:%d' % i, 'o%d' % i)
    p.execute()
    c.sadd('{mig}:bigset', *range(5000))
    c.rpush('{mig}:biglist', *range(5000))


mig = gen_rdb('mig', fill_mig)
want_mig = collapse(native(mig))
flush_cluster(cl)
slot = cl.nodes[0].client().execute_command('CLUSTER', 'KEYSLOT', '{mig}')
ids = {}
owner = None
for n in cl.nodes:
    ids[n] = n.client().execute_command('CLUSTER', 'MYID').decode()
for n in cl.nodes:
    for s0, s1, *nodes in n.client().execute_command('CLUSTER', 'SLOTS'):
        if s0 <= slot <= s1:
            owner = [m for m in cl.nodes if m.port == nodes[0][1]][0]
dest = [n for n in cl.nodes if n is not owner][0]
dest.client().execute_command('CLUSTER', 'SETSLOT', slot, 'IMPORTING', ids[owner])
owner.client().execute_command('CLUSTER', 'SETSLOT', slot, 'MIGRATING', ids[dest])
r = imp(cl.url, [mig])
check_run(r, 'slot %d migrating during the import (ASK)' % slot)
n_dest = dest.client().execute_command('CLUSTER', 'COUNTKEYSINSLOT', slot)
ok(n_dest >= NMIG, 'ASK: the keys of the migrating slot went to the importing node (%d)' % n_dest)
for n in cl.nodes:
    n.client().execute_command('CLUSTER', 'SETSLOT', slot, 'NODE', ids[dest])
time.sleep(0.5)
same(cluster_dump(cl), want_mig, 'after migration: exact')
r = imp(cl.url, [mig])
check_run(r, 'import again with a stale slot map (MOVED)')
same(cluster_dump(cl), want_mig, 'after MOVED: exact')

# ---------------------------------------------------------------- faults: target restart
NRS = int(100000 * SCALE) or 5000


def fill_restart(c):
    c.eval("for i=1,tonumber(ARGV[1]) do redis.call('SET','k'..i,string.rep('x',100)..i) end", 0, NRS)
    c.eval("for i=1,tonumber(ARGV[1]) do redis.call('RPUSH','list'..(i%50),'e'..i) end", 0, NRS // 4)


restart = gen_rdb('restart', fill_restart)
want_rs = native(restart)
port = free_port()
rs = RedisServer(port=port, args=['--appendonly', 'yes', '--appendfsync', 'always'])
p = spawn([DF2REDIS, 'import', '--target', rs.url, restart], stdout=subprocess.PIPE,
          stderr=subprocess.PIPE, universal_newlines=True)
killed = False
end = time.time() + 60
while time.time() < end and p.poll() is None:
    try:
        if rs.client().dbsize() > NRS // 10:
            rs.kill()
            killed = True
            break
    except Exception:
        pass
    time.sleep(0.01)
ok(killed, 'target killed mid-import')
time.sleep(0.3)
rs.start()
out, err = p.communicate(timeout=300)
if not ok(p.returncode == 0, 'target restarted: import exits 0'):
    diag(err[-3000:])
same(dump_server(raw(rs.client()), detail=True), want_rs, 'target restarted: exact result')
rs.stop()

cl.stop()
done_testing()
