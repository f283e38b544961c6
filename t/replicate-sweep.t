#!/usr/bin/python3
# A full resync leaves no stale key (sweep.h, marks.h): keys the master
# deleted while df2redis was away are deleted from the target after the
# new snapshot, while the target kept serving every other key; keys the
# journal wrote during the resync (and while the sweep ran) stay, with
# their counters exact; dbs no source db maps to, and df2redis's own keys,
# are never touched; status and the log report the count.  A daemon
# killed during the sweep owes it: the next start does a full resync and
# sweeps again.  --no-sweep-on-resync keeps the old behaviour, and
# flush-on-resync flushes instead.  The same into a 3-master cluster.
import json
import os
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

if not HAVE_MASTER:
    skip_all('t/dflymaster/dflymaster not built')

NFLOWS = 4
# every DFLY FLOW from an LSN answers FULL: each restart is a full resync
MASTER_ARGS = ['--refuse-partial', '--snapshot-delay-us', '300']


class Load(LoadThread):
    """Writes on the master until stopped, in keys of its own: SETs of new
    keys, INCRs (a replay or a loss shows) and DELs of keys it made."""
    pause = 0.002

    def batch(self, pl):
        for _ in range(50):
            n = self.n
            pl.set('L:new:%d' % n, n)
            pl.incr('L:ctr:%d' % (n % 8))
            if n % 5 == 0:
                pl.delete('L:new:%d' % (n - 3))
            self.n += 1


def fill(c, prefix, n):
    pl = c.pipeline(transaction=False)
    for i in range(n):
        pl.set('%s%d' % (prefix, i), 'v%d' % i)
        if i % 100 == 0:
            pl.execute()
    pl.execute()


def status_json(p):
    r = ctl(p.sock, 'status json')
    return json.loads(r[r.index('{'):r.rindex('}') + 1])


def db(c, n):
    c.execute_command('SELECT', n)
    return dump_db(c)


def marks_files(sd):
    return sorted(f for f in os.listdir(sd) if f.startswith('marks'))


def stable(p, timeout=60):
    return wait_status(p.sock, lambda t: flows_stable(t, NFLOWS), timeout=timeout, proc=p)


def equal(name, got, want, p, timeout=60):
    d, _ = wait_equal(got, want, timeout=timeout, proc=p)
    ok(not d, name)
    if d:
        diag('\n'.join(d[:10]))
        diag(proc_log(p)[-3000:])
    return not d


def master_dbs(m):
    return {0: dump_db(m.client(0)), 2: dump_db(m.client(2))}


def target_dbs(tgt):
    c = tgt.client()
    return {0: db(c, 0), 2: db(c, 2)}


# ------------------------------------------------------------ (1) standalone
m = Master(NFLOWS, MASTER_ARGS)
tgt = RedisServer()
fill(m.client(0), 'k:', 3000)
fill(m.client(2), 'd2:', 500)
tc = tgt.client()
tc.execute_command('SELECT', 5)
tc.set('foreign', 'not ours')       # db 5: no source db maps to it
# /0 in the URL sends every source db to db 0; --db-map keeps 2 in 2
url = 'redis://127.0.0.1:%d/0' % tgt.port
args = ['-v', '--db-map', '2:2']
p = replicate_start(m, url, args)
ok(stable(p) is not None, 'first sync: stable')
equal('first sync: the target equals the master', lambda: target_dbs(tgt), master_dbs(m), p)
log = proc_log(p)
ok('keys swept' not in log and 'keys marked' not in log, 'a first sync neither marks nor sweeps')
is_(replicate_stop(p), 0, 'SIGTERM: exit 0')

# while df2redis is away the master deletes and adds keys
mc = m.client(0)
for i in range(0, 3000, 3):
    mc.delete('k:%d' % i)                  # 1000 deleted
for i in range(200):
    mc.set('k:late:%d' % i, i)
mc2 = m.client(2)
for i in range(100):
    mc2.delete('d2:%d' % i)                # 100 deleted
STALE = 1100

load = Load(m)
p = replicate_start(m, url, args, state_dir=p.state_dir)
seen = {'states': set(), 'served': True}


def watch():
    while p.poll() is None and seen.get('go', True):
        try:
            seen['states'].add(status_json(p)['session']['state'])
        except Exception:  # noqa: BLE001
            pass
        # the target keeps serving keys the master still has
        if tc.execute_command('SELECT', 0) and tc.get('k:1') != b'v1':
            seen['served'] = False
        time.sleep(0.01)


w = threading.Thread(target=watch)
w.start()
st = stable(p, timeout=90)
ok(st is not None, 'resync: stable sync')
time.sleep(1)
load.stop()
seen['go'] = False
w.join()
diag('%d writes during the resync; session states seen: %s' % (load.n, sorted(seen['states'])))
ok(load.n > 500, 'the load ran through the resync (%d writes)' % load.n)
ok(seen['served'], 'a key the master kept was served all along')
equal('resync: the target equals the master in dbs 0 and 2, counters exact',
      lambda: target_dbs(tgt), master_dbs(m), p)
log = proc_log(p)
ok('full resync' in log, 'the restart was a full resync')
sj = status_json(p)['session']
is_(sj['sweeps'], 1, 'status: one sweep')
is_(sj['swept'], STALE, 'status: the %d keys deleted on the master meanwhile were swept' % STALE)
ok(sj['last_sweep'] is not None and sj['last_sweep']['scanned'] >= 3000 - 1000 + 200,
   'status: the sweep looked at every key (%s)' % sj['last_sweep'])
ok(re.search(r'full resync: %d keys swept' % STALE, log), 'the log says how many keys were swept')
ok(re.search(r'flow \d+ stable: \d+ keys marked: holding the journal', log) or
   re.search(r'\d+ keys marked: holding the journal for the sweep', log),
   'each worker held its journal for the sweep')
tc.execute_command('SELECT', 5)
is_(tc.get('foreign'), b'not ours', 'db 5, where no source db maps, was not touched')
is_(marks_files(p.state_dir), [], 'the marks are gone once the sweep ran')
st = ctl(p.sock, 'status')
ok(re.search(r'^sweeps 1 swept %d last_swept %d last_scanned \d+ last_marks \d+ last_ms \d+$'
             % (STALE, STALE), st, re.M), 'status text: the sweep line')

# ------------------------------------------------------------ (1b) re-created in place
# Keys the master deleted while df2redis was away and writes again, in
# place, during the full resync: LPUSH, APPEND, INCR, SADD on the stale
# target value would keep old elements.  The snapshot's journal waits for
# the sweep, which deletes the stale values first.
class Recreate(LoadThread):
    pause = 0.001

    def batch(self, pl):
        for _ in range(20):
            n = self.n
            i = n % RE_KEYS        # first writes all through the full sync
            pl.lpush('re:list:%d' % i, n)
            pl.append('re:str:%d' % i, '.%d' % n)
            pl.incr('re:ctr:%d' % i)
            pl.sadd('re:set:%d' % i, n)
            self.n += 1


RE_KEYS = 3000
mc = m.client(0)
fill(mc, 'bulk:', 6000)                    # a longer full sync
pl = mc.pipeline(transaction=False)
for i in range(RE_KEYS):
    pl.rpush('re:list:%d' % i, 'old1', 'old2')
    pl.set('re:str:%d' % i, 'old')
    pl.set('re:ctr:%d' % i, 1000000)
    pl.sadd('re:set:%d' % i, 'old')
pl.execute()
equal('re-created keys: replicated with their old values', lambda: target_dbs(tgt), master_dbs(m), p)
is_(replicate_stop(p), 0, 'SIGTERM: exit 0')
for i in range(RE_KEYS):
    pl.delete('re:list:%d' % i, 're:str:%d' % i, 're:ctr:%d' % i, 're:set:%d' % i)
pl.execute()
p = replicate_start(m, url, args, state_dir=p.state_dir)
before = len(proc_log(p))
ok(wait_status(p.sock, lambda t: 'state full-sync' in t, timeout=60, proc=p) is not None,
   're-created keys: the full resync runs')
load = Recreate(m)
ok(stable(p, timeout=90) is not None, 're-created keys: resync in stable sync')
time.sleep(0.5)
load.stop()
log = proc_log(p)[before:]
during = sum(int(x) for x in re.findall(r'filtered\), (\d+) journal commands', log))
diag('%d writes; %d journal commands came inside the snapshots' % (load.n, during))
ok(during > 0, 'writes in place came inside the snapshot (%d journal commands)' % during)
equal('re-created keys: the target equals the master, no old element or count left',
      lambda: target_dbs(tgt), master_dbs(m), p)
tc.execute_command('SELECT', 0)
pl = tc.pipeline(transaction=False)
for i in range(RE_KEYS):
    pl.lrange('re:list:%d' % i, -1, -1)
    pl.sismember('re:set:%d' % i, 'old')
old = sum(1 for r in pl.execute() if r == [b'old2'] or r is True or r == 1)
is_(old, 0, 'no re-created list or set holds an old element')
ok(re.search(r'the full resync\'s journal is applied \(\d+ records held for the sweep\)', log),
   'the held journal was applied after the sweep')
is_([f for f in os.listdir(p.state_dir) if f.startswith('held-')], [], 'no held journal file is left')
recs = lsn_flows(p.state_dir)
ok(len(recs) == NFLOWS and all(int(r.split()[3]) > 0 and r.split()[4] == '2' for r in recs.values()),
   'then every flow stored its LSN in stable sync') or diag(recs)
for i in range(6000):                      # the later comparisons stay short
    pl.delete('bulk:%d' % i)
for i in range(RE_KEYS):
    pl.delete('re:list:%d' % i, 're:str:%d' % i, 're:ctr:%d' % i, 're:set:%d' % i)
pl.execute()

# ------------------------------------------------------------ (2) killed during the sweep
# 300,000 stale keys on the target make the sweep take a while
is_(replicate_stop(p), 0, 'SIGTERM: exit 0')
tc.execute_command('SELECT', 0)
tc.eval("for i = 1, 300000 do redis.call('SET', 'junk:' .. i, 'x') end", 0)
p = replicate_start(m, url, args, state_dir=p.state_dir)
got = wait_status(p.sock, lambda t: 'state sweep' in t, timeout=90, proc=p)
ok(got is not None, 'the sweep runs')
os.kill(p.pid, signal.SIGKILL)
p.wait()
time.sleep(0.5)
left = marks_files(p.state_dir)
ok(any(f.startswith('marks-') for f in left), 'killed mid-sweep, the marks stay (%s)' % left)
recs = lsn_flows(p.state_dir, cleared=True)
ok(len(recs) == NFLOWS and all(r.split()[3] == '0' for r in recs.values()),
   'killed before the held journal was applied, no flow stored an LSN to resume from') or diag(recs)
sd = p.state_dir
# a new daemon must find no old worker or sweeper still at work
time.sleep(1)
p = replicate_start(m, url, args, state_dir=sd)
ok(stable(p, timeout=120) is not None, 'restarted: stable sync')
log = proc_log(p)
ok('full resync: the sweep after the last full resync did not run' in log,
   'the owed sweep forces a full resync, and the log says why')
equal('after the owed sweep the target equals the master', lambda: target_dbs(tgt), master_dbs(m), p)
tc.execute_command('SELECT', 0)
is_(tc.dbsize(), m.client(0).dbsize(), 'no junk key left in db 0')
is_(marks_files(p.state_dir), [], 'no marks left')
is_(replicate_stop(p), 0, 'SIGTERM: exit 0')

# ------------------------------------------------------------ (3) no-sweep, flush
tc.execute_command('SELECT', 0)
tc.set('stale:1', 'x')
p = replicate_start(m, url, args + ['--no-sweep-on-resync'], state_dir=sd)
before = len(proc_log(p))
ok(stable(p) is not None, '--no-sweep-on-resync: stable sync')
is_(tc.get('stale:1'), b'x', '--no-sweep-on-resync: a stale key stays')
log = proc_log(p)[before:]
ok('full resync' in log and 'sweep' not in log, '--no-sweep-on-resync: a full resync, no sweep')
is_(replicate_stop(p), 0, 'SIGTERM: exit 0')
p = replicate_start(m, url, args + ['--flush-on-resync'], state_dir=sd)
ok(stable(p) is not None, 'flush-on-resync: stable sync')
is_(tc.get('stale:1'), None, 'flush-on-resync: the stale key was flushed')
sj = status_json(p)['session']
is_(sj['sweeps'], 0, 'flush-on-resync: no sweep')
equal('flush-on-resync: the target equals the master', lambda: target_dbs(tgt), master_dbs(m), p)
tc.execute_command('SELECT', 5)
is_(tc.get('foreign'), b'not ours', 'db 5 still untouched')
is_(replicate_stop(p), 0, 'SIGTERM: exit 0')

# ------------------------------------------------------------ (3b) held journal too big
# 1 MiB in memory, no file: a journal of a few MiB during the snapshot
# cannot be held; the full resync starts over, and passes once it fits.
class Big(LoadThread):
    def batch(self, pl):
        for _ in range(20):
            pl.set('big:%d' % (self.n % 500), 'x' * 20000)
            self.n += 1


tc.execute_command('SELECT', 0)
tc.set('stale:2', 'x')
p = replicate_start(m, url, args + ['--spool-memory', '1M', '--spool-max', '0'], state_dir=sd)
before = len(proc_log(p))
ok(wait_status(p.sock, lambda t: 'state full-sync' in t, timeout=60, proc=p) is not None,
   'small spool: the full resync runs')
load = Big(m)
t0 = time.time()
while time.time() - t0 < 60 and "outgrew the spool's limits" not in proc_log(p)[before:]:
    time.sleep(0.1)
load.stop()
log = proc_log(p)[before:]
ok(re.search(r"flow \d+ full-sync: byte \d+: the journal of the full resync, held for the sweep, "
             r"outgrew the spool's limits \(\d+ bytes\): starting over", log),
   'a held journal over the limits: the error names flow, byte and limit') or diag(log[-2000:])
ok(stable(p, timeout=120) is not None, 'small spool: without the load, the full resync passes')
equal('small spool: the target equals the master', lambda: target_dbs(tgt), master_dbs(m), p)
is_(tc.get('stale:2'), None, 'small spool: the stale key was swept')
is_(replicate_stop(p), 0, 'SIGTERM: exit 0')
m.stop()
tgt.stop()

# ------------------------------------------------------------ (4) a cluster
cl = RedisCluster()
m = Master(NFLOWS, MASTER_ARGS)
fill(m.client(0), 'c:', 2000)
p = replicate_start(m, cl.url, ['-v'])
ok(stable(p) is not None, 'cluster: stable sync')
equal('cluster: the target equals the master', lambda: dump_cluster(cl), {'0': dump_db(m.client(0))}, p)
is_(replicate_stop(p), 0, 'cluster: SIGTERM: exit 0')
mc = m.client(0)
for i in range(0, 2000, 4):
    mc.delete('c:%d' % i)                 # 500 deleted
load = Load(m)
p = replicate_start(m, cl.url, ['-v'], state_dir=p.state_dir)
ok(stable(p, timeout=90) is not None, 'cluster resync: stable sync')
time.sleep(1)
load.stop()
equal('cluster resync: the target equals the master, counters exact', lambda: dump_cluster(cl),
      {'0': dump_db(m.client(0))}, p)
sj = status_json(p)['session']
is_(sj['swept'], 500, 'cluster: the 500 keys deleted meanwhile were swept on every master')
is_(replicate_stop(p), 0, 'cluster: SIGTERM: exit 0')
m.stop()
cl.stop()
done_testing()
