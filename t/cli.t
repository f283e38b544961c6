#!/usr/bin/python3
# The command-line rule of every command and subcommand (version.h):
# -h/--help prints the usage on stdout and exits 0; -V/--version prints
# "df2redis VERSION" on stdout and exits 0; a malformed command line prints
# the usage on stderr, nothing on stdout, and exits 2.  The usage of
# `df2redis` names every command and every option of replicate/migrate.
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401

if not os.access(DF2REDIS, os.X_OK) or not os.access(DF2REDISCTL, os.X_OK):
    skip_all('bin/df2redis or bin/df2redisctl not built')

COMMANDS = [('df2redis', [DF2REDIS])] + \
    [('df2redis ' + c, [DF2REDIS, c]) for c in ('replicate', 'migrate', 'import', 'inspect', 'check')] + \
    [('df2redisctl', [DF2REDISCTL])]


def cli(argv):
    r = run(argv, timeout=30, universal_newlines=True)
    return r.returncode, r.stdout, r.stderr


versions = set()
for name, argv in COMMANDS:
    for opt in ('-h', '--help'):
        rc, out, err = cli(argv + [opt])
        ok(rc == 0 and out.startswith('usage') and err == '',
           '%s %s: usage on stdout, nothing on stderr, exit 0 (exit %d)' % (name, opt, rc)) or diag(err)
    for opt in ('-V', '--version'):
        rc, out, err = cli(argv + [opt])
        ok(rc == 0 and re.fullmatch(r'df2redis \S+\n', out) and err == '',
           '%s %s: "df2redis VERSION" on stdout, exit 0: %r' % (name, opt, out))
        versions.add(out)
    for bad in ('--no-such-option', '-Z'):
        rc, out, err = cli(argv + [bad])
        ok(rc == 2 and out == '' and 'usage' in err,
           '%s %s: usage on stderr, nothing on stdout, exit 2 (exit %d)' % (name, bad, rc)) or diag(out + err)
is_(len(versions), 1, 'every command prints the same version')

# missing arguments are usage errors too
for name, argv in [('df2redis', [DF2REDIS]), ('df2redis replicate', [DF2REDIS, 'replicate']),
                   ('df2redis migrate', [DF2REDIS, 'migrate']), ('df2redis import', [DF2REDIS, 'import']),
                   ('df2redis inspect', [DF2REDIS, 'inspect']), ('df2redis check', [DF2REDIS, 'check']),
                   ('df2redisctl', [DF2REDISCTL])]:
    rc, out, err = cli(argv)
    ok(rc == 2 and out == '' and 'usage' in err,
       '%s with no arguments: usage on stderr, exit 2 (exit %d)' % (name, rc)) or diag(out + err)
rc, out, err = cli([DF2REDIS, 'frobnicate'])
ok(rc == 2 and out == '' and 'unknown command "frobnicate"' in err and 'usage' in err,
   'unknown command: named, usage on stderr, exit 2')
rc, out, err = cli([DF2REDIS, 'inspect', '--journal', '/dev/null'])
ok(rc == 2 and out == '' and 'usage' in err, 'inspect --journal without --flow: usage on stderr, exit 2')
rc, out, err = cli([DF2REDIS, 'replicate', '--source', 'h:1', '--target', 'h:2', '--state-dir', '/tmp', 'extra'])
ok(rc == 2 and 'unexpected argument "extra"' in err and 'usage' in err,
   'replicate with a stray argument: named, usage on stderr, exit 2')
rc, out, err = cli([DF2REDIS, 'replicate', '--batch', '0', '--source', 'h:1', '--target', 'h:2',
                    '--state-dir', '/tmp'])
ok(rc == 2 and out == '' and 'batch' in err, 'a bad setting: named on stderr, exit 2')
rc, out, err = cli([DF2REDIS, 'help'])
ok(rc == 0 and out.startswith('usage'), '`df2redis help` is --help')
rc, out, err = cli([DF2REDIS, 'version'])
ok(rc == 0 and out in versions, '`df2redis version` is --version')

# the top-level usage: every command, every option of replicate and migrate
rc, top, _ = cli([DF2REDIS, '--help'])
for c in ('inspect', 'import', 'replicate', 'migrate', 'check'):
    ok(re.search(r'^  df2redis %s ' % c, top, re.M), 'df2redis --help shows %s' % c)
rc, rep, _ = cli([DF2REDIS, 'replicate', '--help'])
opts = re.findall(r'^  (--\S+)', rep, re.M)
missing = [o for o in opts + ['-n', '-d', '-f', '-v', '--full-sync-only']
           if not re.search(r'(^|[\s\[])%s\b' % re.escape(o), top, re.M)]
ok(len(opts) > 10 and not missing, 'df2redis --help lists every replicate option (%d): missing %r'
   % (len(opts), missing))
rc, imp, _ = cli([DF2REDIS, 'import', '--help'])
iopts = re.findall(r'^  (--[a-z-]+)', imp, re.M)
missing = [o for o in iopts if o not in ('--help', '--version') and o not in top]
ok(len(iopts) > 4 and not missing, 'df2redis --help lists every import option: missing %r' % missing)

done_testing()
