#!/usr/bin/python3
# The keys --unsupported skip left out (skipset.h) on their own, through
# t/bin/skipsettest: add, has, del, clear by db and in all, names with NUL
# bytes, the same name in another db; 100,000 keys (the table grows) all
# found and none of another db; kept in a file, a second process loads
# exactly what the first left (adds, deletes and clears replayed, then the
# file rewritten one record a key); a file cut inside a record loads what
# precedes; an append that fails (RLIMIT_FSIZE) is logged and the file
# removed, the set going on in memory.
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401

TOOL = os.path.join(TBIN, 'skipsettest')
if not os.access(TOOL, os.X_OK):
    skip_all('t/bin/skipsettest not built')
TMP = tmpdir('skipset')
REC = 24


def st(ops, *args):
    r = run([TOOL] + list(args), input='\n'.join(ops) + '\n', universal_newlines=True, timeout=60)
    return r.returncode, r.stdout.splitlines(), r.stderr


rc, out, _ = st(['add 0 a', 'add 0 a', 'has 0 a', 'has 1 a', 'has 0 b', 'add 1 a', 'add 0 x\\x00y',
                 'has 0 x\\x00y', 'has 0 x', 'count', 'del 0 a', 'del 0 a', 'has 0 a', 'has 1 a', 'count'])
is_(out, ['add 0', 'add 0', 'has 1', 'has 0', 'has 0', 'add 0', 'add 0', 'has 1', 'has 0', 'count 3',
          'del 1', 'del 0', 'has 0', 'has 1', 'count 2'],
    'add (twice is once), has, del, per db, a NUL inside a name')
rc, out, _ = st(['add 0 a', 'add 1 b', 'add 1 c', 'add 2 d', 'clear 1', 'count', 'has 1 b', 'has 0 a',
                 'clear -1', 'count', 'has 2 d', 'add 2 d', 'has 2 d'])
is_(out, ['add 0'] * 4 + ['clear', 'count 2', 'has 0', 'has 1', 'clear', 'count 0', 'has 0', 'add 0', 'has 1'],
    'clear one db, then every db; usable after')
rc, out, _ = st(['many 100000 3', 'hasmany 100000 3', 'hasmany 100000 4', 'count'])
is_(out, ['many 100000', 'hasmany 100000', 'hasmany 0', 'count 100000'],
    '100,000 keys: every one found, none in another db')

# ---------------------------------------------------------------- the file
f = os.path.join(TMP, 'skipped-0')
rc, out, _ = st(['add 0 a', 'add 0 b', 'add 1 a', 'add 5 e', 'del 0 b', 'clear 5', 'add 0 c'], '-f', f)
is_(out[0], 'persist 0', 'a missing file is an empty set')
is_(os.path.getsize(f), 7 * REC, 'every change appended, one record each')
rc, out, _ = st(['count', 'has 0 a', 'has 1 a', 'has 0 b', 'has 5 e', 'has 0 c'], '-f', f)
is_(out, ['persist 0', 'count 3', 'has 1', 'has 1', 'has 0', 'has 0', 'has 1'],
    'a second process loads what the first left')
is_(os.path.getsize(f), 3 * REC, 'and rewrites it one record a key')
rc, out, _ = st(['many 1000 0', 'clear -1', 'add 0 z'], '-f', f)
is_(os.path.getsize(f), REC, 'clearing every db empties the file')
rc, out, _ = st(['count', 'has 0 z'], '-f', f)
is_(out, ['persist 0', 'count 1', 'has 1'], 'and what follows is kept')
with open(f, 'ab') as fh:
    fh.write(b'\x01' * 10)
rc, out, _ = st(['count'], '-f', f)
is_(out, ['persist 0', 'count 1'], 'a record cut short ends the file')
os.chmod(f, 0)
if os.geteuid() != 0:
    rc, out, _ = st(['count'], '-f', f)
    ok(out[0].startswith('persist -1 Permission denied'), 'an unreadable file: an error with errno')
else:
    skip('an unreadable file', 'root reads any file')
os.chmod(f, 0o600)
rc, out, _ = st(['count'], '-f', os.path.join(TMP, 'no', 'such', 'dir', 'f'))
ok(out[0].startswith('persist -1 No such file'), 'a file that cannot be made: an error with errno')

# an append that fails: logged, the file removed, the set goes on
os.unlink(f)
rc, out, err = st(['add 0 a', 'add 0 b', 'add 0 c', 'has 0 c', 'count'], '-f', f, '-l', str(2 * REC))
is_(out, ['persist 0', 'add 0', 'add 0', 'add 0', 'has 1', 'count 3'], 'a failed append: the set goes on')
ok(re.search(r'skipped-0: File too large: removed, the skipped keys are kept in memory only', err),
   'logged with the file and the reason') or diag(err)
ok(not os.path.exists(f), 'the file removed: no stale set for the next worker')
done_testing()
