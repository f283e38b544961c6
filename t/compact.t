#!/usr/bin/python3
# compact.c, lzf.c and crc64.c through t/bin/compacttest: listpack, ziplist,
# intset and zipmap vectors built here from snapshot.md section 10 (never by
# the code under test), corrupt and truncated buffers, LZF streams built by
# hand from the liblzf format, the CRC-64/Jones check value and the real
# trailers of Redis RDB fixtures.
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *

TOOL = os.path.join(TBIN, 'compacttest')
ASSETS = os.path.join(FIXTURES, 'redis-assets')


def tool(args, data=b''):
    p = subprocess.run([TOOL] + args, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode('latin-1'), p.stderr.decode('latin-1')


def esc(b):
    if isinstance(b, str):
        b = b.encode('latin-1')
    return ''.join(chr(c) if 0x21 <= c <= 0x7e and c != 0x5c else '\\x%02x' % c
                   for c in b)


def walk(kind, data, want, count, name):
    """want: list of ints / bytes; the iterator must return exactly that."""
    rc, out, err = tool([kind], data)
    lines = ['count %d' % count] + \
        [('i:%d' % w) if isinstance(w, int) else 's:' + esc(w) for w in want] + ['end']
    if not is_(rc, 0, name + ': accepted'):
        diag(err)
    is_(out.splitlines(), lines, name + ': elements')


def bad(kind, data, msg, name):
    rc, out, err = tool([kind], data)
    is_(rc, 1, name + ': rejected')
    ok(msg in err, name + ': message names the fault (%r)' % msg) or diag(err)


# ------------------------------------------------------------- listpack
# Element = encoding+data, then backlen: L <= 127 one byte, < 16383 two,
# < 2097151 three, < 268435455 four; leftmost byte = highest 7-bit group,
# every following byte has 0x80 set.
def lp_backlen(l):
    n = 1 if l <= 127 else 2 if l < 16383 else 3 if l < 2097151 else 4 if l < 268435455 else 5
    return bytes(((l >> (7 * (n - 1 - i))) & 127) | (0x80 if i else 0) for i in range(n))


def lp(entries, count=None, backlens=None):
    body = b''
    for i, e in enumerate(entries):
        body += e + (backlens[i] if backlens and backlens[i] is not None else lp_backlen(len(e)))
    if count is None:
        count = len(entries)
    return struct.pack('<IH', 6 + len(body) + 1, count) + body + b'\xff'


def u7(v): return bytes([v])
def s6(s): return bytes([0x80 | len(s)]) + s
def i13(v): u = v & 0x1fff; return bytes([0xc0 | u >> 8, u & 0xff])
def s12(s): return bytes([0xe0 | len(s) >> 8, len(s) & 0xff]) + s
def s32(s): return b'\xf0' + struct.pack('<I', len(s)) + s
def i16(v): return b'\xf1' + struct.pack('<h', v)
def i24(v): return b'\xf2' + struct.pack('<i', v)[:3]
def i32(v): return b'\xf3' + struct.pack('<i', v)
def i64(v): return b'\xf4' + struct.pack('<q', v)


# the helper itself against hand-computed backlens
is_([lp_backlen(5), lp_backlen(127), lp_backlen(128), lp_backlen(200),
     lp_backlen(16382), lp_backlen(16383)],
    [b'\x05', b'\x7f', b'\x01\x80', b'\x01\xc8', b'\x7f\xfe', b'\x00\xff\xff'],
    'backlen encoding as snapshot.md 10.1 describes it')

# ["a", 5] written out byte by byte
walk('lp', bytes.fromhex('0c000000 0200 816102 0501 ff'), [b'a', 5], 2,
     'listpack literal')

walk('lp', lp([u7(0), u7(127), s6(b''), s6(b'x' * 63), i13(4095), i13(-4096),
               i13(-1), s12(b'y' * 64), s12(b'z' * 4095), i16(-32768),
               i16(32767), i24(-8388608), i24(8388607), i32(-2147483648),
               i32(2147483647), i64(-2 ** 63), i64(2 ** 63 - 1),
               s32(b'\x00\xff\\ "'), s32(b'')]),
     [0, 127, b'', b'x' * 63, 4095, -4096, -1, b'y' * 64, b'z' * 4095,
      -32768, 32767, -8388608, 8388607, -2147483648, 2147483647,
      -2 ** 63, 2 ** 63 - 1, b'\x00\xff\\ "', b''], 19,
     'listpack: every encoding at its limits')

# backlen size thresholds: L = 127/128, 16382/16383, 2097150/2097151
big = [s12(b'a' * 125), s12(b'b' * 126), s32(b'c' * 16377), s32(b'd' * 16378),
       s32(b'e' * 2097145), s32(b'f' * 2097146)]
is_([len(e) for e in big], [127, 128, 16382, 16383, 2097150, 2097151], 'threshold elements sized right')
walk('lp', lp(big), [b'a' * 125, b'b' * 126, b'c' * 16377, b'd' * 16378,
                     b'e' * 2097145, b'f' * 2097146], 6, 'listpack: backlen size thresholds')

walk('lp', lp([u7(1), s6(b'two'), i16(300)], count=65535), [1, b'two', 300], 0,
     'listpack: count 65535 means count by walking')
walk('lp', lp([]), [], 0, 'listpack: empty')

good = lp([u7(1), s6(b'ab')])
bad('lp', good[:-1], 'buffer has', 'listpack: truncated (total_bytes disagrees)')
bad('lp', good[:5], 'shorter than header', 'listpack: shorter than a header')
t = bytearray(good); t[-1] = 0; t[0] -= 0
bad('lp', bytes(t), 'not the end marker', 'listpack: no terminator')
bad('lp', lp([u7(1), s6(b'ab')], count=3), 'announces 3 elements, found 2', 'listpack: count too high')
bad('lp', lp([u7(1), s6(b'ab')], count=1), 'more elements than the 1', 'listpack: count too low')
bad('lp', lp([b'\xf5\x00']), 'invalid encoding byte 0xf5 at offset 6', 'listpack: invalid encoding F5')
bad('lp', lp([b'\xfe']), 'invalid encoding byte 0xfe at offset 6', 'listpack: invalid encoding FE')
bad('lp', lp([u7(1), s6(b'ab')], backlens=[None, b'\x04']), 'offset 8: backlen',
    'listpack: backlen not matching the element')
bad('lp', lp([u7(1), s6(b'ab')], backlens=[b'\x00\x81', None]), 'backlen',
    'listpack: backlen in a longer form than the rule')
# a string whose length runs over the terminator
bad('lp', struct.pack('<IH', 10, 1) + b'\x85ab\xff', 'offset 6', 'listpack: string past the end')
bad('lp', struct.pack('<IH', 13, 1) + b'\xf0\xff\xff\xff\xff\x00\xff', 'runs past',
    'listpack: 32-bit length past the end')
bad('lp', struct.pack('<IH', 8, 1) + b'\xf4\xff', 'runs past', 'listpack: int64 header cut')
bad('lp', struct.pack('<IH', 11, 2) + b'\x01\x01\xff\x00\xff', 'end marker at offset 8',
    'listpack: end marker before the end')

# -------------------------------------------------------------- ziplist
# entry = prevlen (1 byte if < 254, else FE + u32 LE), encoding, data.
def zl(entries, count=None, tail=None, prevlens=None):
    body = b''
    prev = 0
    last = 10
    for i, e in enumerate(entries):
        if prevlens and prevlens[i] is not None:
            p = prevlens[i]
        else:
            p = bytes([prev]) if prev < 254 else b'\xfe' + struct.pack('<I', prev)
        last = 10 + len(body)
        body += p + e
        prev = len(p + e)
    if count is None:
        count = len(entries)
    if tail is None:
        tail = last
    return struct.pack('<IIH', 10 + len(body) + 1, tail, count) + body + b'\xff'


def zs6(s): return bytes([len(s)]) + s
def zs14(s): return bytes([0x40 | len(s) >> 8, len(s) & 0xff]) + s
def zs32(s): return b'\x80' + struct.pack('>I', len(s)) + s
def zi16(v): return b'\xc0' + struct.pack('<h', v)
def zi32(v): return b'\xd0' + struct.pack('<i', v)
def zi64(v): return b'\xe0' + struct.pack('<q', v)
def zi24(v): return b'\xf0' + struct.pack('<i', v)[:3]
def zi8(v): return b'\xfe' + struct.pack('<b', v)
def imm(v): return bytes([0xf1 + v])


# ["ab", 7] byte by byte: zlbytes 17, tail 14, 2 entries
walk('zl', bytes.fromhex('11000000 0e000000 0200 00026162 04f8 ff'), [b'ab', 7], 2,
     'ziplist literal')
walk('zl', zl([zs6(b''), zs6(b'q' * 63), zs14(b'r' * 64), zs14(b's' * 300),
               zs32(b'tiny'), zs32(b'u' * 16384), zi16(-32768), zi32(2147483647),
               zi64(-2 ** 63), zi24(-8388608), zi24(8388607), zi8(-128), zi8(127)]
              + [imm(v) for v in range(13)]),
     [b'', b'q' * 63, b'r' * 64, b's' * 300, b'tiny', b'u' * 16384, -32768,
      2147483647, -2 ** 63, -8388608, 8388607, -128, 127] + list(range(13)), 26,
     'ziplist: every encoding, 5-byte prevlens, immediates 0..12')
walk('zl', zl([zs6(b'a'), zs6(b'b')], prevlens=[None, b'\xfe\x03\x00\x00\x00']),
     [b'a', b'b'], 2, 'ziplist: small prevlen in 5-byte form accepted')
walk('zl', zl([imm(1), imm(2)], count=65535), [1, 2], 0, 'ziplist: count 65535 means count by walking')
walk('zl', zl([]), [], 0, 'ziplist: empty')

bad('zl', zl([zs6(b'a'), zs6(b'b')], prevlens=[None, b'\x02']), 'offset 13: prevlen 2, previous entry has 3',
    'ziplist: wrong prevlen')
bad('zl', zl([zs6(b'a'), zs6(b'b')], tail=10), 'tail offset 10, last entry is at 13', 'ziplist: wrong tail')
bad('zl', zl([b'\x81\x00\x00\x00\x01a']), 'invalid encoding byte 0x81 at offset 11', 'ziplist: 10xxxxxx other than 0x80')
bad('zl', zl([b'\xc1\x00\x00']), 'invalid encoding byte 0xc1 at offset 11', 'ziplist: integer encoding C1')
bad('zl', zl([b'\xff']), 'invalid encoding byte 0xff', 'ziplist: FF as an encoding')
bad('zl', zl([zs6(b'a')], count=2), 'announces 2 elements, found 1', 'ziplist: count too high')
bad('zl', struct.pack('<IIH', 16, 10, 1) + b'\x00\x08abc\xff', 'runs past', 'ziplist: string past the end')
bad('zl', struct.pack('<IIH', 14, 10, 1) + b'\x00\xe0\x01\xff', 'runs past', 'ziplist: int64 cut')
bad('zl', struct.pack('<IIH', 13, 10, 1) + b'\xfe\x01\xff', 'runs past', 'ziplist: 5-byte prevlen cut')
bad('zl', zl([zs6(b'a')])[:-2] + b'\xff', 'buffer has', 'ziplist: truncated')
bad('zl', struct.pack('<IIH', 12, 99, 0) + b'\xff\xff', 'tail offset 99', 'ziplist: tail outside')

# --------------------------------------------------------------- intset
def intset(width, vals):
    fmt = {2: '<h', 4: '<i', 8: '<q'}[width]
    return struct.pack('<II', width, len(vals)) + b''.join(struct.pack(fmt, v) for v in vals)


walk('is', intset(2, [-32768, -1, 0, 32767]), [-32768, -1, 0, 32767], 4, 'intset 16-bit')
walk('is', intset(4, [-2 ** 31, 70000]), [-2 ** 31, 70000], 2, 'intset 32-bit')
walk('is', intset(8, [-2 ** 63, 5, 2 ** 63 - 1]), [-2 ** 63, 5, 2 ** 63 - 1], 3, 'intset 64-bit')
walk('is', intset(2, []), [], 0, 'intset empty')
bad('is', struct.pack('<II', 3, 1) + b'\x01\x00\x00', 'invalid encoding 3', 'intset: width 3')
bad('is', intset(4, [1, 2])[:-1], 'do not fill', 'intset: truncated')
bad('is', intset(4, [1, 2]) + b'\x00', 'do not fill', 'intset: trailing byte')
bad('is', intset(2, [5, 5]), 'element 1 (5) at offset 10', 'intset: duplicate')
bad('is', intset(8, [9, 3]), 'not above', 'intset: descending')
bad('is', b'\x02\x00\x00', 'shorter than the header', 'intset: no header')

# --------------------------------------------------------------- zipmap
def zmlen(n): return bytes([n]) if n < 254 else b'\xfe' + struct.pack('<I', n)


def zipmap(pairs, count=None, free=0):
    out = bytes([len(pairs) if count is None else count])
    for k, v in pairs:
        out += zmlen(len(k)) + k + zmlen(len(v)) + bytes([free]) + v + b'\x00' * free
    return out + b'\xff'


walk('zm', zipmap([(b'f1', b'v1'), (b'', b''), (b'k' * 300, b'v' * 254)]),
     [b'f1', b'v1', b'', b'', b'k' * 300, b'v' * 254], 6, 'zipmap with 1- and 5-byte lengths')
walk('zm', zipmap([(b'a', b'1'), (b'b', b'22')], free=3), [b'a', b'1', b'b', b'22'], 4,
     'zipmap: free bytes skipped')
walk('zm', zipmap([(b'a', b'1')], count=254), [b'a', b'1'], 0, 'zipmap: zmlen 254 = unknown')
bad('zm', zipmap([(b'a', b'1')], count=2), 'announces 4 elements, found 2', 'zipmap: count too high')
bad('zm', b'\x01\x01a\xff', 'where a value length belongs', 'zipmap: key without value')
bad('zm', b'\x01\x05ab\xff', 'key at offset 1', 'zipmap: key past the end')
bad('zm', b'\x01\x01a\x01\x09b\xff', 'value at offset 3', 'zipmap: free bytes past the end')
bad('zm', b'\x00\xff\x00\xff', 'end marker at offset 1', 'zipmap: bytes after the end marker')
bad('zm', b'\x00\xff\x00', 'last byte 0x00 is not the end marker', 'zipmap: no end marker')
# a key length that takes the container's last bytes: the end marker is
# part of the length, nothing is left for it (offsets must not wrap)
bad('zm', b'\x01\xfe\x00\x00\x00\xff', 'length at offset 1 runs past the end',
    'zipmap: 5-byte key length ending on the last byte')
bad('zm', b'\x01\x01a\xfe\x00\x00\x00\xff', 'length at offset 3 runs past the end',
    'zipmap: 5-byte value length ending on the last byte')
bad('zm', b'\x01\x01a\x01\x00b\xfe\xff\xff\xff\xff', 'length at offset 6 runs past the end',
    'zipmap: second key length ending on the last byte')
bad('zm', b'\x00', 'shorter than header', 'zipmap: one byte')

# -------------------------------------------- real Redis containers
# Values inside Redis's own encodings.rdb / hash-zipmap.rdb, cut out by
# key name (one-byte RDB string lengths only) - no RDB decoder involved.
def cut(path, key):
    d = open(os.path.join(ASSETS, path), 'rb').read()
    i = d.index(bytes([len(key)]) + key) + 1 + len(key)
    n = d[i]
    assert n < 64
    return d[i + 1:i + 1 + n]


if have_fixtures():
    walk('zl', cut('encodings.rdb', b'list_zipped'),
         [1, 2, 3, b'a', b'b', b'c', 100000, 6000000000], 8, 'Redis ziplist list_zipped')
    walk('zl', cut('encodings.rdb', b'hash_zipped'), [b'a', 1, b'b', 2, b'c', 3], 6,
         'Redis ziplist hash_zipped')
    walk('is', cut('encodings.rdb', b'set_zipped_1'), [1, 2, 3, 4], 4, 'Redis intset set_zipped_1')
    walk('is', cut('encodings.rdb', b'set_zipped_2'), [100000, 200000, 300000, 400000], 4,
         'Redis intset set_zipped_2')
    walk('is', cut('encodings.rdb', b'set_zipped_3'),
         [1000000000, 2000000000, 3000000000, 4000000000, 5000000000, 6000000000], 6,
         'Redis intset set_zipped_3')
    walk('zm', cut('hash-zipmap.rdb', b'hash'), [b'f1', b'v1', b'f2', b'v2'], 4,
         'Redis zipmap in hash-zipmap.rdb')
else:
    skip('containers cut from Redis RDB fixtures', NO_FIXTURES, 12)

# ------------------------------------------------ mutated containers
# random byte flips, cuts and length changes: rejected or walked, never a
# crash (ASan builds abort on any out-of-bounds read)
import random
rnd = random.Random(20240611)
seeds = [('lp', lp([u7(5), s6(b'ab'), i13(-7), s12(b'z' * 70), i16(300), i24(-5), i32(7), i64(9), s32(b'q')])),
         ('zl', zl([zs6(b'a'), zs14(b'b' * 300), zi16(5), zi24(-3), zi8(1), imm(4), zi64(1), zs32(b'c')])),
         ('is', intset(4, [1, 5, 9, 70000])),
         ('zm', zipmap([(b'f1', b'v1'), (b'k' * 300, b'v')], free=2))]
crashes = []
for n in range(240 if not ASAN else 120):
    kind, data = seeds[n % len(seeds)]
    m = bytearray(data)
    for _ in range(rnd.randint(1, 3)):
        m[rnd.randrange(len(m))] = rnd.randrange(256)
    if n % 5 == 0:
        m = m[:rnd.randrange(len(m))]
    rc, out, err = tool([kind], bytes(m))
    if rc not in (0, 1) or (rc == 1 and not err.strip()):
        crashes.append((kind, bytes(m).hex(), rc, err[-200:]))
is_(crashes[:2], [], 'mutated containers: every one walked or rejected with a message')

# ------------------------------------------------------------------ LZF
# control c < 32: c+1 literal bytes; else len = c>>5 (7: + next byte),
# offset = ((c & 0x1f) << 8) + next byte, copy len+2 bytes from out-offset-1.
def lzf_ok(data, outlen, want, name):
    rc, out, err = tool(['lzf', str(outlen)], data)
    is_((rc, out.rstrip('\n')), (0, esc(want)), 'lzf: ' + name) or diag(err)


def lzf_bad(data, outlen, name):
    rc, out, err = tool(['lzf', str(outlen)], data)
    is_((rc, err.strip()), (1, 'lzf: corrupt input'), 'lzf rejects: ' + name)


lzf_ok(b'\x02abc', 3, b'abc', 'one literal run')
lzf_ok(b'\x02abc\x80\x02', 9, b'abcabcabc', 'literal + back-reference')
lzf_ok(b'\x00a\xe0\x01\x00', 11, b'a' * 11, 'overlapping run with a length byte')
lit = bytes(range(256)) + bytes(range(44))
stream = b''.join(bytes([31]) + lit[i:i + 32] for i in range(0, 288, 32)) + bytes([11]) + lit[288:]
# len 10 (c>>5 = 7, +1), distance 300 = 0x12b + 1 -> c = 0xe1, length byte 1, low byte 0x2b
lzf_ok(stream + b'\xe1\x01\x2b', 310, lit + lit[:10], 'distance above 255, literal runs of 32')
lzf_ok(b'\x1f' + b'x' * 32 + b'\xe0\xff\x00', 32 + 264, b'x' * 296, 'longest back-reference (264)')
lzf_ok(b'', 0, b'', 'empty')
lzf_bad(b'\x02abc', 4, 'output shorter than announced')
lzf_bad(b'\x02abc', 2, 'output longer than announced')
lzf_bad(b'\x02abc\x80\x02', 8, 'back-reference overflowing the output')
lzf_bad(b'\x02abc\x20\x03', 6, 'back-reference before the start')
lzf_bad(b'\x20\x00', 3, 'back-reference with empty output')
lzf_bad(b'\x05abc', 6, 'literal run cut')
lzf_bad(b'\x00a\x20', 4, 'back-reference without its offset byte')
lzf_bad(b'\x00a\xe0', 12, 'long back-reference without its length byte')
# Random valid streams built op by op, decoded here byte by byte: every
# distance class (1, 2-7, 8-15, 16+), lengths 3-264, literal runs 1-32,
# and runs ending right at the end of the output (the exact-copy paths).
def lzf_random(rnd, nops):
    src, out = bytearray(), bytearray()
    for i in range(nops):
        if not out or rnd.random() < 0.3:
            lit = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 32)))
            src += bytes([len(lit) - 1]) + lit
            out += lit
            continue
        dist = rnd.choice([1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 300, 8192, rnd.randint(1, 8192)])
        dist = min(dist, len(out))
        n = rnd.choice([3, 4, 8, 9, 15, 16, 17, 33, 264, rnd.randint(3, 264)])
        l = n - 2
        if l < 7:
            src += bytes([l << 5 | (dist - 1) >> 8, (dist - 1) & 0xff])
        else:
            src += bytes([7 << 5 | (dist - 1) >> 8, l - 7, (dist - 1) & 0xff])
        for _ in range(n):
            out.append(out[-dist])
    return bytes(src), bytes(out)


lz_wrong = []
for n in range(40 if not ASAN else 15):
    src, want = lzf_random(rnd, rnd.choice([1, 2, 5, 50, 400]))
    rc, out, err = tool(['lzf', str(len(want))], src)
    if (rc, out.rstrip('\n')) != (0, esc(want)):
        lz_wrong.append((src.hex()[:80], rc, err[-100:]))
    if n % 4 == 0:
        rc, out, err = tool(['lzf', str(len(want) - 1)], src)
        if rc != 1:
            lz_wrong.append(('short output accepted', src.hex()[:80]))
is_(lz_wrong[:2], [], 'lzf: random streams of every distance and length decode exactly')
lz_seed = stream + b'\xe1\x01\x2b'
lz_crash = []
for n in range(100 if not ASAN else 50):
    m = bytearray(lz_seed)
    for _ in range(rnd.randint(1, 3)):
        m[rnd.randrange(len(m))] = rnd.randrange(256)
    rc, out, err = tool(['lzf', str(rnd.choice([310, 300, 320]))], bytes(m))
    if rc not in (0, 1):
        lz_crash.append((bytes(m).hex(), rc, err[-200:]))
is_(lz_crash[:2], [], 'mutated LZF streams: decoded or rejected, never a crash')
# Redis's own LZF output: key "compressible" in encodings.rdb is
# C3 <clen> <ulen> <data>; clen 9, ulen 0x4089 (14-bit) = 137 'a'
if have_fixtures():
    enc = open(os.path.join(ASSETS, 'encodings.rdb'), 'rb').read()
    i = enc.index(b'\x0ccompressible\xc3') + 14
    is_(enc[i:i + 3], b'\x09\x40\x89', 'fixture LZF header where expected')
    lzf_ok(enc[i + 3:i + 12], 137, b'a' * 137, 'Redis-compressed string from encodings.rdb')
else:
    skip('Redis-compressed string from encodings.rdb', NO_FIXTURES, 2)

# ---------------------------------------------------------------- CRC64
is_(tool(['crc64'], b'123456789')[1].strip(), 'e9c6d914c4b8d9ca', 'crc64 check value')
is_(tool(['crc64'], b'')[1].strip(), '0000000000000000', 'crc64 of nothing is 0')
# Redis RDB files >= version 5 end with the CRC of everything before it, LE
TRAILERS = ('hash-ziplist.rdb', 'list-quicklist.rdb', 'zset-ziplist.rdb', 'scriptbackup.rdb')
for f in TRAILERS if have_fixtures() else ():
    d = open(os.path.join(ASSETS, f), 'rb').read()
    is_(tool(['crc64'], d[:-8])[1].strip(), '%016x' % struct.unpack('<Q', d[-8:])[0],
        'crc64 matches the trailer of %s' % f)
if not have_fixtures():
    skip('crc64 against the trailers of Redis RDB fixtures', NO_FIXTURES, len(TRAILERS))
# bit-at-a-time reference (reflected 0x95ac9329ac4bc9b5) over every start
# alignment and tail length, against the table-driven slicing code
def crc_ref(data):
    c = 0
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0x95ac9329ac4bc9b5 if c & 1 else c >> 1
    return c


# any bytes do; a real RDB file when there is one
if have_fixtures():
    d = open(os.path.join(ASSETS, 'encodings.rdb'), 'rb').read()
else:
    d = bytes((i * 40503 >> 5) & 0xff for i in range(3000))
bad_cuts = []
for start in range(9):
    for end in (len(d), len(d) - 1, len(d) - 5, len(d) - 7, start + 1, start + 8, start + 17):
        if tool(['crc64', str(start)], d[:end])[1].strip() != '%016x' % crc_ref(d[start:end]):
            bad_cuts.append((start, end))
is_(bad_cuts, [], 'crc64 equals the bitwise reference at every alignment and tail length')
whole = '%016x' % crc_ref(d)
is_([tool(['crc64', '0', str(c)], d)[1].strip() for c in (1, 3, 8, 13, 100)], [whole] * 5,
    'crc64 chained over pieces equals crc64 of the whole')

# the carry-less multiply path (where the CPU has it) against the tables:
# every length to 1100 bytes (below and above the 128-byte switch, every
# lane and tail remainder), every alignment, several running CRCs
r = tool(['crccmp'])
is_((r[0], r[2]), (0, ''), 'crc64 equals crc64_portable everywhere: ' + r[1].strip())
big = bytes((i * 2654435761 >> 11) & 0xff for i in range(1 << 20))
is_(tool(['crc64', '3', '0'], big)[1].strip(), tool(['crc64', '3', '100000'], big)[1].strip(),
    'crc64 of 1 MiB in one call equals it chained over 100000-byte pieces')
r = tool(['crcbench', '16' if ASAN else '256'])
ok(r[0] == 0 and 'MB/s' in r[1], 'crc64 throughput, both paths agree: ' + r[1].strip())

done_testing()
