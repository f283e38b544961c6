#!/usr/bin/python3
# df2redis replicate in stable sync against the test master: the journal
# of every command family reaches a standalone and a cluster target, the
# ACKs (exactly three tokens, never past the master's LSN) catch up with
# every shard, the LSN entries are checked, SIGTERM stores each flow's LSN
# in LMDB and exits 0, and migrate still ends after the full sync.
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


def start(m, url, extra=()):
    return replicate_start(m, url, extra)


logtext = proc_log


def all_stable(text):
    return flows_stable(text, NFLOWS)


def master_flows(m):
    """{flow: (shard lsn, acked)} of the master's stable session, and its ACK faults."""
    text = m.client().execute_command('DFLYMASTER', 'FLOWS').decode()
    flows = {int(a): (int(b), int(c)) for a, b, c in
             re.findall(r'flow:(\d+) lsn:(\d+) acked:(\d+)', text)}
    bad = {k: int(v) for k, v in re.findall(r'(bad_acks|acks_ahead):(\d+)', text)}
    return flows, bad


def write_mix(c, tag):
    """Every command family the test master journals, on many keys."""
    pl = c.pipeline(transaction=False)
    for i in range(300):
        pl.set('%s:s:%d' % (tag, i), 'v%d' % i)
        pl.incr('%s:ctr:%d' % (tag, i % 7))
        pl.append('%s:ap:%d' % (tag, i % 5), 'x%d' % i)
        pl.lpush('%s:l:%d' % (tag, i % 3), i)
        pl.hset('%s:h' % tag, 'f%d' % i, i)
        pl.hincrby('%s:h' % tag, 'n', 2)
        pl.sadd('%s:set' % tag, i)
        pl.zadd('%s:z' % tag, {'m%d' % i: i * 1.5})
        pl.xadd('%s:x' % tag, {'a': i})
    for i in range(0, 300, 10):
        pl.delete('%s:s:%d' % (tag, i))
        pl.expire('%s:s:%d' % (tag, i + 1), 100000)
    pl.execute()
    # MULTI/EXEC across keys of several shards
    tx = c.pipeline(transaction=True)
    for i in range(20):
        tx.set('%s:tx:%d' % (tag, i), 'multi')
        tx.incrby('%s:txctr' % tag, i)
    tx.mset({'%s:m:%d' % (tag, i): i for i in range(20)})
    tx.delete('%s:tx:0' % tag, '%s:tx:1' % tag, '%s:s:2' % tag)
    tx.execute()


def quiet_equal(m, dump, name, timeout=20):
    """The target equals the master once the journal went quiet."""
    want = dump_server(m.client())
    end = time.time() + timeout
    got = dump()
    while got != want and time.time() < end:
        time.sleep(0.2)
        got = dump()
    return compare(got, want, name)


def acks_caught_up(m, timeout=10):
    end = time.time() + timeout
    while True:
        flows, bad = master_flows(m)
        if (len(flows) == NFLOWS and all(a == lsn for lsn, a in flows.values())) or time.time() > end:
            return flows, bad
        time.sleep(0.1)


# ------------------------------------------------------------ standalone

m = Master(NFLOWS, ['--lsn-interval-ms', '20'])
c = m.client()
c.execute_command('DEBUG', 'POPULATE', 2000, 'pop', 20)
tgt = RedisServer()
p = start(m, tgt.url, ['--checkpoint-ms', '50', '-v'])
st = wait_status(p.sock, all_stable, timeout=60, proc=p)
ok(st is not None and re.search(r'state stable', st), 'every flow reaches phase stable')
if st is None:
    diag(logtext(p)[-3000:])
flows, bad = acks_caught_up(m)
ok(len(flows) == NFLOWS and all(a == lsn for lsn, a in flows.values()),
   'the first ACK of each flow is its JOURNAL_OFFSET: %r' % flows)

write_mix(c, 'a')
quiet_equal(m, lambda: dump_server(tgt.client()), 'stable sync: the target equals the master')
# the db map and FLUSHDB: a db of its own, then flushed
c1 = m.client(db=3)
c1.set('db3:a', 1)
c1.rpush('db3:l', 'x', 'y')
quiet_equal(m, lambda: dump_server(tgt.client()), 'stable sync: writes to db 3')
c1.flushdb()
c.set('after:flushdb', 'yes')
quiet_equal(m, lambda: dump_server(tgt.client()), 'stable sync: FLUSHDB of db 3 replayed')
ok(tgt.client(db=3).dbsize() == 0 and tgt.client().exists('a:ctr:0'), 'FLUSHDB flushed db 3 alone')

# a worker killed in stable sync: a new session resumes every flow (partial sync)
pids = [pid for _, _, pid in status_flows(ctl(p.sock, 'status')).values()]
os.kill(pids[2], signal.SIGKILL)
st = wait_status(p.sock, lambda t: 'session SYNC2 ' in t and all_stable(t), timeout=60, proc=p)
ok(st is not None and pids[2] not in [pid for _, _, pid in status_flows(st).values()],
   'a worker killed in stable sync: a new session, every flow stable again')
ok(re.search(r'flow 2: worker %d killed by signal 9 .* in stable sync at LSN' % pids[2], logtext(p)),
   'the supervisor names the flow, the signal and the phase')
write_mix(c, 'c')
quiet_equal(m, lambda: dump_server(tgt.client()), 'after the resume: the target equals the master')

flows, bad = acks_caught_up(m)
ok(len(flows) == NFLOWS and all(a == lsn and lsn > 1 for lsn, a in flows.values()),
   'after a quiet second every flow ACKed its shard next LSN: %r' % flows)
ok(bad.get('bad_acks') == 0, 'every ACK has exactly three tokens')
ok(bad.get('acks_ahead') == 0, 'no ACK ran past the shard LSN')


def status_lsns(text):
    return {int(a): (int(b), int(d)) for a, b, d in
            re.findall(r'flow (\d+) phase stable .* lsn (\d+) acked (\d+)', text)}


want = {i: (flows[i][0], flows[i][0]) for i in range(NFLOWS)}
st = wait_status(p.sock, lambda t: status_lsns(t) == want, timeout=5, proc=p)
ok(st is not None, 'status shows each flow stable with its LSN and ACK')
st = st or ctl(p.sock, 'status')
pids = [pid for _, _, pid in status_flows(st).values()]

os.kill(p.pid, signal.SIGTERM)
try:
    p.wait(30)
except subprocess.TimeoutExpired:
    p.kill()
    p.wait()
is_(p.returncode, 0, 'SIGTERM in stable sync: exit 0')
ok(not any(os.path.exists('/proc/%d' % pid) for pid in pids), 'every worker exited')
recs = lsn_flows(p.state_dir)
want = {i: '%d 2' % flows[i][0] for i in range(NFLOWS)}
got = {i: ' '.join(r.split()[3:5]) for i, r in recs.items()}
is_(got, want, 'LMDB: each flow stored next_lsn == the shard LSN, state stable')
ok('SIGTERM: stopped at LSN' in logtext(p), 'the workers drained and stored on SIGTERM')
ok(len(re.findall(r'FLUSHDB run once for every flow', logtext(p))) == 1,
   'FLUSHDB, journaled on every flow, ran once')
ok(m.alive(), 'the master saw no barrier violation')
m.stop()

# ------------------------------------------------------------ cluster target

m = Master(NFLOWS, ['--lsn-interval-ms', '20'])
c = m.client()
c.execute_command('DEBUG', 'POPULATE', 2000, 'pop', 20)
cl = RedisCluster()
p = start(m, cl.url)
st = wait_status(p.sock, all_stable, timeout=60, proc=p)
ok(st is not None, 'cluster: every flow reaches phase stable')
write_mix(c, 'b')
quiet_equal(m, lambda: dump_cluster(cl), 'cluster: the target equals the master')
c.flushall()
c.set('{x}after', 'flushall')
c.incr('after:ctr')
quiet_equal(m, lambda: dump_cluster(cl), 'cluster: FLUSHALL reached every master, later writes kept')
# writes on every shard right behind a FLUSHALL: no flow may run its copy
# of the FLUSHALL after another flow applied them
for rnd in range(3):
    pl = c.pipeline(transaction=False)
    for i in range(100):
        pl.set('pre:%d:%d' % (rnd, i), i)
    pl.flushall()
    for i in range(300):
        pl.set('post:%d:%d' % (rnd, i), i)
        pl.incr('post:ctr:%d' % (i % 9))
    pl.execute()
quiet_equal(m, lambda: dump_cluster(cl), 'cluster: writes right behind FLUSHALL survive it on every flow')
flows, bad = acks_caught_up(m)
ok(len(flows) == NFLOWS and all(a == lsn for lsn, a in flows.values()) and
   bad.get('bad_acks') == 0 and bad.get('acks_ahead') == 0, 'cluster: ACKs caught up, none malformed or early')
os.kill(p.pid, signal.SIGTERM)
p.wait(30)
is_(p.returncode, 0, 'cluster: SIGTERM exits 0')
m.stop()
cl.stop()

# ------------------------------------------------------------ a lying LSN entry

m = Master(NFLOWS, ['--lsn-interval-ms', '0', '--fault-bad-lsn', '1'])
c = m.client()
p = start(m, tgt.url, ['--max-retries', '0'])
st = wait_status(p.sock, all_stable, timeout=60, proc=p)
for i in range(50):
    c.set('lie:%d' % i, i)
try:
    p.wait(30)
except subprocess.TimeoutExpired:
    p.kill()
    p.wait()
text = logtext(p)
mm = re.search(r'flow 1: byte (\d+): LSN entry (\d+) but the last record was LSN (\d+)', text)
ok(p.returncode == 1 and mm is not None and int(mm.group(2)) == int(mm.group(3)) + 1,
   'an LSN entry that does not match is a stream error naming flow, byte and LSN: %s' %
   (mm.group(0) if mm else text[-500:]))
m.stop()

# ------------------------------------------------------------ migrate still ends

m = Master(NFLOWS)
m.client().execute_command('DEBUG', 'POPULATE', 500)
r = migrate(m, tgt.url, timeout=60)
ran_ok(r, 'migrate exits 0 after the full sync')
recs = lsn_flows(r.state_dir)
ok(len(recs) == NFLOWS and all(rec.split()[4] == '1' for rec in recs.values()),
   'migrate: LMDB holds the full-sync checkpoint of every flow')
m.stop()
tgt.stop()

done_testing()
