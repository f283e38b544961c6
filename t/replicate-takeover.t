#!/usr/bin/python3
# df2redisctl takeover (replication.md 10) against the test master: under
# a continuous write load, +OK means every write acknowledged by the
# master is on the target, the reply lists each flow's final LSN (the
# master's shard LSN after its PING), and the daemon exits 0 without a
# resync; a takeover before stable sync and one that times out (the target
# paused) are reported and replication goes on.
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

if not HAVE_MASTER:
    skip_all('t/dflymaster/dflymaster not built')

NFLOWS = 4


def start(m, url, extra=()):
    return replicate_start(m, url, ['-v'] + list(extra))


logtext = proc_log


def ctlcmd(p, *args, timeout=120):
    return subprocess.run([DF2REDISCTL, '-s', p.sock] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)


def status_json(p):
    r = ctlcmd(p, 'status', '--json')
    if r.returncode != 0:
        return None
    return json.loads(r.stdout.decode())


def wait_json(p, pred, timeout=60):
    end = time.time() + timeout
    while time.time() < end and p.poll() is None:
        try:
            st = status_json(p)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            st = None
        if st is not None and pred(st):
            return st
        time.sleep(0.05)
    return None


def all_stable(st):
    return len(st['flows']) == NFLOWS and all(f['phase'] == 'stable' for f in st['flows'])


class Writer(threading.Thread):
    """Writes one command at a time until the master refuses (LOADING) or
    goes away, keeping a model of every write the master acknowledged."""

    def __init__(self, m, tag):
        super().__init__(daemon=True)
        self.c = m.client()
        self.tag = tag
        self.model = {}
        self.n = 0
        self.refused = None
        self.halt = False

    def run(self):
        t = self.tag
        while not self.halt:
            i = self.n
            k = i % 50
            try:
                op = i % 4
                if op == 0:
                    self.c.set('%s:s:%d' % (t, k), 'v%d' % i)
                    self.model['%s:s:%d' % (t, k)] = ('string', 'v%d' % i)
                elif op == 1:
                    v = self.c.incr('%s:n:%d' % (t, k))
                    self.model['%s:n:%d' % (t, k)] = ('string', str(v))
                elif op == 2:
                    key = '%s:a:%d' % (t, k)
                    self.c.append(key, 'x%d,' % i)
                    old = self.model.get(key, ('string', ''))[1]
                    self.model[key] = ('string', old + 'x%d,' % i)
                else:
                    key = '%s:l:%d' % (t, k)
                    self.c.lpush(key, i)
                    old = self.model.get(key, ('list', []))[1]
                    self.model[key] = ('list', [str(i)] + old)
            except Exception as e:  # LOADING during the takeover, or the master gone
                self.refused = str(e)
                return
            self.n += 1


def model_matches(tgt, model):
    c = tgt.client()
    bad = []
    for key, (typ, want) in model.items():
        got = c.get(key) if typ == 'string' else c.lrange(key, 0, -1)
        got = got.decode() if isinstance(got, bytes) else [x.decode() for x in got]
        if got != want:
            bad.append('%s: %r != %r' % (key, got, want))
    if bad:
        diag('\n'.join(bad[:10]))
    return not bad


# ------------------------------------------------------------ takeover +OK

m = Master(NFLOWS)
c = m.client()
c.execute_command('DEBUG', 'POPULATE', 3000, 'pop', 20)
c.hset('h', mapping={'a': 1, 'b': 2})
tgt = RedisServer()
p = start(m, tgt.url)
st = wait_json(p, all_stable)
ok(st is not None, 'status --json: every flow in phase stable')
if st is None:
    diag(logtext(p)[-3000:])
    done_testing()
    sys.exit()

w = Writer(m, 'w')
w.start()
time.sleep(1.0)
before = dump_server(m.client())   # the keys the writer does not touch
t0 = time.time()
r = ctlcmd(p, 'takeover', '5')
out, err = r.stdout.decode(), r.stderr.decode()
is_(r.returncode, 0, 'takeover: df2redisctl exits 0 (%.2f s)' % (time.time() - t0))
ok(out.startswith('takeover complete'), 'takeover: the reply says complete: %r' % out[:80])
if r.returncode != 0:
    diag(err + logtext(p)[-3000:])
w.halt = True
w.join(10)
ok(w.n > 100 and w.refused is not None, 'writes ran until the master refused them: %d writes, %r'
   % (w.n, (w.refused or '')[:60]))
is_(p.wait(30), 0, 'takeover: the daemon exits 0')
log = logtext(p)
ok('takeover: +OK' in log, 'the log tells the +OK')
ok(not re.search(r'restarting the full sync|session restarted|DFLY SYNC', log.split('takeover: DFLY TAKEOVER')[-1]),
   'no resync after the takeover')
is_(m.proc.wait(10), 0, 'the master shut down after +OK')

# the master's shard LSNs after its PING, as it logged them
mlsn = {int(a): int(b) for a, b in re.findall(r'takeover: shard (\d+) lsn (\d+)', m.logtext())}
got = {int(a): (int(b), int(c_)) for a, b, c_ in re.findall(r'flow (\d+) lsn (\d+) acked (\d+)', out)}
ok(len(mlsn) == NFLOWS and all(got.get(i, (None,))[0] == mlsn[i] for i in mlsn),
   'the reply lists each flow\'s final LSN, the master\'s shard LSN: %r %r' % (got, mlsn))
ok(all(a == lsn for lsn, a in got.values()), 'every final LSN was acknowledged')
stored = lsn_flows(p.state_dir)
ok(len(stored) == NFLOWS and all(' %d ' % mlsn.get(i, -1) in ' ' + stored[i] + ' ' for i in stored),
   'LMDB holds each final LSN: %r' % stored)

# the target: the keys before the load, and every acknowledged write
tc = tgt.client()
tdump = dump_server(tc)
wkeys = {k for k in tdump.get('0', {}) if k.startswith('w:')}
for d in tdump.values():
    for k in list(d):
        if k.startswith('w:'):
            del d[k]
for d in before.values():
    for k in list(d):
        if k.startswith('w:'):
            del d[k]
compare(tdump, before, 'takeover: the target holds every key the load did not touch')
ok(model_matches(tgt, w.model) and wkeys == set(w.model),
   'takeover: every write the master acknowledged is on the target (%d keys)' % len(w.model))
tgt.stop()

# ------------------------------------------------------------ before stable sync

m = Master(NFLOWS, ['--snapshot-delay-us', '5000'])
c = m.client()
c.execute_command('DEBUG', 'POPULATE', 20000, 'k', 50)
tgt = RedisServer()
p = start(m, tgt.url)
st = wait_json(p, lambda s: s['session']['state'] in ('full-sync', 'barrier'), timeout=30)
ok(st is not None, 'a full sync is under way')
r = ctlcmd(p, 'takeover', '2')
err = r.stderr.decode()
is_(r.returncode, 1, 'takeover before stable sync: df2redisctl exits 1')
ok('invalid state' in err, 'the master\'s refusal is reported: %r' % err.strip())
st = wait_json(p, all_stable, timeout=120)
ok(st is not None and p.poll() is None, 'replication goes on to stable sync')
ok(st is not None and st['session']['takeover'] == 'none' and st['session']['sessions'] == 1,
   'the same session, no takeover left pending')
c.set('after', 'refusal')
end = time.time() + 20
while time.time() < end and tgt.client().get('after') != b'refusal':
    time.sleep(0.1)
compare(dump_server(tgt.client()), dump_server(c), 'after the refusal: the target equals the master')

# ------------------------------------------------------------ timeout

c.execute_command('DEBUG', 'POPULATE', 100, 'pre', 10)
tgt.client().execute_command('CLIENT', 'PAUSE', 4000, 'ALL')
pl = c.pipeline(transaction=False)
for i in range(200):
    pl.set('paused:%d' % i, i)
pl.execute()
t0 = time.time()
r = ctlcmd(p, 'takeover', '1')
err = r.stderr.decode()
is_(r.returncode, 1, 'takeover with the target paused: df2redisctl exits 1 (%.2f s)' % (time.time() - t0))
ok('Takeover failed!' in err and 'replication goes on' in err, 'the master\'s failure is reported: %r' % err.strip())
ok(p.poll() is None and m.alive(), 'the daemon and the master go on')
c.set('after', 'timeout')
end = time.time() + 30
while time.time() < end and tgt.client().get('after') != b'timeout':
    time.sleep(0.1)
compare(dump_server(tgt.client()), dump_server(c), 'after the timeout: the target equals the master')
st = status_json(p)
ok(st is not None and all_stable(st) and st['session']['sessions'] == 1,
   'still the same session in stable sync')
p.terminate()
is_(p.wait(30), 0, 'SIGTERM: exit 0')
done_testing()
