#!/usr/bin/python3
# df2redis replicate / migrate: configuration (file, command line, ranges),
# the password rule shared with import (file, URL, environment), a /DB in
# the target URL, handshake errors with a Redis as the source.
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

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
r = df2redis('replicate', ['-n', '-f', bad, '--checkpoint-ms', '0'])
ok(r.returncode == 2 and '--checkpoint-ms: "0" is too small' in r.stderr, 'checkpoint-ms is at least 1 ms')
r = df2redis('replicate', ['-n', '--target', '127.0.0.1:2', '--state-dir', d])
ok(r.returncode == 2 and '--source' in r.stderr, 'missing --source is an error')
r = df2redis('migrate', ['-n', '--source', 'nohostport', '--target', '127.0.0.1:2', '--state-dir', d])
ok(r.returncode == 2 and 'HOST:PORT' in r.stderr, 'bad --source is an error')
r = df2redis('migrate', ['-n', '--source', '127.0.0.1:1', '--target', 'redis://127.0.0.1:2/x',
                         '--state-dir', d])
ok(r.returncode == 2 and '--target' in r.stderr and 'db number' in r.stderr,
   'bad db in the target URL is an error: ' + r.stderr.strip())
base = ['-n', '--source', '127.0.0.1:1', '--target', '127.0.0.1:2', '--state-dir', d]
r = df2redis('migrate', base + ['--batch', '100000'])
ok(r.returncode == 0, '--batch 100000 is accepted')
r = df2redis('migrate', base + ['--batch', '100001'])
ok(r.returncode == 2 and '1-100000' in r.stderr, '--batch 100001 is refused like import does: ' +
   r.stderr.strip())
r = df2redis('migrate', base + ['--batch', '0'])
ok(r.returncode == 2 and 'batch' in r.stderr, '--batch 0 is refused')
pw = os.path.join(d, 'pw')
with open(pw, 'w') as f:
    f.write('')
os.chmod(pw, 0o600)
r = df2redis('migrate', base + ['--source-password-file', pw])
ok(r.returncode == 2 and 'empty password' in r.stderr, 'empty password file is an error')
r = df2redis('migrate', base + ['--target-password-file', os.path.join(d, 'missing')])
ok(r.returncode == 2 and 'missing' in r.stderr, 'missing target password file is an error')

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
with open(pw, 'w') as f:
    f.write('wrong-password\n')
r = df2redis('migrate', ['-d', '--source', src.url, '--target', tgt.url, '--state-dir', sd,
                         '--source-password-file', pw, '--max-retries', '3'],
             env={'DF2REDIS_SOURCE_PASSWORD': 'right-password'}, timeout=30)
ok(r.returncode == 1 and 'WRONGPASS' in r.stderr and 'restarting' not in r.stderr,
   'source: the password file wins over DF2REDIS_SOURCE_PASSWORD')
src.stop()
src = RedisServer()
r = df2redis('migrate', ['-d', '--source', src.url, '--target', tgt.url, '--state-dir', sd])
ok(r.returncode == 1 and 'not a Dragonfly master' in r.stderr, 'a Redis master is refused clearly')
r = df2redis('replicate', ['-d', '--source', '127.0.0.1:%d' % free_port(), '--target', tgt.url,
                           '--state-dir', sd, '--max-retries', '2', '--retry-delay-ms', '20'])
ok(r.returncode == 1 and r.stderr.count('restarting the full sync') == 2 and 'giving up after 2' in r.stderr,
   'unreachable master: bounded retries with backoff')
ok('stable sync' not in r.stderr and '(full sync only)' not in r.stderr,
   'replicate runs on past the full sync: no notice that it stops')
src.stop()
tgt.stop()

# a flag set in the file is turned off on the command line
fso = os.path.join(d, 'fso.conf')
with open(fso, 'w') as f:
    f.write('source 127.0.0.1:1\ntarget 127.0.0.1:2\nstate-dir %s\nfull-sync-only yes\n'
            'max-retries 0\n' % tmpdir('state'))
NOTICE = ' (full sync only), state in '
for extra, want_notice, what in (([], True, 'file alone: full sync only'),
                                 (['--full-sync-only=no'], False, '--full-sync-only=no wins over the file'),
                                 (['--no-full-sync-only'], False, '--no-full-sync-only wins over the file'),
                                 (['--no-full-sync-only', '--full-sync-only'], True,
                                  'the last of them wins')):
    r = df2redis('replicate', ['-d', '-f', fso] + extra, timeout=30)
    ok(r.returncode == 1 and (NOTICE in r.stderr) == want_notice, what)
r = df2redis('replicate', ['-n', '-f', fso, '--flush-on-resync=maybe'])
ok(r.returncode == 2 and 'flush-on-resync: "maybe" is not yes or no' in r.stderr,
   'a flag value other than yes|no is refused: ' + r.stderr.strip())
r = df2redis('replicate', ['-n', '-f', fso, '--no-flush-on-resync=yes'])
ok(r.returncode == 2, '--no-FLAG takes no value')

if not HAVE_MASTER:
    skip('password rule and /DB against the test master', 't/dflymaster/dflymaster not built')
    done_testing()
    sys.exit(0)

# ------------------------------------------------------------ target password: file, URL, environment

m = Master(2, ['--compression', 'none'])
c = m.client()
for i in range(50):
    c.set('k%d' % i, 'v%d' % i)
tgt = RedisServer(password='tgt-secret')
good = os.path.join(d, 'good')
with open(good, 'w') as f:
    f.write('tgt-secret\n')
with open(pw, 'w') as f:
    f.write('wrong-password\n')
os.chmod(good, 0o600)
host = '127.0.0.1:%d' % tgt.port


def attempt(url, extra=(), env=None):
    tgt.client().flushall()
    return migrate(m, url, ['--max-retries', '3'] + list(extra), env=env, timeout=60)


def keys():
    return tgt.client().dbsize()


r = attempt('redis://:wrong-password@%s' % host, ['--target-password-file', good])
ok(r.returncode == 0 and keys() == 50, 'target: the password file wins over the URL')
r = attempt('redis://:tgt-secret@%s' % host, env={'DF2REDIS_TARGET_PASSWORD': 'wrong-password'})
ok(r.returncode == 0 and keys() == 50, 'target: the URL wins over DF2REDIS_TARGET_PASSWORD')
r = attempt(host, env={'DF2REDIS_TARGET_PASSWORD': 'tgt-secret'})
ok(r.returncode == 0 and keys() == 50, 'target: DF2REDIS_TARGET_PASSWORD when there is no other')
r = attempt('redis://:tgt-secret@%s' % host, ['--target-password-file', pw])
ok(r.returncode == 1 and 'authentication failed' in r.stderr and 'restarting' not in r.stderr and
   'giving up: retrying cannot fix this' in r.stderr,
   'target: a wrong password from the file is not retried')
ok('wrong-password' not in r.stderr and 'tgt-secret' not in r.stderr, 'no target password in the log')
tgt.stop()

# ------------------------------------------------------------ a /DB in the target URL

for db in (0, 1, 2):
    cl = m.client(db)
    for i in range(20):
        cl.set('db%d:%d' % (db, i), 'v%d' % i)
tgt = RedisServer()
r = migrate(m, 'redis://127.0.0.1:%d/3' % tgt.port, ['--db-map', '1:5'])
ran_ok(r, '/3 in the URL with --db-map 1:5: exit 0')
want = dump_server(m.client())
got = dump_server(tgt.client())
exp = {'3': dict(want['0']), '5': want['1']}
exp['3'].update(want['2'])
d2 = diff_keyspaces(got, exp)
ok(not d2, 'unmapped dbs 0 and 2 land in db 3, db 1 follows --db-map into db 5')
if d2:
    diag('\n'.join(d2))
tgt.stop()
cl = RedisCluster()
r = migrate(m, 'redis://%s/2' % cl.url, ['--max-retries', '3'])
ok(r.returncode == 1 and 'only db 0' in r.stderr and 'restarting' not in r.stderr,
   'a /DB other than 0 for a cluster target is refused, not retried')
r = migrate(m, cl.url, ['--max-retries', '3', '--db-map', '1:3'])
ok(r.returncode == 1 and '--db-map 1:3: a cluster has only db 0' in r.stderr and
   'restarting' not in r.stderr, '--db-map to a db other than 0 on a cluster is refused, not retried')
r = migrate(m, cl.url)
ran_ok(r, 'dbs 0, 1 and 2 into a cluster: exit 0')
union = {}
for db in ('0', '1', '2'):
    union.update(want[db])
compare(dump_cluster(cl), {'0': union}, 'on a cluster every db goes to db 0, as import does')
cl.stop()
m.stop()

# ------------------------------------------------------------ SIGHUP
# The log level changes at once, in the supervisor and in every worker;
# any other option changed is named as taking a restart, never applied.
m = Master(2)
tgt = RedisServer()
hd = tmpdir('hup')
hconf = os.path.join(hd, 'df2redis.conf')
with open(hconf, 'w') as f:
    f.write('verbose 0\nbatch 512\n')
p = replicate_start(m, tgt.url, ['-f', hconf])
ok(wait_status(p.sock, lambda t: flows_stable(t, 2), timeout=60, proc=p) is not None, 'SIGHUP: stable sync')
before = len(proc_log(p))
with open(hconf, 'w') as f:
    f.write('verbose 2\nbatch 64\n')
p.send_signal(signal.SIGHUP)
ok(wait_for(lambda: 'SIGHUP: log level 2, was 0' in proc_log(p)[before:], 10),
   'SIGHUP: the new log level is logged')
m.client().flushdb()       # each worker logs the FLUSHDB run once, at debug level
ok(wait_for(lambda: len(re.findall(r'flow \d stable: LSN \d+: FLUSHDB run once',
                                   proc_log(p)[before:])) >= 1, 10),
   'SIGHUP: a worker logs at the new level') or diag(proc_log(p)[before:][-1500:])
log = proc_log(p)[before:]
ok('SIGHUP: batch changed: it takes a restart, not applied' in log,
   'SIGHUP: an option that needs a restart is named, not applied')
ok('verbose changed' not in log and 'target changed' not in log, 'SIGHUP: only what changed is named')
with open(hconf, 'w') as f:
    f.write('verbose 2\nbogus 1\n')
before = len(proc_log(p))
p.send_signal(signal.SIGHUP)
ok(wait_for(lambda: re.search(r'SIGHUP: .*unknown option "bogus".*: nothing reloaded',
                              proc_log(p)[before:]), 10), 'SIGHUP: a broken file is reported, nothing reloaded')
ok(p.poll() is None, 'SIGHUP: still running')
is_(replicate_stop(p), 0, 'SIGHUP: SIGTERM after, exit 0')
m.stop()
tgt.stop()

done_testing()
