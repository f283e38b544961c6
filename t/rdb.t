#!/usr/bin/python3
# The streaming RDB / FLOW decoder (src/rdb.c) through t/bin/rdbevents:
# every fixture decodes, decoded captures match the master's keyspace,
# any input split gives identical events, truncated and corrupt input
# fails cleanly, and each error class names its byte offset.
import glob
import json
import os
import re
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *

RE = os.path.join(TBIN, 'rdbevents')
TMP = tmpdir('rdb')


def rdbevents(args, path):
    p = run([RE] + args + [path], timeout=120)
    return p.returncode, p.stdout.decode('latin-1'), p.stderr.decode('latin-1')


def unesc(s):
    if s == '""':
        return b''
    return re.sub(rb'\\x([0-9a-f]{2})', lambda m: bytes([int(m.group(1), 16)]),
                  s.encode('latin-1'))


# ---------------------------------------------------------------- builders

def crc64(data):
    table = crc64.table
    crc = 0
    for b in data:
        crc = table[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc


def _crctable():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x95AC9329AC4BC9B5 if c & 1 else c >> 1
        t.append(c)
    return t


crc64.table = _crctable()


L = rdb_len


def S(b):
    if isinstance(b, str):
        b = b.encode()
    return L(len(b)) + b


def rdbfile(body, ver=9, crc=True):
    data = b'REDIS%04d' % ver + body + b'\xff'
    if ver >= 5:
        data += struct.pack('<Q', crc64(data) if crc else 0)
    return data


def flow(body):
    return b'REDIS0009' + body + b'\xff' + b'\0' * 8 + b'T' * 40


module_id = rdb_module_id


def listpack(elems):
    body = b''
    for e in elems:
        if isinstance(e, int) and 0 <= e < 128:
            enc = bytes([e])
        else:
            e = str(e).encode() if isinstance(e, int) else e
            e = e.encode() if isinstance(e, str) else e
            assert len(e) < 64
            enc = bytes([0x80 | len(e)]) + e
        body += enc + bytes([len(enc)])
    total = 6 + len(body) + 1
    return struct.pack('<IH', total, len(elems)) + body + b'\xff'


def put(name, data):
    path = os.path.join(TMP, name)
    with open(path, 'wb') as f:
        f.write(data)
    return path


def compress(tool, data):
    src = put('blob.raw', data)
    args = {'zstd': ['zstd', '-q', '-f', '-c', src],
            'lz4': ['lz4', '-q', '-f', '-c', '--content-size', src]}[tool]
    return run(args).stdout


# ---------------------------------------------------------------- inputs

ASSETS = sorted(glob.glob(os.path.join(FIXTURES, 'redis-assets', '*.rdb')) +
                glob.glob(os.path.join(FIXTURES, 'redis-assets', '*.aof')) +
                glob.glob(os.path.join(FIXTURES, 'dragonfly-testdata', '*.rdb')))
GOOD = [f for f in ASSETS if not os.path.basename(f).startswith('corrupt_')]
CORRUPT = [f for f in ASSETS if os.path.basename(f).startswith('corrupt_')]
FLOWS = []
for d in sorted(glob.glob(os.path.join(CAPTURES, '*'))) + \
        sorted(glob.glob(os.path.join(CAPTURES, '*', 'first'))):
    if not os.path.isdir(d) or os.path.basename(d) == 'partial-lz4':
        continue
    m = json.load(open(os.path.join(d, 'manifest.json')))
    for i, fl in enumerate(m['flows']):
        f = os.path.join(d, 'flow-%d.bin' % i)
        if os.path.getsize(f) > 0:
            FLOWS.append((f, fl['reply'][1][1:].encode()))

# ---------------------------------------------------------------- fixtures

if have_fixtures():
    for f in GOOD:
        rc, out, err = rdbevents(['--leftover'], f)
        lines = out.splitlines()
        ok(rc == 0 and 'eof' in lines, 'decodes %s' % os.path.basename(f)) or diag(err)
        if f.endswith('.aof'):
            m = re.search(r'^leftover (\d+) (\d+) (\S+)$', out, re.M)
            data = open(f, 'rb').read()
            at, n = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
            ok(m and n > 0 and at + n == len(data) and data[at:].startswith(b'*') and
               unesc(m.group(3)) == data[at:at + 48], 'preamble: leftover is the AOF text')

    for f in CORRUPT:
        rc, out, err = rdbevents([], f)
        ok(rc == 1 and re.match(r'^error: byte \d+: \S', err),
           '%s fails: %s' % (os.path.basename(f), err.strip()))

    # ---------------------------------------------------------------- captures

    for f, token in FLOWS:
        rc, out, err = rdbevents(['--flow', '--leftover'], f)
        m = re.search(r'^leftover (\d+) (\d+) (\S+)$', out, re.M)
        data = open(f, 'rb').read()
        good = rc == 0 and m is not None
        if good:
            at, n = int(m.group(1)), int(m.group(2))
            good = at + n == len(data) and data[at:at + 40] == token and \
                unesc(m.group(3)).startswith(token) and out.splitlines()[-2] == 'eof'
        ok(good, 'flow %s decodes to its trailer, token follows' %
           os.path.relpath(f, CAPTURES)) or diag(err)


    def model(lines, ks, journal):
        cur = {}
        for ln in lines:
            f = ln.split(' ')
            if f[0] == 'key':
                cur[f[1]] = (f[2], unesc(f[7]), f[3], int(f[5]), [])
            elif f[0] == 'item':
                cur[f[1]][4].append((float(f[3]), [unesc(x) for x in f[5:]]))
            elif f[0] == 'keyend':
                db, k, vt, exp, items = cur.pop(f[1])
                if vt == 'string':
                    v = items[0][1][0]
                elif vt == 'list':
                    v = [i[1][0] for i in items]
                elif vt == 'set':
                    v = sorted(i[1][0] for i in items)
                elif vt == 'hash':
                    v = {i[1][0]: i[1][1] for i in items}
                elif vt == 'zset':
                    v = sorted((i[1][0], i[0]) for i in items)
                else:
                    v = None
                ks.setdefault(db, {})[k] = (vt, v, exp)
            elif f[0] == 'journal':
                journal.append(bytes.fromhex(f[2]))


    def matches(d):
        """Decoded snapshot == expected-fullsync, except keys the journal touched."""
        ks, journal = {}, []
        for f in sorted(glob.glob(os.path.join(d, 'flow-*.bin'))):
            rc, out, err = rdbevents(['--flow'], f)
            model(out.splitlines(), ks, journal)
        want = json.load(open(os.path.join(d, 'expected-fullsync.json')))
        blob = b''.join(journal)
        compared = bad = 0
        for db, keys in want.items():
            for k, v in keys.items():
                kb = k.encode('latin-1')
                if v['type'] not in ('string', 'list', 'set', 'hash', 'zset'):
                    continue
                got = ks.get(db, {}).get(kb)
                exp = v['value']
                if v['type'] == 'string':
                    exp = exp.encode('latin-1')
                elif v['type'] == 'list':
                    exp = [x.encode('latin-1') for x in exp]
                elif v['type'] == 'set':
                    exp = sorted(x.encode('latin-1') for x in exp)
                elif v['type'] == 'hash':
                    exp = {a.encode('latin-1'): b.encode('latin-1') for a, b in exp}
                else:
                    exp = sorted((a.encode('latin-1'), float(b)) for a, b in exp)
                compared += 1
                if got is not None and got[1] == exp and got[2] == v['pexpiretime']:
                    continue
                if kb in blob:
                    continue
                bad += 1
                if bad < 4:
                    diag('%s: got %r want %r' % (k, str(got)[:100], str(exp)[:100]))
        return compared, bad


    for name in ('big-lz4', 'types-none', 'types-lz4'):
        compared, bad = matches(os.path.join(CAPTURES, name))
        ok(compared > 300 and bad == 0,
           '%s: %d decoded keys equal the master\'s (journal-touched aside)' %
           (name, compared))

    # ---------------------------------------------------------------- feed splits

    SPLIT = GOOD + CORRUPT + [f for f, _ in FLOWS]
    if ASAN:
        SPLIT = [f for f in SPLIT if os.path.getsize(f) < 40000]
    for f in SPLIT:
        mode = ['--flow'] if f.endswith('.bin') else []
        base = rdbevents(mode, f)
        one = rdbevents(mode + ['--feed', '1'], f)
        pb = rdbevents(mode + ['--pieces', '--piece', '7'], f)
        p1 = rdbevents(mode + ['--pieces', '--piece', '7', '--feed', '1'], f)
        p3 = rdbevents(mode + ['--pieces', '--piece', '7', '--feed', '3'], f)
        ok(base[1] == one[1] and base[0] == one[0] and pb[1] == p1[1] == p3[1] and
           len(pb[1]) > len(base[1]) * 0.5,
           '--feed 1 == --feed 65536 (and with --pieces --piece 7): %s' %
           os.path.relpath(f, FIXTURES))

    # pieces: a 200 KB string arrives in 64 KiB pieces, offsets add up
    big = os.path.join(CAPTURES, 'big-lz4')
    out = ''.join(rdbevents(['--flow', '--pieces'], f)[1]
                  for f in sorted(glob.glob(os.path.join(big, 'flow-*.bin'))))
    keys = {}
    for ln in out.splitlines():
        f = ln.split(' ')
        if f[0] == 'key':
            keys[f[1]] = f[7]
        if f[0] == 'str' and keys.get(f[1]) == 'b:bigstr':
            keys.setdefault('pieces', []).append((int(f[3]), int(f[4]), len(unesc(f[5]))))
    pcs = keys.get('pieces', [])
    ok(len(pcs) == 4 and [p[0] for p in pcs] == [0, 65536, 131072, 196608] and
       [p[1] for p in pcs] == [1, 1, 1, 0] and sum(p[2] for p in pcs) == 200000,
       'b:bigstr streamed as 4 pieces of <= 64 KiB: %r' % (pcs,))

    # ---------------------------------------------------------------- truncation, flips

    TRUNC = [os.path.join(FIXTURES, 'redis-assets', 'encodings.rdb'),
             os.path.join(FIXTURES, 'dragonfly-testdata', 'RDB_TYPE_STREAM_LISTPACKS_3.rdb'),
             os.path.join(CAPTURES, 'journal-lz4', 'flow-2.bin'),
             os.path.join(CAPTURES, 'partial-lz4', 'first', 'flow-1.bin')]
    for f in TRUNC:
        mode = ['--flow'] if f.endswith('.bin') else []
        rc, out, err = rdbevents(mode + ['--leftover'], f)
        m = re.search(r'^leftover (\d+)', out, re.M)
        end = int(m.group(1)) if m else -1
        size = os.path.getsize(f)
        rc, out, err = rdbevents(mode + ['--truncations'], f)
        m = re.match(r'truncations (\d+) again (\d+) error (\d+) done (\d+)', out)
        ok(rc == 0 and m and int(m.group(1)) == size + 1 and
           int(m.group(4)) == size - end + 1 and int(m.group(2)) > 0,
           'every prefix of %s: RDB_AGAIN or an error, never a crash (%s)' %
           (os.path.basename(f), out.strip()))

    FLIP = [os.path.join(FIXTURES, 'redis-assets', 'encodings.rdb'),
            os.path.join(CAPTURES, 'journal-lz4', 'flow-2.bin')]
    for f in FLIP:
        mode = ['--flow'] if f.endswith('.bin') else []
        rc, out, err = rdbevents(mode + ['--flips'], f)
        ok(rc == 0 and out.startswith('flips %d' % os.path.getsize(f)),
           'a flipped byte anywhere in %s never crashes (%s)' %
           (os.path.basename(f), out.strip()))
else:
    skip('the fixture RDB files and the Dragonfly captures: decoding, feed splits, truncations, flips', NO_FIXTURES)


# ---------------------------------------------------------------- constructs


def decode(data, args=(), name='in.rdb'):
    return rdbevents(list(args), put(name, data))


HDR = b'\xfe\x00'
NOW = 1700000000000

# Redis opcodes and hints
body = (b'\xfa' + S('redis-ver') + S('7.4.0') + b'\xfb' + L(1) + L(0) +
        b'\xf4' + L(5) + L(1) + L(0) + b'\xf5' + S('#!lua name=lib\nreturn 1') +
        HDR + b'\xfd' + struct.pack('<i', 1700000000) + b'\xf8' + L(5) +
        b'\xf9\x03\x00' + S('k') + b'\xc0\x7b' +
        b'\xfc' + struct.pack('<q', NOW) + b'\x00' + b'\xc1\xe8\x03' + S('v'))
rc, out, err = decode(rdbfile(body, ver=12))
is_(out, 'aux redis-ver 7.4.0\nfunction #!lua\\x20name=lib\\x0areturn\\x201\ndb 0\n'
    'key 0 0 string 0 1700000000000 0 k\nitem 0 0 0 -1 123\nkeyend 0 k\n'
    'key 0 0 string 0 1700000000000 0 1000\nitem 0 0 0 -1 v\nkeyend 0 1000\neof\n',
    'AUX, RESIZEDB, SLOT_INFO, FUNCTION2, EXPIRETIME (s), IDLE, FREQ, int keys')

# module values: ReJSON-RL is JSON, others are skipped; MODULE_AUX
other = module_id('graphdata', 5)
body = (b'\xf7' + L(other) + L(2) + L(2) + L(2) + L(7) + L(5) + S('x') + L(0) +
        HDR + b'\x07' + S('j') + L(module_id('ReJSON-RL', 3)) + L(5) + S('{"a":1}') + L(0) +
        b'\x07' + S('g') + L(other) + L(1) + L(3) + L(3) + b'abcd' + L(4) + b'12345678' +
        L(5) + S('zz') + L(0) + b'\x00' + S('s') + S('t'))
rc, out, err = decode(rdbfile(body))
is_(out, 'module_aux graphdata\ndb 0\nkey 0 0 json 7 -1 0 j\nitem 0 0 0 -1 {"a":1}\n'
    'keyend 0 j\nkey 0 0 module 7 -1 0 g\nkeyend 0 g\n'
    'key 0 0 string 0 -1 0 s\nitem 0 0 0 -1 t\nkeyend 0 s\neof\n',
    'MODULE_AUX skipped, ReJSON-RL decoded, other module skipped by its framing')

# a module's integer opcode and its value are read together: however the
# input is cut, the value is never taken for the next opcode
body = (HDR + b'\x07' + S('g') + L(other) + L(1) + L(300) + L(2) + L(70000) + L(1) +
        L(2 ** 40) + L(3) + b'abcd' + L(0) + b'\x00' + S('s') + S('t'))
want = ('db 0\nkey 0 0 module 7 -1 0 g\nkeyend 0 g\n'
        'key 0 0 string 0 -1 0 s\nitem 0 0 0 -1 t\nkeyend 0 s\neof\n')
for feed in ('65536', '1', '2', '3', '4'):
    rc, out, err = decode(rdbfile(body), ['--feed', feed])
    is_(out, want, 'module integers of 2, 5 and 9 bytes skipped, --feed %s' % feed)

# zipmaps whose last bytes are a key length: an error, never a read past
# the container
for zm, what in ((b'\x01\x05', 'one-byte'), (b'\x01\xfe\x05\x00\x00\x00', 'five-byte')):
    for feed in ('65536', '1'):
        rc, out, err = decode(rdbfile(HDR + b'\x09' + S('z') + S(zm), ver=9), ['--feed', feed])
        ok(rc == 1 and re.search(r'^error: byte \d+: zipmap: last byte 0x[0-9a-f]{2} is not '
                                 r'the end marker while decoding key "z"$',
                                 err.strip()),
           'zipmap ending in a %s key length, --feed %s: %s' % (what, feed, err.strip()))

# Dragonfly types: member expiry, JSON, skipped probabilistic types
sbf = (L(0) + struct.pack('<dd', 2.0, 0.01) + L(100) + L(100) + L(1000) + L(2) +
       L(7) + S(b'\x01' * 8) + L(5) + S(b'\x02' * 16))
sbf2 = (L(0) + struct.pack('<dd', 2.0, 0.01) + L(100) + L(100) + L(1000) + L(1) +
        L(7) + L(16) + L(10) + b'\x03' * 10 + L(6) + b'\x04' * 6)
cms = L(2) + L(3) + L(9) + b'\x05' * 48
topk = (L(0) + L(3) + L(4) + L(2) + struct.pack('<d', 0.9) + L(2) + S('a') + L(5) +
        S('b') + L(1) + S(b'\x06' * 32))
cuckoo = L(4) + L(500) + L(1) + L(8) + L(3) + L(0) + L(2) + L(32) + L(32) + b'\x07' * 32 + \
    L(16) + L(10) + b'\x08' * 10 + L(6) + b'\x09' * 6
base = 1675209600
body = (HDR + b'\xdc' + struct.pack('<I', 3) + struct.pack('<I', 77) +
        b'\x20' + S('se') + L(2) + S('m1') + S(str(100)) + S('m2') + b'\xc0\xff' +
        b'\x1f' + S('he') + L(1) + S('f') + S('v') + S(str(5)) +
        b'\x1e' + S('js') + S('[1]') + b'\x21' + S('b1') + sbf + b'\x22' + S('b2') + sbf2 +
        b'\x23' + S('c') + cms + b'\x24' + S('t') + topk + b'\x25' + S('cf') + cuckoo +
        b'\xde' + S('idx:vec') + L(0) + L(1) + struct.pack('<IQI', 1, 2, 1) +
        struct.pack('<I', 2) + struct.pack('<II', 3, 4) + struct.pack('<I', 0) +
        b'\xdf' + L(0) + S('idx') + L(2) + S('k1') + L(1) + S('k2') + L(2) +
        b'\xc8' + b'\0' * 8 + b'\xd2' + L(1) + S(b'\x0d') +
        b'\xd3' + struct.pack('<Q', 42))
rc, out, err = decode(flow(body), ['--flow'])
is_(out, 'db 0\nkey 0 0 set 32 -1 2 se\nitem 0 0 0 %d m1\nitem 0 1 0 -1 m2\nkeyend 0 se\n'
    'key 0 0 hash 31 -1 1 he\nitem 0 0 0 %d f v\nkeyend 0 he\n'
    'key 0 0 json 30 -1 0 js\nitem 0 0 0 -1 [1]\nkeyend 0 js\n'
    'key 0 0 sbf 33 -1 0 b1\nkeyend 0 b1\nkey 0 0 sbf 34 -1 0 b2\nkeyend 0 b2\n'
    'key 0 0 cms 35 -1 0 c\nkeyend 0 c\nkey 0 0 topk 36 -1 0 t\nkeyend 0 t\n'
    'key 0 0 cuckoo 37 -1 0 cf\nkeyend 0 cf\n'
    'fullsync_end\njournal 1 0d\njournal_offset 42\neof\n' %
    ((100 + base) * 1000, (5 + base) * 1000),
    'DF_MASK, types 31/32 member TTL, 30, SBF/SBF2/CMS/TOPK/CUCKOO, HNSW skipped, '
    'FULLSYNC_END, JOURNAL_BLOB, JOURNAL_OFFSET')

# type 20 is old Dragonfly JSON below version 10, a listpack set from 10 on
rc, out, err = decode(b'REDIS0009' + HDR + b'\x14' + S('j') + S('{}') + b'\xff' + b'\0' * 8)
ok(rc == 0 and 'key 0 0 json 20 -1 0 j\nitem 0 0 0 -1 {}\n' in out, 'type 20 in v9 is JSON')
rc, out, err = decode(rdbfile(HDR + b'\x14' + S('s') + S(listpack([b'a', 5])), ver=11))
ok(rc == 0 and 'key 0 0 set 20 -1 2 s\nitem 0 0 0 -1 a\nitem 0 1 0 -1 5\n' in out,
   'type 20 in v11 is a listpack set')

# empty containers: a FLOW passes them on with no item (snapshot.md 4.1),
# a Redis file refuses them
empties = ((b'\x01', L(0)), (b'\x02', L(0)), (b'\x03', L(0)), (b'\x04', L(0)),
           (b'\x05', L(0)), (b'\x10', S(listpack([]))), (b'\x11', S(listpack([]))),
           (b'\x14', S(listpack([]))), (b'\x12', L(0)))
body = HDR + b''.join(t + S('e%d' % i) + v for i, (t, v) in enumerate(empties))
rc, out, err = decode(b'REDIS0011' + body + b'\xff' + b'\0' * 8, ['--flow'])
want = 'db 0\n' + ''.join('key 0 0 %s %d -1 0 e%d\nkeyend 0 e%d\n' % (vt, t[0], i, i)
                         for i, ((t, v), vt) in enumerate(zip(empties, (
                             'list', 'set', 'zset', 'hash', 'zset', 'hash', 'zset',
                             'set', 'list')))) + 'eof\n'
is_(out, want, 'FLOW: empty list/set/zset/hash in every encoding is a key with no item')
for i, (t, v) in enumerate(empties):
    rc, out, err = decode(rdbfile(HDR + t + S('e') + v, ver=11))
    ok(rc == 1 and re.search(r'^error: byte \d+: empty \w+ value \(type %d\): a key cannot '
                             r'be empty while decoding key "e"$' % t[0], err.strip()),
       'file: empty type %d refused: %s' % (t[0], err.strip()))

# Redis 7.4 hash field TTLs
lp = listpack([b'f1', b'v1', 0, b'f2', b'v2', NOW])
body = (HDR + b'\x18' + S('h24') + struct.pack('<q', NOW) + L(2) + L(0) + S('a') + S('1') +
        L(11) + S('b') + S('2') + b'\x19' + S('h25') + struct.pack('<q', NOW) + S(lp))
rc, out, err = decode(rdbfile(body, ver=12))
is_(out, 'db 0\nkey 0 0 hash 24 -1 2 h24\nitem 0 0 0 -1 a 1\nitem 0 1 0 %d b 2\n'
    'keyend 0 h24\nkey 0 0 hash 25 -1 2 h25\nitem 0 0 0 -1 f1 v1\nitem 0 1 0 %d f2 v2\n'
    'keyend 0 h25\neof\n' % (NOW + 10, NOW), 'types 24 and 25: field TTLs')

# compressed blobs: the decompressed bytes are top-level items
inner = HDR + b'\x00' + S('zk') + S('zv' * 200) + b'\xd2' + L(1) + S(b'\x0d')
for tool, op in (('zstd', b'\xc9'), ('lz4', b'\xca')):
    blob = compress(tool, inner)
    rc, out, err = decode(flow(op + S(blob)), ['--flow'])
    ok(rc == 0 and 'key 0 0 string 0 -1 0 zk\nitem 0 0 0 -1 ' + 'zv' * 200 + '\nkeyend 0 zk\n'
       'journal 1 0d\neof\n' in out, '%s blob decoded' % tool) or diag(err)
    rc, out, err = decode(flow(op + S(compress(tool, inner[:-3]))), ['--flow'])
    ok(rc == 1 and re.search(r'byte 9 \(offset \d+ in the compressed blob\): the compressed '
                             r'blob ends inside an item', err), '%s blob ending mid-item: %s' %
       (tool, err.strip()))
    rc, out, err = decode(flow(op + S(blob), ), ['--flow', '--max-blob', '300'])
    ok(rc == 1 and 'exceeds the 300-byte limit' in err,
       '%s blob larger than max_blob refused: %s' % (tool, err.strip()))

# tagged chunks: two big keys interleaved with a small key and a journal blob
a1 = b'\x02' + S('A') + L(3) + S('a1')
a2 = S('a2') + S('a3')
b1 = b'\xfc' + struct.pack('<q', NOW) + b'\x01' + S('B') + L(2) + S('b1')
b2 = S('b2')


def chunk(sid, payload):
    return b'\xe0' + struct.pack('<II', sid, len(payload)) + payload


body = (HDR + chunk(7, a1) + chunk(9, b1) + b'\x00' + S('s') + S('v') +
        b'\xd2' + L(1) + S(b'\x0d') + chunk(9, b2) + chunk(7, a2))
rc, out, err = decode(flow(body), ['--flow'])
is_(out, 'db 0\nkey 7 0 set 2 -1 3 A\nitem 7 0 0 -1 a1\n'
    'key 9 0 list 1 %d 2 B\nitem 9 0 0 -1 b1\nkey 0 0 string 0 -1 0 s\nitem 0 0 0 -1 v\n'
    'keyend 0 s\njournal 1 0d\nitem 9 1 0 -1 b2\nkeyend 9 B\n'
    'item 7 1 0 -1 a2\nitem 7 2 0 -1 a3\nkeyend 7 A\neof\n' % NOW,
    'tagged chunks of two keys interleave with other items')
same = []
for feed in ('1', '2', '5'):
    same.append(decode(flow(body), ['--flow', '--feed', feed, '--pieces', '--piece', '1'])[1])
ok(same[0] == same[1] == same[2] and same[0].count('\nstr ') > 10,
   'tagged chunks: identical pieces at every feed size')

# ---------------------------------------------------------------- errors
ERRORS = [
    ('unknown opcode', rdbfile(HDR + b'\xe5'), [], r'^error: byte 11: unknown opcode 0xe5$'),
    ('unknown type', rdbfile(HDR + b'\x1a' + S('k')), [],
     r'^error: byte 11: unknown value type 0x1a$'),
    ('type 6', rdbfile(HDR + b'\x06' + S('k')), [], r'byte 11: value type 6 \(pre-GA'),
    ('FUNCTION_PRE_GA', rdbfile(b'\xf6'), [], r'byte 9: pre-release FUNCTION'),
    ('bad length', rdbfile(HDR + b'\x02' + S('foo') + b'\x82'), [],
     r'^error: byte 16: bad length encoding 0x82 while decoding key "foo"$'),
    ('bad string encoding', rdbfile(HDR + b'\x02' + S('foo') + L(1) + b'\xc5'), [],
     r'^error: byte 17: unknown string encoding 0xc5 while decoding key "foo"$'),
    ('corrupt LZF', rdbfile(HDR + b'\x00' + S('foo') + b'\xc3' + L(3) + L(40) + b'\xff\xff\xff'),
     [], r'byte 16: corrupt LZF string .* key "foo"'),
    ('LZF over max_blob', rdbfile(HDR + b'\x00' + S('foo') + b'\xc3' + L(3) + L(10 ** 9) +
                                  b'abc'), [], r'byte 16: LZF string of 1000000000 bytes exceeds'),
    ('key over max_blob', rdbfile(HDR + b'\x00' + S('k' * 100) + S('v')), ['--max-blob', '64'],
     r'byte 12: key of 100 bytes exceeds the 64-byte limit'),
    ('huge count', rdbfile(HDR + b'\x02' + S('big') + L(2 ** 60) + S('m')), [],
     r'byte 2\d: unknown string encoding 0xff while decoding key "big"'),
    ('NaN score', rdbfile(HDR + b'\x05' + S('z') + L(1) + S('m') + struct.pack('<d', float('nan'))),
     [], r'byte 25: NaN score while decoding key "z"'),
    ('bad listpack', rdbfile(HDR + b'\x10' + S('h') + S(b'\x0a\0\0\0\x02\0\x81\x41\x02\xfe'), ver=10),
     [], r'byte 25: listpack: .* key "h"'),
    ('odd hash listpack', rdbfile(HDR + b'\x10' + S('h') + S(listpack([b'f'])), ver=10),
     [], r'the container ends inside an element .* key "h"'),
    ('empty key', rdbfile(HDR + b'\x02' + S('e') + L(0)), [], r'empty set value .* key "e"'),
    ('CRC mismatch', rdbfile(HDR + b'\x00' + S('k') + S('v'))[:-8] + b'\x01' * 8, [],
     r'^error: byte \d+: CRC64 mismatch'),
    ('version 13', b'REDIS0013\xff', [], r'byte 0: RDB version 13 is out of range'),
    ('flow version 4', b'REDIS0004\xff' + b'\0' * 8, ['--flow'],
     r'byte 0: RDB version 4 is out of range \(5\.\.12\)'),
    ('bad magic', b'RODIS0009', [], r'byte 0: not an RDB'),
    ('truncated', rdbfile(HDR + b'\x00' + S('k') + S('value'))[:-12], [],
     r'^error: truncated at byte 17 \(decoded up to byte 15\)'),
    ('EOF with open chunk', flow(HDR + chunk(3, a1)), ['--flow'],
     r'EOF while 1 tagged chunk stream\(s\) are open \(stream 3, key "A"\)'),
    ('read crossing the chunk', flow(HDR + chunk(3, a1[:-1])), ['--flow'],
     r'crosses the end of the tagged chunk .* key "A" \(tagged chunk stream 3\)'),
    ('bytes left in the chunk', flow(HDR + chunk(3, b'\x00' + S('k') + S('v') + b'xx')),
     ['--flow'], r'key ended with 2 bytes left in its tagged chunk'),
    ('chunk id 0', flow(chunk(0, b'x')), ['--flow'], r'byte 18: tagged chunk with stream id 0'),
    ('bad LZ4 frame', flow(b'\xca' + S(b'\x04\x22\x4d\x18garbage')), ['--flow'],
     r'byte 10: bad LZ4 frame'),
    ('nested blob', flow(b'\xc9' + S(compress('zstd', b'\xca' + S('x')))), ['--flow'],
     r'compressed blob nested'),
    ('bad module opcode', rdbfile(HDR + b'\x07' + S('g') + L(other) + L(9)), [],
     r'unknown module opcode 9 in module "graphdata"'),
    ('bad quicklist container', rdbfile(HDR + b'\x12' + S('l') + L(1) + L(3), ver=10), [],
     r'bad quicklist container 3 while decoding key "l"'),
    ('bad member expiry', flow(HDR + b'\x20' + S('s') + L(1) + S('m') + S('soon')), ['--flow'],
     r'bad member expiry "soon" while decoding key "s"'),
]
for name, data, args, pat in ERRORS:
    rc, out, err = decode(data, args)
    ok(rc == 1 and re.search(pat, err.strip()), 'error: %s: %s' % (name, err.strip())) or \
        diag('want /%s/' % pat)

# speed on the captures (informational)
if have_fixtures():
    rc, out, err = rdbevents(['--flow', '--bench'], os.path.join(CAPTURES, 'big-lz4', 'flow-0.bin'))
    ok(rc == 0 and 'MB/s' in out, 'bench big-lz4/flow-0: %s' % out.strip())
else:
    skip('bench big-lz4/flow-0', NO_FIXTURES)


done_testing()
