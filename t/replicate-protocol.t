#!/usr/bin/python3
# The replication protocol against a scripted master (repltest.FakeMaster)
# where the test master cannot misbehave on demand: flows kept open until
# every flow is done (closing one cancels the session on Dragonfly), AUTH
# errors that pass and those that do not, the STARTSTABLE reply awaited
# while workers are served, and the worker's and supervisor's protocol
# errors, each named in the log and retried or not as it should.
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

if not HAVE_MASTER:
    skip_all('t/dflymaster/dflymaster not built')

# Two real flow streams up to FULLSYNC_END, 50 keys each, from the test
# master; the fake master serves them with whatever trailer a case wants.
m = Master(2, ['--compression', 'none'])
pipe = m.client().pipeline(transaction=False)
for i in range(100):
    pipe.set('k%d' % i, 'v%d' % i)
pipe.execute()
want = dump_server(m.client())
BODIES = [capture_fullsync(m, 2, i) for i in range(2)]
m.stop()
ok(all(b.endswith(FULLSYNC_END) for b in BODIES), 'two flow streams captured up to FULLSYNC_END')


def fake_run(name, fm, extra=(), timeout=60, env=None):
    """migrate from fm into a fresh target; (result, target dump)."""
    tgt = RedisServer()
    r = migrate(fm, tgt.url, ['--retry-delay-ms', '50', '--timeout-ms', '1000'] + list(extra),
                timeout=timeout, env=env)
    got = dump_server(tgt.client())
    fm.stop()
    tgt.stop()
    if r.returncode not in (0, 1, 2):
        diag('%s: exit %s' % (name, r.returncode))
    return r, got


def log_lines(r):
    return [x for x in r.stderr.splitlines() if ' debug' not in x]


# ------------------------------------------------------------ a flow done early keeps its connection

fm = FakeMaster(2, BODIES, trailer_delay={1: 1.0})
r, got = fake_run('early flow', fm, ['--max-retries', '0', '--timeout-ms', '5000'])
ran_ok(r, 'one flow done 1 s before the other: exit 0')
ok(not fm.cancelled()[:-1] and all('trailer not sent' not in e for e in fm.events),
   'no flow closed before every trailer was sent')
ok(not re.search(r'master closed|master ended', r.stderr), 'no "master closed" in the log')
compare(got, want, 'early flow: target equals master')

# ------------------------------------------------------------ session state barrier

fm = FakeMaster(2, BODIES, body_delay={1: 1.5})
tgt = RedisServer()
sd = tmpdir('state')
sock = os.path.join(sd, 'df2redis.sock')
p = spawn([DF2REDIS, 'migrate', '-d', '--source', fm.addr, '--target', tgt.url, '--state-dir', sd,
           '--max-retries', '0'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
st = wait_status(sock, lambda t: 'state barrier' in t, timeout=20, proc=p)
ok(st is not None and status_flows(st).get(0, ('',))[0] == 'barrier' and
   status_flows(st).get(1, ('',))[0] != 'barrier', 'status: state barrier while flow 0 waits for flow 1')
p.communicate(timeout=30)
is_(p.returncode, 0, 'then the session completes')
fm.stop()

# ------------------------------------------------------------ slow and bad control clients

# A client sending one byte every 0.3 s holds the supervisor 1 s at most:
# the session (1 s left of flow 1's delay) ends about 1 s after it came.
fm = FakeMaster(2, BODIES, body_delay={1: 1.0})
tgt.client().flushall()
p = spawn([DF2REDIS, 'migrate', '-d', '--source', fm.addr, '--target', tgt.url, '--state-dir', sd,
           '--max-retries', '0'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wait_status(sock, lambda t: 'state barrier' in t, timeout=20, proc=p)
long_req = ctl(sock, 'x' * 300)
loris = socket.socket(socket.AF_UNIX)
loris.connect(sock)
t0 = time.time()
while p.poll() is None and time.time() - t0 < 10:
    try:
        loris.send(b's')
    except OSError:
        pass
    time.sleep(0.3)
took = time.time() - t0
loris.close()
p.communicate(timeout=30)
ok(p.returncode == 0 and took < 5, 'a client dribbling its request delays the full sync %.1f s (< 5)' % took)
ok(long_req.startswith('error: request too long'), 'a request past %d bytes: "error: request too long"' % 256)
fm.stop()
tgt.stop()

# ------------------------------------------------------------ the STARTSTABLE reply

# The master answers STARTSTABLE after the last trailer, 2.5 s later than
# --timeout-ms: the reply is awaited while the workers drain their flows.
fm = FakeMaster(2, BODIES, trailer_delay={1: 2.5})
r, got = fake_run('slow trailer', fm, ['--max-retries', '0', '--timeout-ms', '1000'])
ran_ok(r, 'STARTSTABLE answered 2.5 s later than --timeout-ms 1000, trailers flowing: exit 0')
ok('no reply' not in r.stderr, 'no timeout logged')
compare(got, want, 'slow trailer: target equals master')
# every trailer read, no reply: bounded by --timeout-ms from the last one
fm = FakeMaster(2, BODIES, startstable_delay=8)
r, got = fake_run('no reply', fm, ['--max-retries', '0', '--timeout-ms', '1000'])
ok(r.returncode == 1 and re.search(r'supervisor: 127\.0\.0\.1:\d+: no reply to DFLY STARTSTABLE '
                                   r'within 1000 ms of the last trailer', r.stderr),
   'no STARTSTABLE reply after every trailer: a timeout names it, exit 1')
fm = FakeMaster(2, BODIES, startstable_delay=8, trailers=lambda i, tok: trailer(tok) + b'x' * 100)
r, got = fake_run('journal', fm, ['--max-retries', '0', '--timeout-ms', '1000'])
ok(r.returncode == 1 and 'no reply to DFLY STARTSTABLE' in r.stderr and
   'master closed' not in r.stderr, 'journal bytes after the token are drained while waiting')

# ------------------------------------------------------------ worker protocol errors

KEY = b'\x00\x03foo\x03bar'     # string key "foo" = "bar"
OFFSET = b'\xd3' + b'\x01' + b'\0' * 7
EOF_CRC = b'\xff' + b'\0' * 8
n0 = len(BODIES[0])
for name, kw, pattern in (
        ('key after FULLSYNC_END', dict(bodies=[BODIES[0] + KEY, BODIES[1]]),
         r'supervisor: flow 0: key after FULLSYNC_END at byte (%s)\n' %
         '|'.join(str(n0 + i) for i in range(len(KEY) + 1))),
        ('second FULLSYNC_END', dict(bodies=[BODIES[0] + FULLSYNC_END, BODIES[1]]),
         r'supervisor: flow 0: byte %d: second FULLSYNC_END' % (n0 + 9)),
        ('trailer without JOURNAL_OFFSET',
         dict(trailers=lambda i, tok: (b'' if i else OFFSET) + EOF_CRC + tok.encode()),
         r'supervisor: flow 1: byte %d: trailer without JOURNAL_OFFSET' % (len(BODIES[1]) + 9)),
        ('no EOF token', dict(trailers=lambda i, tok: OFFSET + EOF_CRC + (tok[:10] if i else tok).encode()),
         r'supervisor: flow 1: byte %d: no EOF token within 1000 ms of the trailer' %
         (len(BODIES[1]) + 28)),
        ('EOF inside the EOF token',
         dict(trailers=lambda i, tok: OFFSET + EOF_CRC + (tok[:10] if i else tok).encode(),
              close_after_trailer=(1,)),
         r'supervisor: flow 1: byte %d: the master closed the flow inside the EOF token' %
         (len(BODIES[1]) + 28)),
        ('wrong EOF token', dict(trailers=lambda i, tok: OFFSET + EOF_CRC + (tok if i else 'f' * 40).encode()),
         r'supervisor: flow 0: EOF token "f{40}" differs from the FLOW reply\'s "[0-9a-f]{40}"'),
        ('PARTIAL to a full-sync request', dict(flow_reply='PARTIAL'),
         r'supervisor: flow [01]: master answered PARTIAL to a full-sync request'),
        ('unexpected data on the control connection', dict(ctl_extra=b'+HELLO\r\n'),
         r'supervisor: unexpected data from the master on the control connection')):
    kw.setdefault('bodies', BODIES)
    fm = FakeMaster(2, **kw)
    r, got = fake_run(name, fm, ['--max-retries', '1'])
    hits = re.findall(pattern, r.stderr)
    attempts = r.stderr.split('restarting the full sync')
    good = all(re.search(pattern, a) for a in attempts) and len(attempts) == 2
    ok(r.returncode == 1 and good and 'giving up after 1 retries' in r.stderr and
       'total:' not in r.stdout, '%s: named (flow, byte) on each of 2 attempts, exit 1' % name)
    if not good:
        diag('\n'.join(log_lines(r))[-2500:])

# SIGTERM while a worker waits for its EOF token: a clean stop, not an error
fm = FakeMaster(2, BODIES, trailers=lambda i, tok: OFFSET + EOF_CRC + (tok[:10] if i else tok).encode())
tgt = RedisServer()
sd = tmpdir('state')
sock = os.path.join(sd, 'df2redis.sock')
p = spawn([DF2REDIS, 'migrate', '-d', '--source', fm.addr, '--target', tgt.url, '--state-dir', sd,
           '--timeout-ms', '60000', '--max-retries', '0'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
st = wait_status(sock, lambda t: status_flows(t).get(1, ('',))[0] == 'trailer', timeout=20, proc=p)
ok(st is not None, 'flow 1 waits for the rest of its EOF token')
t0 = time.time()
p.send_signal(signal.SIGTERM)
out, err = p.communicate(timeout=30)
err = err.decode()
took = time.time() - t0
# "at once": well before the 60 s token timeout, even on a loaded machine
if not (p.returncode == 0 and took < 30 and "no EOF token" not in err and
        re.search(r"flow 1 trailer: stopped at byte", err)):
    diag("rc %s took %.1f\n%s" % (p.returncode, took, err[-2500:]))
ok(p.returncode == 0 and took < 30 and 'no EOF token' not in err and
   re.search(r'flow 1 trailer: stopped at byte \d+', err), 'SIGTERM during the token wait: stopped at once, exit 0')
fm.stop()
tgt.stop()

# ------------------------------------------------------------ AUTH errors

PW = {'DF2REDIS_SOURCE_PASSWORD': 'secret'}
fm = FakeMaster(2, BODIES, auth=['-ERR max number of clients reached', '+OK'])
r, got = fake_run('auth busy', fm, ['--max-retries', '2', '--timeout-ms', '5000'], env=PW)
ran_ok(r, 'AUTH answered "-ERR max number of clients reached" once: retried, exit 0')
ok('max number of clients reached' in r.stderr and r.stderr.count('restarting the full sync') == 1,
   'the refusal is logged, one restart')
compare(got, want, 'after a busy master: target equals master')
for reply in ('-WRONGPASS invalid username-password pair or user is disabled.',
              '-ERR invalid password'):
    fm = FakeMaster(2, BODIES, auth=[reply])
    r, got = fake_run('auth refused', fm, ['--max-retries', '3'], env=PW)
    ok(r.returncode == 1 and 'giving up: retrying cannot fix this' in r.stderr and
       'restarting' not in r.stderr and reply[1:] in r.stderr and 'secret' not in r.stderr,
       'AUTH answered "%s": not retried, no password in the log' % reply[:30])

done_testing()
