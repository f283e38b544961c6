#!/usr/bin/python3
# A Redis Cluster target with a replica per master fails over while df2redis
# replicates, under a steady load of SET, INCR, APPEND, LPUSH and HINCRBY on
# the same keys; the target must end equal to the source key by key, no
# write lost or doubled:
#   (1) a master killed -9 in stable sync, its replica stopped (SIGSTOP)
#       first, so the writes the master acknowledged do not reach it: the
#       checkpoint waits for the replica (WAIT), the workers see the
#       failover and resume from it, the LSN markers make the replay exact;
#   (2) a manual CLUSTER FAILOVER on a replica in stable sync;
#   (3) slots migrated between masters (MIGRATE, SETSLOT) under the load;
#   (4) a master killed -9 during the full sync: the full sync starts over;
#   (5) a replica that never acknowledges (stopped): the checkpoint is held,
#       a bounded wait, then a clear error naming the master.
import os
import random
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

if not HAVE_MASTER:
    skip_all('t/dflymaster/dflymaster not built')

NFLOWS = 4
NK = 24


class Load(LoadThread):
    """Non-idempotent writes on NK keys of each kind, in pipelines."""
    pause = 0.002

    def __init__(self, m, seed):
        self.rnd = random.Random(seed)
        super().__init__(m)

    def batch(self, pl):
        for _ in range(25):
            i, n = self.rnd.randrange(NK), self.n
            op = self.rnd.randrange(6)
            if op == 0:
                pl.set('ctr:%d' % i, n)
            elif op == 1:
                pl.incr('ctr:%d' % i)
            elif op == 2:
                pl.append('str:%d' % i, 'x%d' % (n % 10))
            elif op == 3:
                pl.lpush('list:%d' % i, n)
            elif op == 4:
                pl.hincrby('hash:%d' % i, 'f%d' % (n % 3), 1)
            else:
                pl.incr('cnt:%d' % i)
            self.n += 1


def ours(ks):
    return {db: {k: v for k, v in keys.items() if 'df2redis:lsn:' not in k}
            for db, keys in ks.items()}


def equal(m, cl, name, timeout=30):
    want = dump_server(m.client())
    end = time.time() + timeout
    while True:
        got = ours(dump_cluster(cl))
        if got == want or time.time() > end:
            break
        time.sleep(0.2)
    if not ok(got == want and len(want.get('0', {})) > 0, name):
        diag('\n'.join(x[:300] for x in diff_keyspaces(got, want)))
    return got == want


def wait_for(cond, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if cond():
                return True
        except Exception:  # noqa: BLE001 - a node going down meanwhile
            pass
        time.sleep(0.05)
    return False


def pids(text):
    return {i: pid for i, (_, _, pid) in status_flows(text).items()}


def victim_of(cl):
    """A master that is not the seed (cl.url), and its replica."""
    seed = cl.nodes[0].port
    for mm in cl.masters():
        if mm.port != seed:
            return mm, cl.replica_of(mm)
    raise RuntimeError('no master besides the seed')


def start(m, cl, extra=()):
    p = replicate_start(m, cl.url, ['-v', '--max-retries', '30'] + list(extra))
    return p


def stable(p, timeout=60):
    return wait_status(p.sock, lambda t: flows_stable(t, NFLOWS), timeout=timeout, proc=p)


def make_cluster():
    return RedisCluster(replicas=1, node_timeout=2000)


# ---------------------------------------------------------------- (1)
cl = make_cluster()
ok(len(cl.masters()) == 3 and all(cl.replica_of(x) for x in cl.masters()),
   'a cluster of 3 masters with one replica each, replicas in sync')
# the checkpoint lags by the failover's length: the backlog must cover it
m = Master(NFLOWS, ['--lsn-interval-ms', '50', '--backlog-ms', '120000'])
m.client().set('base', 'x')
p = start(m, cl)
st = stable(p)
ok(st is not None, 'kill -9: stable sync')
before = pids(st)
s0 = mstats(m)
victim, rep = victim_of(cl)
load = Load(m, 1)
time.sleep(0.3)
# the replica stops reading: what its master acknowledges from now on
# stays with the master, which then dies
rep.proc.send_signal(signal.SIGSTOP)
time.sleep(1.5)
victim.kill()
rep.proc.send_signal(signal.SIGCONT)
t0 = time.time()
promoted = wait_for(lambda: cl.role(rep) == 'master' and cl.slots_of(rep), 60)
ok(promoted, 'kill -9: the replica was promoted')
st = wait_status(p.sock, lambda t: flows_stable(t, NFLOWS) and
                 all(pids(t).get(i) not in (0, before[i]) for i in range(NFLOWS)),
                 timeout=60, proc=p)
ok(st is not None, 'kill -9: every worker resumed after the failover')
diag('failover: all flows stable again %.1f s after the kill' % (time.time() - t0))
time.sleep(0.5)
load.stop()
log = proc_log(p)
ok(re.search(r'0 of 1 replicas acknowledged the writes \(WAIT\); the checkpoint waits', log),
   'kill -9: the checkpoint waited for the stopped replica') or diag(log[-2000:])
ok('its slots are served by another master now (a failover)' in log,
   'kill -9: the workers saw the failover') or diag(log[-2000:])
equal(m, cl, 'kill -9: the target equals the master exactly (counters, lists, strings)')
s1 = mstats(m)
is_(s1['full_syncs'] - s0['full_syncs'], 0, 'kill -9: the workers resumed by partial sync')

# ---------------------------------------------------------------- (2)
old, rep2 = [(x, cl.replica_of(x)) for x in cl.masters() if cl.replica_of(x)][0]
load = Load(m, 2)
time.sleep(0.5)
rep2.client().execute_command('CLUSTER', 'FAILOVER')
ok(wait_for(lambda: cl.role(rep2) == 'master' and cl.slots_of(rep2), 60),
   'CLUSTER FAILOVER: the replica took over')
time.sleep(0.5)
load.stop()
ok(stable(p) is not None, 'CLUSTER FAILOVER: every flow in stable sync')
equal(m, cl, 'CLUSTER FAILOVER: the target equals the master exactly')

# ---------------------------------------------------------------- (3)
ms = cl.masters()
src, dst = ms[0], ms[1]
sc, dc = src.client(), dst.client()
load = Load(m, 3)
time.sleep(0.3)
# every slot of src that holds a key of the load, its LSN markers with it
mine = [s for a, b in cl.slots_of(src) for s in range(a, b + 1)]
lslots = sorted({sc.execute_command('CLUSTER', 'KEYSLOT', '%s:%d' % (kind, i))
                 for kind in ('ctr', 'str', 'list', 'hash', 'cnt') for i in range(NK)} & set(mine))
moved = 0
for sl in lslots:
    dc.execute_command('CLUSTER', 'SETSLOT', sl, 'IMPORTING', cl.node_id(src))
    sc.execute_command('CLUSTER', 'SETSLOT', sl, 'MIGRATING', cl.node_id(dst))
    while True:
        keys = sc.execute_command('CLUSTER', 'GETKEYSINSLOT', sl, 100)
        if not keys:
            break
        sc.execute_command('MIGRATE', '127.0.0.1', dst.port, '', 0, 5000, 'KEYS', *keys)
        moved += len(keys)
    for n in cl.masters():
        n.client().execute_command('CLUSTER', 'SETSLOT', sl, 'NODE', cl.node_id(dst))
time.sleep(0.3)
load.stop()
diag('migration: %d slots, %d keys moved' % (len(lslots), moved))
ok(moved > 0, 'slot migration: keys of the load moved while it ran')
ok(stable(p) is not None, 'slot migration: every flow in stable sync')
equal(m, cl, 'slot migration under the load: the target equals the master exactly')
p.send_signal(signal.SIGTERM)
is_(p.wait(60), 0, 'SIGTERM: exit 0')
m.stop()
cl.stop()

# ---------------------------------------------------------------- (4)
cl = make_cluster()
# small chunks, slowly: a snapshot of seconds
m = Master(NFLOWS, ['--chunk-size', '1024', '--snapshot-delay-us', '20000', '--lsn-interval-ms', '50',
                   '--backlog-ms', '120000'])
# values of 500 bytes: the channel writes a batch (64 KB) every ~120 keys,
# so the master killed has acknowledged some before it dies
m.client().execute_command('DEBUG', 'POPULATE', 20000, 'pop', 500)
victim, rep = victim_of(cl)
p = start(m, cl)
# a tenth of the snapshot applied: the dead master acknowledged writes
st = wait_status(p.sock, lambda t: sum(k for ph, k, _ in status_flows(t).values()
                                       if ph == 'full-sync') >= 2000,
                 timeout=60, proc=p)
ok(st is not None, 'full sync: the snapshot is under way')
load = Load(m, 4)
victim.kill()
st = ctl(p.sock, 'status')
ok(any(ph == 'full-sync' for ph, _, _ in status_flows(st).values()),
   'full sync: the master was killed before the snapshot ended') or diag(st)
ok(wait_for(lambda: cl.role(rep) == 'master' and cl.slots_of(rep), 60),
   'full sync: the replica was promoted')
st = stable(p, timeout=180)
ok(st is not None, 'full sync: every flow reached stable sync after the failover')
load.stop()
equal(m, cl, 'full sync: the target equals the master exactly')
# writes the dead master acknowledged may be missing on its replica:
# the full sync starts over
ok('restarting the full sync' in proc_log(p), 'full sync: the full sync started over')
p.send_signal(signal.SIGTERM)
is_(p.wait(60), 0, 'full sync: SIGTERM: exit 0')
m.stop()

# ---------------------------------------------------------------- (5)
# a replica that never acknowledges but is no failed node (its master
# refuses its PSYNC; the cluster bus is fine): bounded, then an error
# naming the master
mm = cl.masters()
stuck = [x for x in mm if cl.replica_of(x)][0]
srep = cl.replica_of(stuck)
m = Master(1)
m.client().set('base', 'x')
# the target's retry bound (60 s) bounds the wait
p = replicate_start(m, cl.url, ['-v', '--max-retries', '0'])
ok(wait_status(p.sock, lambda t: flows_stable(t, 1), timeout=60, proc=p) is not None,
   'stuck replica: stable sync')
stc = stuck.client()
stc.execute_command('ACL', 'SETUSER', 'default', '-psync', '-sync')
stc.execute_command('CLIENT', 'KILL', 'TYPE', 'replica')
ok(wait_for(lambda: srep.client().info('replication')['master_link_status'] == 'down', 30),
   'stuck replica: its link to the master is down')
c = m.client()
k = 0
while cl.client().execute_command('CLUSTER', 'KEYSLOT', 'k%d' % k) not in \
        [s for a, b in cl.slots_of(stuck) for s in range(a, b + 1)]:
    k += 1
c.set('k%d' % k, 'v')
try:
    rc = p.wait(120)
except Exception:  # noqa: BLE001
    rc = None
stc.execute_command('ACL', 'SETUSER', 'default', '+psync', '+sync')
log = proc_log(p)
ok(rc not in (None, 0), 'stuck replica: df2redis stops with an error (exit %s)' % rc)
ok(re.search(r'target 127\.0\.0\.1:%d: 0 of 1 replicas acknowledged the writes \(WAIT\), still after \d+ ms'
             % stuck.port, log), 'stuck replica: the error names the master and the WAIT') or \
    diag(log[-2000:])
m.stop()
cl.stop()
done_testing()
