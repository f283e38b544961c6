#!/usr/bin/python3
# Inputs found by fuzzing (t/fuzz/regress/) and the fuzzers' seed corpora
# (t/fuzz/corpus/) run through the decoders' event printers and through
# df2redis inspect: each must exit 0, or 1 with a message on stderr, never
# crash, hang or draw a sanitizer report; and, as the decoders promise,
# feeding one byte at a time must print exactly what feeding the whole
# input prints.  regress/ files are named rdb-* (RDB decoder, both modes)
# or journal-* (journal decoder).
import glob
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *  # noqa: E402,F401

HERE = os.path.dirname(os.path.abspath(__file__))
RDBEVENTS = os.path.join(TBIN, 'rdbevents')
JOURNALEVENTS = os.path.join(TBIN, 'journalevents')
SAN = ('AddressSanitizer', 'UndefinedBehaviorSanitizer', 'runtime error:', 'LeakSanitizer')


def clean(argv, what):
    try:
        r = run(argv, timeout=60)
    except Exception as e:  # a hang is a failure too
        ok(False, '%s: %s' % (what, e))
        return None
    err = r.stderr.decode('latin-1')
    good = r.returncode in (0, 1) and not any(s in err for s in SAN)
    if r.returncode == 1:
        good = good and err.strip() != ''
    if not ok(good, '%s: exit %d' % (what, r.returncode)):
        diag(err[-2000:])
    return r


def same(argv, what, errors=True):
    """argv fed whole and one byte at a time print the same (stderr too,
    unless it carries timings)."""
    a = clean(argv, what)
    b = clean(argv[:1] + ['--feed', '1'] + argv[1:], what + ' --feed 1')
    if a is None or b is None:
        return
    ea, eb = (a.stderr[-1000:], b.stderr[-1000:]) if errors else (b'', b'')
    is_((b.returncode, b.stdout[-1000:], eb), (a.returncode, a.stdout[-1000:], ea),
        '%s: --feed 1 prints what feeding it whole prints' % what)


def inputs(kind):
    files = sorted(glob.glob(os.path.join(HERE, 'fuzz', 'regress', kind + '-*')))
    files += sorted(glob.glob(os.path.join(HERE, 'fuzz', 'corpus', kind, '*')))
    return files


rdb = inputs('rdb')
jrn = inputs('journal')
if not os.path.exists(RDBEVENTS) or not os.path.exists(JOURNALEVENTS) or not os.path.exists(DF2REDIS):
    skip_all('t/bin/rdbevents, t/bin/journalevents or bin/df2redis not built')

for f in rdb:
    name = os.path.relpath(f, os.path.join(HERE, 'fuzz'))
    same([RDBEVENTS, '--piece', '7', f], 'rdbevents %s' % name)
    same([RDBEVENTS, '--flow', '--piece', '5', '--pieces', f], 'rdbevents --flow %s' % name)
    clean([DF2REDIS, 'inspect', f], 'inspect %s' % name)
    clean([DF2REDIS, 'inspect', '--flow', '--journal', f], 'inspect --flow --journal %s' % name)
for f in jrn:
    name = os.path.relpath(f, os.path.join(HERE, 'fuzz'))
    same([JOURNALEVENTS, f], 'journalevents %s' % name, errors=False)
ok(len(rdb) > 0 and len(jrn) > 0, '%d rdb and %d journal inputs' % (len(rdb), len(jrn)))
done_testing()
