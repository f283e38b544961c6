#!/usr/bin/python3
# df2redis replicate / migrate while it runs: a worker killed mid snapshot
# (the session restarts, the target ends correct), the process titles, the
# control socket (status, restart-flow, stop, unknown requests), SIGTERM.
import json
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

POP = 30000

m = Master(4, ['--compression', 'lz4', '--snapshot-delay-us', '5000'])
m.client().execute_command('DEBUG', 'POPULATE', POP, 'k', 100)
m.client().execute_command('DFLYMASTER', 'LOAD-SAMPLE')
tgt = RedisServer()
sd = tmpdir('state')
sock = os.path.join(sd, 'df2redis.sock')

# ------------------------------------------------------------ worker killed

p = spawn([DF2REDIS, 'replicate', '-d', '--full-sync-only', '--source', m.addr, '--target', tgt.url,
           '--state-dir', sd, '--retry-delay-ms', '50', '--unsupported', 'skip'],
          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
st = wait_status(sock, lambda t: any(ph == 'full-sync' and k > 0 and pid > 0
                                     for ph, k, pid in status_flows(t).values()), proc=p)
ok(st is not None, 'a flow is under way')
victim = None
for i, (ph, k, pid) in sorted(status_flows(st or '').items()):
    if ph == 'full-sync' and k > 0 and pid > 0:
        victim = pid
        break
try:
    title = open('/proc/%d/cmdline' % victim).read().replace('\0', ' ').strip()
    sup_title = open('/proc/%d/cmdline' % p.pid).read().replace('\0', ' ').strip()
except (OSError, TypeError):
    title = sup_title = ''
ok(re.match(r'df2redis: flow \d full-sync', title), 'worker process title: %r' % title)
ok(re.match(r'df2redis: supervisor', sup_title) and m.addr not in sup_title,
   'supervisor process title hides the command line: %r' % sup_title)
st = ctl(sock, 'status')
ok(st.startswith('ok\nsession SYNC') and st.endswith('\n.\n') and len(status_flows(st)) == 4,
   'control socket: status lists the session and 4 flows')
pr = re.search(r'^progress keys (\d+) of (\d+) percent (\d+) keys_per_s \d+ eta_s (\d+|-)$', st, re.M)
total = sum(m.client(db).dbsize() for db in range(16))
ok(pr and int(pr.group(2)) == total and 0 <= int(pr.group(3)) <= 100 and
   int(pr.group(1)) == sum(k for _, k, _ in status_flows(st).values()),
   'full sync: a progress line, the keys applied of the master\'s %d, percent, rate, ETA' % total) or diag(st)
ok(ctl(sock, 'bogus').startswith('error: unknown request'), 'control socket: unknown request')
ok(ctl(sock, 'restart-flow 9').startswith('error: no such flow'), 'control socket: restart-flow checks the flow')
try:
    os.kill(victim, signal.SIGKILL)
except (ProcessLookupError, TypeError):
    diag('the worker was gone before it could be killed')
out, err = p.communicate(timeout=120)
out, err = out.decode(), err.decode()
is_(p.returncode, 0, 'worker SIGKILLed mid full sync: exit 0')
ok(re.search(r'flow \d: worker %d killed by signal 9 at byte \d+' % victim, err) and
   err.count('restarting the full sync') == 1, 'worker crash logged with flow and byte, session restarted once')
ok('stable sync (journal replay) is not available' not in err, 'replicate --full-sync-only: no stable-sync notice')
compare(dump_server(tgt.client()), redis_only(dump_server(m.client())), 'after a worker crash: target correct')

# ------------------------------------------------------------ restart-flow, SIGTERM, stop

tgt.client().flushall()
p = spawn([DF2REDIS, 'migrate', '-d', '--source', m.addr, '--target', tgt.url,
           '--state-dir', sd, '--retry-delay-ms', '50', '--unsupported', 'skip'],
          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
st = wait_status(sock, lambda t: any(ph == 'full-sync' for ph, _, _ in status_flows(t).values()), proc=p)
sid = re.search(r'session (\S+)', st or '').group(1) if st else '-'
rf = ctl(sock, 'restart-flow 2')
ok(rf.startswith('ok restarting the session') and 'cannot rejoin' in rf, 'restart-flow explains itself')
st = wait_status(sock, lambda t: 'session %s ' % sid not in t and
                 any(ph == 'full-sync' for ph, _, _ in status_flows(t).values()), proc=p)
ok(st is not None and 'attempt 0 ' in st, 'restart-flow: a new session is under way, no retry counted')
p.send_signal(signal.SIGTERM)
out, err = p.communicate(timeout=60)
err = err.decode()
is_(p.returncode, 0, 'SIGTERM during the full sync: exit 0')
ok('session restarted by the operator' in err and 'stopped' in err, 'restart then clean stop logged')
ok(not re.search(r'killed by signal|exited early', err), 'no worker reported lost on a stop')
ok(not os.path.exists(sock) and not os.path.exists(os.path.join(sd, 'df2redis.pid')),
   'control socket and pid file removed')
p = spawn([DF2REDIS, 'migrate', '-d', '--source', m.addr, '--target', tgt.url,
           '--state-dir', sd], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wait_ctl(sock)
ok(ctl(sock, 'stop').startswith('ok stopping'), 'stop over the control socket')
out, err = p.communicate(timeout=60)
is_(p.returncode, 0, 'stop request: exit 0')
ok(m.alive(), 'master saw no barrier violation')
m.stop()

# ------------------------------------------------------------ restart-flow is no retry

m = Master(2, ['--compression', 'none', '--snapshot-delay-us', '3000'])
pipe = m.client().pipeline(transaction=False)
for i in range(4000):
    pipe.set('k%d' % i, 'v' * 100)
pipe.execute()
tgt.client().flushall()
p = spawn([DF2REDIS, 'migrate', '-d', '--source', m.addr, '--target', tgt.url, '--state-dir', sd,
           '--max-retries', '0'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wait_status(sock, lambda t: 'state full-sync' in t, proc=p)
rf = ctl(sock, 'restart-flow 0')
out, err = p.communicate(timeout=60)
err = err.decode()
ok(rf.startswith('ok restarting the session') and p.returncode == 0 and
   'session restarted by the operator' in err and 'giving up' not in err and
   'restarting the full sync in' not in err, 'restart-flow with --max-retries 0: no retry used, no backoff, exit 0')
compare(dump_server(tgt.client()), dump_server(m.client()), 'after restart-flow: target equals master')
m.stop()

# in backoff there is no session to restart
m = Master(2, ['--compression', 'none', '--fault-close-flow', '1:100'])
m.client().set('a', 'b')
p = spawn([DF2REDIS, 'migrate', '-d', '--source', m.addr, '--target', tgt.url, '--state-dir', sd,
           '--retry-delay-ms', '60000'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wait_status(sock, lambda t: 'state backoff' in t, proc=p)
rf = ctl(sock, 'restart-flow 0')
ok(rf.startswith('error: no session is running (state backoff)'), 'restart-flow in backoff says so: %r' % rf[:60])
ctl(sock, 'stop')
p.communicate(timeout=30)
is_(p.returncode, 0, 'stopped in backoff: exit 0')
m.stop()
tgt.stop()

# ------------------------------------------------------------ status --json

def status_json():
    r = subprocess.run([DF2REDISCTL, '-s', sock, 'status', '--json'], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    return json.loads(r.stdout.decode()) if r.returncode == 0 else None


def wait_json(pred, timeout=60):
    end = time.time() + timeout
    while time.time() < end and p.poll() is None:
        try:
            st = status_json()
        except (ValueError, subprocess.TimeoutExpired):
            st = None
        if st is not None and pred(st):
            return st
        time.sleep(0.05)
    return None


def stable(st, sessions):
    return (st['session']['sessions'] == sessions and len(st['flows']) == 4 and
            all(f['phase'] == 'stable' for f in st['flows']))


def ppid(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return int(f.read().rsplit(')', 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


m = Master(4)
m.client().execute_command('DEBUG', 'POPULATE', 2000, 'j', 20)
tgt = RedisServer()
p = spawn([DF2REDIS, 'replicate', '-d', '--source', m.addr, '--target', tgt.url, '--state-dir', sd,
           '--retry-delay-ms', '50'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wait_ctl(sock, proc=p)
st = wait_json(lambda s: stable(s, 1))
ok(st is not None, 'status --json: every flow stable')
st = st or {'session': {}, 'flows': []}
se = st['session']
ok(isinstance(se.get('master_replid'), str) and len(se['master_replid']) == 40 and
   se.get('state') == 'stable' and se.get('takeover') == 'none' and isinstance(se.get('syncid'), str),
   'session: master_replid, state stable, syncid, takeover none: %r' % se)
KEYS = {'id', 'pid', 'phase', 'lsn', 'acked_lsn', 'lag_ms', 'lag_records', 'restarts', 'resyncs_partial',
        'resyncs_full', 'last_error'}
ok(all(KEYS <= set(f) for f in st['flows']), 'every flow has the fields')
is_(se.get('progress', 'missing'), None, 'status --json in stable sync: progress null')
ok([f['id'] for f in st['flows']] == [0, 1, 2, 3], 'ids in order')
ok(all(isinstance(f[k], int) and not isinstance(f[k], bool) for f in st['flows']
       for k in ('pid', 'lsn', 'acked_lsn', 'lag_ms', 'lag_records', 'restarts', 'resyncs_partial',
                 'resyncs_full')),
   'numbers are JSON integers')
ok(all(ppid(f['pid']) == p.pid for f in st['flows']), 'pid: each is a worker process of the daemon')
ok(all('flow %d' % f['id'] in open('/proc/%d/cmdline' % f['pid']).read() for f in st['flows']),
   'pid: the worker of that flow (process title)')
# the title is the first string: what follows it is the old command line's space
titles = [open('/proc/%d/cmdline' % f['pid']).read().split('\0')[0] for f in st['flows']]
ok(all(re.match(r'df2redis: flow %d stable lsn \d+ lag \d+ms$' % i, t) for i, t in enumerate(titles)),
   'worker titles: flow, phase, LSN and lag: %r' % titles[0])
sup_title = open('/proc/%d/cmdline' % p.pid).read().split('\0')[0]
is_(sup_title, 'df2redis: supervisor stable 4 flows', 'supervisor title: state and flow count')
ok(all(0 < f['acked_lsn'] <= f['lsn'] for f in st['flows']), 'acked_lsn <= lsn')
ok(all(f['lag_ms'] >= 0 for f in st['flows']), 'lag_ms is a number of ms in stable sync')
ok(all(f['restarts'] == 0 and f['resyncs_full'] == 1 and f['resyncs_partial'] == 0 and
       f['last_error'] is None for f in st['flows']),
   'first session: no restarts, one full sync, no partial one, last_error null')
text = ctl(sock, 'status')
ok(re.search(r'flow 0 phase stable .* lsn \d+ acked \d+ pid \d+ lag_ms \d+ restarts 0 '
             r'resyncs_partial 0 resyncs_full 1', text) and 'last_error' not in text,
   'the text status shows the same fields')
ok(ctl(sock, 'status bogus').startswith('error: '), 'status with a bad argument: error')

# a worker killed: a new session, resumed by partial sync; the history says so
old = {f['id']: f['pid'] for f in st['flows']}
os.kill(old[1], signal.SIGKILL)
st = wait_json(lambda s: stable(s, 2))
ok(st is not None, 'after kill -9 of flow 1: stable again in a second (partial) session')
st = st or {'session': {}, 'flows': [{}] * 4}
f1 = st['flows'][1]
ok(isinstance(f1.get('last_error'), str) and 'killed by signal 9' in f1['last_error'],
   'last_error of flow 1 tells its death: %r' % f1.get('last_error'))
ok(all(f.get('restarts') == (1 if i == 1 else 0) and f.get('resyncs_full') == 1 and
       f.get('resyncs_partial') == 1 for i, f in enumerate(st['flows'])),
   'restarts 1 on flow 1 alone, one full sync and one partial resume on every flow: %r' %
   [(f.get('restarts'), f.get('resyncs_full'), f.get('resyncs_partial')) for f in st['flows']])
ok(all((f.get('pid') != old[i]) == (i == 1) and ppid(f.get('pid') or 0) == p.pid
       for i, f in enumerate(st['flows'])),
   'a new worker pid for flow 1 alone')
text = ctl(sock, 'status')
ok(re.search(r'^last_error 1 flow 1: worker \d+ killed by signal 9', text, re.M),
   'the text status shows last_error on a line of its own')
r = subprocess.run([DF2REDISCTL, '-s', sock, 'status'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
ok(r.returncode == 0 and 'RESYNCS_FULL' in r.stdout.decode() and 'last_error 1 ' in r.stdout.decode(),
   'df2redisctl status: the new columns and the error line')
p.terminate()
p.communicate(timeout=60)
is_(p.returncode, 0, 'SIGTERM in stable sync: exit 0')
m.stop()
tgt.stop()

done_testing()
