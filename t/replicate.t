#!/usr/bin/python3
# df2redis replicate / migrate: configuration, handshake errors, full sync
# from the test master (every type, shards, compression, big tagged values,
# writes during the snapshot, standalone and cluster targets), protocol
# faults and retries, the full-sync barrier, the captures replayed, worker
# crash, SIGTERM, the control socket.
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401

import redis  # noqa: E402

HAVE_MASTER = os.access(DFLYMASTER, os.X_OK)
BIG = (5 << 20) if ASAN else (50 << 20)
POP = 60000 if ASAN else 400000


def skip(name, why):
    print('ok %d - %s # SKIP %s' % (_next(), name, why), flush=True)


def _next():
    import dftest
    dftest._n += 1
    return dftest._n


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
        return redis.Redis(host='127.0.0.1', port=self.port, db=db, socket_timeout=120)

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


def dump_cluster(cl):
    out = {}
    for n in cl.nodes:
        out.update(dump_db(n.client()))
    return {'0': out} if out else {}


def compare(got, want, name):
    d = diff_keyspaces(got, want)
    r = ok(not d and len(got) > 0, name)
    if not r:
        diag('\n'.join(d) or 'empty keyspace')
    return r


def ran_ok(r, name):
    res = is_(r.returncode, 0, name)
    if not res:
        diag(r.stderr[-3000:])
    return res


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


def wait_ctl(path, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
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


# ------------------------------------------------------------ configuration

conf = os.path.join(ROOT, 'etc', 'df2redis.conf')
r = df2redis('replicate', ['-n', '-f', conf])
ok(r.returncode == 0 and 'configuration OK' in r.stdout, 'sample config checks out (-n)')

d = tmpdir('conf')
bad = os.path.join(d, 'bad.conf')
with open(bad, 'w') as f:
    f.write('# comment\nsource 127.0.0.1:1\n\ntarget 127.0.0.1:2\nstate-dir %s\nbatch zero\n' % d)
r = df2redis('replicate', ['-n', '-f', bad])
ok(r.returncode == 2 and '%s:6:' % bad in r.stderr and 'batch' in r.stderr,
   'config error names file:line: ' + r.stderr.strip())
with open(bad, 'w') as f:
    f.write('source 127.0.0.1:1\nbogus-option 1\n')
r = df2redis('replicate', ['-n', '-f', bad])
ok(r.returncode == 2 and '%s:2: unknown option "bogus-option"' % bad in r.stderr,
   'unknown key in config file: ' + r.stderr.strip())
with open(bad, 'w') as f:
    f.write('source 127.0.0.1:1\ntarget 127.0.0.1:2\nstate-dir %s\nmax-retries 3\n' % d)
r = df2redis('replicate', ['-n', '-f', bad, '--max-retries', 'x'])
ok(r.returncode == 2 and '--max-retries' in r.stderr, 'command line values are checked too')
r = df2redis('replicate', ['-n', '--target', '127.0.0.1:2', '--state-dir', d])
ok(r.returncode == 2 and '--source' in r.stderr, 'missing --source is an error')
r = df2redis('migrate', ['-n', '--source', 'nohostport', '--target', '127.0.0.1:2', '--state-dir', d])
ok(r.returncode == 2 and 'HOST:PORT' in r.stderr, 'bad --source is an error')
pw = os.path.join(d, 'pw')
with open(pw, 'w') as f:
    f.write('')
os.chmod(pw, 0o600)
r = df2redis('migrate', ['-n', '--source', '127.0.0.1:1', '--target', '127.0.0.1:2',
                         '--state-dir', d, '--source-password-file', pw])
ok(r.returncode == 2 and 'empty password' in r.stderr, 'empty password file is an error')

# ------------------------------------------------------------ handshake errors (a Redis as source)

src = RedisServer(password='right-password')
tgt = RedisServer()
sd = tmpdir('state')
t0 = time.time()
r = df2redis('migrate', ['-d', '--source', src.url, '--target', tgt.url, '--state-dir', sd,
                         '--max-retries', '3'], env={'DF2REDIS_SOURCE_PASSWORD': 'wrong-password'},
             timeout=30)
ok(r.returncode == 1 and 'WRONGPASS' in r.stderr and 'giving up' in r.stderr and time.time() - t0 < 5,
   'wrong source password: clear error, no retries')
ok('wrong-password' not in r.stderr and 'right-password' not in r.stderr, 'no password in the log')
src.stop()
src = RedisServer()
r = df2redis('migrate', ['-d', '--source', src.url, '--target', tgt.url, '--state-dir', sd])
ok(r.returncode == 1 and 'not a Dragonfly master' in r.stderr, 'a Redis master is refused clearly')
r = df2redis('migrate', ['-d', '--source', '127.0.0.1:%d' % free_port(), '--target', tgt.url,
                         '--state-dir', sd, '--max-retries', '2', '--retry-delay-ms', '20'])
ok(r.returncode == 1 and r.stderr.count('restarting the full sync') == 2 and 'giving up after 2' in r.stderr,
   'unreachable master: bounded retries with backoff')
src.stop()

if not HAVE_MASTER:
    skip('full sync from the test master', 't/dflymaster/dflymaster not built')
    done_testing()
    sys.exit(0)

# ------------------------------------------------------------ full sync, every type

for shards, comp in ((1, 'none'), (4, 'lz4'), (8, 'zstd')):
    m = Master(shards, ['--compression', comp])
    m.client().execute_command('DFLYMASTER', 'LOAD-SAMPLE')
    tgt = RedisServer()
    r = migrate(m, tgt.url)
    ran_ok(r, 'migrate %d shards, %s: exit 0' % (shards, comp))
    ok(len(re.findall(r'^flow \d+: journal_offset \d+ keys \d+', r.stdout, re.M)) == shards and
       'total: %d flows' % shards in r.stdout, 'one summary line per flow and a total')
    compare(dump_server(tgt.client()), dump_server(m.client()),
            'target equals master key by key (%d shards, %s)' % (shards, comp))
    ok(m.alive(), 'master saw no barrier violation')
    m.stop()
    tgt.stop()

# LSN store holds {replid, JOURNAL_OFFSET} per flow
lsn = subprocess.run(['mdb_dump', '-n', '-p', os.path.join(r.state_dir, 'lsn.mdb')],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode()
offs = re.findall(r'^flow (\d+): journal_offset (\d+)', r.stdout, re.M)
ok(offs and all(re.search(r'^ v1 [0-9a-f]{40} 8 %s 1 ' % o, lsn, re.M) for _, o in offs),
   'LSN store has each flow\'s JOURNAL_OFFSET')

# ------------------------------------------------------------ cluster target, big value, writes during the snapshot

m = Master(4, ['--compression', 'lz4'])
c = m.client()
c.execute_command('DEBUG', 'POPULATE', POP, 'pop', 100)
big = bytes(range(256)) * (BIG // 256)
c.set('big:value', big)
c.hset('big:hash', mapping={('f%d' % i): ('v%d' % i) * 10 for i in range(20000)})
cl = RedisCluster()
sd = tmpdir('state')
sock = os.path.join(sd, 'df2redis.sock')
p = spawn([DF2REDIS, 'migrate', '-d', '--source', m.addr, '--target', cl.url, '--state-dir', sd],
          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
# burst of writes while the snapshot runs
end = time.time() + 60
while time.time() < end:
    st = wait_ctl(sock)
    if any(ph == 'full-sync' and k > 0 for ph, k, _ in status_flows(st).values()):
        break
    time.sleep(0.01)
pl = c.pipeline(transaction=False)
for i in range(500):
    pl.set('during:%d' % i, 'v%d' % i)
    pl.incr('pop:%d' % i)
    pl.hset('big:hash', 'f%d' % i, 'changed')
    pl.rpush('during:list', i)
    pl.delete('pop:%d' % (1000 + i))
pl.execute()
st = ctl(sock, 'status')
ok('state full-sync' in st, 'writes landed before STARTSTABLE')
out, err = p.communicate(timeout=300)
is_(p.returncode, 0, 'migrate into a cluster with a %d MB value: exit 0' % (BIG >> 20))
if p.returncode:
    diag(err.decode()[-3000:])
got = dump_cluster(cl)
want = dump_server(m.client())
compare(got, want, 'cluster target equals master (%d keys)' % len(want.get('0', {})))
ok(got.get('0', {}).get('during:499', {}).get('value') == 'v499' and
   'pop:1499' not in got.get('0', {}), 'writes during the snapshot applied')
ok(m.alive(), 'master saw no barrier violation')
m.stop()
cl.stop()

# ------------------------------------------------------------ protocol faults: clean retry, correct target

for fault, what in ((['--fault-close-flow', '1:3000'], 'master closes a flow'),
                    (['--fault-flip-byte', '2:2000'], 'corrupt byte'),
                    (['--fault-startstable-error'], '-ERR invalid state')):
    m = Master(4, ['--compression', 'none'] + fault)
    m.client().execute_command('DFLYMASTER', 'LOAD-SAMPLE')
    tgt = RedisServer()
    r = migrate(m, tgt.url, ['--max-retries', '5'])
    ran_ok(r, '%s: exit 0 after a retry' % what)
    ok('restarting the full sync' in r.stderr, '%s: the session was restarted' % what)
    if fault[0] == '--fault-startstable-error':
        ok('invalid state' in r.stderr, '%s: logged' % what)
    else:
        flow = fault[1].split(':')[0]
        ok(re.search(r'flow %s \S+: byte \d+' % flow, r.stderr), '%s: log names flow and byte' % what)
        if not re.search(r'flow %s \S+: byte \d+' % flow, r.stderr):
            diag(r.stderr[-2000:])
    compare(dump_server(tgt.client()), dump_server(m.client()), '%s: target correct' % what)
    m.stop()
    tgt.stop()

# ------------------------------------------------------------ the barrier hook works

m = Master(2)
m.client().execute_command('DFLYMASTER', 'LOAD-SAMPLE')
ctrl = socket.create_connection(('127.0.0.1', m.port))
f = ctrl.makefile('rb')


def raw(sock, *args):
    sock.sendall(b'*%d\r\n' % len(args) + b''.join(b'$%d\r\n%s\r\n' % (len(a), a) for a in
                                                    (x.encode() if isinstance(x, str) else x for x in args)))


raw(ctrl, 'REPLCONF', 'capa', 'dragonfly')
f.readline()
replid = f.readline().decode()[1:].strip()
syncid = f.readline().decode()[1:].strip()
f.readline(); f.readline(); f.readline()
flows = []
for i in range(2):
    s = socket.create_connection(('127.0.0.1', m.port))
    raw(s, 'DFLY', 'FLOW', replid, syncid, str(i))
    s.recv(1024)
    flows.append(s)
raw(ctrl, 'DFLY', 'SYNC', syncid)
raw(ctrl, 'DFLY', 'STARTSTABLE', syncid)
try:
    m.proc.wait(10)
except subprocess.TimeoutExpired:
    pass
ok(m.proc.returncode == 3 and 'BARRIER VIOLATION' in m.logtext(),
   'negative control: an early STARTSTABLE makes the master exit 3')
for s in flows + [ctrl]:
    s.close()
m.stop()

# ------------------------------------------------------------ captures replayed

for name in ('types-lz4', 'types-none', 'big-lz4', 'journal-lz4', os.path.join('partial-lz4', 'first')):
    cdir = os.path.join(CAPTURES, name)
    want = load_expected(os.path.join(cdir, 'expected-fullsync.json'))
    m = Master(1, ['--replay', cdir])
    tgt = RedisServer()
    r = migrate(m, tgt.url, ['--unsupported', 'skip'])
    ran_ok(r, 'capture %s: exit 0' % name)
    redis_types = ('string', 'list', 'set', 'zset', 'hash', 'stream')
    w = {db: {k: v for k, v in keys.items() if v['type'] in redis_types} for db, keys in want.items()}
    w = {db: keys for db, keys in w.items() if keys}
    got = dump_server(tgt.client())
    # keys Redis cannot hold (JSON, bloom, member TTLs) are skipped and named
    skipped = set()
    for db, keys in want.items():
        for k, v in keys.items():
            if k not in got.get(db, {}) and v['type'] not in redis_types:
                skipped.add(k)
    gotw = {db: {k: v for k, v in keys.items() if k in w.get(db, {}) or k not in skipped}
            for db, keys in got.items()}
    d = diff_keyspaces(gotw, w)
    ok(not d, 'capture %s: target equals expected-fullsync.json (%d keys)' %
       (name, sum(len(x) for x in w.values())))
    if d:
        diag('\n'.join(d))
    missing = [k for k in skipped if k not in r.stderr]
    ok(not missing, 'capture %s: each skipped key named in the log (%d)' % (name, len(skipped)))
    if missing:
        diag('not named: %r' % missing[:5])
    m.stop()
    tgt.stop()

# a bad EOF token: the replayed FLOW reply says one token, the stream carries another
cdir = os.path.join(CAPTURES, 'types-none')
d = tmpdir('badtok')
with open(os.path.join(cdir, 'manifest.json')) as f:
    man = json.load(f)
txt = json.dumps(man)
tok = re.search(r'[0-9a-f]{40}', json.dumps(man['flows'][0]['reply'])).group(0)
with open(os.path.join(d, 'manifest.json'), 'w') as f:
    f.write(txt.replace(tok, '0' * 40))
for fn in os.listdir(cdir):
    if fn != 'manifest.json':
        os.symlink(os.path.join(cdir, fn), os.path.join(d, fn))
m = Master(1, ['--replay', d])
tgt = RedisServer()
r = migrate(m, tgt.url, ['--unsupported', 'skip', '--max-retries', '1'])
ok(r.returncode == 1 and re.search(r'flow 0 \S+: EOF token "%s" differs' % tok, r.stderr),
   'bad EOF token: protocol error, retried, never reported done')
ok('total:' not in r.stdout, 'bad EOF token: no success summary')
m.stop()
tgt.stop()

# ------------------------------------------------------------ worker killed, SIGTERM, control socket

m = Master(4, ['--compression', 'lz4'])
m.client().execute_command('DEBUG', 'POPULATE', POP, 'k', 100)
m.client().execute_command('DFLYMASTER', 'LOAD-SAMPLE')
tgt = RedisServer()
sd = tmpdir('state')
sock = os.path.join(sd, 'df2redis.sock')
p = spawn([DF2REDIS, 'replicate', '-d', '--full-sync-only', '--source', m.addr, '--target', tgt.url,
           '--state-dir', sd, '--retry-delay-ms', '50'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
victim = None
end = time.time() + 60
while time.time() < end and victim is None:
    for i, (ph, k, pid) in status_flows(wait_ctl(sock)).items():
        if ph == 'full-sync' and k > 0 and pid > 0:
            victim = pid
    time.sleep(0.01)
title = open('/proc/%d/cmdline' % victim).read().replace('\0', ' ').strip() if victim else ''
ok(re.match(r'df2redis: flow \d full-sync', title), 'worker process title: %r' % title)
st = ctl(sock, 'status')
ok(st.startswith('ok\nsession SYNC') and st.endswith('\n.\n') and len(status_flows(st)) == 4,
   'control socket: status lists the session and 4 flows')
ok(ctl(sock, 'bogus').startswith('error: unknown request'), 'control socket: unknown request')
os.kill(victim, signal.SIGKILL)
out, err = p.communicate(timeout=300)
out, err = out.decode(), err.decode()
is_(p.returncode, 0, 'worker SIGKILLed mid full sync: exit 0')
ok(re.search(r'flow \d: worker %d killed by signal 9 at byte \d+' % victim, err) and
   'restarting the full sync' in err, 'worker crash logged with flow and byte, session restarted')
ok('stable sync (journal replay) is not available' in err, 'replicate says stable sync is not there yet')
compare(dump_server(tgt.client()), dump_server(m.client()), 'after a worker crash: target correct')

# restart-flow and stop over the control socket, then SIGTERM
tgt.client().flushall()
p = spawn([DF2REDIS, 'migrate', '-d', '--source', m.addr, '--target', tgt.url,
           '--state-dir', sd, '--retry-delay-ms', '50'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
end = time.time() + 60
while time.time() < end:
    if any(ph == 'full-sync' for ph, _, _ in status_flows(wait_ctl(sock)).values()):
        break
    time.sleep(0.01)
rf = ctl(sock, 'restart-flow 2')
ok(rf.startswith('ok restarting the session') and 'cannot rejoin' in rf, 'restart-flow explains itself')
end = time.time() + 60
while time.time() < end:
    st = wait_ctl(sock)
    if 'attempt 1' in st and any(ph == 'full-sync' for ph, _, _ in status_flows(st).values()):
        break
    time.sleep(0.01)
p.send_signal(signal.SIGTERM)
out, err = p.communicate(timeout=60)
err = err.decode()
is_(p.returncode, 0, 'SIGTERM during the full sync: exit 0')
ok('session restarted by the operator' in err and 'stopped' in err, 'restart then clean stop logged')
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
tgt.stop()

done_testing()
