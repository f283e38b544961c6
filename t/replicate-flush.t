#!/usr/bin/python3
# What a full sync that starts again leaves on the target.  A FLUSHALL or
# FLUSHDB on the master during the full sync: the target's matching dbs
# (through --db-map) are flushed before the new attempt, and the target
# ends equal to the master.  Any other restart: with flush-on-resync no
# (the default) the snapshot overwrites key by key and keys deleted on
# the master meanwhile stay; with yes the target is flushed first.
import os
import signal
import subprocess
import time
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

if not HAVE_MASTER:
    skip_all('t/dflymaster/dflymaster not built')

N = 4000


def fill(client, prefix, n, size=100):
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        pipe.set('%s%d' % (prefix, i), 'v' * size)
    pipe.execute()


def start(m, tgt, extra=()):
    sd = tmpdir('state')
    p = spawn([DF2REDIS, 'migrate', '-d', '--source', m.addr, '--target', tgt.url, '--state-dir', sd,
               '--retry-delay-ms', '50'] + list(extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p, os.path.join(sd, 'df2redis.sock')


def finish(p):
    out, err = p.communicate(timeout=120)
    p.stderr_text = err.decode()
    if p.returncode != 0 or os.environ.get('FLUSHDEBUG'):
        diag('\n'.join(x for x in p.stderr_text.splitlines() if ' debug' not in x)[-2500:])
    return p.returncode


# ------------------------------------------------------------ FLUSHALL during the full sync

# Both workers are stopped (SIGSTOP) mid snapshot: the test master, its
# output held back (--output-limit), is still traversing when the flush
# comes, so the flush is inside the snapshot; then they go on.
STALL = ['--compression', 'none', '--output-limit', '65536', '--snapshot-delay-us', '20000']
N = 4000
SIZE = 1000


def stalled(sock, p):
    st = wait_status(sock, lambda t: len(status_flows(t)) == 2 and
                     all(ph == 'full-sync' and k > 0 for ph, k, _ in status_flows(t).values()),
                     timeout=30, proc=p)
    pids = [pid for _, _, pid in status_flows(st or '').values()]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    time.sleep(0.5)
    return pids


def resume(pids):
    for pid in pids:
        os.kill(pid, signal.SIGCONT)


m = Master(2, STALL)
c = m.client()
fill(c, 'k', N, SIZE)
tgt = RedisServer()
p, sock = start(m, tgt)
pids = stalled(sock, p)
before = tgt.client().dbsize()
c.flushall()
c.set('after', '1')
resume(pids)
rc = finish(p)
err = p.stderr_text
ok(before > 0, 'the target had %d keys when the master was flushed' % before)
ok(rc == 0 and 'FLUSHALL during the full sync' in err and
   'target: FLUSHALL before the new full sync (the master was flushed' in err,
   'FLUSHALL during the full sync: logged, target flushed, exit 0')
is_(tgt.client().dbsize(), 1, 'target holds only the key written after the FLUSHALL')
compare(dump_server(tgt.client()), dump_server(c), 'after a FLUSHALL: target equals master')
m.stop()

# ------------------------------------------------------------ FLUSHDB through --db-map

m = Master(2, STALL)
c0, c1 = m.client(0), m.client(1)
fill(c0, 'a', N // 2, SIZE)
fill(c1, 'b', N // 2, SIZE)
tgt.client().flushall()
tgt.client(4).set('outside', 'x')       # db 3 of the master goes there: untouched
p, sock = start(m, tgt, ['--db-map', '1:3,3:4'])
pids = stalled(sock, p)
c1.flushdb()
c1.set('after1', '1')
resume(pids)
rc = finish(p)
err = p.stderr_text
ok(rc == 0 and 'FLUSHDB of db 1 during the full sync' in err and
   'target: FLUSHDB in db 3 before the new full sync' in err,
   'FLUSHDB of db 1 mapped to db 3: only target db 3 flushed, exit 0')
ok(tgt.client(3).dbsize() == 1 and tgt.client(3).get('after1') == b'1',
   'target db 3 holds only the key written after the FLUSHDB')
compare(dump_db(tgt.client(0)), dump_db(c0), 'target db 0 equals master db 0')
ok(tgt.client(4).get('outside') == b'x', 'target db 4 untouched')
m.stop()

# ------------------------------------------------------------ any other restart

for flush in ('no', 'yes'):
    m = Master(2, ['--compression', 'none', '--fault-once', '--fault-close-flow', '1:100000'])
    c = m.client()
    fill(c, 'k', N, 1000)
    tgt.client().flushall()
    p, sock = start(m, tgt, ['--retry-delay-ms', '3000', '--flush-on-resync=%s' % flush])
    st = wait_status(sock, lambda t: 'state backoff' in t, timeout=30, proc=p)
    stale = tgt.client().dbsize()
    for i in range(N):
        c.delete('k%d' % i)
    c.set('after', '1')
    rc = finish(p)
    err = p.stderr_text
    ok(st is not None and stale > 0 and rc == 0,
       'flush-on-resync %s: attempt 1 failed with %d keys on the target, attempt 2 ran' % (flush, stale))
    if flush == 'no':
        ok(tgt.client().dbsize() == stale + 1 and 'before the new full sync' not in err,
           'flush-on-resync no: keys deleted on the master meanwhile stay on the target')
    else:
        ok('target: FLUSHALL before the new full sync (flush-on-resync)' in err,
           'flush-on-resync yes: the target is flushed before attempt 2')
        compare(dump_server(tgt.client()), dump_server(c), 'flush-on-resync yes: target equals master')
    m.stop()
tgt.stop()

done_testing()
