#!/usr/bin/python3
# No write lost, none doubled (issue 8): a worker killed -9 after the
# target applied records but before its LMDB checkpoint stored them
# resumes from the older LSN, and the LSN markers the guarded commands
# left in their slots make it skip every record of a slot the target
# already holds, blind writes before them too.  SET k 5 (LSN n), INCR k
# (LSN n+1), kill -9 with a checkpoint a minute away: replaying both gives
# 11, skipping only the INCR gives 5; the master has 6.  Standalone and
# cluster targets; then kill -9 at random moments under a load of SET,
# INCR, APPEND, LPUSH, HINCRBY and XADD on the same keys, exact equality after
# every resume.
import json
import os
import re
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

if not HAVE_MASTER:
    skip_all('t/dflymaster/dflymaster not built')


def start(m, url, nflows, checkpoint_ms):
    p = replicate_start(m, url, ['-v', '--checkpoint-ms', str(checkpoint_ms), '--max-retries', '20'])
    p.nflows, p.sd = nflows, p.state_dir
    return p


logtext = proc_log


def flows_json(p):
    r = ctl(p.sock, 'status json')
    return {f['id']: f for f in json.loads(r[r.index('{'):r.rindex('}') + 1])['flows']}


def all_stable(p, text):
    return flows_stable(text, p.nflows)


def pids(text):
    return {i: pid for i, (_, _, pid) in status_flows(text).items()}


def resumed(p, victim, old, timeout=20):
    st = wait_status(p.sock, lambda t: all_stable(p, t) and pids(t).get(victim) not in (0, old),
                     timeout=timeout, proc=p)
    if st is None:
        diag(logtext(p)[-3000:])
    return st


def wait_value(c, key, want, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        v = c.get(key)
        if v == want:
            return True
        time.sleep(0.02)
    return False


def ours(ks):
    """Without the LSN markers a checkpoint has not covered yet."""
    return {db: {k: v for k, v in keys.items() if 'df2redis:lsn:' not in k}
            for db, keys in ks.items()}


def equal(m, dump, name, timeout=20):
    want = dump_server(m.client())
    end = time.time() + timeout
    while True:
        got = ours(dump())
        if got == want or time.time() > end:
            break
        time.sleep(0.1)
    if not ok(got == want and len(want.get('0', {})) > 0, name):
        diag('\n'.join(x[:300] for x in diff_keyspaces(got, want)))


def scans(servers):
    """SCAN commands the target servers ran so far."""
    return sum(s.client().info('commandstats').get('cmdstat_scan', {}).get('calls', 0)
               for s in servers)


def set_incr(tgt_client, dump, url, what, servers):
    """SET k 5, INCR k applied, kill -9 before the checkpoint, resume."""
    m = Master(1)
    c = m.client()
    c.set('base', 'x')
    p = start(m, url, 1, 60000)
    st = wait_status(p.sock, lambda t: all_stable(p, t), timeout=30, proc=p)
    ok(st is not None, '%s: stable sync' % what)
    tc = tgt_client()
    for i in range(20):
        c.set('k%d' % i, 5)
        c.incr('k%d' % i)
    c.set('k', 5)
    c.incr('k')
    ok(wait_value(tc, 'k', b'6'), '%s: the target applied SET k 5, INCR k' % what)
    stored = int(lsn_flows(p.sd)[0].split()[3])
    marks = [int(v) for k, v in ((k, tc.get(k)) for k in tc.keys('*df2redis:lsn:0')) if v]
    ok(marks and max(marks) >= stored, '%s: LMDB lags the target (stored next LSN %d, markers up to %s)' %
       (what, stored, max(marks) if marks else None))
    old = flows_json(p)[0]['pid']
    scanned = scans(servers)
    os.kill(old, signal.SIGKILL)
    st = resumed(p, 0, old)
    ok(st is not None, '%s: the killed flow resumed' % what)
    ok(re.search(r'resuming from LSN \d+: 21 LSN markers on the target', logtext(p)),
       '%s: the new worker read the 21 LSN markers' % what) or diag(logtext(p)[-1500:])
    # by name, not by a SCAN whose time grows with the target's keys
    is_(scans(servers), scanned, '%s: the markers were read without SCAN' % what)
    time.sleep(0.3)
    is_(tc.get('k'), b'6', '%s: k is 6 as on the master, neither 5 nor 11' % what)
    equal(m, dump, '%s: the target equals the master' % what)
    # the markers go once a checkpoint covers them: a clean stop stores one
    p.send_signal(signal.SIGTERM)
    is_(p.wait(30), 0, '%s: SIGTERM: exit 0' % what)
    left = [k for k in dump().get('0', {}) if 'df2redis:' in k]
    is_(left, [], '%s: no LSN marker left after the checkpoint' % what)
    m.stop()


# (1) the deterministic case, standalone
tgt = RedisServer()
set_incr(tgt.client, lambda: dump_server(tgt.client()), tgt.url, 'standalone', [tgt])
tgt.client().flushall()

# (2) the same into a cluster: markers live in the slot of their key
try:
    cl = RedisCluster()
except Exception as e:  # noqa: BLE001
    cl = None
    skip('cluster target', 'no Redis Cluster: %s' % e, 10)
if cl is not None:
    cc = cl.client()
    set_incr(lambda: cc, lambda: dump_cluster(cl), cl.url, 'cluster', cl.nodes)
    cl.stop()

# (3) kill -9 at random moments under a mixed load on the same keys
NK = 8


class Load:
    def __init__(self, m, seed):
        self.c, self.go, self.rnd = m.client(), True, random.Random(seed)
        self.t = threading.Thread(target=self.run)
        self.t.start()

    def run(self):
        n = 0
        while self.go:
            pl = self.c.pipeline(transaction=False)
            for _ in range(25):
                i = self.rnd.randrange(NK)
                op = self.rnd.randrange(8)
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
                elif op == 5:
                    pl.xadd('xs:%d' % i, {'n': n})
                elif op == 6:
                    pl.xadd('xs:%d' % i, {'n': n}, maxlen=5, approximate=False)
                else:
                    pl.set('str:%d' % i, 'r%d' % n)
                n += 1
            pl.execute()
            time.sleep(0.002)

    def stop(self):
        self.go = False
        self.t.join()


NFLOWS = 4
KILLS = 20
m = Master(NFLOWS, ['--lsn-interval-ms', '50'])
m.client().set('base', 'x')
p = start(m, tgt.url, NFLOWS, 300)
st = wait_status(p.sock, lambda t: all_stable(p, t), timeout=30, proc=p)
ok(st is not None, 'random kills: stable sync')
rnd = random.Random(int(os.environ.get('DF2REDIS_TEST_SEED', '8')))
s0 = mstats(m)
t0 = time.time()
for k in range(KILLS):
    load = Load(m, k)
    time.sleep(rnd.uniform(0.15, 0.6))
    before = pids(ctl(p.sock, 'status'))
    victim = rnd.randrange(NFLOWS)
    os.kill(before[victim], signal.SIGKILL)
    st = resumed(p, victim, before[victim])
    time.sleep(rnd.uniform(0, 0.2))
    load.stop()
    if not ok(st is not None, 'kill %d of flow %d: every flow back in stable sync' % (k + 1, victim)):
        break
    after = pids(st)
    ok(all(after[i] == before[i] for i in range(NFLOWS) if i != victim),
       'kill %d: only flow %d has a new worker' % (k + 1, victim))
    equal(m, lambda: dump_server(tgt.client()),
          'kill %d of flow %d: the target equals the master exactly' % (k + 1, victim))
diag('%d kills in %.1f s' % (KILLS, time.time() - t0))
s1 = mstats(m)
is_((s1['partial_syncs'] - s0['partial_syncs'], s1['full_syncs'] - s0['full_syncs']), (KILLS, 0),
    'every resume was partial (master: partial, full sessions)')
ok(m.alive(), 'the master saw no protocol violation')
p.send_signal(signal.SIGTERM)
is_(p.wait(30), 0, 'SIGTERM: exit 0')
m.stop()
tgt.stop()

# (4) the target killed -9 and restarted (AOF, fsync always) under the
# same load: what it acknowledged survives, what it did not comes again,
# the guarded commands once
tgt = RedisServer(args=['--appendonly', 'yes', '--appendfsync', 'always'])
m = Master(NFLOWS, ['--lsn-interval-ms', '50'])
m.client().set('base', 'x')
p = start(m, tgt.url, NFLOWS, 100)
st = wait_status(p.sock, lambda t: all_stable(p, t), timeout=30, proc=p)
ok(st is not None, 'target restart: stable sync')
before = pids(st)
s0 = mstats(m)
for k in range(3):
    load = Load(m, 100 + k)
    time.sleep(0.3)
    tgt.kill()
    time.sleep(0.5)
    tgt.start()
    time.sleep(0.3)
    load.stop()
    equal(m, lambda: dump_server(tgt.client()),
          'target killed -9 and restarted (%d): the target equals the master exactly' % (k + 1))
s1 = mstats(m)
is_((s1['partial_syncs'] - s0['partial_syncs'], s1['full_syncs'] - s0['full_syncs']), (0, 0),
    'target restarts: the session went on (no new session)')
is_(pids(ctl(p.sock, 'status')), before, 'target restarts: the workers rode them out')
p.send_signal(signal.SIGTERM)
is_(p.wait(30), 0, 'target restarts: SIGTERM: exit 0')
m.stop()
tgt.stop()
done_testing()
