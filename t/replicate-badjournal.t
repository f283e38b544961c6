#!/usr/bin/python3
# Bad input on the journal stream in stable sync, and what df2redis does
# with each kind (df2redis(8), STREAM ERRORS):
#  - a record with an unknown opcode (the test master's --fault-bad-opcode)
#    is an error naming the flow, the LSN, the byte offset and the opcode;
#    the worker is restarted alone and resumes by partial sync from the
#    last LSN the target acknowledged, so the record comes again and nothing
#    is skipped; when every session brings it again, the daemon stops after
#    --max-retries, naming the flow, its LSN and the error;
#  - a command the target refuses (OOM under maxmemory) names the flow,
#    LSN, byte, command and key, and is retried, never skipped; the commands
#    pipelined behind it ran, so no LSN says what the target lacks: the flow
#    resumes by a full resync, and once the target takes writes again it
#    equals the master.
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

if not HAVE_MASTER:
    skip_all('t/dflymaster/dflymaster not built')

NFLOWS = 4
logtext = proc_log


def all_stable(text):
    return flows_stable(text, NFLOWS)


def pids(text):
    return {i: pid for i, (_, _, pid) in status_flows(text).items()}


def equal(m, tgt, p, name, timeout=60):
    d, _ = wait_equal(lambda: dump_db(tgt.client()), dump_db(m.client()), timeout=timeout, proc=p)
    ok(not d, name)
    if d:
        diag('\n'.join(x[:200] for x in d[:10]))
        diag(logtext(p)[-3000:])


tgt = RedisServer()

# (1) an unknown opcode once: the flow fails, resumes, nothing is skipped
m = Master(NFLOWS, ['--fault-once', '--fault-bad-opcode', '1'])
c = m.client()
p = replicate_start(m, tgt.url, ['-v'])
st = wait_status(p.sock, all_stable, timeout=30, proc=p)
ok(st is not None, 'stable sync')
before = pids(st)
for i in range(200):
    c.set('k:%d' % i, i)
    c.incr('ctr:%d' % (i % 8))
st = wait_status(p.sock, lambda t: all_stable(t) and pids(t)[1] != before[1], timeout=30, proc=p)
ok(st is not None, 'flow 1 restarted and every flow stable again')
text = logtext(p)
mm = re.search(r'flow 1: LSN (\d+): byte (\d+): unknown journal opcode 0x21', text)
ok(mm is not None, 'the error names flow, LSN, byte offset and opcode: %s' %
   (mm.group(0) if mm else text[-800:]))
ok(all(pids(st)[i] == before[i] for i in (0, 2, 3)), 'the other workers kept their pids')
s = mstats(m)
ok(s['partial_syncs'] >= 1 and s['full_syncs'] == 1,
   'resumed by partial sync (partial %d, full %d)' % (s['partial_syncs'], s['full_syncs']))
equal(m, tgt, p, 'the target equals the master: the bad record came again, counters exact')
is_(replicate_stop(p), 0, 'SIGTERM: exit 0')
m.stop()

# (2) the same record bad in every session: stop after --max-retries
tgt.client().flushall()
m = Master(NFLOWS, ['--fault-bad-opcode', '2'])
c = m.client()
p = replicate_start(m, tgt.url, ['--max-retries', '2'])
st = wait_status(p.sock, all_stable, timeout=30, proc=p)
ok(st is not None, 'stable sync (faulty master)')
# each resumed session brings the fault again with its first new record
end, i = time.time() + 90, 0
while p.poll() is None and time.time() < end:
    c.set('x:%d' % i, i)
    i += 1
    time.sleep(0.01)
if p.poll() is None:
    p.kill()
p.wait()
text = logtext(p)
is_(p.returncode, 1, 'a flow that keeps failing stops the daemon: exit 1')
mm = re.search(r'flow 2 keeps dying: \d+ times in a row, at LSN \d+.*unknown journal opcode 0x21.*', text)
ok(mm is not None, 'the daemon names flow 2, its LSN and its last error: %s' %
   (mm.group(0) if mm else text[-600:]))
ok(len(re.findall(r'flow 2: LSN \d+: byte \d+: unknown journal opcode 0x21', text)) >= 3,
   'each session brought it again (%d times)' %
   len(re.findall(r'unknown journal opcode 0x21', text)))
m.stop()

# (3) the target refuses writes (OOM): named, retried, never skipped
tgt.client().flushall()
m = Master(NFLOWS)
c = m.client()
p = replicate_start(m, tgt.url, ['-v', '--max-retries', '1000', '--retry-delay-ms', '100'])
st = wait_status(p.sock, all_stable, timeout=30, proc=p)
ok(st is not None, 'stable sync (OOM case)')
tc = tgt.client()
used = int(tc.info('memory')['used_memory'])
tc.config_set('maxmemory-policy', 'noeviction')
tc.config_set('maxmemory', used + (1 << 20))
big = 'b' * 20000
for i in range(200):
    c.set('big:%d' % i, big)
    c.incr('n')
end = time.time() + 30
mm = None
while time.time() < end and mm is None:
    mm = re.search(r'flow (\d+): byte (\d+): LSN (\d+): journal SET: .*big:\d+.*OOM', logtext(p))
    time.sleep(0.2)
ok(mm is not None, 'the refusal names flow, byte, LSN, command, key and the reply: %s' %
   (mm.group(0)[:300] if mm else logtext(p)[-800:]))
ok(p.poll() is None, 'df2redis keeps retrying')
ok(wait_status(p.sock, lambda t: 'refused a command while later ones ran' in logtext(p), timeout=30, proc=p),
   'a refused command drops the LSN: later commands ran, so the flow resumes by a full resync')
tc.config_set('maxmemory', 0)
equal(m, tgt, p, 'once the target takes writes again it equals the master', timeout=150)
is_(tc.get('n'), b'200', 'the counter is exact')
is_(replicate_stop(p), 0, 'SIGTERM: exit 0')
m.stop()
tgt.stop()
done_testing()
