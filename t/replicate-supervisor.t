#!/usr/bin/python3
# The supervisor's own error paths: workers that never register their
# flows, a malformed message from a worker, a second daemon on the same
# control socket or pid file.
import ctypes
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

m = Master(2, ['--compression', 'none'])
m.client().set('a', '1')
BODIES = [capture_fullsync(m, 2, i) for i in range(2)]
m.stop()
tgt = RedisServer()


def start(fm, extra=(), sd=None):
    sd = sd or tmpdir('state')
    p = spawn([DF2REDIS, 'migrate', '-d', '--source', fm.addr, '--target', tgt.url, '--state-dir', sd,
               '--max-retries', '0'] + list(extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p, sd, os.path.join(sd, 'df2redis.sock')


def worker_pids(sock, p, phase):
    st = wait_status(sock, lambda t: len(status_flows(t)) == 2 and
                     all(ph == phase and pid > 0 for ph, _, pid in status_flows(t).values()),
                     timeout=20, proc=p)
    return [pid for _, _, pid in status_flows(st or '').values()]


# ------------------------------------------------------------ flows that never register

# The master never answers DFLY FLOW and the workers hang (stopped): the
# supervisor gives up on them after --timeout-ms + 10 s.
fm = FakeMaster(2, BODIES, register=False)
p, sd, sock = start(fm, ['--timeout-ms', '2000'])
pids = worker_pids(sock, p, 'connect')
for pid in pids:
    os.kill(pid, signal.SIGSTOP)
t0 = time.time()
out, err = p.communicate(timeout=60)
err = err.decode()
ok(len(pids) == 2 and p.returncode == 1 and
   'supervisor: flows did not register within 12000 ms' in err and 'giving up' in err,
   'workers that never register: named, the session fails after %.1f s' % (time.time() - t0))
ok(not any(os.path.exists('/proc/%d' % pid) and
           open('/proc/%d/stat' % pid).read().split()[2] != 'Z' for pid in pids),
   'the stopped workers were killed')
fm.stop()

# ------------------------------------------------------------ a malformed worker message

# A copy of a worker's message socket (pidfd_getfd(2)) sends 3 bytes.
libc = ctypes.CDLL(None, use_errno=True)
SYS_pidfd_getfd = 438


def seqpacket_inodes():
    with open('/proc/net/unix') as f:
        return {line.split()[6] for line in f.readlines()[1:] if line.split()[4] == '0005'}


fm = FakeMaster(2, BODIES, body_delay={0: 8, 1: 8})
p, sd, sock = start(fm)
pids = worker_pids(sock, p, 'full-sync')
sent = False
if pids:
    seq = seqpacket_inodes()
    fddir = '/proc/%d/fd' % pids[0]
    for fd in os.listdir(fddir):
        link = os.readlink(os.path.join(fddir, fd))
        m_ = re.match(r'socket:\[(\d+)\]', link)
        if m_ and m_.group(1) in seq:
            pidfd = os.pidfd_open(pids[0])
            copy = libc.syscall(SYS_pidfd_getfd, pidfd, int(fd), 0)
            os.close(pidfd)
            if copy >= 0:
                s = socket.socket(fileno=copy)
                s.send(b'xyz')
                s.close()
                sent = True
            break
out, err = p.communicate(timeout=60)
err = err.decode()
ok(sent, 'a malformed message was sent on a worker\'s socket')
ok(p.returncode == 1 and re.search(r'supervisor: flow \d: malformed message from the worker', err),
   'a malformed worker message is named and fails the session')
fm.stop()

# ------------------------------------------------------------ a second daemon

fm = FakeMaster(2, BODIES, body_delay={0: 8, 1: 8})
p, sd, sock = start(fm)
wait_ctl(sock, proc=p)
r = df2redis('migrate', ['-d', '--source', fm.addr, '--target', tgt.url, '--state-dir', tmpdir('state'),
                         '--ctl-socket', sock], timeout=30)
ok(r.returncode == 1 and '%s: another df2redis is running' % sock in r.stderr,
   'a second daemon on the same control socket is refused')
r = df2redis('migrate', ['-d', '--source', fm.addr, '--target', tgt.url, '--state-dir', sd], timeout=30)
ok(r.returncode == 1 and re.search(r'df2redis\.pid: already running as pid %d' % p.pid, r.stderr),
   'a second daemon on the same pid file is refused')
ok(p.poll() is None and ctl(sock, 'status').startswith('ok'), 'the first daemon still serves')
p.send_signal(signal.SIGTERM)
p.communicate(timeout=30)
is_(p.returncode, 0, 'first daemon stopped: exit 0')
fm.stop()
tgt.stop()

done_testing()
