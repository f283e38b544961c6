#!/usr/bin/python3
# The marks of a full resync (marks.h) on their own, through
# t/bin/markstest: 200,000 keys over 3 flows (some twice, some on two
# flows, an empty name, names with a NUL) sorted in many runs of the
# smallest memory and merged, every (db, name) added found, each once,
# and none of 200,000 never added, nor the same names in another db;
# the same marks.sorted whatever the memory, in order; marks.runs gone;
# only the flows asked for read.  Empty flows, an empty set.  A file cut
# inside a mark an ERR_DATA error naming it and its size, a missing one
# an ERR_SYS error naming it.  marks_pending and marks_remove see the
# marks files and no others.  A write that fails (RLIMIT_FSIZE) kept and
# reported by every marks_flush.  A leftover file replaced.
import errno
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401

TOOL = os.path.join(TBIN, 'markstest')
MARK = 16
MERGE_BUF = 4096        # marks.c: the least marks a run holds
NDBS = 16
NBIN = 100


def tool(*args, **kw):
    return run([TOOL] + [str(a) for a in args], universal_newlines=True, timeout=120, **kw)


def lines(r):
    return r.stdout.splitlines()


def touch(path, data=b''):
    with open(path, 'wb') as f:
        f.write(data)


def size(path):
    return os.path.getsize(path)


def sorted_marks(path):
    """marks.sorted as (hi, lo) pairs, in the file's order."""
    with open(path, 'rb') as f:
        b = f.read()
    return [struct.unpack_from('=QQ', b, i) for i in range(0, len(b) - len(b) % MARK, MARK)]


if not os.access(TOOL, os.X_OK):
    skip_all('t/bin/markstest not built')

NOENT = os.strerror(errno.ENOENT)
EFBIG = os.strerror(errno.EFBIG)

# ------------------------------------------------------------ many keys

N = 200000
NFLOWS = 3
d = tmpdir('marks')
r = tool('fill', d, NFLOWS, N)
out = lines(r)
if not ok(r.returncode == 0 and len(out) == NFLOWS + 1,
          'fill: %d keys over %d flows' % (N, NFLOWS)):
    diag(r.stdout + r.stderr)
    out = ['flow %d count 0' % f for f in range(NFLOWS)] + ['marks 0 distinct 0']
counts = [int(x.split()[3]) for x in out[:NFLOWS]]
total, distinct = int(out[-1].split()[1]), int(out[-1].split()[3])
is_(distinct, N + 1 + NBIN, 'fill: the distinct (db, name) pairs')
ok(total > distinct + N // 10, 'fill: %d marks, %d repeated' % (total, total - distinct))
is_(sum(counts), total, 'marks_count: every add of every flow (%s)' % counts)
is_([size(os.path.join(d, 'marks-%d' % f)) for f in range(NFLOWS)],
    [c * MARK for c in counts], 'marks-F: 16 bytes a mark, all flushed')

runs = sum((c + MERGE_BUF - 1) // MERGE_BUF for c in counts)
ok(runs >= 50, 'the smallest memory sorts %d runs' % runs)

sorted_path = os.path.join(d, 'marks.sorted')
first = None
# memory 0 is the least (4096 marks a run), 100000 bytes runs of 6250
# marks (read back 4096 at a time), 64 MiB one run a flow
for mem in (0, MERGE_BUF * MARK, 100000, 64 << 20):
    r = tool('check', d, NFLOWS, N, mem)
    is_(lines(r), ['count %d' % distinct,
                   'found %d of %d' % (distinct, distinct),
                   'absent_found 0 of %d' % N,
                   'otherdb_found 0 of %d' % (2 * N),
                   'prefix_found 0 of %d' % (2 * NBIN),
                   'runs_left 0',
                   'ok'],
        'memory %d: every pair found, each counted once, no name never added '
        'nor in another db, marks.runs gone' % mem) or diag(r.stderr)
    m = sorted_marks(sorted_path)
    is_(size(sorted_path), distinct * MARK, 'memory %d: marks.sorted holds each mark once' % mem)
    ok(all(m[i] < m[i + 1] for i in range(len(m) - 1)),
       'memory %d: marks.sorted strictly in order' % mem)
    if first is None:
        first = m
    else:
        ok(m == first, 'memory %d: the same marks.sorted as memory 0' % mem)


# flows 0 and 1 only: what fill put there
def on_flows(flows):
    n = 0
    for i in range(N):
        if i % NFLOWS in flows or (i % 10 == 0 and (i + 1) % NFLOWS in flows):
            n += 1
    return n + (1 + NBIN if 0 in flows else 0)


r = tool('build', d, 2, 0)
is_(lines(r), ['count %d' % on_flows({0, 1})], 'two flows of three: only theirs') or diag(r.stderr)
r = tool('build', d, 1, 0)
is_(lines(r), ['count %d' % on_flows({0})], 'one flow of three: only its own') or diag(r.stderr)

is_(sorted(os.listdir(d)), ['marks-0', 'marks-1', 'marks-2', 'marks.sorted'],
    'the builds leave the flows\' files and marks.sorted, nothing else')
r = tool('pending', d)
is_(lines(r), ['pending 1'], 'marks_pending: the marks are there')
r = tool('remove', d)
is_((r.returncode, lines(r)), (0, ['removed']), 'marks_remove') or diag(r.stderr)
is_(sorted(os.listdir(d)), [], 'marks_remove: marks-F and marks.sorted gone')
is_(lines(tool('pending', d)), ['pending 0'], 'marks_pending: none once removed')

# ------------------------------------------------------------ empty flows

d = tmpdir('marks')
outs = [lines(tool('add', d, f, 0, 'key:', 0)) for f in range(3)]
is_(outs, [['count 0']] * 3, 'three empty flows')
is_([size(os.path.join(d, 'marks-%d' % f)) for f in range(3)], [0, 0, 0], 'empty flows: empty files')
r = tool('has', d, 3, 0, 0, 'key:', 1000)
is_((r.returncode, lines(r)), (0, ['count 0 found 0']), 'empty flows: an empty set, nothing found') \
    or diag(r.stderr)
r = tool('has', tmpdir('marks'), 0, 0, 0, 'key:', 10)
is_((r.returncode, lines(r)), (0, ['count 0 found 0']), 'no flow at all: an empty set') \
    or diag(r.stderr)
ok(not os.path.exists(os.path.join(d, 'marks.runs')), 'empty flows: marks.runs gone')

# ------------------------------------------------------------ damaged

for cut in (53, 15, 16 * 5000 + 1):
    d = tmpdir('marks')
    tool('add', d, 0, 0, 'key:', 10)
    touch(os.path.join(d, 'marks-1'), b'\x01' * cut)
    tool('add', d, 2, 0, 'key:', 5000)
    r = tool('build', d, 3, 0)
    is_((r.returncode, r.stdout, r.stderr),
        (1, '', 'error data: %s/marks-1: %d bytes, not whole marks\n' % (d, cut)),
        'marks-1 of %d bytes: ERR_DATA naming the file and its size' % cut)
    ok(not os.path.exists(os.path.join(d, 'marks.runs')), '%d bytes: marks.runs gone' % cut)

d = tmpdir('marks')
tool('add', d, 0, 0, 'key:', 10)
tool('add', d, 1, 0, 'key:', 5000)
r = tool('build', d, 3, 0)
is_((r.returncode, r.stdout, r.stderr),
    (1, '', 'error system: %s/marks-2: %s\n' % (d, NOENT)),
    'no marks-2: ERR_SYS naming it')
ok(not os.path.exists(os.path.join(d, 'marks.runs')), 'no marks-2: marks.runs gone')

r = tool('add', os.path.join(d, 'nowhere'), 0, 0, 'key:', 1)
is_((r.returncode, r.stdout, r.stderr),
    (1, '', 'error system: %s/nowhere/marks-0: %s\n' % (d, NOENT)),
    'marks_create in a missing dir: ERR_SYS naming the file')

# ------------------------------------------------------------ pending, remove

OTHERS = ['marks-x', 'marksfoo', 'marks-', 'marks-1x', 'marks--1', 'marks.sortedx', 'xmarks-1',
          'marks', 'spool-1.1', 'lsn.mdb', 'marks.sorted.tmp']

d = tmpdir('marks')
is_(lines(tool('pending', d)), ['pending 0'], 'marks_pending: an empty dir, none')
gone = os.path.join(d, 'gone')
is_(lines(tool('pending', gone)), ['pending 0'], 'marks_pending: no dir, none')
r = tool('remove', gone)
is_((r.returncode, lines(r)), (0, ['removed']), 'marks_remove: no dir, nothing to do') or diag(r.stderr)
for f in OTHERS:
    touch(os.path.join(d, f), b'x')
is_(lines(tool('pending', d)), ['pending 0'], 'marks_pending: not fooled by %s' % ' '.join(OTHERS))
for name in ('marks-7', 'marks-0', 'marks-12345', 'marks.sorted', 'marks.runs'):
    touch(os.path.join(d, name))
    is_(lines(tool('pending', d)), ['pending 1'], 'marks_pending: %s alone, a sweep owed' % name)
    os.unlink(os.path.join(d, name))
for name in ('marks-0', 'marks-1', 'marks-12', 'marks.sorted', 'marks.runs'):
    touch(os.path.join(d, name), b'0123456789abcdef')
r = tool('remove', d)
is_((r.returncode, lines(r)), (0, ['removed']), 'marks_remove among others') or diag(r.stderr)
is_(sorted(os.listdir(d)), sorted(OTHERS), 'marks_remove: every marks file gone, the others kept')
is_(lines(tool('pending', d)), ['pending 0'], 'marks_pending: none left')

notdir = os.path.join(d, 'lsn.mdb')
r = tool('pending', notdir)
is_((r.returncode, r.stderr), (1, 'error system: %s: %s\n' % (notdir, os.strerror(errno.ENOTDIR))),
    'marks_pending on a file: ERR_SYS naming it')

# ------------------------------------------------------------ a write fails

# (RLIMIT_FSIZE, marks): the error in marks_flush's write, in marks_add's
# (a full buffer, partly written), after a buffer that fitted exactly
for limit, n, fails in ((1000, 100, True), (4096, 10000, True), (65536, 8192, True),
                        (65536, 4096, False), (0, 1, True)):
    d = tmpdir('marks')
    r = tool('fsize', d, limit, n)
    path = os.path.join(d, 'marks-0')
    if fails:
        want = ['flush -1', 'error system: %s: %s' % (path, EFBIG)] * 2 + ['count %d' % n]
        what = 'ERR_SYS naming the file, from both flushes'
    else:
        want = ['flush 0'] * 2 + ['count %d' % n]
        what = 'no error'
    is_((r.returncode, lines(r)), (0, want), 'file size limit %d, %d marks: %s' % (limit, n, what)) \
        or diag(r.stderr)
    if not fails:
        is_(size(path), n * MARK, 'file size limit %d, %d marks: all written' % (limit, n))

# ------------------------------------------------------------ leftovers

d = tmpdir('marks')
touch(os.path.join(d, 'marks-0'), b'\xff' * 1003)
r = tool('add', d, 0, 0, 'new:', 3)
is_(lines(r), ['count 3'], 'marks_create over a leftover of 1003 bytes') or diag(r.stderr)
is_(size(os.path.join(d, 'marks-0')), 3 * MARK, 'the leftover replaced')
r = tool('has', d, 1, 0, 0, 'new:', 3)
is_(lines(r), ['count 3 found 3'], 'only the new marks') or diag(r.stderr)

tool('add', d, 0, 0, 'old:', 5000)
r = tool('has', d, 1, 0, 0, 'old:', 5000)
is_(lines(r), ['count 5000 found 5000'], '5000 marks over it') or diag(r.stderr)
tool('add', d, 0, 0, 'new:', 3)
r = tool('has', d, 1, 0, 0, 'old:', 5000)
is_(lines(r), ['count 3 found 0'], 'a leftover of 5000 marks: none of them found') or diag(r.stderr)
r = tool('has', d, 1, 0, 0, 'new:', 3)
is_(lines(r), ['count 3 found 3'], 'a leftover of 5000 marks: the 3 new found') or diag(r.stderr)
ok(size(os.path.join(d, 'marks.sorted')) == 3 * MARK, 'marks.sorted of 5000 marks rewritten, not left longer')

done_testing()
