#!/usr/bin/python3
# journal.c through t/bin/journalevents: (a) the stable-sync journal of every
# Dragonfly capture, LSN rule included; (b) synthetic streams from the
# encoder below (written from journal.md, independent of the decoder): every
# opcode, every packed-uint form, binary and empty arguments, SELECT, every
# feed size, cut at every byte; (c) corrupt streams, each error naming its
# byte offset; memory stays bounded on a large stream.
import json
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *

TOOL = os.path.join(TBIN, 'journalevents')
tmp = tmpdir('journal')


def events(path, *opts):
    p = subprocess.run([TOOL] + [str(o) for o in opts] + [path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    return p.returncode, p.stdout.decode('latin-1').splitlines(), p.stderr.decode('latin-1')


_n = [0]


def put(data):
    _n[0] += 1
    path = os.path.join(tmp, 's%d.bin' % _n[0])
    with open(path, 'wb') as f:
        f.write(data)
    return path


# ------------------------------------------------------------ encoder
def pu(v, form=None):
    """Packed uint; form 1/2/5/9 forces a width, default the shortest."""
    if form is None:
        form = 1 if v < 64 else 2 if v < 16384 else 5 if v <= 0xffffffff else 9
    if form == 1:
        assert v < 64
        return bytes([v])
    if form == 2:
        assert v < 16384
        return bytes([0x40 | v >> 8, v & 0xff])
    if form == 5:
        return b'\x80' + struct.pack('>I', v)
    return b'\x81' + struct.pack('>Q', v)


def ps(b, form=None):
    return pu(len(b), form) + b


def command(args, txid=0, shard=1, op=10, db=None, forms={}):
    out = b''
    if db is not None:
        out += b'\x06' + pu(db, forms.get('db'))
    f = forms.get
    out += pu(op, f('op')) + pu(txid, f('txid')) + pu(shard, f('shard'))
    out += pu(len(args), f('nargs')) + pu(sum(len(a) for a in args), f('total'))
    return out + b''.join(ps(a, f('arg')) for a in args)


def esc(b):
    if b == b'':
        return '""'
    return ''.join(chr(c) if 0x21 <= c <= 0x7e and c != 0x5c else '\\x%02x' % c for c in b)


def line_cmd(db, txid, shard, args):
    return ' '.join(['cmd', str(db), str(txid), str(shard)] + [esc(a) for a in args])


# ------------------------------------------ (b) synthetic streams
recs = []      # (bytes, expected line)
nrec = [0]


def add(data, line):
    recs.append((data, line))
    if not line.startswith('lsn'):
        nrec[0] += 1


def add_lsn(form=None):
    # consistent stream: the counter starts at V+1 at the first entry
    v = nrec[0] - 1
    add(b'\x0f' + pu(v, form), 'lsn %d' % v)


# journal.md 3.2's worked example, byte for byte
add(bytes.fromhex('0600 0A0501 0309 03534554 03666F6F 03626172'), line_cmd(0, 5, 1, [b'SET', b'foo', b'bar']))
add(command([b'DEL', b'k'], op=9, db=0), line_cmd(0, 0, 1, [b'DEL', b'k']))                 # EXPIRED
add(command([b'SET', b'a', b'1'], txid=77, shard=3, op=11, db=1), line_cmd(1, 77, 3, [b'SET', b'a', b'1']))
add(b'\x0c' + pu(77) + pu(3), 'exec 77')
add(b'\x0d', 'ping')
add_lsn()
# db stays 1 for a record without SELECT
add(command([b'INCR', b'n']), line_cmd(1, 0, 1, [b'INCR', b'n']))
binary = bytes(range(256))
add(command([b'SET', b'\x00\\ "\x7f', binary, b''], txid=2 ** 40, db=65535),
    line_cmd(65535, 2 ** 40, 1, [b'SET', b'\x00\\ "\x7f', binary, b'']))
add(command([b'SET', b'x' * 64, b'y' * 16384, b''], txid=16383, shard=2 ** 32 - 1, db=2),
    line_cmd(2, 16383, 2 ** 32 - 1, [b'SET', b'x' * 64, b'y' * 16384, b'']))
# every field in 2-, 5- and 9-byte form holding small values
for form in (2, 5, 9):
    add(command([b'HSET', b'h', b'f', b'v'], txid=5, db=3,
                forms={'db': form, 'op': form, 'txid': form, 'shard': form,
                       'nargs': form, 'total': form, 'arg': form}),
        line_cmd(3, 5, 1, [b'HSET', b'h', b'f', b'v']))
    add_lsn(form)
    add(pu(13, form), 'ping')
    add(pu(12, form) + pu(6, form) + pu(1, form), 'exec 6')
# SELECT before a PING still moves the db; SELECT SELECT: the last wins
add(b'\x06\x07\x0d', 'ping')
add(command([b'GET', b'g']), line_cmd(7, 0, 1, [b'GET', b'g']))
add(b'\x06\x01' + command([b'X'], db=4), line_cmd(4, 0, 1, [b'X']))
add_lsn(9)

stream = b''.join(r[0] for r in recs)
want = [r[1] for r in recs]
path = put(stream)
for feed in (65536, 1, 2, 3, 7, 64):
    rc, out, err = events(path, '--feed', feed)
    is_((rc, out), (0, want), 'synthetic stream, feed %d' % feed) or diag(err)

# offsets and wire opcodes
offs, o = [], 0
for data, _ in recs:
    offs.append(o)
    o += len(data)
rc, out, err = events(path, '--verbose', '--feed', 5)
is_([l.split(' ', 2)[0] for l in out], [str(x) for x in offs], 'record offsets (a SELECT prefix starts its record)')
is_([int(l.split(' ', 2)[1]) for l in out][:6], [10, 9, 11, 12, 13, 15], 'wire opcodes kept: COMMAND EXPIRED MULTI EXEC PING LSN')

# --from: the same stream after 1000 bytes of junk, offsets counted from the file start
path2 = put(b'\xee' * 1000 + stream)
rc, out, err = events(path2, '--verbose', '--from', 1000)
is_(out, ['%d %s' % (offs[i] + 1000, l.split(' ', 1)[1]) for i, l in
          enumerate(events(path, '--verbose')[1])], '--from: offsets in file numbering')

# a cut at every byte: whole records printed, the rest pending, no error
small = b''.join(r[0] for r in recs[:8])
ends, o = [], 0
for data, _ in recs[:8]:
    o += len(data)
    ends.append(o)
bad_cuts = []
for cut in range(len(small) + 1):
    n = sum(1 for e in ends if e <= cut)
    done_at = ends[n - 1] if n else 0
    exp = want[:n] + (['pending %d' % (cut - done_at)] if cut > done_at else [])
    for feed in (1, 65536):
        rc, out, err = events(put(small[:cut]), '--feed', feed)
        if (rc, out) != (0, exp):
            bad_cuts.append((cut, feed, rc, out[-1:], err))
is_(bad_cuts[:3], [], 'cut at each of %d bytes: complete records + pending, no error' % len(small))

# LSN rule with --start-lsn: records before an LSN entry V must bring the counter to V+1
lsn_stream = command([b'SET', b'a', b'b'], db=0) + b'\x0d' + command([b'DEL', b'a'], db=0) + b'\x0f' + pu(12) + \
    b'\x0d' + b'\x0f' + pu(13)
p = put(lsn_stream)
rc, out, err = events(p, '--start-lsn', 10)
is_(rc, 0, 'LSN rule holds from --start-lsn 10') or diag(err)
rc, out, err = events(p, '--start-lsn', 11)
is_(rc, 1, 'LSN rule broken from --start-lsn 11')
at = len(command([b'SET', b'a', b'b'], db=0)) + 1 + len(command([b'DEL', b'a'], db=0))
ok('byte %d: LSN entry 12' % at in err and 'at 14 (expected 13)' in err,
   'LSN violation names the byte and the values') or diag(err)
rc, out, err = events(put(lsn_stream + b'\x0d\x0d\x0f' + pu(14)))
is_(rc, 1, 'LSN entries inconsistent with each other (no --start-lsn)')
ok('LSN entry 14' in err and 'expected 15' in err and 'at 16' in err, 'message: entry 14, counter 16') or diag(err)

# ------------------------------------------------------- (c) errors
def fails(data, msg, name, *opts):
    for feed in (65536, 1):
        rc, out, err = events(put(data), '--feed', feed, *opts)
        is_(rc, 1, '%s rejected (feed %d)' % (name, feed))
        ok(msg in err, '%s: %r in message' % (name, msg)) or diag(err)


pre = command([b'PING'], db=0)     # 10 bytes of a good record first
P = len(pre)
fails(pre + b'\x07', 'byte %d: unknown journal opcode 0x07' % P, 'opcode 7')
fails(pre + b'\x0e', 'byte %d: unknown journal opcode 0x0e' % P, 'FIN on a replication flow')
fails(pre + b'\x00', 'byte %d: unknown journal opcode 0x00' % P, 'NOOP')
fails(pre + b'\x06\x00\x3f', 'byte %d: unknown journal opcode 0x3f' % (P + 2), 'opcode 63 after SELECT')
fails(pre + b'\x82\x00\x00\x00\x0a', 'byte %d: invalid packed uint prefix 0x82' % P, 'prefix 0x82')
fails(pre + b'\x0a\x00\xbf', 'byte %d: invalid packed uint prefix 0xbf in shard_cnt' % (P + 2), 'prefix 0xbf')
fails(pre + b'\x0a\xc1', 'byte %d: invalid packed uint prefix 0xc1 in txid' % (P + 1), 'prefix 11xxxxxx')
fails(pre + b'\x0f\xc0', 'byte %d: invalid packed uint prefix 0xc0 in LSN' % (P + 1), 'prefix 0xc0 in LSN')
fails(pre + b'\x06' + pu(65536), 'byte %d: SELECT db 65536 above 65535' % (P + 1), 'db above uint16')
fails(pre + b'\x0a\x00' + pu(2 ** 32), 'byte %d: shard_cnt 4294967296' % (P + 2), 'shard_cnt above uint32')
fails(pre + b'\x0a\x00\x01\x00\x00', 'byte %d: command with no arguments' % (P + 3), 'nargs 0')
# total_len 5 for SET(3)+k(1)+vv(2) = 6: the last argument overruns
fails(pre + b'\x0a\x00\x01\x03\x05\x03SET\x01k\x02vv', 'byte %d: argument 2 of 2 bytes overruns total_len 5' % (P + 11),
      'total_len too small')
fails(pre + b'\x0a\x00\x01\x02\x09\x03SET\x01k' + b'\x0d' * 8,
      'byte %d: total_len 9 but the arguments sum to 4 bytes' % (P + 4), 'total_len too large')
rc, out, err = events(put(b'\x0f' + pu(2 ** 64 - 1)))
is_((rc, out), (0, ['lsn %d' % (2 ** 64 - 1)]), 'LSN 2^64-1 in 9-byte form')
big = command([b'SET', b'k', b'v' * 1000], db=0)
fails(pre + big, 'byte %d: record of 1004 bytes, limit 1000' % (P + 2 + 4), 'record above --max-record',
      '--max-record', 1000)
ok(events(put(pre + big), '--max-record', 1004)[0] == 0, 'record exactly at --max-record accepted')
fails(pre + command([b'DEL'] + [b'k'] * 9, db=0), 'byte %d: 10 arguments, limit 9' % (P + 5),
      'arguments above --max-args', '--max-args', 9)
# nothing past the error is reported, and records before it are
rc, out, err = events(put(pre + b'\x07' + pre))
is_(out, ['cmd 0 0 1 PING'], 'records before the error printed, none after')
fails(b'\xee' * 100 + b'\x08', 'byte 100: unknown journal opcode 0x08', 'error offset in file numbering', '--from', 100)

# found by fuzzing: the last argument's length in 9-byte form, total_len
# larger than the arguments - the error must not depend on the feed size
fz = bytes.fromhex('0680000000010a81000000000080000000010a8100000000000000078000000000000000')
fzp = put(fz)
is_([(r[0], r[2].splitlines()[0]) for r in (events(fzp, '--feed', f) for f in (1, 3, 65536))],
    [(1, 'journalevents: byte 18: total_len 10 but the arguments sum to 7 bytes')] * 3,
    'feed-size independent verdict on an inconsistent total_len (fuzz regression)')

# a record with 100k arguments in 2-byte length form, fed one byte at a
# time: the walk resumes instead of starting over (quadratic would time out)
many = command([b'SADD', b's'] + [b'm' * 64] * 100000, db=0)
mp = put(many + b'\x0d')
rc, out, err = events(mp, '--feed', 1, '--quiet')
ok(rc == 0 and '2 records' in err, 'record with 100k arguments fed byte by byte') or diag(err)

# mutated streams: an error or records, never a crash, and the same
# result whatever the feed size
import random
rnd = random.Random(7)
seed_stream = b''.join(r[0] for r in recs[:12])
diffs = []
for n in range(60 if ASAN else 150):
    m = bytearray(seed_stream)
    for _ in range(rnd.randint(1, 4)):
        m[rnd.randrange(len(m))] = rnd.randrange(256)
    mp = put(bytes(m))
    r1 = events(mp, '--feed', 65536)
    r2 = events(mp, '--feed', 1 + n % 5)
    if r1[0] not in (0, 1) or r1[:2] != r2[:2] or (r1[0] == 1 and 'journalevents: byte ' not in r1[2]):
        diffs.append((n, r1[0], r2[0], r1[2][-200:], r2[2][-200:]))
is_(diffs[:2], [], 'mutated streams: same records and same verdict at every feed size, no crash')

# ------------------------------------------------------ (a) captures
def flow_journal(scen, i, flow):
    d = open(os.path.join(CAPTURES, scen, 'flow-%d.bin' % i), 'rb').read()
    tok = flow['reply'][1][1:].encode()
    k = d.index(b'\xff' + b'\x00' * 8 + tok)
    start_lsn = None
    if k >= 9 and d[k - 9] == 0xd3:              # JOURNAL_OFFSET outside a compressed blob
        start_lsn = struct.unpack('<Q', d[k - 8:k])[0]
    return d, k + 9 + 40, start_lsn


def lsn_gaps(lines):
    """Python's own check: records between consecutive LSN entries."""
    bad, prev, n = [], None, 0
    for l in lines:
        if l.startswith('lsn '):
            v = int(l[4:])
            if prev is not None and v - prev != n:
                bad.append((prev, v, n))
            prev, n = v, 0
        elif not l.startswith('pending'):
            n += 1
    return bad


if have_fixtures():
    total_recs = 0
    rates = []
    for scen in sorted(os.listdir(CAPTURES)):
        mpath = os.path.join(CAPTURES, scen, 'manifest.json')
        if not os.path.exists(mpath) or scen == 'partial-lz4':
            continue
        man = json.load(open(mpath))
        for i, flow in enumerate(man['flows']):
            d, start, start_lsn = flow_journal(scen, i, flow)
            f = os.path.join(CAPTURES, scen, 'flow-%d.bin' % i)
            opts = ['--from', start] + (['--start-lsn', start_lsn] if start_lsn is not None else [])
            rc, out, err = events(f, *opts)
            name = '%s flow %d (journal from byte %d%s)' % (scen, i, start,
                                                           ', start LSN %d' % start_lsn if start_lsn is not None else '')
            is_(rc, 0, name + ': decodes, LSN rule holds') or diag(err)
            is_(lsn_gaps(out), [], name + ': records between LSN entries match')
            total_recs += sum(1 for l in out if not l.startswith(('lsn', 'pending')))
            rc1, out1, err1 = events(f, '--feed', 1, *opts)
            is_((rc1, out1), (rc, out), name + ': 1-byte feeding gives the same records')
            # cut in the middle of the journal: a prefix of the records, then pending
            if len(d) - start > 20:
                cut = start + (len(d) - start) * 2 // 3
                rcc, outc, errc = events(put(d[:cut]), *opts)
                okc = rcc == 0 and outc[:-1] == out[:len(outc) - 1] and \
                    (outc[-1] == out[len(outc) - 1] or outc[-1].startswith('pending '))
                ok(okc, name + ': cut at byte %d: records so far, partial one pending' % cut) or diag(errc)
    ok(total_recs > 5000, 'captures: %d journal records decoded' % total_recs)
    # decoding rate on real journal: each journal-lz4 flow decoded 300 times
    for i in range(4):
        man = json.load(open(os.path.join(CAPTURES, 'journal-lz4', 'manifest.json')))
        d, start, start_lsn = flow_journal('journal-lz4', i, man['flows'][i])
        rc, out, err = events(os.path.join(CAPTURES, 'journal-lz4', 'flow-%d.bin' % i), '--from', start,
                              '--quiet', '--repeat', 30 if ASAN else 300)
        is_(rc, 0, 'journal-lz4 flow %d decoded repeatedly' % i)
        diag('journal-lz4 flow %d: %s' % (i, err.strip()))

    pman = json.load(open(os.path.join(CAPTURES, 'partial-lz4', 'manifest.json')))
    for i, lsn in enumerate(pman['lsns']):
        f = os.path.join(CAPTURES, 'partial-lz4', 'flow-%d.bin' % i)
        rc, out, err = events(f, '--start-lsn', lsn)
        is_(rc, 0, 'partial-lz4 flow %d from LSN %d: decodes, LSN rule holds' % (i, lsn)) or diag(err)
        if any(l.startswith('lsn ') for l in out):
            rc, out, err = events(f, '--start-lsn', lsn + 1)
            is_(rc, 1, 'partial-lz4 flow %d from the wrong LSN %d: violation found' % (i, lsn + 1))
else:
    skip('the journals of the Dragonfly captures', NO_FIXTURES)


# ----------------------------------------- throughput, bounded memory
block = b''.join(command([b'SET', b'key:%d' % k, b'v' * (k % 200)], txid=k, db=k % 3) for k in range(10000))
reps = 80 if ASAN else 40
bigpath = os.path.join(tmp, 'big.bin')
with open(bigpath, 'wb') as f:
    for _ in range(reps):
        f.write(block)
# one record with a 24 MiB argument between the small ones
with open(bigpath, 'ab') as f:
    f.write(command([b'SET', b'huge', b'h' * (24 << 20)], db=0) + block)
size = os.path.getsize(bigpath)
del block
for feed in (65536, 1):
    rc, out, err = events(bigpath, '--quiet', '--feed', feed)
    is_(rc, 0, 'large stream (%d MB) decodes, feed %d' % (size >> 20, feed)) or diag(err)
    ok(str(10000 * (reps + 1) + 1) + ' records' in err, 'every record of the large stream counted') or diag(err)
    diag(err.strip())
    rss = int(err.split('peak RSS ')[1].split()[0]) >> 10
    # the buffer holds one record (24 MiB) plus a feed chunk, never the file
    limit = 40 + (60 if ASAN else 0)
    ok(0 < rss < limit, 'memory bounded: peak RSS %d MB (< %d) for a %d MB stream' % (rss, limit, size >> 20))

done_testing()
