"""dftest - what every df2redis test needs: TAP output, paths, real
redis-server processes (standalone and a 3-master cluster) on free loopback
ports, and a dump of a keyspace in the shape of the captures' expected.json.

Usage from a t/*.t file (#!/usr/bin/python3):

    import os, sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
    from dftest import *
    plan(3)
    ok(1 + 1 == 2, 'arithmetic')
"""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.normpath(os.path.join(ROOT, '..', 'shared'))
FIXTURES = os.path.join(SHARED, 'fixtures')
CAPTURES = os.path.join(FIXTURES, 'dragonfly-captures')
DF2REDIS = os.path.join(ROOT, 'bin', 'df2redis')
DF2REDISCTL = os.path.join(ROOT, 'bin', 'df2redisctl')
DFLYMASTER = os.path.join(ROOT, 't', 'dflymaster', 'dflymaster')
TBIN = os.path.join(ROOT, 't', 'bin')
REDIS74_TGZ = os.path.join(SHARED, 'vendor', 'redis-7.4.1.tar.gz')
REDIS74_BIN = os.path.join(ROOT, 't', 'redis-7.4', 'bin')
ASAN = bool(os.environ.get('DF2REDIS_ASAN'))

# ---------------------------------------------------------------- TAP

_n = 0
_failed = 0
_planned = None


def plan(n):
    global _planned
    _planned = n
    print('1..%d' % n, flush=True)


def _record_skip(count, why):
    """Append FILE, COUNT ('all' for a whole file) and the reason to the
    file $DF2REDIS_SKIPS names: `make test` prints them after prove."""
    path = os.environ.get('DF2REDIS_SKIPS')
    if not path:
        return
    name = os.path.relpath(os.path.abspath(sys.argv[0]), ROOT)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'a') as f:
        f.write('%s\t%s\t%s\n' % (name, count, ' '.join(str(why).split())))


def skip_all(why):
    print('1..0 # SKIP %s' % why, flush=True)
    _record_skip('all', why)
    sys.exit(0)


def skip(name, why, count=1):
    """count tests that cannot run here, reported as TAP skips."""
    global _n
    for _ in range(count):
        _n += 1
        print('ok %d - %s # SKIP %s' % (_n, name, why), flush=True)
    _record_skip(count, why)


def need_tool(prog, package):
    """Skip the whole file when prog (from the Debian package) is not
    installed: `make test` as root installs .ci/packages first."""
    if shutil.which(prog) is None:
        skip_all('%s not installed (Debian package %s, see .ci/packages)' % (prog, package))


NO_FIXTURES = 'reference fixtures not present (../shared/fixtures)'


def have_fixtures():
    """Whether ../shared/fixtures (the reference RDB files and Dragonfly
    captures) is beside the repository; a user's clone has none."""
    return os.path.isdir(FIXTURES)


def need_fixtures(*paths):
    """Skip the whole file when the fixtures are absent.  When they are
    there, every path named (relative to FIXTURES) must exist: a missing
    one is a failure, not a skip."""
    if not have_fixtures():
        skip_all(NO_FIXTURES)
    missing = [p for p in paths if not os.path.exists(os.path.join(FIXTURES, p))]
    if missing:
        plan(1)
        ok(False, 'fixtures present: missing %s' % ', '.join(missing))
        sys.exit(1)


def redis_bin(version=None, prog='redis-server'):
    """The redis-server (or redis-cli) of a target version: None is the one
    on PATH (Debian's 7.0), '7.4' the one `make redis74` builds into
    t/redis-7.4 from ../shared/vendor.  None when that one is not built."""
    if version is None:
        return prog
    if version != '7.4':
        raise ValueError('no Redis %r for the tests' % version)
    path = os.path.join(REDIS74_BIN, prog)
    return path if os.access(path, os.X_OK) else None


def redis_server_bin(version=None):
    return redis_bin(version, 'redis-server')


def redis_missing(version=None):
    """Why the tests cannot start that Redis here (a TAP skip reason), or
    None when they can."""
    if version is None or redis_server_bin(version) is not None:
        return None
    if not os.path.exists(REDIS74_TGZ):
        return 'Redis %s not built: no ../shared/vendor/%s' % (
            version, os.path.basename(REDIS74_TGZ))
    return 'Redis %s not built (make redis74)' % version


# the target versions the version-dependent suites run against
TARGET_VERSIONS = (None, '7.4')


def version_name(version):
    return version or '7.0'


def diag(msg):
    for line in str(msg).splitlines() or ['']:
        print('# ' + line, flush=True)


def ok(cond, name=''):
    global _n, _failed
    _n += 1
    if not cond:
        _failed += 1
    print('%sok %d - %s' % ('' if cond else 'not ', _n, name), flush=True)
    return bool(cond)


def is_(got, want, name=''):
    r = ok(got == want, name)
    if not r:
        diag('     got: %r' % (got,))
        diag('expected: %r' % (want,))
    return r


def done_testing():
    global _planned
    if _planned is None:
        print('1..%d' % _n, flush=True)
        _planned = _n


@atexit.register
def _finish():
    if _planned is None and _n > 0:
        print('1..%d' % _n, flush=True)


# ---------------------------------------------------------------- processes

def tmpdir(tag='t'):
    base = os.path.join(ROOT, 't', 'tmp')
    os.makedirs(base, exist_ok=True)
    d = tempfile.mkdtemp(prefix=tag + '-', dir=base)
    atexit.register(shutil.rmtree, d, True)
    return d


def free_port():
    """A loopback port nobody listens on, whose port+10000 (cluster bus) is free too."""
    for _ in range(100):
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
        s.close()
        if port + 10000 > 65535:
            continue
        b = socket.socket()
        try:
            b.bind(('127.0.0.1', port + 10000))
        except OSError:
            continue
        finally:
            b.close()
        return port
    raise RuntimeError('no free port')


def wait_port(port, timeout=10.0, proc=None):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError('process exited with %s before listening' % proc.returncode)
        try:
            socket.create_connection(('127.0.0.1', port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.02)
    raise RuntimeError('port %d did not open' % port)


_procs = []


@atexit.register
def _reap():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(5)
            except Exception:
                pass


def spawn(argv, **kw):
    p = subprocess.Popen(argv, **kw)
    _procs.append(p)
    return p


class RedisServer:
    """A real redis-server on a loopback port, in its own directory."""

    def __init__(self, rdb=None, args=(), port=None, cluster=False, password=None,
                 version=None):
        why = redis_missing(version)
        if why is not None:
            raise RuntimeError(why)
        self.port = port or free_port()
        self.dir = tmpdir('redis')
        self.password = password
        self.version = version
        argv = [redis_server_bin(version), '--port', str(self.port), '--bind', '127.0.0.1',
                '--dir', self.dir, '--save', '', '--appendonly', 'no',
                '--protected-mode', 'no', '--logfile', os.path.join(self.dir, 'log')]
        if rdb is not None:
            shutil.copy(rdb, os.path.join(self.dir, 'dump.rdb'))
            argv += ['--dbfilename', 'dump.rdb']
        if cluster:
            argv += ['--cluster-enabled', 'yes', '--cluster-config-file',
                     os.path.join(self.dir, 'nodes.conf'), '--cluster-node-timeout', '2000']
        if password:
            argv += ['--requirepass', password]
        argv += list(args)
        self.argv = argv
        self.start()

    def start(self):
        self.proc = spawn(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, proc=self.proc)
        c = self.client()
        end = time.time() + 30
        while time.time() < end:
            try:
                c.ping()
                break
            except redis.exceptions.BusyLoadingError:
                time.sleep(0.05)
        return self

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                # a master whose replica is gone waits shutdown-timeout
                # for it, and longer while a lagging replica reconnects
                self.proc.kill()
                self.proc.wait(10)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def client(self, db=0):
        return redis.Redis(host='127.0.0.1', port=self.port, db=db, password=self.password,
                           decode_responses=False, socket_timeout=60)

    def loaded(self):
        """False when the server refused its dump.rdb (it then exits)."""
        return self.proc.poll() is None

    @property
    def url(self):
        return '127.0.0.1:%d' % self.port


class RedisCluster:
    """A real Redis Cluster on loopback ports: 3 masters, and with
    replicas=1 one replica each (6 servers, the replicas last in nodes),
    ready once every replica is in sync and listed by every node.
    node_timeout (cluster-node-timeout, ms) bounds how long a failover
    takes."""

    def __init__(self, masters=3, replicas=0, node_timeout=2000, version=None):
        args = ['--cluster-node-timeout', str(node_timeout)]
        self.nodes = [RedisServer(cluster=True, args=args, version=version)
                      for _ in range(masters * (1 + replicas))]
        argv = [redis_bin(version, 'redis-cli'), '--cluster', 'create'] + \
               ['127.0.0.1:%d' % n.port for n in self.nodes] + \
               ['--cluster-replicas', str(replicas), '--cluster-yes']
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.time() + 60
        while time.time() < end:
            if all(n.client().execute_command('CLUSTER', 'INFO').decode().find('cluster_state:ok') >= 0
                   for n in self.nodes) and self.in_sync(masters * replicas):
                return
            time.sleep(0.1)
        raise RuntimeError('cluster did not become ok')

    def alive(self):
        return [n for n in self.nodes if n.proc.poll() is None]

    def role(self, n):
        return n.client().execute_command('ROLE')[0].decode()

    def masters(self):
        """The live servers that are masters and serve slots."""
        out = []
        for n in self.alive():
            try:
                if self.role(n) == 'master' and self.slots_of(n):
                    out.append(n)
            except redis.exceptions.ConnectionError:
                pass
        return out

    def slots_of(self, n):
        """The slot ranges n serves, as n itself sees them."""
        return [(r[0], r[1]) for r in n.client().execute_command('CLUSTER', 'SLOTS')
                if r[2][1] == n.port]

    def node_id(self, n):
        return n.client().execute_command('CLUSTER', 'MYID').decode()

    def replica_of(self, m):
        """The live replica of master m."""
        mid = self.node_id(m)
        for n in self.alive():
            if n is m:
                continue
            line = [x for x in n.client().execute_command('CLUSTER', 'NODES').decode().splitlines()
                    if 'myself' in x][0].split()
            if 'slave' in line[2] and line[3] == mid:
                return n
        return None

    def in_sync(self, nreplicas):
        """Every live replica's link is up, and every live node's CLUSTER
        SLOTS lists nreplicas replicas in all."""
        for n in self.alive():
            info = n.client().info('replication')
            if info['role'] == 'slave' and (info.get('master_link_status') != 'up' or
                                           info.get('master_sync_in_progress')):
                return False
            if sum(len(r) - 3 for r in n.client().execute_command('CLUSTER', 'SLOTS')) != nreplicas:
                return False
        return True

    @property
    def url(self):
        return self.nodes[0].url

    def client(self):
        return redis.RedisCluster(host='127.0.0.1', port=self.nodes[0].port,
                                  decode_responses=False)

    def stop(self):
        for n in self.nodes:
            n.stop()


def run(argv, **kw):
    """Run a command, return CompletedProcess with text stdout/stderr."""
    kw.setdefault('stdout', subprocess.PIPE)
    kw.setdefault('stderr', subprocess.PIPE)
    kw.setdefault('timeout', 600)
    return subprocess.run(argv, **kw)


# ---------------------------------------------------------------- keyspaces

def latin1(b):
    return b.decode('latin-1') if isinstance(b, (bytes, bytearray)) else b


def _score(x):
    """A score as the captures write it: Python's float repr, as text."""
    return repr(float(x))


def dump_key(c, key, detail=False):
    """{type, value, pexpiretime} of one key, values as latin-1 text, in the
    shape of the captures' expected.json: sets and hash pairs sorted, zset
    [member, repr(score)] in rank order, streams {"entries", "groups":
    [[name, last_id]]}.  detail=True adds stream PELs and consumers."""
    t = c.type(key).decode()
    pexp = c.execute_command('PEXPIRETIME', key)
    if t == 'string':
        v = latin1(c.get(key))
    elif t == 'list':
        v = [latin1(x) for x in c.lrange(key, 0, -1)]
    elif t == 'set':
        v = sorted(latin1(x) for x in c.smembers(key))
    elif t == 'zset':
        v = [[latin1(m), _score(s)] for m, s in c.zrange(key, 0, -1, withscores=True)]
    elif t == 'hash':
        v = sorted([latin1(f), latin1(x)] for f, x in c.hgetall(key).items())
    elif t == 'stream':
        v = dump_stream(c, key, detail)
    elif t == 'none':
        return None
    else:
        v = None
    return {'type': t, 'value': v, 'pexpiretime': pexp}


def dump_stream(c, key, detail=False):
    entries = [[latin1(i), [latin1(x) for kv in f.items() for x in kv]]
               for i, f in c.xrange(key, '-', '+')]
    groups = []
    for g in c.execute_command('XINFO', 'GROUPS', key):
        g = dict(zip(g[::2], g[1::2]))
        name = g[b'name']
        if not detail:
            groups.append([latin1(name), latin1(g[b'last-delivered-id'])])
            continue
        # redis-py parses XPENDING itself (summary form); take the raw reply
        c.set_response_callback('XPENDING', lambda r, **kw: r)
        pel = c.execute_command('XPENDING', key, name, '-', '+', 1 << 30)
        groups.append({'name': latin1(name), 'last_id': latin1(g[b'last-delivered-id']),
                       'pel': sorted([latin1(p[0]), latin1(p[1]), p[3]] for p in pel),
                       'consumers': sorted(latin1(x[b'name']) for x in
                                           (dict(zip(y[::2], y[1::2])) for y in
                                            c.execute_command('XINFO', 'CONSUMERS', key, name)))})
    if not detail:
        return {'entries': entries, 'groups': sorted(groups)}
    info = c.execute_command('XINFO', 'STREAM', key)
    info = dict(zip(info[::2], info[1::2]))
    return {'entries': entries, 'last_id': latin1(info[b'last-generated-id']),
            'groups': sorted(groups, key=lambda g: g['name'])}


def hash_field_times(c, key):
    """[[field, HPEXPIRETIME]] of a hash on Redis >= 7.4, by field (-1: no
    TTL): what dump_key leaves out."""
    fields = sorted(c.hgetall(key))
    if not fields:
        return []
    t = c.execute_command('HPEXPIRETIME', key, 'FIELDS', len(fields), *fields)
    return [[latin1(f), x] for f, x in zip(fields, t)]


def dump_field_times(c, dbs=16):
    """{db: {hash key: hash_field_times}} of every hash with a field TTL."""
    out = {}
    for db in range(dbs):
        c.execute_command('SELECT', db)
        d = {}
        for k in c.scan_iter(count=1000, _type='hash'):
            t = hash_field_times(c, k)
            if any(x != -1 for _, x in t):
                d[latin1(k)] = t
        if d:
            out[str(db)] = d
    c.execute_command('SELECT', 0)
    return out


def dump_db(c, detail=False):
    out = {}
    for k in c.scan_iter(count=1000):
        d = dump_key(c, k, detail)
        if d is not None:
            out[latin1(k)] = d
    return out


def dump_server(c, dbs=16, detail=False):
    """{db: {key: {type, value, pexpiretime}}} over every non-empty db."""
    out = {}
    for db in range(dbs):
        c.execute_command('SELECT', db)
        d = dump_db(c, detail)
        if d:
            out[str(db)] = d
    c.execute_command('SELECT', 0)
    return out


def load_expected(path):
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def diff_keyspaces(got, want, limit=10):
    """List of human-readable differences (empty when equal)."""
    out = []
    for db in sorted(set(got) | set(want)):
        g, w = got.get(db, {}), want.get(db, {})
        for k in sorted(set(g) | set(w)):
            if g.get(k) != w.get(k):
                out.append('db %s key %r: got %r, want %r' % (db, k, g.get(k), w.get(k)))
                if len(out) >= limit:
                    return out
    return out


def rdb_len(n):
    """An RDB length encoding."""
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | n >> 8, n & 0xff])
    if n < 2 ** 32:
        return b'\x80' + n.to_bytes(4, 'big')
    return b'\x81' + n.to_bytes(8, 'big')


def journal_cmd(args, db=0):
    """A Dragonfly journal record: SELECT db, then COMMAND (txid 7, one
    shard) of args, as journalapply reads them."""
    args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return (b'\x06' + rdb_len(db) + b'\x0a' + rdb_len(7) + rdb_len(1) + rdb_len(len(args)) +
            rdb_len(sum(map(len, args))) + b''.join(rdb_len(len(a)) + a for a in args))


def rdb_module_id(name, encver):
    """A module type id: its 9-character name and encoding version."""
    chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    v = 0
    for ch in name:
        v = v << 6 | chars.index(ch)
    return v << 10 | encver


def wait_for(pred, timeout=5):
    """Poll pred until it holds (True) or timeout seconds pass (False)."""
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False
