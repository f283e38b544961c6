#!/usr/bin/python3
# The init scripts (rc/): shellcheck passes on the FreeBSD rc.d and OpenRC
# scripts, systemd-analyze verify on the unit; installed by make install,
# each script run under stubs of its init system (rc.subr, openrc-run)
# starts the installed binary with the installed configuration and its
# own state directory, and its configuration check runs that binary.
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401

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
