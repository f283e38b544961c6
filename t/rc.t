#!/usr/bin/python3
# The init scripts (rc/): shellcheck passes on the FreeBSD rc.d and OpenRC
# scripts, systemd-analyze verify on the unit; installed by make install,
# each script run under stubs of its init system (rc.subr, openrc-run)
# starts the installed binary with the installed configuration and its
# own state directory, and its configuration check runs that binary.
import os
import re
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import HAVE_MASTER, Master, ctl, wait_status, flows_stable  # noqa: E402

RC = os.path.join(ROOT, 'rc')
try:
    VARIANT = open(os.path.join(ROOT, 'obj', '.variant')).read().strip()
except OSError:
    VARIANT = 'rel'


def sh(script, env=None):
    return subprocess.run(['sh', '-c', script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=env, timeout=60)


need_tool('shellcheck', 'shellcheck')
r = subprocess.run(['shellcheck', '-s', 'sh', '-f', 'gcc', os.path.join(RC, 'df2redis.rc'),
                    os.path.join(RC, 'df2redis.openrc')], stdout=subprocess.PIPE, universal_newlines=True)
is_(r.returncode, 0, 'shellcheck: the rc.d and OpenRC scripts') or diag(r.stdout)

d = tmpdir('rc')
prefix = os.path.join(d, 'usr')
etc = os.path.join(d, 'etc')
# bsdrc without DESTDIR puts the binaries and the configuration where
# every script names them; the others go under DESTDIR d
for init in ('systemd', 'openrc', 'bsdrc'):
    r = subprocess.run(['make', '-s', '-C', ROOT, 'V=' + VARIANT, 'install', 'INIT=' + init,
                        'PREFIX=' + prefix, 'SYSCONFDIR=' + etc, 'DESTDIR=' + (d if init != 'bsdrc' else '')],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=300)
    is_(r.returncode, 0, 'make install INIT=%s' % init) or diag(r.stderr)
conf = os.path.join(etc, 'df2redis.conf')
binary = os.path.join(prefix, 'bin', 'df2redis')

# systemd: the unit as installed, its binary at the installed path
unit = os.path.join(d, 'etc', 'systemd', 'system', 'df2redis.service')
text = open(unit).read() if os.path.exists(unit) else ''
if shutil.which('systemd-analyze'):
    r = subprocess.run(['systemd-analyze', 'verify', '--man=no', unit], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    ok(r.returncode == 0 and r.stderr.strip() == '', 'systemd-analyze verify: the unit, no warning') or \
        diag(r.stderr)
else:
    skip('systemd-analyze verify', 'systemd-analyze is not installed (Debian systemd)')
ok(re.search(r'^ExecStart=%s replicate -d -f %s$' % (re.escape(binary), re.escape(conf)), text, re.M) and
   re.search(r'^ExecReload=/bin/kill -HUP \$MAINPID$', text, re.M) and
   re.search(r'^Restart=on-failure$', text, re.M) and re.search(r'^User=df2redis$', text, re.M),
   'the unit: installed binary and configuration, reload by SIGHUP, restart on failure, own user')

# the user: systemd-sysusers with the installed file creates it, its
# home the state directory
sysusers = os.path.join(d, 'usr', 'lib', 'sysusers.d', 'df2redis.conf')
if shutil.which('systemd-sysusers'):
    root = tmpdir('sysroot')
    os.makedirs(os.path.join(root, 'etc'))
    r = subprocess.run(['systemd-sysusers', '--root=' + root, sysusers], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    pw = open(os.path.join(root, 'etc', 'passwd')).read() if r.returncode == 0 else ''
    ok(re.search(r'^df2redis:x:\d+:\d+:[^:]*:/var/lib/df2redis:/usr/sbin/nologin$', pw, re.M),
       'the installed sysusers.d file creates the user df2redis, home /var/lib/df2redis') or \
        diag(r.stdout + pw)
else:
    skip('sysusers.d', 'systemd-sysusers is not installed (Debian systemd)')

# hardening: systemd's own exposure score of the unit
r = subprocess.run(['systemd-analyze', 'security', '--offline=yes', unit], stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT, universal_newlines=True) \
    if shutil.which('systemd-analyze') else None
m_ = re.search(r'Overall exposure level for \S+: ([0-9.]+)', r.stdout) if r else None
if m_:
    ok(float(m_.group(1)) <= 2.0, 'systemd-analyze security: exposure %s (at most 2.0 of 10)' % m_.group(1))
else:
    skip('systemd-analyze security', 'systemd-analyze security --offline is not available')


def syscall_set(spec):
    """The system calls of a SystemCallFilter= entry, groups expanded."""
    out = set()
    for name in spec.split():
        if not name.startswith('@'):
            out.add(name)
            continue
        r = subprocess.run(['systemd-analyze', 'syscall-filter', name], stdout=subprocess.PIPE,
                           universal_newlines=True)
        for line in r.stdout.splitlines()[1:]:
            line = line.strip()
            if line and not line.startswith('#'):
                out |= syscall_set(line) if line.startswith('@') else {line}
    return out


# the unit's system call filter holds every call the daemon makes: run it
# under strace through a full sync, stable sync, a metrics scrape, SIGHUP,
# status, a worker
# restarted by partial sync and a clean stop
def filter_allows():
    allow, deny = set(), set()
    for line in text.splitlines():
        if line.startswith('SystemCallFilter=~'):
            deny |= syscall_set(line.split('~', 1)[1])
        elif line.startswith('SystemCallFilter='):
            allow |= syscall_set(line.split('=', 1)[1])
    return allow - deny


if not shutil.which('strace') or not shutil.which('systemd-analyze'):
    skip('the daemon\'s system calls are in the unit\'s filter', 'strace or systemd-analyze is not installed')
elif not HAVE_MASTER:
    skip('the daemon\'s system calls are in the unit\'s filter', 't/dflymaster/dflymaster not built')
else:
    m = Master(2)
    pl = m.client().pipeline(transaction=False)
    for i in range(2000):
        pl.set('s:%d' % i, i)
        pl.rpush('l:%d' % (i % 50), i)
    pl.execute()
    tgt = RedisServer()
    sd = tmpdir('state')
    sock = os.path.join(sd, 'df2redis.sock')
    trace = os.path.join(sd, 'strace')
    mport = free_port()
    p = spawn(['strace', '-f', '-qq', '-o', trace, binary, 'replicate', '-d', '--source', m.addr,
               '--target', tgt.url, '--state-dir', sd, '--retry-delay-ms', '50',
               '--metrics-listen', '127.0.0.1:%d' % mport],
              stdout=subprocess.DEVNULL, stderr=open(os.path.join(sd, 'log'), 'w'),
              # LeakSanitizer cannot run under ptrace: it would fail the exit
              env=dict(os.environ, ASAN_OPTIONS=os.environ.get('ASAN_OPTIONS', '') + ':detect_leaks=0'))
    st = wait_status(sock, lambda t: flows_stable(t, 2), proc=p)
    import urllib.request
    with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % mport, timeout=10) as resp:
        scraped = resp.read().decode()
    for i in range(200):
        m.client().incr('s:%d' % i)
    os.kill(p.pid, signal.SIGHUP)
    ctl(sock, 'restart-flow 1')
    st2 = wait_status(sock, lambda t: flows_stable(t, 2) and 'resyncs_partial 1' in t, proc=p)
    ctl(sock, 'stop')
    p.wait(120)
    err = open(os.path.join(sd, 'log'), errors='replace').read()
    used = set()
    with open(trace) as f:
        for line in f:
            mm = re.match(r'^\d+\s+([a-z_0-9]+)\(', line)
            if mm:
                used.add(mm.group(1))
    allowed = filter_allows()
    # execve of the traced binary is strace's; the rest is the daemon's
    extra = sorted(used - allowed - {'execve'})
    ok(st is not None and st2 is not None and p.returncode == 0 and len(used) > 30 and
       'df2redis_flow_lsn' in scraped,
       'under strace: stable sync, a metrics scrape, a flow restarted by partial sync, a clean stop '
       '(%d distinct calls)'
       % len(used)) or diag('%s %s exit %s %s' % (st, st2, p.returncode, err[-1500:]))
    is_(extra, [], 'every system call df2redis made is allowed by the unit\'s SystemCallFilter')
    m.stop()
    tgt.stop()

# FreeBSD rc.d: rc.subr stubbed
bsd = os.path.join(prefix, 'etc', 'rc.d', 'df2redis')
stub = os.path.join(d, 'rc.subr')
with open(stub, 'w') as f:
    f.write('''load_rc_config() { :; }
install() { echo "install $*"; }
run_rc_command() {
    case $1 in
    start) $start_precmd; echo "start: $command $command_args pidfile=$pidfile user=$df2redis_user" ;;
    stop) echo "stop: pidfile=$pidfile" ;;
    configtest) $configtest_cmd ;;
    esac
}
''')
script = open(bsd).read().replace('/etc/rc.subr', stub) if os.path.exists(bsd) else ''
sbsd = os.path.join(d, 'bsd.sh')
with open(sbsd, 'w') as f:
    f.write(script)
r = sh('sh %s start' % sbsd, env=dict(os.environ, df2redis_enable='YES'))
sd = '/var/db/df2redis'
ok(r.returncode == 0 and 'install -d -o df2redis -m 0750 %s' % sd in r.stdout and
   'start: %s replicate -f %s --state-dir %s pidfile=%s/df2redis.pid user=df2redis' % (binary, conf, sd, sd)
   in r.stdout, 'rc.d start: makes the state directory, runs the binary with its pid file there') or \
    diag(r.stdout + r.stderr)
r = sh('sh %s stop' % sbsd)
ok('stop: pidfile=%s/df2redis.pid' % sd in r.stdout, 'rc.d stop: the same pid file')
r = sh('sh %s configtest' % sbsd)
ok(r.returncode == 0 and 'configuration OK' in r.stdout, 'rc.d configtest: the installed binary checks '
   'the installed configuration') or diag(r.stdout + r.stderr)

# OpenRC: openrc-run's functions stubbed
orc = os.path.join(d, 'etc', 'init.d', 'df2redis')
ostub = '''RC_SVCNAME=df2redis
checkpath() { echo "checkpath $*"; }
'''
r = sh(ostub + '. %s; start_pre; echo "start: $command $command_args pidfile=$pidfile user=$command_user '
       'background=$command_background"' % orc)
ok(r.returncode == 0 and 'checkpath --directory --owner df2redis --mode 0750 /var/lib/df2redis' in r.stdout and
   'configuration OK' in r.stdout and
   'start: %s replicate -d -f %s --state-dir /var/lib/df2redis pidfile=/run/df2redis.pid user=df2redis '
   'background=yes' % (binary, conf) in r.stdout,
   'OpenRC start: the state directory made, the configuration checked, the binary in the foreground '
   'under its own user') or diag(r.stdout + r.stderr)
done_testing()
