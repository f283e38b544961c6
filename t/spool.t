#!/usr/bin/python3
# The spool (spool.h) on its own, through t/bin/spooltest: bytes come out
# in the order they went in through memory only, the file only and both
# (several seeds, puts of 1 byte to 600 KiB), memory and disk never over
# their caps and the PATH.N files gone once read; SPOOL_FULL at exactly
# the bytes the caps allow, a refused put leaving no trace and the room
# coming back once drained; a damaged record (payload, length, checksum,
# a truncated file) an ERR_DATA error naming the file and the record's
# offset, every time, with no byte skipped; the files a dead worker left
# (PATH.N only) removed on open; a file part that cannot be made an
# ERR_SYS error naming it; 150 MiB through 64 MiB segments, each removed
# once read.
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401

TOOL = os.path.join(TBIN, 'spooltest')
HDR = 12
RECORD = 256 * 1024
MiB = 1 << 20
GiB = 1 << 30


def tool(*args, **kw):
    return run([TOOL] + [str(a) for a in args], universal_newlines=True, timeout=600, **kw)


def spool_files(d, base='s'):
    """The PATH.N files in d."""
    return sorted(f for f in os.listdir(d) if re.match(re.escape(base) + r'\.[0-9]+$', f))


def fields(line):
    """'a 1 b 2' -> {'a': 1, 'b': 2}"""
    w = line.split()
    return {w[i]: int(w[i + 1]) for i in range(0, len(w) - 1, 2)}


if not os.access(TOOL, os.X_OK):
    skip_all('t/bin/spooltest not built')

plan(68)

# ------------------------------------------------------------ fifo

# (what, MEM_MAX, FILE_MAX, seed, ops)
FIFO = [
    ('memory only', MiB, 0, 1, 1500),
    ('memory only', 4 * MiB, 0, 2, 1500),
    ('file only', 1, GiB, 3, 1500),
    ('file only, no memory', 0, GiB, 4, 1500),
    ('mixed, small file', 2000000, 3000000, 5, 2000),
    ('mixed', 256 * 1024, 16 * MiB, 6, 2000),
]
for what, mem, fmax, seed, n in FIFO:
    d = tmpdir('spool')
    path = os.path.join(d, 's')
    r = tool('fifo', path, mem, fmax, seed, n)
    lines = r.stdout.splitlines()
    name = 'fifo %s (mem %d, file %d, seed %d)' % (what, mem, fmax, seed)
    if not ok(r.returncode == 0 and lines[-1:] == ['ok'],
              '%s: every byte out in order, counts and caps kept' % name):
        diag(r.stdout + r.stderr)
        lines = ['puts 0 gets 0 full 0 bytes 0 peak_mem 0 peak_disk 0 file_used 0 segments 0']
    f = fields(lines[0])
    if fmax == 0:
        ok(f['bytes'] > 0 and f['peak_disk'] == 0 and f['file_used'] == 0 and
           f['segments'] == 0 and f['full'] > 0 and 0 < f['peak_mem'] <= mem,
           '%s: all in memory, refused when memory is full' % name) or diag(lines[0])
    elif mem <= 1:
        ok(f['bytes'] > 0 and f['peak_mem'] <= mem and f['file_used'] > 1 and
           f['full'] == 0 and f['segments'] >= f['file_used'] and 0 < f['peak_disk'] <= fmax,
           '%s: through the file, a new PATH.N each time it is used again' % name) or diag(lines[0])
    else:
        ok(f['bytes'] > 0 and 0 < f['peak_mem'] <= mem and f['file_used'] > 1 and
           0 < f['peak_disk'] <= fmax and (f['full'] > 0 or fmax > 10 * MiB),
           '%s: memory, then the file, then memory again' % name) or diag(lines[0])
    is_(spool_files(d), [], '%s: no PATH.N left' % name)

r1 = tool('fifo', os.path.join(tmpdir('spool'), 's'), 100000, 4 * MiB, 42, 800)
r2 = tool('fifo', os.path.join(tmpdir('spool'), 's'), 100000, 4 * MiB, 42, 800)
ok(r1.returncode == 0 and r1.stdout == r2.stdout, 'fifo: the same seed, the same run') or \
    diag(r1.stdout + r2.stdout + r1.stderr)
r3 = tool('fifo', os.path.join(tmpdir('spool'), 's'), 100000, 4 * MiB, 43, 800)
ok(r3.returncode == 0 and r3.stdout != r1.stdout, 'fifo: another seed, another run') or diag(r3.stdout)

# ------------------------------------------------------------ full


def need(size):
    """File bytes of one put: its records and their headers."""
    return size + HDR * ((size + RECORD - 1) // RECORD)


# (MEM_MAX, FILE_MAX, SIZE)
FULL = [
    (100000, 1000000, 3000),
    (MiB, 5 * MiB, 600000),
    (1000, 0, 7),
    (0, 70 * MiB, RECORD),      # two segments
    (4096, 4096, 4097),         # fits in neither: nothing at all
]
for mem, fmax, size in FULL:
    d = tmpdir('spool')
    path = os.path.join(d, 's')
    mem_puts = mem // size
    file_puts = fmax // need(size)
    puts = mem_puts + file_puts
    name = 'full (mem %d, file %d, puts of %d)' % (mem, fmax, size)
    r = tool('full', path, mem, fmax, size)
    is_(r.stdout.splitlines(), [
        'accepted %d puts %d bytes mem %d file %d disk %d' % (
            puts, puts * size, mem_puts * size, file_puts * size, file_puts * need(size)),
        'again %d puts %d bytes' % (puts, puts * size),
        'ok'], '%s: SPOOL_FULL at %d puts, all back in order, the same room again'
        % (name, puts)) or diag(r.stderr)
    is_(spool_files(d), [], '%s: no PATH.N left' % name)

# ------------------------------------------------------------ corrupt

# a record of 1000 * (i + 1) bytes each, to PATH.1
CORRUPT = [
    ('payload', 2, r'record at byte %d: checksum mismatch'),
    ('payload', 0, r'record at byte %d: checksum mismatch'),
    ('payload', 4, r'record at byte %d: checksum mismatch'),
    ('crc', 1, r'record at byte %d: checksum mismatch'),
    ('length', 2, r'record at byte %d: bad length \d+'),
    ('length', 0, r'record at byte %d: bad length \d+'),
    ('truncate', 3, r'read at byte %d: the file ends early'),
]
for what, rec, msg in CORRUPT:
    d = tmpdir('spool')
    path = os.path.join(d, 's')
    off = sum(HDR + 1000 * (j + 1) for j in range(rec))
    before = sum(1000 * (j + 1) for j in range(rec))
    name = 'corrupt %s of record %d (at byte %d)' % (what, rec, off)
    r = tool('corrupt', path, what, rec)
    lines = r.stdout.splitlines()
    is_((r.returncode, lines[:2]), (0, ['corrupted record %d at byte %d' % (rec, off),
                                        'got %d bytes' % before]),
        '%s: the %d bytes before it come out whole' % (name, before)) or diag(r.stdout + r.stderr)
    ok(len(lines) > 2 and re.fullmatch(r'error data: spool %s\.1: ' % re.escape(path) + msg % off,
                                       lines[2]),
       '%s: a data error naming PATH.1 and byte %d' % (name, off)) or diag(r.stdout)
    is_(lines[3:], ['again the same error', 'ok'],
        '%s: the next get fails the same (nothing skipped); clear removes the file' % name)

# ------------------------------------------------------------ leftover

LEFT = [' kept', '. kept', '.1 removed', '.7 removed', '.x kept', '.1x kept', '_1 kept', 'foo.1 kept', 'ok']
d = tmpdir('spool')
r = tool('leftover', os.path.join(d, 's'))
is_(r.stdout.splitlines(), LEFT,
    'leftover: open removes PATH.1 and PATH.7 only; bytes then go through a new PATH.1') or diag(r.stderr)
is_(sorted(os.listdir(d)), ['s', 's.', 's.1x', 's.x', 's_1', 'sfoo.1'], 'leftover: the others are still there')
ok('s.1: left by an earlier worker' in r.stderr and 's.7: left by an earlier worker' in r.stderr,
   'leftover: each removal is logged') or diag(r.stderr)
d = tmpdir('spool')
r = tool('leftover', 'sp', cwd=d)
is_(r.stdout.splitlines(), LEFT,
    'leftover, a PATH without a directory: the same in the working directory') or diag(r.stderr)
is_(sorted(os.listdir(d)), ['sp', 'sp.', 'sp.1x', 'sp.x', 'sp_1', 'spfoo.1'], 'leftover, no directory: the others kept')

# ------------------------------------------------------------ errors

d = tmpdir('spool')
path = os.path.join(d, 's')
r = tool('ioerror', path)
is_(r.stdout.splitlines(), ['error system: spool %s.1: Is a directory' % path, 'bytes 10', 'files .2', 'ok'],
    'a file part that cannot be made: a system error naming PATH.1, nothing appended; '
    'the next put uses PATH.2 and every byte comes back') or diag(r.stderr)
is_(spool_files(d), [], 'ioerror: no PATH.N left')

missing = os.path.join(d, 'nodir')
r = tool('open', os.path.join(missing, 's'))
ok(r.returncode == 1 and re.fullmatch(r'error system: spool %s: .*\n' % re.escape(missing), r.stderr),
   'a missing directory: exit 1, a system error naming it') or diag(r)
r = tool('open', os.path.join(d, 'x' * 4090))
ok(r.returncode == 1 and r.stderr.startswith('error config: spool %s/xxx' % d),
   'a path too long: a config error naming it') or diag(r.stderr[:200])
r = tool('open', os.path.join(d, 's'))
is_((r.returncode, r.stdout), (0, 'ok\n'), 'open and close an unused spool')
is_(os.listdir(d), [], 'an unused spool makes no file')
is_(tool('fifo', path).returncode, 2, 'wrong arguments: exit 2')
is_(tool('corrupt', path, 'nothing', 0).returncode, 2, 'corrupt with an unknown WHAT: exit 2')

# ------------------------------------------------------------ bigfile

d = tmpdir('spool')
path = os.path.join(d, 's')
r = tool('bigfile', path, 150)
lines = r.stdout.splitlines()
is_((r.returncode, lines[-1:]), (0, ['ok']),
    'bigfile: 150 MiB in order through 1 MiB of memory; files consecutive, full ones 64 MiB') or \
    diag(r.stdout + r.stderr)
f = fields(lines[0]) if lines else {}
is_((f.get('bytes'), f.get('segments'), f.get('max_files')), (150 * MiB, 3, 2),
    'bigfile: three segments, never more than two at once (each removed once read)')
if ASAN:
    skip('bigfile: memory stays small', 'resident size is not meaningful under ASan')
else:
    ok(0 < f.get('maxrss_kb', 0) < 64 * 1024, 'bigfile: memory stays small (%s KiB)' % f.get('maxrss_kb'))
is_(spool_files(d), [], 'bigfile: no PATH.N left')

done_testing()
