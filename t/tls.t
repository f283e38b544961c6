#!/usr/bin/python3
# TLS and ACL users on both sides (tls.c, net.c): certificates made here
# with the openssl command (a CA, a second CA, server, client and expired
# certificates, in a temporary directory); a redis-server with only a
# tls-port; the test master with a TLS listener.  replicate from the TLS
# master into the TLS redis (full sync, stable writes, kill -9 of a worker
# resumes by partial sync over TLS); import into rediss://; client
# certificates required and given; every handshake failure a clear error
# naming the side, host:port and OpenSSL's reason (a wrong CA or name fails
# at once, with no retry); an ACL user on the target limited to the
# commands df2redis(8) lists, and a source user limited to what Dragonfly
# replication needs; a user lacking one command names it.
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

need_tool('openssl', 'openssl')
if not HAVE_MASTER:
    skip_all('t/dflymaster/dflymaster not built')
why = redis_missing()
if why is not None:
    skip_all(why)

D = tmpdir('tls')


def sh(*argv):
    r = run(list(argv))
    if r.returncode != 0:
        raise RuntimeError('%s: %s' % (' '.join(argv), r.stderr.decode(errors='replace')))


def cert(name, cn, san, ca='ca', days='30'):
    """An EC key and a certificate signed by ca (days may be negative)."""
    p = os.path.join(D, name)
    sh('openssl', 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
       '-keyout', p + '.key', '-out', p + '.csr', '-subj', '/CN=' + cn)
    with open(p + '.ext', 'w') as f:
        f.write('subjectAltName=%s\n' % san)
    sh('openssl', 'x509', '-req', '-in', p + '.csr', '-CA', os.path.join(D, ca + '.crt'),
       '-CAkey', os.path.join(D, ca + '.key'), '-CAcreateserial', '-out', p + '.crt',
       '-days', days, '-extfile', p + '.ext')
    return p + '.crt', p + '.key'


def make_ca(name):
    p = os.path.join(D, name)
    sh('openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
       '-nodes', '-keyout', p + '.key', '-out', p + '.crt', '-days', '30',
       '-subj', '/CN=df2redis test ' + name)
    return p + '.crt'


CA = make_ca('ca')
OTHER_CA = make_ca('otherca')
SRV_CRT, SRV_KEY = cert('server', 'localhost', 'DNS:localhost,IP:127.0.0.1')
CLI_CRT, CLI_KEY = cert('client', 'df2redis', 'DNS:df2redis')
EXP_CRT, EXP_KEY = cert('expired', 'localhost', 'DNS:localhost,IP:127.0.0.1', days='-1')


class TLSRedis:
    """A redis-server listening with TLS only (port 0)."""

    def __init__(self, crt=SRV_CRT, key=SRV_KEY, auth_clients='no', args=()):
        self.port = free_port()
        self.dir = tmpdir('redis')
        self.proc = spawn([redis_server_bin(), '--port', '0', '--tls-port', str(self.port),
                           '--bind', '127.0.0.1', '--dir', self.dir, '--save', '',
                           '--appendonly', 'no', '--protected-mode', 'no',
                           '--logfile', os.path.join(self.dir, 'log'),
                           '--tls-cert-file', crt, '--tls-key-file', key,
                           '--tls-ca-cert-file', CA, '--tls-auth-clients', auth_clients]
                          + list(args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, proc=self.proc)

    def client(self, db=0, **kw):
        return redis.Redis(host='127.0.0.1', port=self.port, db=db, ssl=True,
                           ssl_ca_certs=CA, ssl_certfile=CLI_CRT, ssl_keyfile=CLI_KEY,
                           socket_timeout=60, **kw)

    def url(self, user=''):
        return 'rediss://%s127.0.0.1:%d' % (user, self.port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)


class Source:
    """The test master's TLS address, for replicate_start()."""

    def __init__(self, m):
        self.addr = '127.0.0.1:%d' % m.tls_port


def tls_master(shards=4, args=()):
    port = free_port()
    m = Master(shards, ['--tls-port', str(port), '--tls-cert', SRV_CRT, '--tls-key', SRV_KEY,
                        '--lsn-interval-ms', '50'] + list(args))
    m.tls_port = port
    return m


SRC_TLS = ['--source-tls', '--source-tls-ca-file', CA]
TGT_TLS = ['--target-tls-ca-file', CA]


def expect_fail(r, pattern, name, rc=1):
    text = r.stdout + r.stderr
    good = r.returncode == rc and re.search(pattern, text) is not None
    if not ok(good, name):
        diag('exit %s: %s' % (r.returncode, text[-1500:]))


def stable(p, nflows, timeout=30):
    st = wait_status(p.sock, lambda t: flows_stable(t, nflows), timeout=timeout, proc=p)
    if st is None:
        diag(proc_log(p)[-3000:])
    return st


def same(src, dst, name, timeout=20):
    d, _ = wait_equal(lambda: dump_server(dst.client()), dump_server(src.client()), timeout)
    if not ok(not d, name):
        diag('\n'.join(x[:300] for x in d[:10]))


# ---------------------------------------------------------------- replicate

m = tls_master()
c = m.client()
c.execute_command('DEBUG', 'POPULATE', 400, 'pop', 16)
c.hset('h', mapping={'a': '1', 'b': '2'})
c.rpush('l', 'x', 'y', 'z')
tgt = TLSRedis()
t0 = time.time()
p = replicate_start(Source(m), tgt.url(), SRC_TLS + TGT_TLS + ['--checkpoint-ms', '20'])
st = stable(p, 4)
ok(st is not None, 'replicate from a TLS master into a rediss:// target: every flow in stable sync')
diag('full sync over TLS both ways: %.2f s to stable sync' % (time.time() - t0))
same(m, tgt, 'TLS full sync: the target equals the master')
for i in range(200):
    c.set('s:%d' % i, 'v%d' % i)
    c.incr('ctr')
same(m, tgt, 'TLS stable sync: writes on the master arrive, INCR too')
before = {i: pid for i, (_, _, pid) in status_flows(st).items()} if st else {}
s0 = mstats(m)
if before:
    os.kill(before[1], signal.SIGKILL)
st = wait_status(p.sock, lambda t: flows_stable(t, 4) and status_flows(t)[1][2] != before.get(1),
                 timeout=30, proc=p)
s1 = mstats(m)
ok(st is not None and s1['partial_syncs'] == s0['partial_syncs'] + 1 and
   s1['full_syncs'] == s0['full_syncs'],
   'kill -9 of a worker: its flow resumes by partial sync over TLS')
for i in range(100):
    c.incr('ctr')
    c.set('after:%d' % i, i)
same(m, tgt, 'after the resume over TLS: the target equals the master, INCR exactly once')
ok(replicate_stop(p) == 0, 'SIGTERM: exit 0')
r = df2redis('check', ['--source', Source(m).addr, '--target', tgt.url(), '--json'] + SRC_TLS + TGT_TLS)
ok(r.returncode == 0 and '"keys":' in r.stdout,
   'df2redis check over TLS on both sides: equal, exit 0') or diag(r.stdout[-500:] + r.stderr[-800:])
r = df2redis('check', ['--source', Source(m).addr, '--target', tgt.url()] + TGT_TLS)
expect_fail(r, r'source .*TLS', 'df2redis check: plain to the TLS master is an error naming the source', rc=2)

# ---------------------------------------------------------------- import

srv = RedisServer()
sc = srv.client()
pl = sc.pipeline(transaction=False)
for i in range(300):
    pl.set('imp:%d' % i, 'v%d' % i)
pl.execute()
sc.zadd('z', {'a': 1, 'b': 2})
sc.save()
rdb = os.path.join(srv.dir, 'dump.rdb')
tgt2 = TLSRedis()
r = df2redis('import', ['--target', tgt2.url(), '--target-tls-ca-file', CA, rdb])
ok(r.returncode == 0 and dump_server(tgt2.client()) == dump_server(sc),
   'import into rediss://: every key, exit 0')

# ---------------------------------------------------------------- a Redis Cluster over TLS

cl = [TLSRedis(args=['--cluster-enabled', 'yes', '--tls-cluster', 'yes', '--cluster-config-file',
                     'nodes.conf', '--cluster-node-timeout', '2000']) for _ in range(3)]
r = run([redis_bin(None, 'redis-cli'), '--tls', '--cacert', CA, '--cert', CLI_CRT, '--key', CLI_KEY,
         '--cluster', 'create'] + ['127.0.0.1:%d' % n.port for n in cl] + ['--cluster-yes'])
ok(r.returncode == 0 and wait_for(lambda: all(
    b'cluster_state:ok' in n.client().execute_command('CLUSTER', 'INFO') for n in cl), 30),
   'a 3-master Redis Cluster with tls-cluster yes')


def cluster_dump():
    out = {}
    for n in cl:
        out.update(dump_db(n.client()))
    return out


r = migrate(Source(m), cl[0].url(), SRC_TLS + TGT_TLS + ['--max-retries', '0'])
want = dump_db(c)
ok(r.returncode == 0 and cluster_dump() == want and
   all(n.client().dbsize() > 0 for n in cl),
   'migrate over TLS into the TLS cluster: every key on the master that owns its slot')
for n in cl:
    n.stop()

# ---------------------------------------------------------------- client certificates

tgt3 = TLSRedis(auth_clients='yes')
r = df2redis('import', ['--target', tgt3.url(), '--target-tls-ca-file', CA, rdb])
expect_fail(r, r'target 127\.0\.0\.1:%d: .*certificate required' % tgt3.port,
            'tls-auth-clients yes and no client certificate: the error says the server wants one')
r = df2redis('import', ['--target', tgt3.url(), '--target-tls-ca-file', CA,
                        '--target-tls-cert-file', CLI_CRT, '--target-tls-key-file', CLI_KEY, rdb])
ok(r.returncode == 0 and tgt3.client().dbsize() == sc.dbsize(),
   'with --target-tls-cert-file and --target-tls-key-file: imported')
mc = tls_master(2, ['--tls-ca', CA])
r = migrate(Source(mc), 'rediss://127.0.0.1:%d' % tgt3.port,
            SRC_TLS + ['--source-tls-cert-file', CLI_CRT, '--source-tls-key-file', CLI_KEY,
                       '--target-tls-ca-file', CA, '--target-tls-cert-file', CLI_CRT,
                       '--target-tls-key-file', CLI_KEY, '--max-retries', '0'])
ok(r.returncode == 0, 'a master that requires client certificates: migrate with one, exit 0')
mc.stop()

# ---------------------------------------------------------------- handshake errors


def timed(f):
    t = time.time()
    r = f()
    r.secs = time.time() - t
    return r


r = timed(lambda: df2redis('import', ['--target', tgt2.url(), '--target-tls-ca-file', OTHER_CA,
                                      rdb]))
expect_fail(r, r'target 127\.0\.0\.1:%d: TLS handshake: certificate verify failed: '
            r'(self.signed|unable to get local issuer)' % tgt2.port,
            'target, wrong CA: certificate verify failed, naming the target')
sd = tmpdir('state')
r = df2redis('migrate', ['-d', '--source', Source(m).addr, '--source-tls', '--source-tls-ca-file',
                         OTHER_CA, '--target', tgt2.url()] + TGT_TLS + ['--state-dir', sd,
                         '--max-retries', '3', '--retry-delay-ms', '50'])
expect_fail(r, r'source 127\.0\.0\.1:%d: TLS handshake: certificate verify failed' % m.tls_port,
            'source, wrong CA: certificate verify failed, naming the source')
ok(len(re.findall(r'certificate verify failed', r.stderr)) <= 2 and
   'retrying cannot fix this' in r.stderr, 'a wrong CA is not retried')
r = df2redis('import', ['--target', tgt2.url(), '--target-tls-ca-file', CA,
                        '--target-tls-sni', 'other.example', rdb])
expect_fail(r, r'target 127\.0\.0\.1:%d: TLS handshake: certificate verify failed: hostname '
            r'mismatch' % tgt2.port, 'target, the name not in the certificate: hostname mismatch')
r = df2redis('import', ['--target', tgt2.url(), '--target-tls-ca-file', CA,
                        '--target-tls-sni', 'localhost', rdb])
ok(r.returncode == 0, '--target-tls-sni localhost: the name in the certificate passes')
r = df2redis('import', ['--target', tgt2.url(), '--target-tls-ca-file', OTHER_CA,
                        '--no-target-tls-verify', rdb])
ok(r.returncode == 0, '--no-target-tls-verify: any certificate passes')
texp = TLSRedis(EXP_CRT, EXP_KEY)
r = df2redis('import', ['--target', texp.url(), '--target-tls-ca-file', CA, rdb])
expect_fail(r, r'target 127\.0\.0\.1:%d: TLS handshake: certificate verify failed: certificate '
            r'has expired' % texp.port, 'target, an expired certificate: certificate has expired')
texp.stop()
r = df2redis('migrate', ['-d', '--source', m.addr] + SRC_TLS + ['--target', tgt2.url()] + TGT_TLS
             + ['--state-dir', tmpdir('state'), '--max-retries', '0'])
expect_fail(r, r'source 127\.0\.0\.1:%d: TLS handshake: .*not a TLS port' % m.port,
            'source-tls to a plain port: the error says it may not be a TLS port')
r = df2redis('migrate', ['-d', '--source', Source(m).addr, '--target', tgt2.url()] + TGT_TLS
             + ['--state-dir', tmpdir('state'), '--max-retries', '0'])
expect_fail(r, r'127\.0\.0\.1:%d: PING: (read: Connection reset by peer|connection closed by the '
            r'peer) \(a TLS port\?\)' % m.tls_port,
            'a plain connection to the master\'s TLS port: the error says it may be TLS')
r = df2redis('import', ['--target', 'redis://127.0.0.1:%d' % tgt2.port, rdb])
expect_fail(r, r'target 127\.0\.0\.1:%d: INFO: (read: Connection reset by peer|connection closed by '
            r'the peer) \(a TLS port\?\)' % tgt2.port,
            'redis:// to a TLS port: the error names the target and says it may be TLS')
r = df2redis('import', ['--target', tgt2.url(), '--target-tls-ca-file', os.path.join(D, 'nope'),
                        rdb])
expect_fail(r, r'target: tls-ca-file .*nope: No such file', 'a missing CA file: named, exit 2',
            rc=2)
r = df2redis('migrate', ['-n', '--source', m.addr, '--source-tls-ca-file', CA, '--target',
                         tgt2.url(), '--state-dir', tmpdir('state')])
expect_fail(r, r'source-tls-\* options given without source-tls', 'source-tls-ca-file without '
            'source-tls: a usage error', rc=2)
r = df2redis('migrate', ['-n', '--source', m.addr, '--target', 'redis://127.0.0.1:1',
                         '--target-tls-ca-file', CA, '--state-dir', tmpdir('state')])
expect_fail(r, r'target-tls-\* options given for a target that is not rediss://',
            'target-tls-ca-file with a redis:// target: a usage error', rc=2)
r = df2redis('migrate', ['-n', '--source', m.addr, '--source-tls', '--source-tls-cert-file',
                         os.path.join(D, 'nope.crt'), '--target', tgt2.url(), '--state-dir',
                         tmpdir('state')])
expect_fail(r, r'source: tls-cert-file .*nope\.crt: No such file', '-n checks the certificate '
            'files', rc=2)

# ---------------------------------------------------------------- ACL users

# the target's minimal ACL, as df2redis(8) gives it
TARGET_ACL = ['on', '>tgtpw', '~*', '&*', '-@all', '+@write', '+@read', '+eval', '+select',
              '+ping', '+info', '+time', '+wait', '+asking', '+cluster|slots', '+client|id',
              '+client|kill', '+module|list']
tgt4 = TLSRedis()
tgt4.client().execute_command('ACL', 'SETUSER', 'df2redis', *TARGET_ACL)
tgt4.client().execute_command('ACL', 'SETUSER', 'noselect', *(TARGET_ACL + ['-select']))
mu = tls_master(4, ['--requirepass', 'srcpw', '--user', 'repl',
                    '--user-commands', 'ping,replconf,dfly,info'])
muc = redis.Redis(host='127.0.0.1', port=mu.port, password='srcpw', socket_timeout=60)
mu.client = lambda db=0: muc
muc.execute_command('DEBUG', 'POPULATE', 200, 'acl', 8)
pwf = os.path.join(D, 'srcpw')
with open(pwf, 'w') as f:
    f.write('srcpw\n')
os.chmod(pwf, 0o600)
sd = tmpdir('state')
p = replicate_start(Source(mu), tgt4.url('df2redis:tgtpw@'),
                    SRC_TLS + TGT_TLS + ['--source-user', 'repl', '--source-password-file', pwf,
                                         '--checkpoint-ms', '20'], sd)
st = stable(p, 4)
ok(st is not None, 'ACL users on both sides (source user repl, target user df2redis): stable sync')
ok(mstats(mu)['user_auths'] >= 5, 'AUTH repl on the control connection and on each of the 4 flows '
   '(%d)' % mstats(mu)['user_auths'])
for i in range(100):
    muc.set('w:%d' % i, i)
    muc.incr('ctr')
    muc.hset('hh', 'f%d' % (i % 5), i)
same(mu, tgt4, 'with the minimal ACLs: full sync and stable writes arrive')
ok(replicate_stop(p) == 0, 'SIGTERM with ACL users: exit 0')
r = df2redis('migrate', ['-d', '--source', Source(mu).addr] + SRC_TLS +
             ['--source-user', 'repl', '--source-password-file', pwf, '--target',
              tgt4.url('noselect:tgtpw@'), '--state-dir', tmpdir('state'), '--max-retries', '0']
             + TGT_TLS)
expect_fail(r, r"target 127\.0\.0\.1:%d: SELECT: NOPERM .*'select' command" % tgt4.port,
            'a target user without SELECT: the error names the command')
mu.stop()
mn = tls_master(2, ['--requirepass', 'srcpw', '--user', 'repl',
                    '--user-commands', 'ping,replconf,info'])
r = df2redis('migrate', ['-d', '--source', Source(mn).addr] + SRC_TLS +
             ['--source-user', 'repl', '--source-password-file', pwf, '--target', tgt4.url(),
              '--state-dir', tmpdir('state'), '--max-retries', '3', '--retry-delay-ms', '50']
             + TGT_TLS)
expect_fail(r, r"DFLY .*NOPERM .*'dfly' command", 'a source user without DFLY: the error names '
            'the command')
ok('retrying cannot fix this' in r.stderr, 'a refused command of the source is not retried')
mn.stop()

# ---------------------------------------------------------------- takeover

mt = tls_master(2)
mtc = mt.client()
for i in range(100):
    mtc.set('t:%d' % i, i)
tgt.client().flushall()
p = replicate_start(Source(mt), tgt.url(), SRC_TLS + TGT_TLS)
st = stable(p, 2)
for i in range(50):
    mtc.incr('tctr')
want = dump_db(mtc)
r = run([DF2REDISCTL, '-s', p.sock, 'takeover', '5'], timeout=60)
try:
    rc = p.wait(30)
except subprocess.TimeoutExpired:
    rc = None
ok(st is not None and r.returncode == 0 and r.stdout.startswith(b'takeover complete') and rc == 0
   and dump_db(tgt.client()) == want,
   'df2redisctl takeover over TLS: complete, the daemon exits 0, the target holds every write')
mt.stop()
m.stop()
done_testing()
