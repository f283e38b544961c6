"""repltest - what the t/replicate-*.t files share: the Dragonfly test
master on a free port, df2redis runs, the control socket, keyspace
comparisons, and the CPU time a process spent (for "no busy loop")."""
import os
import re
import select
import socket
import struct
import subprocess
import time

import dftest
from dftest import (ASAN, DF2REDIS, DFLYMASTER, diag, diff_keyspaces, dump_db,
                    free_port, is_, ok, run, spawn, tmpdir)

HAVE_MASTER = os.access(DFLYMASTER, os.X_OK)
REDIS_TYPES = ('string', 'list', 'set', 'zset', 'hash', 'stream')
CLK_TCK = os.sysconf('SC_CLK_TCK')


def skip(name, why):
    dftest._n += 1
    print('ok %d - %s # SKIP %s' % (dftest._n, name, why), flush=True)


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
    for n in cl.nodes:
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


def lsn_flows(state_dir):
    """{flow: 'v1 ...' record} of STATE_DIR/lsn.mdb."""
    out, key = {}, None
    for line in lsn_records(state_dir).splitlines():
        m = re.match(r' flow:(\d+)$', line)
        if m:
            key = int(m.group(1))
        elif key is not None and line.startswith(' v1 '):
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


def cpu_seconds(pid):
    """User + system CPU time of a process so far, in seconds."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


__all__ = ['ASAN', 'HAVE_MASTER', 'REDIS_TYPES', 'Master', 'skip', 'df2redis', 'migrate',
           'redis_only', 'dump_cluster', 'compare', 'ran_ok', 'lsn_records', 'lsn_flows', 'ctl', 'wait_ctl',
           'status_flows', 'wait_status', 'cpu_seconds', 'raw_command', 'replica_session',
           'capture_fullsync', 'first_tagged_chunk']
