#!/usr/bin/python3
# make install / uninstall (Makefile): binaries, man pages, the sample
# configuration (never over an operator's) and the script of the init
# system asked for, its paths pointed at PREFIX and SYSCONFDIR; the
# installed binary replicates from the test master; uninstall removes
# what install put, the configuration excepted.
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

# the binaries built for this run (make asan builds its own variant)
try:
    VARIANT = open(os.path.join(ROOT, 'obj', '.variant')).read().strip()
except OSError:
    VARIANT = 'rel'


def make(*args):
    return subprocess.run(['make', '-s', '-C', ROOT, 'V=' + VARIANT] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=300)


def files(top):
    out = []
    for d, _, fs in os.walk(top):
        out += [os.path.relpath(os.path.join(d, f), top) for f in fs]
    return sorted(out)


dest = tmpdir('install')
r = make('install', 'DESTDIR=' + dest, 'INIT=systemd', 'PREFIX=/usr/local', 'SYSCONFDIR=/etc')
is_(r.returncode, 0, 'make install: exit 0') or diag(r.stderr)
is_(files(dest), ['etc/df2redis.conf', 'etc/systemd/system/df2redis.service',
                  'usr/lib/sysusers.d/df2redis.conf', 'usr/local/bin/df2redis', 'usr/local/bin/df2redisctl',
                  'usr/local/share/man/man5/df2redis.conf.5', 'usr/local/share/man/man8/df2redis.8',
                  'usr/local/share/man/man8/df2redisctl.8'],
    'binaries, man pages, the configuration, the systemd unit and its sysusers.d user')
ok(os.access(os.path.join(dest, 'usr/local/bin/df2redis'), os.X_OK), 'the binary is executable')
unit = open(os.path.join(dest, 'etc/systemd/system/df2redis.service')).read()
ok('ExecStart=/usr/local/bin/df2redis replicate -d -f /etc/df2redis.conf' in unit,
   'the unit runs the installed binary with the installed configuration')
with open(os.path.join(ROOT, 'etc', 'df2redis.conf')) as f:
    is_(open(os.path.join(dest, 'etc/df2redis.conf')).read(), f.read(), 'the sample configuration')

# an operator's configuration survives a new install
conf = os.path.join(dest, 'etc/df2redis.conf')
with open(conf, 'w') as f:
    f.write('source 10.0.0.1:6379\n')
r = make('install', 'DESTDIR=' + dest, 'INIT=systemd', 'PREFIX=/usr/local', 'SYSCONFDIR=/etc')
ok(r.returncode == 0 and 'kept ' + conf in r.stdout, 'a second install says it kept the configuration')
is_(open(conf).read(), 'source 10.0.0.1:6379\n', 'and kept it')

# other prefixes and init systems
d2 = tmpdir('install')
r = make('install', 'DESTDIR=' + d2, 'INIT=openrc', 'PREFIX=/opt/df', 'SYSCONFDIR=/opt/df/etc')
script = os.path.join(d2, 'etc/init.d/df2redis')
ok(r.returncode == 0 and os.access(script, os.X_OK), 'INIT=openrc: /etc/init.d/df2redis, executable')
text = open(script).read() if os.path.exists(script) else ''
ok('command="/opt/df/bin/df2redis"' in text and '${df2redis_config:=/opt/df/etc/df2redis.conf}' in text,
   'the OpenRC script names PREFIX/bin/df2redis and SYSCONFDIR/df2redis.conf')
d3 = tmpdir('install')
r = make('install', 'DESTDIR=' + d3, 'INIT=bsdrc', 'PREFIX=/usr/local', 'SYSCONFDIR=/usr/local/etc')
script = os.path.join(d3, 'usr/local/etc/rc.d/df2redis')
text = open(script).read() if os.path.exists(script) else ''
ok(r.returncode == 0 and '${df2redis_config:=/usr/local/etc/df2redis.conf}' in text and
   os.path.exists(os.path.join(d3, 'usr/local/etc/df2redis.conf')),
   'INIT=bsdrc: the rc.d script and the configuration under /usr/local/etc')
d4 = tmpdir('install')
r = make('install', 'DESTDIR=' + d4, 'INIT=none')
ok(r.returncode == 0 and 'no init system found' in r.stdout and
   not any('systemd' in f or 'init.d' in f or 'rc.d' in f for f in files(d4)),
   'INIT=none: no script, and the output says how to ask for one')

# the installed binary works
bin_ = os.path.join(dest, 'usr/local/bin/df2redis')
r = run([bin_, '--version'], universal_newlines=True)
ok(r.returncode == 0 and r.stdout.startswith('df2redis '), 'installed df2redis --version: ' + r.stdout.strip())
if HAVE_MASTER:
    m = Master(2)
    pl = m.client().pipeline(transaction=False)
    for i in range(500):
        pl.set('i:%d' % i, i)
    pl.execute()
    tgt = RedisServer()
    sd = tmpdir('state')
    r = run([bin_, 'migrate', '-d', '--source', m.addr, '--target', tgt.url, '--state-dir', sd],
            universal_newlines=True, timeout=120)
    is_(r.returncode, 0, 'the installed binary migrates from the test master') or diag(r.stderr[-1500:])
    compare(dump_server(tgt.client()), dump_server(m.client()), 'the target equals the master')
    m.stop()
    tgt.stop()
else:
    skip('the installed binary migrates', 't/dflymaster/dflymaster not built', 2)

r = make('uninstall', 'DESTDIR=' + dest, 'INIT=systemd', 'PREFIX=/usr/local', 'SYSCONFDIR=/etc')
ok(r.returncode == 0 and 'kept ' + conf in r.stdout, 'make uninstall: exit 0, says the configuration stays')
is_(files(dest), ['etc/df2redis.conf'], 'everything else is gone')
done_testing()
