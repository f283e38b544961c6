#!/usr/bin/python3
"""Writes the fuzzers' seed corpora, t/fuzz/corpus/{rdb,journal}/, from
hand-built inputs: tiny Redis RDB files and Dragonfly FLOW streams that
reach every opcode and value type the decoder knows (snapshot.md,
redis-rdb.md, journal.md), and journal streams.  Run it from anywhere;
it rewrites the corpus directories.  Needs the lz4 and zstd programs for
the compressed-blob seeds (skipped when absent)."""
import os
import shutil
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# ------------------------------------------------------------ primitives

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x95ac9329ac4bc9b5 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc64(data):
    """Redis's CRC-64/Jones (reflected), as stored after the 0xFF opcode."""
    crc = 0
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc


def length(n):
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xff])
    if n <= 0xffffffff:
        return b'\x80' + struct.pack('>I', n)
    return b'\x81' + struct.pack('>Q', n)


def rstr(s):
    if isinstance(s, str):
        s = s.encode()
    return length(len(s)) + s


def rint(v):
    """An integer-encoded RDB string."""
    if -128 <= v < 128:
        return b'\xc0' + struct.pack('<b', v)
    if -32768 <= v < 32768:
        return b'\xc1' + struct.pack('<h', v)
    return b'\xc2' + struct.pack('<i', v)


def lzf_literal(data):
    """LZF stream made of literal runs only (valid for any decoder)."""
    out = b''
    for i in range(0, len(data), 32):
        chunk = data[i:i + 32]
        out += bytes([len(chunk) - 1]) + chunk
    return out


def rlzf(data, compressed=None):
    c = compressed if compressed is not None else lzf_literal(data)
    return b'\xc3' + length(len(c)) + length(len(data)) + c


def lzf_backref():
    """'abcabcabcabc...' (24 bytes): 3 literals then one back-reference."""
    # literal run of 3: ctrl 2, "abc"; back-ref len 21 -> len-2 = 19 >= 7:
    # ctrl = (7 << 5) | (off >> 8), extra len byte 19 - 7, lo = off & 0xff
    off = 2  # distance 3 -> stored as 2
    return bytes([2]) + b'abc' + bytes([(7 << 5) | (off >> 8), 19 - 7, off & 0xff])


def lp_entry(v):
    if isinstance(v, int) and 0 <= v < 128:
        enc = bytes([v])
    elif isinstance(v, int) and -4096 <= v < 4096:
        u = v & 0x1fff
        enc = bytes([0xc0 | (u >> 8), u & 0xff])
    elif isinstance(v, int):
        enc = b'\xf4' + struct.pack('<q', v)
    else:
        if isinstance(v, str):
            v = v.encode()
        assert len(v) < 64
        enc = bytes([0x80 | len(v)]) + v
    assert len(enc) < 128
    return enc + bytes([len(enc)])


def listpack(items):
    body = b''.join(lp_entry(v) for v in items)
    return struct.pack('<IH', 6 + len(body) + 1, len(items)) + body + b'\xff'


def ziplist(items):
    entries = b''
    prevlen = 0
    for v in items:
        if isinstance(v, int):
            e = bytes([prevlen]) + b'\xfe' + struct.pack('<b', v)
        else:
            if isinstance(v, str):
                v = v.encode()
            e = bytes([prevlen]) + bytes([len(v)]) + v
        prevlen = len(e)
        entries += e
    total = 10 + len(entries) + 1
    tail = 10 + len(entries) - prevlen if items else 10
    return struct.pack('<IIH', total, tail, len(items)) + entries + b'\xff'


def intset(values, width=2):
    fmt = {2: '<h', 4: '<i', 8: '<q'}[width]
    return struct.pack('<II', width, len(values)) + b''.join(struct.pack(fmt, v) for v in sorted(values))


def sid(ms, seq):
    return struct.pack('>QQ', ms, seq)


def stream_listpack(entries):
    """A stream node listpack (redis-rdb.md): master entry with the fields of
    the first entry, then each entry as flags, ms-delta, seq-delta, values."""
    first_ms, first_seq, first_fields = entries[0]
    master_fields = [f for f, _ in first_fields]
    items = [len(entries), 0, len(master_fields)] + master_fields + [0]
    for ms, seq, fv in entries:
        same = [f for f, _ in fv] == master_fields
        flags = 2 if same else 0
        items += [flags, ms - first_ms, seq - first_seq]
        if same:
            items += [v for _, v in fv]
            lp = 3 + len(fv)
        else:
            items += [len(fv)]
            for f, v in fv:
                items += [f, v]
            lp = 4 + 2 * len(fv)
        items += [lp]
    return listpack(items)


def entry(t, key, value, expire_ms=None):
    out = b''
    if expire_ms is not None:
        out += b'\xfc' + struct.pack('<q', expire_ms)
    return out + bytes([t]) + rstr(key) + value


def rdb_file(body, version=11):
    data = b'REDIS%04d' % version + body + b'\xff'
    return data + struct.pack('<Q', crc64(data))


def flow(body, offset=77):
    return (b'REDIS0009' + aux('redis-ver', '6.2.11') + aux('df-ver', 'df-v1.40.0') + body +
            b'\xc8' + b'\x00' * 8 + b'\xd3' + struct.pack('<Q', offset) +
            b'\xff' + b'\x00' * 8 + b'f' * 40)


def aux(k, v):
    return b'\xfa' + rstr(k) + (rint(v) if isinstance(v, int) else rstr(v))


# ------------------------------------------------------------ journal

def pu(n):
    return length(n)


def jcmd(args, db=0, txid=5, op=10):
    args = [a.encode() if isinstance(a, str) else a for a in args]
    return (b'\x06' + pu(db) + bytes([op]) + pu(txid) + pu(1) + pu(len(args)) +
            pu(sum(len(a) for a in args)) + b''.join(pu(len(a)) + a for a in args))


PING = b'\x0d'


def jlsn(n):
    return b'\x0f' + pu(n)


def jexec(txid):
    return b'\x0c' + pu(txid) + pu(2)


def jblob(records, nrec=None):
    raw = b''.join(records)
    return b'\xd2' + length(nrec if nrec is not None else len(records)) + rstr(raw)


# ------------------------------------------------------------ value bodies

def value_seeds():
    """(type byte, value bytes, name) for every value type."""
    s = []
    s.append((0, rstr('bar'), 'string'))
    s.append((0, rint(-1000), 'string-int16'))
    s.append((0, rint(100000), 'string-int32'))
    s.append((0, rlzf(b'x' * 40), 'string-lzf'))
    s.append((0, b'\xc3' + length(7) + length(24) + lzf_backref(), 'string-lzf-backref'))
    s.append((0, rstr(bytes(range(256))), 'string-binary'))
    s.append((1, length(3) + rstr('a') + rstr('b') + rint(7), 'list'))
    s.append((2, length(3) + rstr('m1') + rstr('m2') + rint(3), 'set'))
    s.append((3, length(2) + rstr('a') + b'\x031.5' + rstr('b') + b'\xfe', 'zset-strscore'))
    s.append((4, length(2) + rstr('f1') + rstr('v1') + rstr('f2') + rint(2), 'hash'))
    s.append((5, length(3) + rstr('a') + struct.pack('<d', -2.5) + rstr('b') +
              struct.pack('<d', float('inf')) + rstr('c') + struct.pack('<d', 0.0), 'zset2'))
    s.append((9, rstr(b'\x02\x02f1\x02v1\x00\x02f2\x02v2\x00\xff'), 'hash-zipmap'))
    s.append((10, rstr(ziplist(['a', 'b', 5])), 'list-ziplist'))
    s.append((11, rstr(intset([1, 2, 3, -5])), 'set-intset16'))
    s.append((11, rstr(intset([1, 70000], 4)), 'set-intset32'))
    s.append((11, rstr(intset([1, 1 << 40], 8)), 'set-intset64'))
    s.append((12, rstr(ziplist(['a', 1, 'b', '2.5'])), 'zset-ziplist'))
    s.append((13, rstr(ziplist(['f', 'v', 'g', 9])), 'hash-ziplist'))
    s.append((14, length(2) + rstr(ziplist(['a', 'b'])) + rstr(ziplist([1, 2])), 'list-quicklist'))
    s.append((16, rstr(listpack(['f', 'v', 'g', 300])), 'hash-listpack'))
    s.append((17, rstr(listpack(['m', '1.5', 'n', 2, 'o', -3000])), 'zset-listpack'))
    s.append((18, length(3) + length(2) + rstr(listpack(['a', 'b', 1 << 40])) + length(1) + rstr('plain') +
              length(2) + rlzf(listpack(['c' * 30])), 'list-quicklist2'))
    s.append((20, rstr(listpack(['x', 'y', 12])), 'set-listpack'))
    # Dragonfly types
    s.append((30, rstr('{"a":1}'), 'json'))
    s.append((31, length(2) + rstr('f1') + rstr('v1') + rint(-1) + rstr('f2') + rstr('v2') + rint(100000),
              'hash-ttl'))
    s.append((32, length(2) + rstr('m1') + rint(-1) + rstr('m2') + rint(100000), 'set-ttl'))
    s.append((33, length(0) + struct.pack('<dd', 2.0, 0.01) + length(100) + length(100) + length(1000) +
              length(1) + length(7) + rstr(b'\x00' * 16), 'sbf'))
    s.append((34, length(0) + struct.pack('<dd', 2.0, 0.01) + length(100) + length(100) + length(1000) +
              length(1) + length(7) + length(16) + length(8) + b'\x01' * 8 + length(8) + b'\x02' * 8,
              'sbf2'))
    s.append((35, length(2) + length(1) + length(5) + struct.pack('<qq', 3, 2), 'cms'))
    s.append((36, length(0) + length(2) + length(1) + length(1) + struct.pack('<d', 0.9) + length(1) +
              rstr('hot') + length(4) + rstr(b'\x01\x00\x00\x00'), 'topk'))
    s.append((37, length(4) + length(500) + length(2) + length(2) + length(1) + length(0) + length(1) +
              length(8) + length(8) + b'\x00' * 8, 'cuckoo'))
    # streams
    lp = stream_listpack([(1, 1, [('f', 'v1')]), (1, 2, [('f', 'v2'), ('g', 'w')]), (2, 0, [('f', 'v3')])])
    nodes = length(1) + rstr(sid(1, 1)) + rstr(lp)
    groups = (length(1) + rstr('grp') + length(1) + length(2) + length(3) +
              length(1) + sid(1, 2) + struct.pack('<q', 1700000000000) + length(1) +
              length(1) + rstr('alice') + struct.pack('<q', 1700000000001))
    s.append((15, nodes + length(3) + length(2) + length(0) +
              length(1) + rstr('grp') + length(1) + length(2) +
              length(1) + sid(1, 2) + struct.pack('<q', 1700000000000) + length(1) +
              length(1) + rstr('alice') + struct.pack('<q', 1700000000001) + length(1) + sid(1, 2),
              'stream1'))
    s.append((19, nodes + length(3) + length(2) + length(0) + length(1) + length(1) + length(0) +
              length(0) + length(3) + length(0), 'stream2'))
    s.append((21, nodes + length(3) + length(2) + length(0) + length(1) + length(1) + length(0) +
              length(0) + length(3) + groups + struct.pack('<q', 1700000000002) + length(1) + sid(1, 2),
              'stream3'))
    # a module value (redis-rdb.md §4.7): ReJSON-RL encver 3
    mid = 0
    name = b'ReJSON-RL'
    chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    for ch in name:
        mid = (mid << 6) | chars.index(chr(ch))
    mid = (mid << 10) | 3
    s.append((7, length(mid) + b'\x05' + rstr('{"b":2}') + b'\x00', 'module-json'))
    return s


# ------------------------------------------------------------ seeds

def rdb_seeds():
    seeds = {}
    seeds['empty'] = rdb_file(b'', 9)
    hdr = aux('redis-ver', '7.0.0') + aux('redis-bits', 64) + b'\xfe\x00' + b'\xfb' + length(2) + length(1)
    for t, v, name in value_seeds():
        version = 9 if t == 20 and name == 'json-old' else 11
        seeds['file-' + name] = rdb_file(hdr + entry(t, 'k', v), version)
        seeds['flow-' + name] = flow(b'\xfe\x00' + entry(t, 'k', v))
    seeds['file-mixed'] = rdb_file(
        hdr + entry(0, 'foo', rstr('bar'), expire_ms=1700000000000) +
        b'\xf8' + length(5) + entry(0, rint(7), rint(1000)) +
        b'\xf9\x03' + entry(0, 'lfu', rstr('x')) +
        b'\xfe\x03' + entry(0, 'db3', rstr('y')) +
        b'\xfd' + struct.pack('<i', 1700000000) + entry(0, 'secs', rstr('z')) +
        b'\xf5' + rstr("#!lua name=lib\nredis.register_function('f', function() return 1 end)") +
        b'\xf4' + length(5) + length(1) + length(0))
    seeds['file-old-version'] = rdb_file(entry(0, 'a', rstr('b')), 6)
    seeds['file-json-type20'] = rdb_file(entry(20, 'j', rstr('{"x":1}')), 9)
    # module aux: module id, when opcode 2, when, then EOF opcode 0
    seeds['file-module-aux'] = rdb_file(hdr + b'\xf7' + length(1 << 10) + length(2) + length(2) + b'\x00' +
                                        entry(0, 'a', rstr('b')))
    seeds['file-badcrc'] = rdb_file(entry(0, 'a', rstr('b')))[:-1] + b'\x00'
    seeds['file-zero-crc'] = b'REDIS0011' + entry(0, 'a', rstr('b')) + b'\xff' + b'\x00' * 8
    # FLOW dialect
    seeds['flow-df-mask'] = flow(b'\xfe\x01' + b'\xfc' + struct.pack('<q', 1800000000000) +
                                 b'\xdc' + struct.pack('<I', 3) + struct.pack('<I', 42) + entry(0, 'mc', rstr('v')))
    seeds['flow-journal'] = flow(b'\xfe\x00' + entry(0, 'a', rstr('1')) +
                                 jblob([jcmd(['SET', 'a', '2'])]) + jblob([PING]) +
                                 jblob([jcmd(['MSET', 'x', '1', 'y', '2'], db=1), jcmd(['DEL', 'a'])]))
    seeds['flow-journal-lzf'] = flow(b'\xd2' + length(1) + rlzf(jcmd(['SET', 'k' * 30, 'v' * 30])))
    # tagged chunks: a set split in three pieces around another key and a journal blob
    first = bytes([2]) + rstr('big') + length(4) + rstr('m1') + rstr('m2')
    cont1 = rstr('m3')
    cont2 = rstr('m4')

    def tag(i, payload):
        return b'\xe0' + struct.pack('<II', i, len(payload)) + payload
    first_h = bytes([31]) + rstr('bh') + length(2) + rstr('f1') + rstr('v1') + rint(-1)
    cont_h = rstr('f2') + rstr('v2') + rint(5)
    seeds['flow-tagged'] = flow(b'\xfe\x00' + tag(7, first) + entry(0, 'small', rstr('s')) + tag(9, first_h) +
                                jblob([jcmd(['INCR', 'c'])]) + tag(7, cont1) + tag(9, cont_h) + b'\xfe\x00' +
                                tag(7, cont2))
    zfirst = bytes([5]) + rstr('bz') + length(2) + rstr('a') + struct.pack('<d', 1.0)
    zcont = rstr('b') + struct.pack('<d', 2.0)
    lfirst = bytes([18]) + rstr('bl') + length(2) + length(2) + rstr(listpack(['a', 'b']))
    lcont = length(1) + rstr('plainnode')
    seeds['flow-tagged2'] = flow(b'\xfe\x02' + tag(1, zfirst) + tag(2, lfirst) + tag(2, lcont) + tag(1, zcont))
    seeds['flow-tagged-open-at-eof'] = flow(b'\xfe\x00' + tag(3, first))
    # compressed blobs
    inner = b'\xfe\x00' + b''.join(entry(0, 'key%d' % i, rstr('value-%d' % i * 8)) for i in range(20)) + \
        jblob([jcmd(['SET', 'a', 'b'])])
    for prog, op, name in (('lz4', 0xca, 'lz4'), ('zstd', 0xc9, 'zstd')):
        comp = compress(prog, inner)
        if comp is not None:
            seeds['flow-' + name] = flow(bytes([op]) + rstr(comp))
            seeds['flow-%s-offset-inside' % name] = (
                b'REDIS0009' + bytes([op]) + rstr(compress(prog, inner + b'\xc8' + b'\x00' * 8 +
                                                           b'\xd3' + struct.pack('<Q', 5)) or b'') +
                b'\xff' + b'\x00' * 8)
    return seeds


def compress(prog, data):
    if shutil.which(prog) is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, 'in')
        with open(src, 'wb') as f:
            f.write(data)
        argv = [prog, '-q', '-f', src, '-o' if prog == 'zstd' else '', os.path.join(d, 'out')]
        argv = [a for a in argv if a]
        if prog == 'lz4':
            argv.insert(1, '--content-size')
        subprocess.run(argv, check=True)
        with open(os.path.join(d, 'out'), 'rb') as f:
            return f.read()


def journal_seeds():
    seeds = {}
    seeds['set'] = jcmd(['SET', 'foo', 'bar'])
    seeds['mixed'] = (jcmd(['SET', 'a', '1']) + PING + jlsn(42) + jcmd(['SELECT', '2'], db=2) +
                      jcmd(['HSET', 'h', 'f', b'\x00\xff'], db=2, txid=0) +
                      jcmd(['DEL', 'x', 'y', 'z'], txid=1 << 40))
    seeds['legacy-multi'] = (jcmd(['SET', 'a', '1'], op=11, txid=9) + jcmd(['SET', 'b', '2'], op=11, txid=9) +
                             jexec(9) + jcmd(['DEL', 'a'], op=9))
    seeds['long-forms'] = (b'\x06\x80\x00\x00\x00\x01' + b'\x0a' + b'\x81' + struct.pack('>Q', 7) +
                           b'\x80\x00\x00\x00\x01' + b'\x02' + b'\x40\x06' + b'\x03GET' + b'\x03key')
    seeds['big-arg'] = jcmd(['SET', 'k', 'v' * 20000])
    seeds['empty-arg'] = jcmd(['SET', '', ''])
    return seeds


def write(dirname, seeds):
    d = os.path.join(HERE, 'corpus', dirname)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    write('rdb', rdb_seeds())
    write('journal', journal_seeds())
