#!/usr/bin/python3
# The writer under target faults, through df2redis import: a cluster slot
# migrating during an import (ASK; TRYAGAIN until the migration ends) and a
# standalone target killed and restarted mid-import.
import os
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *

if not os.access(DF2REDIS, os.X_OK):
    skip_all('bin/df2redis not built')

TMP = tmpdir('writer')
SCALE = 1 if not ASAN else 0.05


DEBUG = ['--enable-debug-command', 'yes']


def gen_rdb(name, fill, dump=True):
    """Fill a scratch redis-server, SAVE; the file and the server's dump
    (or its DEBUG DIGEST, which covers every key, value and expiry)."""
    s = RedisServer(args=DEBUG)
    c = s.client()
    fill(c)
    c.save()
    path = os.path.join(TMP, name + '.rdb')
    shutil.copy(os.path.join(s.dir, 'dump.rdb'), path)
    want = dump_server(c, detail=True) if dump else c.execute_command('DEBUG', 'DIGEST')
    s.stop()
    return path, want


def imp(url, files):
    return run([DF2REDIS, 'import', '--target', url] + list(files),
               timeout=120, universal_newlines=True)


def cluster_dump(cl):
    out = {}
    for n in cl.nodes:
        out.update(dump_db(n.client(), detail=True))
    return {'0': out} if out else {}


def same(got, want, name):
    diff = diff_keyspaces(got, want)
    if not ok(not diff, name):
        for l in diff:
            diag(l[:300])


def check_run(r, name):
    if not ok(r.returncode == 0, name + ': exit 0'):
        diag(r.stderr[-3000:])


# ---------------------------------------------------------------- slot migration
# A slot is MIGRATING on its owner and IMPORTING on another node.  Keys
# written whole (SET, RESTORE: one key per command) follow ASK to the
# importing node.  A big key is built under a temporary name there, but
# its rename names two keys, one of them still absent, and Redis answers
# that with TRYAGAIN until the migration ends: the import must wait for
# it, not fail, and finish once the slot has its new owner.
NMIG = int(5000 * SCALE)


def fill_small(c):
    p = c.pipeline(transaction=False)
    for i in range(NMIG):
        p.set('{mig}:%d' % i, 'v%d' % i)
        p.set('other:%d' % i, 'o%d' % i)
    p.sadd('{mig}:smallset', *range(100))
    p.execute()


def fill_big(c):
    c.sadd('{mig}:bigset', *range(5000))
    c.rpush('{mig}:biglist', *range(5000))


small, want_small = gen_rdb('mig-small', fill_small)
big, want_big = gen_rdb('mig-big', fill_big)
want_mig = {'0': dict(want_small['0'], **want_big['0'])}
cl = RedisCluster()
slot = cl.nodes[0].client().execute_command('CLUSTER', 'KEYSLOT', '{mig}')
ids = {n: n.client().execute_command('CLUSTER', 'MYID').decode() for n in cl.nodes}
owner = None
for s0, s1, *nodes in cl.nodes[0].client().execute_command('CLUSTER', 'SLOTS'):
    if s0 <= slot <= s1:
        owner = [m for m in cl.nodes if m.port == nodes[0][1]][0]
dest = [n for n in cl.nodes if n is not owner][0]
dest.client().execute_command('CLUSTER', 'SETSLOT', slot, 'IMPORTING', ids[owner])
owner.client().execute_command('CLUSTER', 'SETSLOT', slot, 'MIGRATING', ids[dest])

r = imp(cl.url, [small])
check_run(r, 'slot %d migrating: keys written whole follow ASK' % slot)
is_(dest.client().execute_command('CLUSTER', 'COUNTKEYSINSLOT', slot), NMIG + 1,
    'ASK: every key of the migrating slot is on the importing node')
is_(owner.client().execute_command('CLUSTER', 'COUNTKEYSINSLOT', slot), 0,
    'ASK: none on the migrating node')

p = spawn([DF2REDIS, 'import', '--target', cl.url, big], stdout=subprocess.DEVNULL,
          stderr=subprocess.PIPE, universal_newlines=True)
lines = []
reader = threading.Thread(target=lambda: lines.extend(p.stderr), daemon=True)
reader.start()
end = time.time() + 30
while time.time() < end and not any('TRYAGAIN' in l for l in lines) and p.poll() is None:
    time.sleep(0.05)
ok(any('TRYAGAIN' in l for l in lines) and p.poll() is None,
   'a big key\'s rename waits (TRYAGAIN) while the slot migrates') or diag(''.join(lines)[-2000:])
for n in cl.nodes:
    n.client().execute_command('CLUSTER', 'SETSLOT', slot, 'NODE', ids[dest])
try:
    p.wait(60)
except subprocess.TimeoutExpired:
    p.kill()
    p.wait()
reader.join(5)
if not ok(p.returncode == 0, 'migration ended: the import finishes, exit 0'):
    diag(''.join(lines)[-3000:])
same(cluster_dump(cl), want_mig, 'after the migration: every key exact, no temporary key')
r = imp(cl.url, [small, big])
check_run(r, 'the same files again onto the new slot owner')
same(cluster_dump(cl), want_mig, 'imported again: exact')
cl.stop()

# ---------------------------------------------------------------- target restart
NRS = int(100000 * SCALE)


def fill_restart(c):
    c.eval("for i=1,tonumber(ARGV[1]) do redis.call('SET','k'..i,string.rep('x',100)..i) end", 0, NRS)
    c.eval("for i=1,tonumber(ARGV[1]) do redis.call('RPUSH','list'..(i%50),'e'..i) end", 0, NRS // 4)
    c.eval("for i=1,20000 do redis.call('SADD','bigset','m'..i) end", 0)


restart, want_rs = gen_rdb('restart', fill_restart, dump=False)
port = free_port()
rs = RedisServer(port=port, args=['--appendonly', 'yes', '--appendfsync', 'always'] + DEBUG)
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
out, err = p.communicate(timeout=120)
if not ok(p.returncode == 0, 'target restarted: import exits 0'):
    diag(err[-3000:])
ok('reconnect' in err.lower() or 'retry' in err.lower() or 'lost' in err.lower(),
   'target restarted: the loss is logged') or diag(err[-2000:])
rc = rs.client()
is_(rc.execute_command('DEBUG', 'DIGEST'), want_rs, 'target restarted: exact result (dataset digest)')
is_([k for k in rc.keys() if b'df2redis:tmp' in k], [], 'target restarted: no temporary key')
rs.stop()
done_testing()
