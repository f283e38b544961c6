#!/usr/bin/python3
# df2redis replicate resumes by partial sync (replication.md 7.2) against
# the test master and a real redis-server: kill -9 of one worker in stable
# sync under a write load restarts that flow alone (the other workers keep
# their pids) and every flow resumes from its LSN; SIGTERM and restart,
# kill -9 of the supervisor and restart resume too; another master (a new
# replid) and a backlog that passed make a full resync, logged with why;
# restart-flow N answers once flow N is back; a flow that keeps dying
# stops the daemon with an error naming it.  After every kill the target
# equals the master exactly, INCR counters too: what the target applied
# past the checkpoint is skipped by its LSN markers, not replayed.
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

if not HAVE_MASTER:
    skip_all('t/dflymaster/dflymaster not built')

NFLOWS = 4
NCTR = 4


def start(m, url, sd=None, extra=()):
    return replicate_start(m, url, ['--checkpoint-ms', '20', '--max-retries', '4'] + list(extra), sd)


logtext = proc_log


def all_stable(text):
    return flows_stable(text, NFLOWS)


def stable(p, timeout=30):
    st = wait_status(p.sock, all_stable, timeout=timeout, proc=p)
    if st is None:
        diag(logtext(p)[-3000:])
    return st


def pids(st):
    return {i: pid for i, (_, _, pid) in status_flows(st).items()}


class Load(LoadThread):
    """SET on distinct keys and INCR on a few counters, until stopped."""
    pause = 0.003

    def __init__(self, m, tag):
        self.tag = tag
        super().__init__(m)

    def batch(self, pl):
        for _ in range(20):
            pl.set('%s:k:%d' % (self.tag, self.n), self.n)
            pl.incr('%s:ctr:%d' % (self.tag, self.n % NCTR))
            self.n += 1


def settle(m, tgt, name, timeout=20):
    """The whole keyspace equal after quiet, INCR counters and all: no
    write lost, none doubled, no LSN marker left once checkpoints cover
    them."""
    want = dump_server(m.client())
    end = time.time() + timeout
    while True:
        got = dump_server(tgt.client())
        if got == want or time.time() > end:
            break
        time.sleep(0.2)
    r = ok(got == want and len(want.get('0', {})) > 0, name)
    if not r:
        diag('\n'.join(x[:300] for x in diff_keyspaces(got, want)))


m = Master(NFLOWS, ['--lsn-interval-ms', '50', '--backlog-records', '4000'])
tgt = RedisServer()
c = m.client()
c.execute_command('DEBUG', 'POPULATE', 500, 'pop', 20)

# (a) kill -9 of one worker under load
p = start(m, tgt.url, extra=['-v'])
st = stable(p)
ok(st is not None, 'every flow reaches stable sync')
before = pids(st)
s0 = mstats(m)
load = Load(m, 'a')
time.sleep(0.5)
victim = 2
os.kill(before[victim], signal.SIGKILL)
st = wait_status(p.sock, lambda t: all_stable(t) and pids(t)[victim] not in (0, before[victim]),
                 timeout=20, proc=p)
time.sleep(0.5)
load.stop()
ok(st is not None, 'kill -9 of flow %d: every flow back in stable sync' % victim)
after = pids(st) if st else {}
ok(after.get(victim) not in (None, before[victim]), 'the dead flow has a new worker')
ok(all(after.get(i) == before[i] for i in range(NFLOWS) if i != victim),
   'the other workers kept their pids: %r -> %r' % (before, after))
s1 = mstats(m)
ok(s1['partial_syncs'] == s0['partial_syncs'] + 1 and s1['full_syncs'] == s0['full_syncs'],
   'the resume was partial (master: %d partial, %d full)' % (s1['partial_syncs'] - s0['partial_syncs'],
                                                           s1['full_syncs'] - s0['full_syncs']))
lt = logtext(p)
mt = re.search(r'all flows in stable sync (\d+) ms after flow %d died' % victim, lt)
ok(mt and re.search(r'flow %d: worker \d+ killed by signal 9' % victim, lt),
   'the log says which flow died, how, and when every flow was back')
if mt:
    diag('resume time after kill -9 of a worker: %s ms' % mt.group(1))
settle(m, tgt, 'kill -9 of a worker: the target equals the master exactly, INCR counters too')

# (f) restart-flow N: partial, only flow N's pid changes
before = after
s0 = mstats(m)
r = ctl(p.sock, 'restart-flow 1')
ok(re.match(r'ok flow 1 back in stable sync in \d+ ms: partial sync from LSN \d+, pid \d+', r),
   'restart-flow answers once the flow is back: %r' % r.strip())
st = stable(p)
after = pids(st) if st else {}
ok(after.get(1) != before.get(1) and all(after.get(i) == before.get(i) for i in (0, 2, 3)),
   'restart-flow: only flow 1 has a new worker: %r -> %r' % (before, after))
s1 = mstats(m)
ok(s1['partial_syncs'] == s0['partial_syncs'] + 1 and s1['full_syncs'] == s0['full_syncs'],
   'restart-flow: partial')

# (b) SIGTERM, writes, restart: partial
p.send_signal(signal.SIGTERM)
is_(p.wait(30), 0, 'SIGTERM: exit 0')
c.mset({'b:k:%d' % i: i for i in range(300)})
s0 = mstats(m)
p = start(m, tgt.url, sd=p.state_dir)
st = stable(p)
s1 = mstats(m)
ok(st is not None and s1['partial_syncs'] == s0['partial_syncs'] + 1 and
   s1['full_syncs'] == s0['full_syncs'], 'SIGTERM and restart: partial resume')
ok('resumed by partial sync' in logtext(p), 'the restart logs the partial resume')
settle(m, tgt, 'SIGTERM and restart: the target equals the master')

# (c) kill -9 of the supervisor under load: its workers go, the next resumes
load = Load(m, 'c')
time.sleep(0.3)
wpids = list(pids(st).values())
p.kill()
p.wait(10)
end = time.time() + 10
while time.time() < end and any(os.path.exists('/proc/%d' % w) and
                                 open('/proc/%d/stat' % w).read().split()[2] != 'Z' for w in wpids):
    time.sleep(0.05)
ok(not any(os.path.exists('/proc/%d' % w) and open('/proc/%d/stat' % w).read().split()[2] != 'Z'
           for w in wpids), 'the workers of a killed supervisor exit')
s0 = mstats(m)
os.unlink(p.sock) if os.path.exists(p.sock) else None
p = start(m, tgt.url, sd=p.state_dir)
st = stable(p)
time.sleep(0.3)
load.stop()
s1 = mstats(m)
ok(st is not None and s1['partial_syncs'] == s0['partial_syncs'] + 1 and
   s1['full_syncs'] == s0['full_syncs'], 'kill -9 of the supervisor and restart: partial resume')
settle(m, tgt, 'kill -9 of the supervisor: the target equals the master exactly, INCR counters too')

# (g) a flow that keeps dying: the daemon stops naming it
killed = 0
end = time.time() + 30
last = None
while p.poll() is None and time.time() < end:
    try:
        fl = status_flows(ctl(p.sock, 'status'))
    except OSError:
        time.sleep(0.02)
        continue
    if 3 in fl and fl[3][2] > 0 and fl[3][2] != last:
        try:
            os.kill(fl[3][2], signal.SIGKILL)
            killed += 1
        except ProcessLookupError:
            pass
        last = fl[3][2]
    time.sleep(0.02)
try:
    rc = p.wait(10)
except subprocess.TimeoutExpired:
    rc = None
    diag(logtext(p)[-2000:])
lt = logtext(p)
ok(rc == 1 and re.search(r'flow 3 keeps dying: \d+ times in a row, at LSN \d+, last error: ', lt),
   'a flow killed %d times: the daemon stops (status %r) naming the flow, LSN and error' % (killed, rc))

# (e) the backlog passed while stopped: full resync, logged
p = start(m, tgt.url, sd=p.state_dir)
st = stable(p)
p.send_signal(signal.SIGTERM)
p.wait(30)
pl = c.pipeline(transaction=False)
for i in range(24000):
    pl.set('e:k:%d' % i, i)
pl.execute()
s0 = mstats(m)
p = start(m, tgt.url, sd=p.state_dir, extra=['--flush-on-resync'])
st = stable(p)
s1 = mstats(m)
ok(st is not None and s1['full_syncs'] == s0['full_syncs'] + 1,
   'backlog passed: full resync')
ok(re.search(r'full resync: .*(FULL|backlog|dropped)', logtext(p)),
   'the full resync is logged with its reason')
settle(m, tgt, 'backlog passed: the target equals the master')
p.send_signal(signal.SIGTERM)
p.wait(30)

# (c2) every flow answered PARTIAL, then an entry was evicted before the
# master replayed it: it cancels the session (STARTSTABLE said +OK; the
# flows just close), the resume finds the LSNs gone, full resync
c.mset({'g:k:%d' % i: i for i in range(200)})
c.execute_command('DFLYMASTER', 'EVICT-NEXT-PARTIAL')
s0 = mstats(m)
p = start(m, tgt.url, sd=p.state_dir, extra=['--flush-on-resync'])
end = time.time() + 30      # stable at once after the PARTIAL answers: wait for the full sync
while mstats(m)['full_syncs'] == s0['full_syncs'] and time.time() < end:
    time.sleep(0.05)
st = stable(p)
s1 = mstats(m)
lt = logtext(p)
lt = lt[lt.rindex('supervisor: replicating '):]
ok(st is not None and s1['cancelled'] > s0['cancelled'] and s1['full_syncs'] == s0['full_syncs'] + 1,
   'entry dropped during the partial replay: session cancelled, full resync (master: %d cancelled, %d full)' %
   (s1['cancelled'] - s0['cancelled'], s1['full_syncs'] - s0['full_syncs']))
ok(re.search(r'the master closed the flow at LSN \d+(.|\n)*(every flow|flow [0-9,]+) answered FULL', lt),
   'the closed flows, then the FULL answers, are logged') or diag(lt[-2500:])
ok(not re.search(r'exited with status|killed by signal|read: Connection reset|syncid not found|attempt \d+ of', lt),
   'no worker failed: the cancel is an end of session, not an error') or diag(lt[-2500:])
settle(m, tgt, 'entry dropped: the target equals the master')
p.send_signal(signal.SIGTERM)
p.wait(30)

# (d) another master (a new replid): full resync
m2 = Master(NFLOWS)
m2.client().mset({'d:k:%d' % i: i for i in range(100)})
s0 = mstats(m2)
p = start(m2, tgt.url, sd=p.state_dir, extra=['--flush-on-resync'])
st = stable(p)
s1 = mstats(m2)
ok(st is not None and s1['full_syncs'] == s0['full_syncs'] + 1, 'new replid: full resync')
ok(re.search(r"full resync: the master's replid changed", logtext(p)), 'the new replid is logged')
settle(m2, tgt, 'new replid: the target equals the new master')
p.send_signal(signal.SIGTERM)
p.wait(30)

m.stop()
m2.stop()
done_testing()
