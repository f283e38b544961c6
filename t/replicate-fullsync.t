#!/usr/bin/python3
# df2redis migrate from the test master: every type with 1, 4 and 8 shards
# and each compression, the LSN checkpoints, and no busy polling: the
# session's end after STARTSTABLE is logged once at most, and the
# supervisor and its workers sleep while they wait (a stalled flow, the
# backoff after the master died).
import os
import re
import resource
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

if not HAVE_MASTER:
    skip_all('t/dflymaster/dflymaster not built')
need_tool('mdb_dump', 'lmdb-utils')

# ------------------------------------------------------------ full sync, every type

for shards, comp in ((1, 'none'), (4, 'lz4'), (8, 'zstd')):
    m = Master(shards, ['--compression', comp])
    m.client().execute_command('DFLYMASTER', 'LOAD-SAMPLE')
    tgt = RedisServer()
    r = migrate(m, tgt.url, ['--unsupported', 'skip'])
    ran_ok(r, 'migrate %d shards, %s: exit 0' % (shards, comp))
    ok(len(re.findall(r'^flow \d+: journal_offset \d+ keys \d+', r.stdout, re.M)) == shards and
       'total: %d flows' % shards in r.stdout, 'one summary line per flow and a total')
    compare(dump_server(tgt.client()), redis_only(dump_server(m.client())),
            'target equals master key by key (%d shards, %s)' % (shards, comp))
    ok(m.alive(), 'master saw no barrier violation')
    m.stop()
    tgt.stop()

# LSN store holds {replid, JOURNAL_OFFSET} per flow
lsn = lsn_records(r.state_dir)
offs = re.findall(r'^flow (\d+): journal_offset (\d+)', r.stdout, re.M)
ok(offs and all(re.search(r'^ v1 [0-9a-f]{40} 8 %s 1 ' % o, lsn, re.M) for _, o in offs),
   'LSN store has each flow\'s JOURNAL_OFFSET')

# ------------------------------------------------------------ no busy loop

# The master goes away in stable sync: the control connection's EOF must
# leave the poll set at once (it once made the supervisor log it hundreds
# of times in a millisecond) while the supervisor retries.
m = Master(2, ['--compression', 'none'])
m.client().execute_command('DFLYMASTER', 'LOAD-SAMPLE')
tgt = RedisServer()
p = replicate_start(m, tgt.url, ['-v', '-v', '--unsupported', 'skip', '--retry-delay-ms', '1000'])
st = wait_status(p.sock, lambda t: flows_stable(t, 2), timeout=30, proc=p)
ok(st is not None, '2 shards, -v: stable sync')
d, _ = wait_equal(lambda: dump_server(tgt.client()), redis_only(dump_server(m.client())), proc=p)
ok(not d, '2 shards: target correct') or diag('\n'.join(d))
m.stop()
# the control connection's end, or the flows' if the workers told first
wait_for(lambda: re.search(r'master closed the (control connection|flow)', proc_log(p)), 10)
time.sleep(0.3)
cpu0 = cpu_seconds(p.pid)
time.sleep(1.0)
spent = cpu_seconds(p.pid) - cpu0
lt = proc_log(p)
ok(re.search(r'master closed the (control connection|flow)', lt),
   'the master went away while the supervisor watched its control connection and the flows')
n = lt.count('master closed the control connection') + lt.count('master ended the session')
ok(n <= 1 and spent < 0.2, 'the end of the control connection is logged once (%d), '
   'the supervisor idles (%.2f s CPU in 1 s)' % (n, spent))
replicate_stop(p)
tgt.stop()

# A stalled flow: flow 0 waits at the barrier, flow 1 for bytes that do not
# come, the supervisor for the barrier.  Nobody may spin meanwhile.
IDLE = 2.0
m = Master(2, ['--compression', 'none', '--fault-stall-flow', '1:200'])
m.client().execute_command('DEBUG', 'POPULATE', 2000, 'k', 50)
tgt = RedisServer()
sd = tmpdir('state')
sock = os.path.join(sd, 'df2redis.sock')
p = spawn([DF2REDIS, 'migrate', '-d', '-v', '--source', m.addr, '--target', tgt.url,
           '--state-dir', sd, '--retry-delay-ms', '30000', '--max-retries', '1'],
          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
st = wait_status(sock, lambda t: (status_flows(t).get(0, ('',))[0] == 'barrier' and
                                  status_flows(t).get(1, ('',))[0] == 'full-sync'), 30, proc=p)
ok(st is not None, 'flow 0 at the barrier, flow 1 stalled mid snapshot')
pids = [p.pid] + [pid for _, _, pid in status_flows(st or '').values()]
time.sleep(0.2)
c0 = [cpu_seconds(x) for x in pids]
time.sleep(IDLE)
c1 = [cpu_seconds(x) for x in pids]
used = [round(b - a, 3) for a, b in zip(c0, c1)]
ok(all(u <= 0.1 for u in used),
   'waiting %.0f s on a stalled flow costs no CPU (supervisor, workers: %r s)' % (IDLE, used))
# out of descriptors: the control socket's pending client cannot be
# accepted, the listener stays readable; it must sit out a pause, not spin
nfd = len(os.listdir('/proc/%d/fd' % p.pid))
limits = resource.prlimit(p.pid, resource.RLIMIT_NOFILE)
resource.prlimit(p.pid, resource.RLIMIT_NOFILE, (nfd, limits[1]))
client = socket.socket(socket.AF_UNIX)
client.settimeout(10)
client.connect(sock)
client.sendall(b'status\n')
time.sleep(0.2)
c0 = cpu_seconds(p.pid)
time.sleep(IDLE)
used = cpu_seconds(p.pid) - c0
ok(used <= 0.1, 'EMFILE on the control socket costs no CPU (%.3f s in %.0f s)' % (used, IDLE))
resource.prlimit(p.pid, resource.RLIMIT_NOFILE, limits)
reply = b''
try:
    while not reply.endswith(b'\n.\n'):
        b = client.recv(65536)
        if not b:
            break
        reply += b
except OSError:
    pass
client.close()
ok(reply.startswith(b'ok\nsession '), 'the client is served once descriptors are back')
# the master dies: one failure, then the backoff wait
m.proc.kill()
m.proc.wait(5)
st = wait_status(sock, lambda t: 'state backoff' in t, 30, proc=p)
ok(st is not None, 'the master died: the supervisor backs off')
time.sleep(0.2)
c0 = cpu_seconds(p.pid)
time.sleep(IDLE)
used = cpu_seconds(p.pid) - c0
ok(used <= 0.1, 'the backoff wait costs no CPU (%.3f s in %.0f s)' % (used, IDLE))
ok(ctl(sock, 'stop').startswith('ok stopping'), 'stop during the backoff')
out, err = p.communicate(timeout=60)
err = err.decode()
is_(p.returncode, 0, 'stopped during the backoff: exit 0')
n = err.count('master closed the control connection')
ok(n <= 1, 'the dead master\'s control connection is logged at most once (%d)' % n)
ok(re.search(r'flow \d+: .*(closed|connection)', err), 'the failure names a flow')
ok(re.search(r'control socket: Too many open files: not serving it for \d+ ms', err),
   'EMFILE on the control socket is logged')
if p.returncode != 0 or n > 1:
    diag(err[-3000:])
tgt.stop()

done_testing()
