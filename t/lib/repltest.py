"""repltest - what the t/replicate-*.t files share: the Dragonfly test
master on a free port, df2redis runs, the control socket, keyspace
comparisons, and the CPU time a process spent (for "no busy loop")."""
import os
import re
import select
import socket
import struct
import subprocess
import threading
import time

import dftest
from dftest import (ASAN, DF2REDIS, DFLYMASTER, diag, diff_keyspaces, dump_db,
                    free_port, is_, ok, run, skip, spawn, tmpdir)

HAVE_MASTER = os.access(DFLYMASTER, os.X_OK)
REDIS_TYPES = ('string', 'list', 'set', 'zset', 'hash', 'stream')
CLK_TCK = os.sysconf('SC_CLK_TCK')


class Master:
    """The Dragonfly test master on a free port."""

    def __init__(self, shards=4, args=()):
        self.port = free_port()
        self.dir = tmpdir('dfm')
        self.log = os.path.join(self.dir, 'log')
        argv = [DFLYMASTER, '--port', str(self.port), '--shards', str(shards)] + list(args)
        self.proc = spawn(argv, stdout=subprocess.PIPE, stderr=open(self.log, 'w'))
        r, _, _ = select.select([self.proc.stdout], [], [], 15)
        line = self.proc.stdout.readline().decode() if r else ''
        if not line.startswith('ready'):
            raise RuntimeError('dflymaster did not start: %r %s' % (line, self.logtext()))

    def client(self, db=0):
        return dftest.redis.Redis(host='127.0.0.1', port=self.port, db=db, socket_timeout=120)

    @property
    def addr(self):
        return '127.0.0.1:%d' % self.port

    def alive(self):
        return self.proc.poll() is None

    def logtext(self):
        with open(self.log, errors='replace') as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def df2redis(cmd, args, timeout=180, env=None):
    e = dict(os.environ)
    for k in ('DF2REDIS_SOURCE_PASSWORD', 'DF2REDIS_TARGET_PASSWORD'):
        e.pop(k, None)
    e.update(env or {})
    r = run([DF2REDIS, cmd] + args, timeout=timeout, env=e)
    r.stdout = r.stdout.decode(errors='replace')
    r.stderr = r.stderr.decode(errors='replace')
    return r


def migrate(master, target_url, extra=(), **kw):
    sd = tmpdir('state')
    args = ['-d', '--source', master.addr, '--target', target_url, '--state-dir', sd,
            '--retry-delay-ms', '50'] + list(extra)
    r = df2redis('migrate', args, **kw)
    r.state_dir = sd
    return r


def redis_only(ks):
    """The keys of types Redis 7.0 holds without modules."""
    out = {db: {k: v for k, v in keys.items() if v['type'] in REDIS_TYPES} for db, keys in ks.items()}
    return {db: keys for db, keys in out.items() if keys}


def dump_cluster(cl):
    out = {}
    for n in cl.masters():
        out.update(dump_db(n.client()))
    return {'0': out} if out else {}


def compare(got, want, name):
    d = diff_keyspaces(got, want)
    r = ok(not d and len(got) > 0, name)
    if not r:
        diag('\n'.join(x[:300] for x in d) or 'empty keyspace')
    return r


def ran_ok(r, name):
    res = is_(r.returncode, 0, name)
    if not res:
        diag(r.stderr[-3000:])
    return res


def lsn_records(state_dir):
    """mdb_dump of STATE_DIR/lsn.mdb, '' when there is none."""
    path = os.path.join(state_dir, 'lsn.mdb')
    if not os.path.exists(path):
        return ''
    return subprocess.run(['mdb_dump', '-n', '-p', path], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL).stdout.decode()


def lsn_flows(state_dir, cleared=False):
    """{flow: 'v1 ...' record} of STATE_DIR/lsn.mdb: the checkpoints, and
    with cleared=True also the records a full sync cleared (LSN 0)."""
    out, key = {}, None
    for line in lsn_records(state_dir).splitlines():
        m = re.match(r' flow:(\d+)$', line)
        if m:
            key = int(m.group(1))
        elif key is not None and line.startswith(' v1 '):
            if cleared or line.split()[3] != '0':
                out[key] = line[1:]
            key = None
    return out


def ctl(path, req):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    s.sendall(req.encode() + b'\n')
    data = b''
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    return data.decode()


def wait_ctl(path, timeout=30, proc=None):
    end = time.time() + timeout
    while time.time() < end and (proc is None or proc.poll() is None):
        if os.path.exists(path):
            try:
                return ctl(path, 'status')
            except OSError:
                pass
        time.sleep(0.02)
    raise RuntimeError('control socket %s did not answer' % path)


def status_flows(text):
    flows = {}
    for line in text.splitlines():
        m = re.match(r'flow (\d+) phase (\S+) keys (\d+) .* pid (\d+)', line)
        if m:
            flows[int(m.group(1))] = (m.group(2), int(m.group(3)), int(m.group(4)))
    return flows


def wait_status(path, pred, timeout=60, proc=None):
    """Poll the control socket until pred(status text) holds; the text,
    or None on timeout or when proc exited."""
    end = time.time() + timeout
    st = ''
    while time.time() < end:
        try:
            st = wait_ctl(path, proc=proc)
        except RuntimeError:
            return None
        if pred(st):
            return st
        time.sleep(0.02)
    return None


def raw_command(sock, *args):
    sock.sendall(b'*%d\r\n' % len(args) + b''.join(
        b'$%d\r\n%s\r\n' % (len(a), a) for a in (x.encode() if isinstance(x, str) else x for x in args)))


def replica_session(master, nflows):
    """Handshake and register every flow by hand, as a replica would:
    (control socket, its reader, [flow sockets], syncid)."""
    ctrl = socket.create_connection(('127.0.0.1', master.port))
    f = ctrl.makefile('rb')
    raw_command(ctrl, 'REPLCONF', 'capa', 'dragonfly')
    f.readline()
    replid = f.readline().decode()[1:].strip()
    syncid = f.readline().decode()[1:].strip()
    f.readline(); f.readline(); f.readline()
    flows = []
    for i in range(nflows):
        s = socket.create_connection(('127.0.0.1', master.port))
        raw_command(s, 'DFLY', 'FLOW', replid, syncid, str(i))
        reply = b''
        while reply.count(b'\r\n') < 3:      # *2 +FULL +<token>
            b = s.recv(1)
            if not b:
                raise RuntimeError('flow %d: no FLOW reply' % i)
            reply += b
        flows.append(s)
    return ctrl, f, flows, syncid


def capture_fullsync(master, nflows, flow, timeout=30):
    """The bytes flow `flow` sends up to and including FULLSYNC_END."""
    ctrl, f, flows, syncid = replica_session(master, nflows)
    raw_command(ctrl, 'DFLY', 'SYNC', syncid)
    f.readline()
    data = b''
    s = flows[flow]
    s.settimeout(timeout)
    while not data.endswith(b'\xc8' + b'\0' * 8):
        b = s.recv(65536)
        if not b:
            break
        data += b
    for x in flows + [ctrl]:
        x.close()
    return data


def first_tagged_chunk(data, max_len):
    """Offset of the first TAGGED_CHUNK opcode (0xE0, u32 stream id,
    u32 length) in an uncompressed flow, -1 if none."""
    i = data.find(b'\xe0')
    while i >= 0 and i + 9 <= len(data):
        sid, n = struct.unpack('<II', data[i + 1:i + 9])
        if 0 < sid < 4096 and 0 < n <= max_len:
            return i
        i = data.find(b'\xe0', i + 1)
    return -1


FULLSYNC_END = b'\xc8' + b'\0' * 8


def trailer(token, lsn=1):
    """JOURNAL_OFFSET, RDB EOF with its zero checksum, the EOF token."""
    return b'\xd3' + struct.pack('<Q', lsn) + b'\xff' + b'\0' * 8 + token.encode()


class FakeMaster:
    """A scripted Dragonfly master on a free port, for the protocol paths
    the test master cannot take.  Each session (REPLCONF capa dragonfly)
    gets `nflows` flows; after DFLY SYNC flow i is sent bodies[i] (bytes
    up to and including FULLSYNC_END, e.g. from capture_fullsync) after
    body_delay.get(i, 0) seconds, after
    DFLY STARTSTABLE trailers(i, token) (default: trailer()) after
    trailer_delay.get(i, 0) seconds, then +OK after startstable_delay.
    As Dragonfly does, a connection of a session that closes cancels the
    whole session (self.events records it).  Options:
      auth: replies to successive AUTH commands, the last one repeated
      flow_reply: 'FULL' or 'PARTIAL'; register=False: never answer FLOW
      ctl_extra: bytes sent unasked on the control connection after
        the SYNC reply, 0.5 s before the snapshot
      close_after_trailer: flows closed right after their trailer."""

    def __init__(self, nflows, bodies, trailers=None, trailer_delay=None,
                 startstable_delay=0, auth=None, flow_reply='FULL', register=True,
                 ctl_extra=b'', close_after_trailer=(), body_delay=None):
        self.nflows = nflows
        self.bodies = bodies
        self.trailers = trailers or (lambda i, tok: trailer(tok))
        self.trailer_delay = trailer_delay or {}
        self.body_delay = body_delay or {}
        self.startstable_delay = startstable_delay
        self.auth = list(auth or ['+OK'])
        self.flow_reply = flow_reply
        self.register = register
        self.ctl_extra = ctl_extra
        self.close_after_trailer = close_after_trailer
        self.replid = '%040x' % int.from_bytes(os.urandom(20), 'big')
        self.sessions = {}
        self.events = []
        self.lock = threading.Lock()
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(('127.0.0.1', 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.conns = []
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def addr(self):
        return '127.0.0.1:%d' % self.port

    def event(self, what):
        with self.lock:
            self.events.append(what)

    def _accept(self):
        while not self.closing:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def _command(f):
        line = f.readline()
        if not line.startswith(b'*'):
            return None
        args = []
        for _ in range(int(line[1:])):
            n = int(f.readline()[1:])
            args.append(f.read(n + 2)[:-2].decode())
        return args

    def _cancel(self, sess, why):
        with self.lock:
            if sess.get('cancelled') or sess.get('ended'):
                return
            sess['cancelled'] = why
        self.event('session %s cancelled: %s' % (sess['id'], why))
        for c in [sess['ctl']] + list(sess['flows'].values()):
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _send(self, c, data):
        try:
            c.sendall(data)
        except OSError:
            pass

    def _serve(self, c):
        f = c.makefile('rb')
        sess, role = None, None
        try:
            while True:
                args = self._command(f)
                if args is None:
                    break
                cmd = [a.upper() for a in args[:2]]
                if cmd[0] == 'AUTH':
                    with self.lock:
                        r = self.auth.pop(0) if len(self.auth) > 1 else self.auth[0]
                    self._send(c, r.encode() + b'\r\n')
                elif cmd[0] == 'PING':
                    self._send(c, b'+PONG\r\n')
                elif cmd == ['REPLCONF', 'CAPA'] and args[2:] == ['dragonfly']:
                    with self.lock:
                        sid = 'SYNC%d' % (len(self.sessions) + 1)
                        sess = {'id': sid, 'ctl': c, 'flows': {}, 'tokens': {}}
                        self.sessions[sid] = sess
                    role = 'control connection'
                    self._send(c, ('*5\r\n+%s\r\n+%s\r\n:%d\r\n:4\r\n+%s\r\n' % (
                        self.replid, sid, self.nflows, self.replid)).encode())
                elif cmd[0] == 'REPLCONF':
                    self._send(c, b'+OK\r\n')
                elif cmd == ['DFLY', 'FLOW']:
                    sess = self.sessions.get(args[3])
                    i = int(args[4])
                    role = 'flow %d' % i
                    tok = '%040x' % int.from_bytes(os.urandom(20), 'big')
                    with self.lock:
                        sess['flows'][i] = c
                        sess['tokens'][i] = tok
                    self.event('%s flow %d registered' % (sess['id'], i))
                    if self.register:
                        self._send(c, ('*2\r\n+%s\r\n+%s\r\n' % (self.flow_reply, tok)).encode())
                elif cmd == ['DFLY', 'SYNC']:
                    self._send(c, b'+OK\r\n')
                    if self.ctl_extra:
                        self._send(c, self.ctl_extra)
                        time.sleep(0.5)
                    t0 = time.time()
                    for i in sorted(sess['flows'], key=lambda i: self.body_delay.get(i, 0)):
                        time.sleep(max(0, t0 + self.body_delay.get(i, 0) - time.time()))
                        self._send(sess['flows'][i], self.bodies[i])
                elif cmd == ['DFLY', 'STARTSTABLE']:
                    self._startstable(sess)
                    time.sleep(self.startstable_delay)
                    if not sess.get('cancelled'):
                        self._send(c, b'+OK\r\n')
                else:
                    self._send(c, b'-ERR unknown command\r\n')
        except (OSError, ValueError):
            pass
        if sess is not None and role is not None:
            self._cancel(sess, '%s closed' % role)
        try:
            c.close()
        except OSError:
            pass

    def _startstable(self, sess):
        order = sorted(sess['flows'], key=lambda i: self.trailer_delay.get(i, 0))
        t0 = time.time()
        for i in order:
            delay = t0 + self.trailer_delay.get(i, 0) - time.time()
            if delay > 0:
                time.sleep(delay)
            if sess.get('cancelled'):
                self.event('%s flow %d trailer not sent' % (sess['id'], i))
                return
            self._send(sess['flows'][i], self.trailers(i, sess['tokens'][i]))
            self.event('%s flow %d trailer sent' % (sess['id'], i))
            if i in self.close_after_trailer:
                with self.lock:
                    sess['ended'] = True
                sess['flows'][i].shutdown(socket.SHUT_RDWR)

    def cancelled(self):
        return [e for e in self.events if 'cancelled' in e]

    def stop(self):
        self.closing = True
        self.lsock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                    c.close()
                except OSError:
                    pass


def replicate_start(master, target_url, extra=(), state_dir=None):
    """df2redis replicate -d in the background: the process, with its
    state_dir, control socket (sock) and log file (log)."""
    sd = state_dir or tmpdir('state')
    log = open(os.path.join(sd, 'log'), 'a')
    p = spawn([DF2REDIS, 'replicate', '-d', '--source', master.addr, '--target', target_url,
               '--state-dir', sd, '--retry-delay-ms', '50'] + list(extra),
              stdout=subprocess.PIPE, stderr=log)
    p.state_dir, p.sock, p.log = sd, os.path.join(sd, 'df2redis.sock'), log.name
    return p


def replicate_stop(p, timeout=30):
    """SIGTERM, then the exit status (None if it had to be killed)."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return None
    return p.returncode


def proc_log(p):
    with open(p.log, errors='replace') as f:
        return f.read()


def flows_stable(text, nflows):
    """Whether a `status` reply lists nflows flows, every one in stable sync."""
    fl = status_flows(text)
    return len(fl) == nflows and all(ph == 'stable' for ph, _, _ in fl.values())


def lsn_fields(state_dir):
    """{flow: {replid, nflows, next_lsn, state, keys, bytes}} of STATE_DIR/lsn.mdb."""
    out = {}
    for i, rec in lsn_flows(state_dir).items():
        v = rec.split()
        out[i] = {'replid': v[1], 'nflows': int(v[2]), 'next_lsn': int(v[3]),
                  'state': int(v[4]), 'keys': int(v[5]), 'bytes': int(v[6])}
    return out


def wait_equal(dump, want, timeout=30, proc=None):
    """Poll dump() until it equals want: (the differences, the last dump)."""
    end = time.time() + timeout
    while True:
        got = dump()
        d = diff_keyspaces(got, want)
        if not d or time.time() > end or (proc is not None and proc.poll() is not None):
            return d, got
        time.sleep(0.2)


def cpu_seconds(pid):
    """User + system CPU time of a process so far, in seconds."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class LoadThread:
    """Writes on the master from a thread until stop(): batch(pl) fills
    each pipeline and counts its writes in self.n; `pause` seconds
    between pipelines."""
    pause = 0

    def __init__(self, m, db=0):
        self.c, self.go, self.n = m.client(db), True, 0
        self.t = threading.Thread(target=self.run)
        self.t.start()

    def batch(self, pl):
        raise NotImplementedError

    def run(self):
        while self.go:
            pl = self.c.pipeline(transaction=False)
            self.batch(pl)
            pl.execute()
            if self.pause:
                time.sleep(self.pause)

    def stop(self):
        self.go = False
        self.t.join()


def mstats(m):
    """The test master's counters (DFLYMASTER STATS): partial_syncs, ..."""
    text = m.client().execute_command('DFLYMASTER', 'STATS').decode()
    return {k: int(v) for k, v in re.findall(r'(\w+):(\d+)', text)}


__all__ = ['ASAN', 'HAVE_MASTER', 'REDIS_TYPES', 'Master', 'skip', 'df2redis', 'migrate',
           'redis_only', 'dump_cluster', 'compare', 'ran_ok', 'lsn_records', 'lsn_flows', 'ctl', 'wait_ctl',
           'status_flows', 'wait_status', 'cpu_seconds', 'raw_command', 'replica_session',
           'capture_fullsync', 'first_tagged_chunk', 'FakeMaster', 'FULLSYNC_END', 'trailer',
           'replicate_start', 'replicate_stop', 'proc_log', 'flows_stable', 'lsn_fields', 'wait_equal',
           'mstats', 'LoadThread']

