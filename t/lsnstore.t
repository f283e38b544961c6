#!/usr/bin/python3
# The LSN store (lsnstore.h) on its own, through t/bin/lsnstoretest: records
# written and read back; one handle per process opened after fork,
# with several processes writing at once; the reader slot of a process
# killed inside a read transaction cleared by the next open; and stores
# that cannot be used (garbage in lsn.mdb, a directory that may not be
# entered, a file where the state directory should be, a directory where
# lsn.mdb should be, a missing parent) refused with an error that names
# the path and says its kind, never a crash.
import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401

TOOL = os.path.join(TBIN, 'lsnstoretest')
REPLID = '0123456789abcdef0123456789abcdef01234567'


def tool(*args, **kw):
    return run([TOOL] + [str(a) for a in args], universal_newlines=True, timeout=60, **kw)


def refused(r, path, kind, what):
    """The store was refused cleanly: exit 1, one error line naming path."""
    ok(r.returncode == 1, '%s: exit status 1, not a signal' % what) or diag(r)
    ok(re.match(r'error %s: .*%s' % (kind, re.escape(path)), r.stderr),
       '%s: a %s error naming the path' % (what, kind)) or diag(r.stderr)


if not os.access(TOOL, os.X_OK):
    skip_all('t/bin/lsnstoretest not built')

plan(23)
d = tmpdir('lsn')
state = os.path.join(d, 'state')

# ------------------------------------------------------------ records

r = tool('get', state, 0)
is_((r.returncode, r.stdout), (0, 'none\n'), 'a new store (directory made) has no record')
ok(os.path.isfile(os.path.join(state, 'lsn.mdb')), 'the store is STATE_DIR/lsn.mdb')
r = tool('put', state, 2, 1234, REPLID)
is_((r.returncode, r.stdout), (0, 'ok\n'), 'put a record')
r = tool('get', state, 2)
m = re.match(r'replid (\S+) nflows 4 next_lsn (\d+) state 1 keys (\d+) bytes (\d+) ms (\d+)$',
             r.stdout.strip())
ok(m and m.group(1) == REPLID and m.groups()[1:4] == ('1234', '12340', '123400'),
   'a new process reads the record back whole') or diag(r.stdout + r.stderr)
ok(m and abs(int(m.group(5)) / 1000 - time.time()) < 60, 'stamped with the wall clock')
is_(tool('get', state, 3).stdout, 'none\n', 'a flow never stored has no record')
r = tool('put', state, 1, 5, 'short')
refused(r, os.path.join(state, 'lsn.mdb'), 'data', 'a record with a bad replid')

# ------------------------------------------------------------ processes

# the parent opens the store, then 6 children open their own after fork
# and write at once: their own flow and a flow they all share
r = tool('fork', state, 6, 60)
lines = r.stdout.splitlines()
is_((r.returncode, len(lines)), (0, 7), 'six writers after fork, all exited 0') or diag(r.stderr)
own = [re.match(r'flow %d replid 0{39}%d nflows 4 next_lsn 60 ' % (i, i), lines[i]) if i < len(lines) else None
       for i in range(6)]
ok(all(own), 'each writer\'s last record is there, read by the parent\'s pre-fork handle') or diag(r.stdout)
ok(len(lines) == 7 and re.match(r'flow 999 replid 0{39}[0-5] nflows 4 next_lsn 60 ', lines[6]),
   'the flow they all wrote holds one writer\'s last record, whole') or diag(r.stdout)

# a process killed inside a read transaction leaves its reader slot taken
# while another process keeps the environment open; the next open clears it
keeper = spawn([TOOL, 'keep', state], stdout=subprocess.PIPE, universal_newlines=True)
is_(keeper.stdout.readline(), 'open\n', 'a process keeps the store open')
holder = spawn([TOOL, 'hold', state], stdout=subprocess.PIPE, universal_newlines=True)
is_(holder.stdout.readline(), 'holding\n', 'another holds a read transaction')
holder.send_signal(signal.SIGKILL)
holder.wait(10)
is_(tool('readers', state).stdout, '1\n', 'killed, its reader slot stays taken')
is_(tool('open', state).stdout, 'ok\n', 'a new handle opens')
is_(tool('readers', state).stdout, '0\n', 'and the stale reader slot is cleared')
keeper.kill()
keeper.wait(10)

# ------------------------------------------------------------ unusable stores

bad = os.path.join(d, 'garbage')
os.mkdir(bad)
with open(os.path.join(bad, 'lsn.mdb'), 'wb') as f:
    f.write(os.urandom(65536))
refused(tool('open', bad), os.path.join(bad, 'lsn.mdb'), 'data', 'garbage in lsn.mdb')

notdir = os.path.join(d, 'file')
open(notdir, 'w').close()
refused(tool('open', notdir), notdir, 'config', 'a file where the state directory should be')

isdir = os.path.join(d, 'isdir')
os.makedirs(os.path.join(isdir, 'lsn.mdb'))
r = tool('open', isdir)
ok(r.returncode == 1 and os.path.join(isdir, 'lsn.mdb') in r.stderr,
   'a directory where lsn.mdb should be: refused, the path named') or diag(r.stderr)

missing = os.path.join(d, 'no', 'such', 'dir')
r = tool('open', missing)
ok(r.returncode == 1 and missing in r.stderr and 'error config' in r.stderr,
   'a state directory whose parent is missing: refused, the path named') or diag(r.stderr)

# a directory the process may not enter: as nobody when we are root.  The
# clone may sit below a directory nobody cannot enter, so nobody runs a copy
# of the tool from a directory of its own that everyone may enter.
if os.geteuid() == 0:
    nd = tempfile.mkdtemp(prefix='df2redis-lsnstore-')
    atexit.register(shutil.rmtree, nd, True)
    os.chmod(nd, 0o755)
    runner = shutil.copy(TOOL, os.path.join(nd, 'lsnstoretest'))
    kw = {'user': 'nobody'}
else:
    nd, runner, kw = d, TOOL, {}
closed = os.path.join(nd, 'closed')
os.mkdir(closed)
tool('open', closed)
os.chmod(d, 0o755)
os.chmod(closed, 0o700 if os.geteuid() == 0 else 0)
r = run([runner, 'get', closed, '0'], universal_newlines=True, timeout=60, **kw)
os.chmod(closed, 0o700)
ok(r.returncode == 1 and 'Permission denied' in r.stderr and os.path.join(closed, 'lsn.mdb') in r.stderr,
   'a state directory that may not be entered: "Permission denied" naming the store') or diag(r.stderr)
