#!/usr/bin/python3
# A slow or paused target never slows the master (spool.h): the target is
# paused (CLIENT PAUSE) under a write load; the workers keep reading their
# flows into the spool, memory first and then the spool files, so the test
# master throttles its writers at most a moment (DFLYMASTER STATS) and never
# cancels the session; once the target is back the spool drains in order
# and the target equals the master key by key, counters exact.  A spool
# that fills up drops the session, says so in the log and in status, and
# replication resumes; a worker killed -9 with a spool resumes from its
# stored LSN (the spool is scratch) and its leftover files are removed.
import json
import os
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
VALUE = 'v' * 1000
logtext = proc_log


class Load(LoadThread):
    """Writes on the master until stopped: big SETs (bytes for the spool)
    and INCR/APPEND/LPUSH on a few keys (a replay or a loss shows)."""

    def batch(self, pl):
        for _ in range(100):
            n = self.n
            pl.set('big:%d' % (n % 20000), VALUE + str(n))
            pl.incr('ctr:%d' % (n % 16))
            if n % 10 == 0:
                pl.append('app:%d' % (n % 4), '%d,' % n)
                pl.lpush('list:%d' % (n % 4), n)
            self.n += 1


def flows_json(p):
    r = ctl(p.sock, 'status json')
    return {f['id']: f for f in json.loads(r[r.index('{'):r.rindex('}') + 1])['flows']}


def all_stable(text):
    return flows_stable(text, NFLOWS)


def spool_files(sd):
    return sorted(f for f in os.listdir(sd) if re.match(r'spool-\d+\.\d+$', f))


def equal(m, tgt, p, name, timeout=120):
    d, _ = wait_equal(lambda: dump_db(tgt.client()), dump_db(m.client()), timeout=timeout, proc=p)
    ok(not d, name)
    if d:
        diag('\n'.join(d[:10]))
        diag(logtext(p)[-3000:])


def pause_under_load(m, tgt, p, seconds, watch):
    """Pause the target for `seconds` while the load runs; watch(flows)
    is called with the status of every flow while it is paused."""
    load = Load(m)
    time.sleep(0.5)
    tgt.client().execute_command('CLIENT', 'PAUSE', int(seconds * 1000), 'ALL')
    end = time.time() + seconds
    while time.time() < end - 0.3:
        watch(flows_json(p))
        time.sleep(0.2)
    time.sleep(max(0, end - time.time()) + 0.5)
    load.stop()
    return load.n


# (1) a 6 s pause: the spool takes it, the master never notices
m = Master(NFLOWS)
tgt = RedisServer()
p = replicate_start(m, tgt.url, ['-v', '--spool-memory', '1M'])
st = wait_status(p.sock, all_stable, timeout=30, proc=p)
ok(st is not None, 'stable sync')
s0 = mstats(m)
r0 = {i: f['resyncs_partial'] + f['resyncs_full'] + f['restarts'] for i, f in flows_json(p).items()}
seen = {'spool': 0, 'files': 0, 'drain_null': False, 'behind': 0}


def watch(fl):
    seen['spool'] = max(seen['spool'], max(f['spool_bytes'] for f in fl.values()))
    seen['files'] = max(seen['files'], len(spool_files(p.state_dir)))
    seen['drain_null'] |= any(f['spool_bytes'] > 0 and f['spool_drain_ms'] is None
                              for f in fl.values())
    seen['behind'] = max(seen['behind'], max(f['lag_ms'] or 0 for f in fl.values()))


n = pause_under_load(m, tgt, p, 6, watch)
diag('%d writes; largest spool %d bytes, %d spool files' % (n, seen['spool'], len(spool_files(p.state_dir))))
ok(n > 20000, 'the load ran during the pause (%d writes)' % n)
ok(seen['spool'] > (1 << 20), 'a flow spooled past its memory (%d bytes)' % seen['spool'])
ok(seen['files'] >= 1, 'the spool files were used (%d at most)' % seen['files'])
ok(seen['drain_null'], 'status: spool_drain_ms null while nothing applies')
ok(seen['behind'] > 1000, 'status: lag_ms grew while the target was paused (%d ms)' % seen['behind'])
s1 = mstats(m)
diag('master: %d throttles, %d ms throttled' % (s1['throttles'] - s0['throttles'],
                                               s1['throttled_ms'] - s0['throttled_ms']))
# A worker the scheduler leaves out for ~100 ms on a loaded 2-core box
# lets 1 MiB pile up (a transient throttle, as on a real master); without
# the spool the writers would be throttled the whole pause, then cancelled.
tms = s1['throttled_ms'] - s0['throttled_ms']
ok(tms <= 300, 'the master throttled its writers %d ms of the 6,000 ms pause' % tms)
is_(s1['cancelled'] - s0['cancelled'], 0, 'the master never cancelled the session')
equal(m, tgt, p, 'after the pause the target equals the master, counters exact')
st = wait_status(p.sock, lambda t: all_stable(t) and all(
    f['spool_bytes'] == 0 for f in flows_json(p).values()), timeout=60, proc=p)
ok(st is not None, 'every spool drained')
is_(spool_files(p.state_dir), [], 'no spool file left once drained')
fl = flows_json(p)
is_(sorted(set(f['spool_full'] for f in fl.values())), [0], 'no spool filled up')
is_({i: f['resyncs_partial'] + f['resyncs_full'] + f['restarts'] for i, f in fl.items()}, r0,
    'no resync, no restart')
log = logtext(p)
ok('spool full' not in log, 'no spool-full line in the log')

# (2) kill -9 a worker while it spools: it resumes from its stored LSN
before = status_flows(ctl(p.sock, 'status'))
killed = {}


def kill_watch(fl):
    if killed:
        return
    for i, f in fl.items():
        if f['spool_bytes'] > (3 << 19):
            killed.update(victim=i, spool=f['spool_bytes'], files=spool_files(p.state_dir))
            os.kill(f['pid'], signal.SIGKILL)
            return


pause_under_load(m, tgt, p, 6, kill_watch)
victim = killed.get('victim', 0)
old = before[victim][2]
ok('spool' in killed, 'flow %d killed -9 holding %d spooled bytes' % (victim, killed.get('spool', 0)))
ok(any(f.startswith('spool-%d.' % victim) for f in killed.get('files', [])),
   'its spool files were there when it died')
st = wait_status(p.sock, lambda t: all_stable(t) and status_flows(t)[victim][2] not in (0, old),
                 timeout=60, proc=p)
ok(st is not None, 'flow %d forked again and in stable sync' % victim)
equal(m, tgt, p, 'after the kill the target equals the master, counters exact')
ok(re.search(r'spool-%d\.\d+: left by an earlier worker, removed' % victim, logtext(p)),
   "the dead worker's spool files removed by the next one")
wait_status(p.sock, lambda t: all(f['spool_bytes'] == 0 for f in flows_json(p).values()),
            timeout=60, proc=p)
is_(spool_files(p.state_dir), [], 'no spool file left')
is_(replicate_stop(p), 0, 'SIGTERM: exit 0')
m.stop()

# (3) a spool that fills up: the session is dropped, named, and resumed
# (a new master: the target starts empty, a full sync does not flush it)
tgt.client().flushall()
m = Master(NFLOWS)
p = replicate_start(m, tgt.url, ['-v', '--spool-memory', '1M', '--spool-max', '2M'])
st = wait_status(p.sock, all_stable, timeout=30, proc=p)
ok(st is not None, 'small spool: stable sync')
s0 = mstats(m)
pause_under_load(m, tgt, p, 5, lambda fl: None)
equal(m, tgt, p, 'after the full spool the target equals the master')
log = logtext(p)
ok(re.search(r'flow \d+ stable: byte \d+: LSN \d+: spool full \(\d+ bytes, \d+ on disk\).*'
             r'dropping the session to resume from LSN \d+', log),
   'the log names the flow, its LSN and the full spool')
fl = flows_json(p)
full = [i for i, f in fl.items() if f['spool_full'] > 0]
ok(full, 'status: spool_full counted (flows %s)' % full)
ok(all('spool full' in (fl[i]['last_error'] or '') for i in full), 'status: last_error says spool full')
s1 = mstats(m)
ok(s1['partial_syncs'] + s1['full_syncs'] > s0['partial_syncs'] + s0['full_syncs'],
   'replication resumed in a new session (partial %d, full %d)' % (
       s1['partial_syncs'] - s0['partial_syncs'], s1['full_syncs'] - s0['full_syncs']))
ok(p.poll() is None, 'df2redis still running')
is_(replicate_stop(p), 0, 'SIGTERM: exit 0')
m.stop()

# (4) the options are checked
r = df2redis('replicate', ['-n', '--source', '127.0.0.1:1', '--target', tgt.url, '--spool-memory', '12Q'])
is_(r.returncode, 2, 'a bad size is a usage error')
ok('spool-memory' in r.stderr and 'not a size' in r.stderr, 'the error names the option: ' + r.stderr.strip())
r = df2redis('replicate', ['-n', '--source', '127.0.0.1:1', '--target', tgt.url, '--spool-memory', '1K'])
ok(r.returncode != 0 and 'below' in r.stderr, 'spool-memory under 1M refused: ' + r.stderr.strip())
tgt.stop()
done_testing()
