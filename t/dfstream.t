#!/usr/bin/python3
# The decoder against dfgen's independently encoded FLOW streams: every
# construct of snapshot.md, fed whole, one byte at a time and in pieces mode,
# must print exactly the events dfgen modelled; every corrupt stream must
# fail with an error naming the problem.
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *

DFGEN = os.path.join(TBIN, 'dfgen')
RDBEVENTS = os.path.join(TBIN, 'rdbevents')

out = tmpdir('dfstream')
r = run([DFGEN, out], timeout=60)
if not is_(r.returncode, 0, 'dfgen writes its constructs'):
    diag(r.stderr.decode('latin-1'))
    done_testing()
    sys.exit(1)


def slurp(name, mode='rb'):
    with open(os.path.join(out, name), mode) as f:
        return f.read()


names = sorted(n[:-4] for n in os.listdir(out) if n.endswith('.bin'))
good = [n for n in names if os.path.exists(os.path.join(out, n + '.events'))]
bad = [n for n in names if os.path.exists(os.path.join(out, n + '.error'))]
ok(len(good) >= 20 and len(bad) >= 10,
   'dfgen wrote %d constructs and %d corrupt streams' % (len(good), len(bad)))

# The encoder itself: byte-exact examples from snapshot.md and journal.md.
strings = slurp('strings.bin')
ok(strings.startswith(b'REDIS0009\xfa\x09redis-ver\x066.2.11'), 'header and first AUX')
ok(b'\xfa\x0aredis-bits\xc0\x40' in strings, 'AUX redis-bits int-encoded (snapshot.md 2.2)')
ok(b'\x00\xc0\x07\xc0\x07' in strings, 'key "7" = "7" both int-encoded')
ok(b'\x00\xc2\x00\x80\x00\x00\xc2\x00\x80\x00\x00' in strings, '"32768" in INT32 form (smallest that fits)')
ok(b'\x00\xc1\x00\x80\xc1\x00\x80' in strings, '"-32768" in INT16 form')
ok(b'\x00\x03007\x03007' in strings, '"007" stays a plain string')
ok(b'\x00\x0a2147483648\x0a2147483648' in strings, 'beyond int32: plain text')
ok(strings.endswith(b'\xc8' + b'\0' * 8 + b'\xd3\x01' + b'\0' * 7 + b'\xff' + b'\0' * 8),
   'FULLSYNC_END, JOURNAL_OFFSET, EOF trailer')
journal = slurp('journal.bin')
ok(b'\xd2\x01\x13\x06\x00\x0a\x05\x01\x03\x09\x03SET\x03foo\x03baz' in journal,
   'JOURNAL_BLOB of SET foo baz as in snapshot.md 1')
ok(b'\xd2\x01\xc3' in journal, 'a JOURNAL_BLOB with an LZF payload')
ok(b'\xca' in slurp('lz4.bin') and b'\x04\x22\x4d\x18' in slurp('lz4.bin'), 'LZ4 frame blob')
ok(b'\xc9' in slurp('zstd.bin') and b'\x28\xb5\x2f\xfd' in slurp('zstd.bin'), 'zstd frame blob')
tagged = slurp('tagged.bin')
ok(tagged.count(b'\xe0\x01\x00\x00\x00') >= 3 and tagged.count(b'\xe0\xfe\xff\xff\xff') >= 3,
   'tagged chunks: stream ids 1 and 2^32-2, three pieces each')
for v in range(5, 13):
    ok(slurp('version-%d.bin' % v).startswith(b'REDIS%04d' % v), 'header version %d' % v)

if not os.access(RDBEVENTS, os.X_OK):
    ok(False, 'the decoder printer %s exists' % RDBEVENTS)
    done_testing()
    sys.exit(1)


def first_diff(got, want):
    g = got.split(b'\n')
    w = want.split(b'\n')
    for i in range(max(len(g), len(w))):
        gl = g[i] if i < len(g) else b'<missing>'
        wl = w[i] if i < len(w) else b'<missing>'
        if gl != wl:
            return 'line %d:\n     got: %s\nexpected: %s' % (
                i + 1, gl[:300].decode('latin-1'), wl[:300].decode('latin-1'))
    return 'identical'


def check(name, args, want, what):
    r = run([RDBEVENTS, '--flow'] + args + [os.path.join(out, name + '.bin')],
            timeout=120)
    good = r.returncode == 0 and r.stdout == want
    if not ok(good, '%s %s' % (name, what)):
        diag('exit %d, stderr: %s' % (r.returncode, r.stderr.decode('latin-1').strip()))
        diag(first_diff(r.stdout, want))


for name in good:
    events = slurp(name + '.events')
    pevents = slurp(name + '.pevents')
    check(name, [], events, 'decodes to the modelled events')
    check(name, ['--feed', '1'], events, 'one byte per feed')
    check(name, ['--feed', '7'], events, 'seven bytes per feed')
    check(name, ['--pieces', '--piece', '5'], pevents, 'in 5-byte pieces')
    check(name, ['--pieces', '--piece', '5', '--feed', '1'], pevents,
          'in 5-byte pieces, one byte per feed')

for name in bad:
    want = slurp(name + '.error', 'r')
    errs = []
    for feed in ('65536', '1'):
        r = run([RDBEVENTS, '--flow', '--feed', feed, os.path.join(out, name + '.bin')],
                timeout=60)
        err = r.stderr.decode('latin-1').strip()
        errs.append(err)
        if not ok(r.returncode == 1 and want in err,
                  '%s fails with "%s" (feed %s)' % (name, want, feed)):
            diag('exit %d, stderr: %s' % (r.returncode, err))
    is_(errs[1], errs[0], '%s: the same error whatever the feed size' % name)

done_testing()
