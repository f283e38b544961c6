#!/usr/bin/python3
# df2redisctl: against a fake control server that records each request and
# sends canned replies (exact request bytes, prefix matching, ambiguous and
# unknown commands, error lines, broken servers, missing and stale sockets,
# the status table), then against a real `df2redis replicate` whose master
# is a fake Dragonfly that registers every flow and then stays silent.
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401


class FakeCtl:
    """A control server on a UNIX socket.  reply(request_bytes) returns the
    bytes to send, a list of chunks sent with pauses between them, or None
    to hold the connection open without answering."""

    def __init__(self, path, reply):
        self.path = path
        self.reply = reply
        self.requests = []
        self.done = False
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.done:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            c.settimeout(5)
            req = b''
            try:
                while not req.endswith(b'\n'):
                    b = c.recv(1024)
                    if not b:
                        break
                    req += b
            except socket.timeout:
                pass
            self.requests.append(req)
            out = self.reply(req)
            try:
                if out is None:
                    while not self.done:
                        time.sleep(0.05)
                elif isinstance(out, list):
                    for chunk in out:
                        if isinstance(chunk, float):
                            time.sleep(chunk)
                        else:
                            c.sendall(chunk)
                            time.sleep(0.01)
                else:
                    c.sendall(out)
            except OSError:
                pass        # the client gave up first (oversized reply)
            c.close()

    def stop(self):
        self.done = True
        self.thread.join(5)
        self.sock.close()
        os.unlink(self.path)


def first(text):
    return text.strip().splitlines()[0] if text.strip() else ''


def ctl(*args, timeout=20):
    r = run([DF2REDISCTL] + list(args), timeout=timeout)
    r.stdout = r.stdout.decode(errors='replace')
    r.stderr = r.stderr.decode(errors='replace')
    return r


STATUS = (b'ok\nsession SYNC7 state full-sync attempt 2 flows 3 master ' + b'ab' * 20 + b'\n'
          b'flow 0 phase full-sync keys 1200 written 1100 skipped 3 journal 0 bytes 98765 '
          b'offset 98000 lsn 0 pid 4242\n'
          b'flow 1 phase barrier keys 7 written 7 skipped 0 journal 12 bytes 4096 '
          b'offset 4000 lsn 0 pid 4243\n'
          b'flow 2 phase wait-sync keys 0 written 0 skipped 0 journal 0 bytes 0 '
          b'offset 0 lsn 0 pid 4244\n'
          b'.\n')

canned = {
    b'status\n': STATUS,
    b'stop\n': b'ok stopping\n.\n',
    b'restart-flow 2\n': b'ok restarting the session: flow 2 cannot rejoin\n.\n',
    b'restart-flow 9\n': b'error: no such flow\n.\n',
}

d = tmpdir('ctl')
sock = os.path.join(d, 'ctl.sock')
srv = FakeCtl(sock, lambda req: canned.get(req, b'error: unknown request\n.\n'))

# ------------------------------------------------------------ requests on the wire

for args, want in ((['status'], b'status\n'), (['stat'], b'status\n'), (['sta'], b'status\n'),
                   (['stop'], b'stop\n'), (['sto'], b'stop\n'),
                   (['restart-flow', '2'], b'restart-flow 2\n'), (['r', '2'], b'restart-flow 2\n')):
    n = len(srv.requests)
    r = ctl('-s', sock, *args)
    ok(r.returncode == 0 and srv.requests[n:] == [want],
       '"%s" sends %r, exit 0' % (' '.join(args), want))
    if r.returncode != 0 or srv.requests[n:] != [want]:
        diag('rc %d, sent %r, stderr %s' % (r.returncode, srv.requests[n:], r.stderr))

r = ctl('-s', sock, 'status')
out = r.stdout
ok(re.search(r'^session\s+SYNC7$', out, re.M) and re.search(r'^state\s+full-sync$', out, re.M) and
   re.search(r'^attempt\s+2$', out, re.M) and re.search(r'^master\s+(ab){20}$', out, re.M),
   'status: session, state, attempt and master shown')
hdr = [l for l in out.splitlines() if l.lstrip().startswith('FLOW')]
ok(len(hdr) == 1 and hdr[0].split() == ['FLOW', 'PHASE', 'KEYS', 'WRITTEN', 'SKIPPED', 'JOURNAL',
                                         'BYTES', 'OFFSET', 'LSN', 'PID'],
   'status: one table header with every column: %r' % hdr)
rows = {l.split()[0]: l.split() for l in out.splitlines()
        if re.match(r'\s*(\d+|total)\s', l)}
is_(rows.get('0'), ['0', 'full-sync', '1200', '1100', '3', '0', '98765', '98000', '0', '4242'],
    'status: flow 0 row')
is_(rows.get('1'), ['1', 'barrier', '7', '7', '0', '12', '4096', '4000', '0', '4243'],
    'status: flow 1 row')
is_(rows.get('2'), ['2', 'wait-sync', '0', '0', '0', '0', '0', '0', '0', '4244'], 'status: flow 2 row')
is_(rows.get('total'), ['total', '1207', '1107', '3', '12', '102861'],
    'status: totals of keys, written, skipped, journal, bytes')
cols = [l for l in out.splitlines() if re.match(r'\s*\d+\s', l)]
ok(len(set(len(l) for l in cols)) == 1 and len(set(l.rindex(' ') for l in cols)) == 1,
   'status: columns aligned')
ok(all(l == l.rstrip() for l in out.splitlines()), 'status: no trailing blanks')

r = ctl('-s', sock, '-r', 'status')
is_(r.stdout.encode(), STATUS[:-2], '-r prints the reply as sent, without the final "."')

r = ctl('-s', sock, 'restart-flow', '2')
ok(r.returncode == 0 and r.stdout == 'restarting the session: flow 2 cannot rejoin\n',
   'restart-flow prints the server\'s answer: %r' % r.stdout)
r = ctl('-s', sock, 'stop')
is_(r.stdout, 'stopping\n', 'stop prints "stopping"')

# ------------------------------------------------------------ command line errors: nothing sent

n = len(srv.requests)
r = ctl('-s', sock, 'st')
ok(r.returncode == 2 and 'ambiguous argument: st' in r.stderr and
   'valid commands: restart-flow status stop' in r.stderr, 'ambiguous prefix: ' + first(r.stderr))
r = ctl('-s', sock, 'frobnicate')
ok(r.returncode == 2 and 'unknown argument: frobnicate' in r.stderr and 'valid commands' in r.stderr,
   'unknown command: ' + first(r.stderr))
r = ctl('-s', sock, 'restart-flow')
ok(r.returncode == 2 and 'missing argument after restart-flow' in r.stderr and
   'valid arguments: <flow>' in r.stderr, 'restart-flow needs a flow: ' + first(r.stderr))
r = ctl('-s', sock, 'restart-flow', 'x')
ok(r.returncode == 2 and 'bad flow id: x' in r.stderr, 'non-numeric flow id: ' + first(r.stderr))
r = ctl('-s', sock, 'restart-flow', '-1')
ok(r.returncode == 2 and 'bad flow id: -1' in r.stderr, 'negative flow id refused')
r = ctl('-s', sock, 'status', 'now')
ok(r.returncode == 2 and 'unknown argument: now' in r.stderr and 'valid arguments: --json' in r.stderr,
   'extra argument: ' + first(r.stderr))
r = ctl('-s', sock, 'status', '--json', 'now')
ok(r.returncode == 2 and 'unexpected argument: now' in r.stderr, 'after --json: ' + first(r.stderr))
r = ctl('-s', sock, 'takeover', 'soon')
ok(r.returncode == 2 and 'bad timeout: soon' in r.stderr, 'takeover timeout must be seconds: ' + first(r.stderr))
r = ctl('-s', sock, 'takeover', '3601')
ok(r.returncode == 2 and 'bad timeout: 3601' in r.stderr, 'takeover timeout at most 3600 s')
r = ctl('-s', sock, '')
ok(r.returncode == 2 and 'unknown argument' in r.stderr, 'empty command word is not a prefix of all')
r = ctl('-s', sock)
ok(r.returncode == 2 and 'usage: df2redisctl' in r.stderr, 'no command: usage, exit 2')
r = ctl('-h')
ok(r.returncode == 0 and 'usage: df2redisctl' in r.stdout and 'restart-flow' in r.stdout,
   '-h: usage on stdout, exit 0')
r = ctl('-s', sock, '-t', '0', 'status')
ok(r.returncode == 2 and '-t 0' in r.stderr, 'bad timeout refused: ' + first(r.stderr))
r = ctl('-s', 'x' * 200, 'status')
ok(r.returncode == 1 and 'too long' in r.stderr, 'socket path too long: ' + first(r.stderr))
is_(srv.requests[n:], [], 'none of these connected to the server')

# ------------------------------------------------------------ server error lines

r = ctl('-s', sock, 'restart-flow', '9')
ok(r.returncode == 1 and r.stderr == 'df2redisctl: restart-flow 9: no such flow\n' and r.stdout == '',
   'error line: exit 1, the request and the reason on stderr: %r' % r.stderr)
canned[b'stop\n'] = b'error: cannot stop\ndetail one\n.\n'
r = ctl('-s', sock, 'stop')
ok(r.returncode == 1 and 'stop: cannot stop' in r.stderr and 'detail one' in r.stderr,
   'error with detail lines: all on stderr')
canned[b'stop\n'] = b'what?\n.\n'
r = ctl('-s', sock, 'stop')
ok(r.returncode == 1 and 'unexpected reply to "stop": what?' in r.stderr,
   'reply neither ok nor error: exit 1')
canned[b'stop\n'] = b'.\n'
r = ctl('-s', sock, 'stop')
ok(r.returncode == 1 and 'empty reply' in r.stderr, 'empty reply: exit 1')
canned[b'stop\n'] = b'ok stopping\n'
r = ctl('-s', sock, 'stop')
ok(r.returncode == 1 and 'closed before the end of the reply (after 12 bytes)' in r.stderr,
   'reply without the final ".": exit 1: ' + first(r.stderr))
canned[b'stop\n'] = [bytes([b]) for b in b'ok stopping\n.\n']
r = ctl('-s', sock, 'stop')
ok(r.returncode == 0 and r.stdout == 'stopping\n', 'reply arriving byte by byte')
canned[b'stop\n'] = b'ok \x1b[2Jstopping\n.\n'
r = ctl('-s', sock, 'stop')
ok(r.returncode == 0 and '\x1b' not in r.stdout and '\\033' in r.stdout,
   'control characters from the server are made visible: %r' % r.stdout)
canned[b'status\n'] = b'ok\nsession - state backoff attempt 3 flows 0 master -\nnews from the future\n.\n'
r = ctl('-s', sock, 'status')
ok(r.returncode == 0 and re.search(r'^state\s+backoff$', r.stdout, re.M) and 'no flows' in r.stdout and
   'news from the future' in r.stdout, 'status without flows; unknown lines shown verbatim')
canned[b'status\n'] = b'ok\n' + b'x' * (5 << 20) + b'\n.\n'
r = ctl('-s', sock, 'status')
ok(r.returncode == 1 and 'reply longer than' in r.stderr, 'oversized reply refused: ' + first(r.stderr))
canned[b'status\n'] = None
t0 = time.time()
r = ctl('-s', sock, '-t', '1', 'status')
ok(r.returncode == 1 and 'no reply within 1 s' in r.stderr and time.time() - t0 < 5,
   'silent server: timeout: ' + first(r.stderr))
canned[b'status\n'] = [b'ok\n'] + [b'x', 0.3] * 30 + [b'\n.\n']
t0 = time.time()
r = ctl('-s', sock, '-t', '1', 'status')
ok(r.returncode == 1 and 'no reply within 1 s' in r.stderr and time.time() - t0 < 5,
   'a server trickling bytes cannot stretch the timeout: ' + first(r.stderr))
srv.stop()

# ------------------------------------------------------------ sockets

r = ctl('-s', sock, 'status')
ok(r.returncode == 1 and 'is df2redis running? no socket at %s' % sock in r.stderr,
   'missing socket: ' + first(r.stderr))
stale = socket.socket(socket.AF_UNIX)
stale.bind(sock)
stale.close()
r = ctl('-s', sock, 'status')
ok(r.returncode == 1 and 'connection refused' in r.stderr and sock in r.stderr,
   'stale socket: ' + first(r.stderr))
os.unlink(sock)
notsock = os.path.join(d, 'plain')
open(notsock, 'w').close()
r = ctl('-s', notsock, 'status')
ok(r.returncode == 1 and '%s: not a socket' % notsock in r.stderr, 'a plain file: ' + first(r.stderr))

# -f: the socket named in a df2redis.conf
sdir = tmpdir('cst')
conf = os.path.join(d, 'df2redis.conf')
with open(conf, 'w') as f:
    f.write('source 127.0.0.1:1\ntarget 127.0.0.1:2\nstate-dir %s\n' % sdir)
srv = FakeCtl(os.path.join(sdir, 'df2redis.sock'), lambda req: b'ok stopping\n.\n')
r = ctl('-f', conf, 'stop')
ok(r.returncode == 0 and srv.requests == [b'stop\n'], '-f: STATE_DIR/df2redis.sock')
srv.stop()
other = os.path.join(d, 'other.sock')
with open(conf, 'a') as f:
    f.write('ctl-socket %s\n' % other)
srv = FakeCtl(other, lambda req: b'ok stopping\n.\n')
r = ctl('-f', conf, 'stop')
ok(r.returncode == 0 and srv.requests == [b'stop\n'], '-f: ctl-socket wins over state-dir')
r = ctl('-f', conf, '-s', os.path.join(d, 'nothere'), 'stop')
ok(r.returncode == 1 and 'nothere' in r.stderr and len(srv.requests) == 1, '-s wins over -f')
srv.stop()
with open(conf, 'a') as f:
    f.write('bogus 1\n')
r = ctl('-f', conf, 'status')
ok(r.returncode == 1 and '%s:5: unknown option "bogus"' % conf in r.stderr,
   'bad config file: file:line: ' + first(r.stderr))
r = ctl('status')
ok(r.returncode == 1 and 'no socket at /var/lib/df2redis/df2redis.sock' in r.stderr,
   'default socket: ' + first(r.stderr))


# ------------------------------------------------------------ a real supervisor

class SilentDragonfly:
    """Enough of a Dragonfly master for a session to reach full sync: it
    answers the handshake and DFLY FLOW, then sends each flow the RDB
    header only, so every flow stays in full-sync until stopped."""

    def __init__(self, nflows):
        self.nflows = nflows
        self.sessions = 0
        self.conns = []
        self.lsock = socket.socket()
        self.lsock.bind(('127.0.0.1', 0))
        self.lsock.listen(64)
        self.lsock.settimeout(0.1)
        self.port = self.lsock.getsockname()[1]
        self.done = False
        self.flows = {}
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self):
        while not self.done:
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            self.conns.append(c)
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    @staticmethod
    def read_command(f):
        line = f.readline()
        if not line:
            return None
        if not line.startswith(b'*'):
            return line.split()
        args = []
        for _ in range(int(line[1:])):
            n = int(f.readline()[1:])
            args.append(f.read(n + 2)[:-2])
        return args

    def serve(self, c):
        f = c.makefile('rb')
        replid = b'c0ffee' * 6 + b'c0ff'
        try:
            while True:
                cmd = self.read_command(f)
                if cmd is None:
                    return
                up = [a.upper() for a in cmd]
                if up[0] == b'PING':
                    c.sendall(b'+PONG\r\n')
                elif up[:3] == [b'REPLCONF', b'CAPA', b'DRAGONFLY']:
                    self.sessions += 1
                    c.sendall(b'*5\r\n+%s\r\n+SYNC%d\r\n:%d\r\n:5\r\n+%s\r\n' %
                              (replid, self.sessions, self.nflows, replid))
                elif up[:2] == [b'DFLY', b'FLOW']:
                    self.flows[int(cmd[4])] = c
                    c.sendall(b'*2\r\n+FULL\r\n+%s\r\n' % (b'%040d' % int(cmd[4])))
                elif up[:2] == [b'DFLY', b'SYNC']:
                    for fc in list(self.flows.values()):
                        fc.sendall(b'REDIS0009')
                    self.flows = {}
                    c.sendall(b'+OK\r\n')
                else:
                    c.sendall(b'+OK\r\n')
        except (OSError, ValueError):
            return

    def stop(self):
        self.done = True
        self.thread.join(5)
        for c in self.conns:
            c.close()
        self.lsock.close()


def status_rows(text):
    return {int(l.split()[0]): l.split() for l in text.splitlines() if re.match(r'\s*\d+\s', l)}


NFLOWS = 4
m = SilentDragonfly(NFLOWS)
tgt = RedisServer()
sd = tmpdir('state')
rsock = os.path.join(sd, 'df2redis.sock')
p = spawn([DF2REDIS, 'replicate', '-d', '--source', '127.0.0.1:%d' % m.port, '--target', tgt.url,
           '--state-dir', sd, '--timeout-ms', '60000', '--retry-delay-ms', '50'],
          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
rows = {}
end = time.time() + 30
while time.time() < end:
    r = ctl('-s', rsock, 'status')
    rows = status_rows(r.stdout)
    if len(rows) == NFLOWS and all(v[1] == 'full-sync' and v[6] == '9' for v in rows.values()):
        break
    time.sleep(0.05)
ok(r.returncode == 0 and re.search(r'^state\s+full-sync$', r.stdout, re.M) and
   re.search(r'^session\s+SYNC1$', r.stdout, re.M), 'real supervisor: status shows the session')
ok(sorted(rows) == list(range(NFLOWS)) and all(v[1] == 'full-sync' for v in rows.values()),
   'real supervisor: every flow listed, in full-sync')
ok(all(v[6] == '9' and int(v[10]) > 0 for v in rows.values()),
   'real supervisor: each flow read the 9-byte header; worker pids shown')
if len(rows) != NFLOWS:
    diag(r.stdout + r.stderr)
r = ctl('-s', rsock, 'restart-flow', '2')
ok(r.returncode == 0 and r.stdout.startswith('restarting the session') and 'flow 2' in r.stdout,
   'real supervisor: restart-flow answers: %r' % r.stdout.strip())
end = time.time() + 30
while time.time() < end:
    r = ctl('-s', rsock, 'status')
    if re.search(r'^session\s+SYNC2$', r.stdout, re.M) and len(status_rows(r.stdout)) == NFLOWS:
        break
    time.sleep(0.05)
ok(re.search(r'^session\s+SYNC2$', r.stdout, re.M) and len(status_rows(r.stdout)) == NFLOWS,
   'real supervisor: a new session with every flow after restart-flow')
r = ctl('-s', rsock, 'restart-flow', str(NFLOWS))
ok(r.returncode == 1 and 'no such flow' in r.stderr, 'real supervisor: restart-flow of a flow not there')
r = ctl('-s', rsock, 'sto')
ok(r.returncode == 0 and r.stdout == 'stopping\n', 'real supervisor: stop')
try:
    p.wait(30)
except subprocess.TimeoutExpired:
    p.kill()
    p.wait()
is_(p.returncode, 0, 'real supervisor: exits 0 after stop')
r = ctl('-s', rsock, 'status')
ok(r.returncode == 1 and 'no socket at' in r.stderr, 'real supervisor: socket gone after stop')
m.stop()
tgt.stop()


# ------------------------------------------------------------ the manual pages match the programs

MAN = {n: os.path.join(ROOT, 'src', n) for n in ('df2redis.8', 'df2redisctl.8', 'df2redis.conf.5')}
if subprocess.run(['sh', '-c', 'command -v mandoc'], stdout=subprocess.DEVNULL).returncode == 0:
    for n, path in MAN.items():
        r = run(['mandoc', '-T', 'lint', '-W', 'warning', path])
        ok(r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
           '%s: mandoc -T lint -W warning is clean' % n)
        if r.returncode != 0 or r.stdout.strip() or r.stderr.strip():
            diag((r.stdout + r.stderr).decode(errors='replace'))
else:
    skip('the man pages: mandoc -T lint', 'mandoc not installed (.ci/packages)', len(MAN))
man = {n: open(p).read() for n, p in MAN.items()}
r = run([DF2REDIS, 'replicate', '-h'])
opts = re.findall(r'^  --(\S+)', r.stdout.decode(), re.M)
ok(len(opts) > 10, 'replicate -h lists its options (%d)' % len(opts))
missing = [o for o in opts if '.It Ic %s' % o not in man['df2redis.conf.5']]
ok(not missing, 'df2redis.conf.5 documents every config key: missing %r' % missing)
missing = [o for o in opts if not re.search(r'^\.It (.* )?Fl -%s( |$)' % re.escape(o), man['df2redis.8'], re.M)]
ok(not missing, 'df2redis.8 documents every replicate option: missing %r' % missing)
extra = [o for o in re.findall(r'^\.It Ic ([a-z-]+)', man['df2redis.conf.5'], re.M) if o not in opts]
ok(not extra, 'df2redis.conf.5 documents no key the program lacks: %r' % extra)
r = run([DF2REDIS, 'import', '-h'])
iopts = re.findall(r'^  --(\S+)', r.stdout.decode(), re.M)
missing = [o for o in iopts if '.It Fl -%s' % o not in man['df2redis.8']]
ok(len(iopts) > 3 and not missing, 'df2redis.8 documents every import option: missing %r' % missing)
r = run([DF2REDIS, 'inspect', '-h'])
iopts = re.findall(r'--([a-z-]+)', r.stdout.decode().splitlines()[0])
missing = [o for o in iopts if '.It Fl -%s' % o not in man['df2redis.8']]
ok(iopts and not missing, 'df2redis.8 documents every inspect option: missing %r' % missing)
r = ctl('-h')
cmds = re.findall(r'^  ([a-z-]+)', r.stdout, re.M)
missing = [c for c in cmds if '.It Ic %s' % c not in man['df2redisctl.8']]
ok(len(cmds) == 4 and not missing, 'df2redisctl.8 documents every command: missing %r' % missing)

done_testing()
