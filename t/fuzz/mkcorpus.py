#!/usr/bin/python3
"""Writes the fuzzers' seed corpora, t/fuzz/corpus/{rdb,journal}/, from
hand-built inputs: tiny Redis RDB files and Dragonfly FLOW streams that
reach every opcode and value type the decoder knows (snapshot.md,
redis-rdb.md, journal.md), and journal streams: single records, and
stable-sync streams (stable-*) as a master of each version writes them
on its FLOWs after the full sync.  The output is the same on every run.
Run it from anywhere; it rewrites the corpus directories.  Needs the lz4 and zstd programs for
the compressed-blob seeds (skipped when absent)."""
import os
import random
import shutil
import struct
import subprocess
import tempfile
import zlib

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
    seeds.update(stable_sessions())
    seeds.update(stable_special())
    return seeds


# ------------------------------------------------------------ stable sync
#
# What a master sends on a FLOW after the full sync's EOF token (journal.md
# sections 3-7): records one after the other, each COMMAND behind its
# SELECT, PINGs, LSN entries carrying the LSN of the record before them,
# multi-shard commands cut into per-shard slices sharing one txid, global
# commands on every flow.  A small simulated master (keys hashed onto
# shards, a workload drawn from a fixed random seed) writes the flows of
# one session; the master's version decides shard_cnt, the opcode of
# expiry deletes and how transactions are framed.

def pux(n, form):
    """A packed uint in a given width (1, 2, 5 or 9 bytes), shortest or not."""
    if form == 1:
        assert n < 64
        return bytes([n])
    if form == 2:
        assert n < 16384
        return bytes([0x40 | (n >> 8), n & 0xff])
    if form == 5:
        assert n <= 0xffffffff
        return b'\x80' + struct.pack('>I', n)
    return b'\x81' + struct.pack('>Q', n)


def widest(n, form):
    """form, or the narrowest wider one that holds n."""
    for f, top in ((1, 64), (2, 16384), (5, 1 << 32), (9, 1 << 64)):
        if f >= form and n < top:
            return f


def jentry(op, txid, shard_cnt, args):
    """COMMAND (10), EXPIRED (9) or MULTI_COMMAND (11), no SELECT."""
    args = [a.encode() if isinstance(a, str) else a for a in args]
    return (bytes([op]) + pu(txid) + pu(shard_cnt) + pu(len(args)) +
            pu(sum(len(a) for a in args)) + b''.join(pu(len(a)) + a for a in args))


def dump_payload(value):
    """A DUMP payload as RESTORE carries it: a string value, RDB version 9,
    CRC-64 of both."""
    body = b'\x00' + rstr(value) + struct.pack('<H', 9)
    return body + struct.pack('<Q', crc64(body))


class Flow:
    """One FLOW's stable-sync bytes and its LSN counter (journal.md §4)."""

    def __init__(self, rnd, lsn, lsn_every=(6, 30), select_always=True):
        self.rnd = rnd
        self.out = bytearray()
        self.lsn = lsn                  # LSN of the next record
        self.lsn_every = lsn_every      # records between LSN entries, or None
        self.select_always = select_always
        self.db = None                  # the writer's db (select_always off)
        self.since = 0
        self.gap = rnd.randint(*lsn_every) if lsn_every else 0

    def _record(self, data):
        self.out += data
        self.lsn += 1
        self.since += 1
        if self.lsn_every and self.since >= self.gap:
            self.lsn_entry()

    def lsn_entry(self):
        if self.since and self.lsn_every:
            self.out += b'\x0f' + pu(self.lsn - 1)
            self.since = 0
            self.gap = self.rnd.randint(*self.lsn_every)

    def select(self, db):
        if self.select_always or db != self.db:
            self.db = db
            return b'\x06' + pu(db)
        return b''

    def cmd(self, db, txid, shard_cnt, args, op=10):
        self._record(self.select(db) + jentry(op, txid, shard_cnt, args))

    def exec_(self, txid, shard_cnt):
        self._record(b'\x0c' + pu(txid) + pu(shard_cnt))

    def ping(self):
        self._record(PING)


class Master:
    """Shards, their flows and a workload.  version: 'head' (v1.38+:
    shard_cnt 1, expiry as DEL with txid 0), 'v137' (shard_cnt = shards
    touched, expiry as EXPIRED), 'v120' (transactions as MULTI_COMMAND
    records closed by EXEC on each flow they touched)."""

    def __init__(self, seed, nshards, version, lsn0, txid0, select_always=True, lsn_every=(6, 30)):
        self.rnd = random.Random(seed)
        self.version = version
        self.flows = [Flow(self.rnd, lsn0 + 17 * i, lsn_every, select_always) for i in range(nshards)]
        self.txid = txid0
        self.db = 0
        self.now = 1795241960000         # the master's clock, ms
        self.stream_seq = {}
        self.keys = [k.encode('latin-1') for k in
                     ['user:%d' % i for i in range(12)] + ['j:s%d' % i for i in range(6)] +
                     ['{tag}:%d' % i for i in range(4)] +
                     ['12345', '-7', 'k', 'k\x00bin\xff', 'spaces in key', 'cnt']]

    def shard(self, key):
        if b'{' in key and b'}' in key[key.index(b'{'):]:
            key = key[key.index(b'{') + 1:key.index(b'}', key.index(b'{'))]
        return zlib.crc32(key) % len(self.flows)

    def key(self):
        return self.rnd.choice(self.keys)

    def value(self):
        rnd = self.rnd
        r = rnd.random()
        if r < 0.05:
            return b''
        if r < 0.15:
            return bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 24)))
        if r < 0.2:
            return b'v' * rnd.choice((63, 64, 200, 700))
        if r < 0.3:
            return b'%d' % rnd.randint(-10 ** 12, 10 ** 12)
        return b'v%d' % rnd.randrange(1000)

    def next_txid(self):
        self.txid += self.rnd.choice((1, 1, 1, 2, 5))
        return self.txid

    def one(self, args, txid=None, op=10):
        """A single-key command on its key's shard."""
        txid = self.next_txid() if txid is None else txid
        self.flows[self.shard(args[1])].cmd(self.db, txid, 1, args, op)

    def multi(self, name, keyed, stride=1):
        """A multi-key command (DEL, MSET): each shard gets its slice, all
        with one txid; before v1.38 shard_cnt counts the shards touched."""
        txid = self.next_txid()
        parts = {}
        for i in range(0, len(keyed), stride):
            parts.setdefault(self.shard(keyed[i]), []).extend(keyed[i:i + stride])
        cnt = 1 if self.version == 'head' else len(parts)
        op = 11 if self.version == 'v120' and len(parts) > 1 else 10
        for s in sorted(parts):
            self.flows[s].cmd(self.db, txid, cnt, [name] + parts[s], op)
        if op == 11:
            for s in sorted(parts):
                self.flows[s].exec_(txid, cnt)

    def global_cmd(self, args):
        """FLUSHDB, FLUSHALL: on every flow, one txid."""
        txid = self.next_txid()
        cnt = 1 if self.version == 'head' else len(self.flows)
        for f in self.flows:
            f.cmd(self.db, txid, cnt, args)

    def transaction(self, writes):
        """MULTI/EXEC or a script: each inner write on its shard, one txid."""
        txid = self.next_txid()
        shards = sorted({self.shard(w[1]) for w in writes})
        if self.version == 'v120':
            for w in writes:
                self.flows[self.shard(w[1])].cmd(self.db, txid, len(shards), w, 11)
            for s in shards:
                self.flows[s].exec_(txid, len(shards))
            return
        cnt = 1 if self.version == 'head' else len(shards)
        for w in writes:
            self.flows[self.shard(w[1])].cmd(self.db, txid, cnt, w)

    def expire(self, key):
        self.one([b'DEL', key], txid=0, op=10 if self.version == 'head' else 9)

    def pxat(self):
        return b'%d' % (self.now + self.rnd.randint(1000, 10 ** 7))

    def write(self):
        """One client command, as the master journals it (journal.md §7)."""
        rnd = self.rnd
        self.now += rnd.randint(0, 40)
        k, v = self.key(), self.value()
        c = rnd.randrange(40)
        if c < 4:
            self.one([b'SET', k, v])
        elif c == 4:
            self.one([b'SET', k, v, b'PXAT', self.pxat()])      # SET EX/PX, SETEX
        elif c == 5:
            self.one([b'SET', k, v, b'KEEPTTL'])
        elif c == 6:
            self.one([b'INCR', k])
        elif c == 7:
            self.one([rnd.choice((b'INCRBY', b'DECRBY')), k, b'%d' % rnd.randint(-999, 99999)])
        elif c == 8:
            self.one([b'INCRBYFLOAT', k, rnd.choice((b'1.5', b'-0.25', b'3.0e3'))])
        elif c == 9:
            self.one([b'APPEND', k, v])
        elif c == 10:
            self.one([rnd.choice((b'LPUSH', b'RPUSH')), k] + [self.value() for _ in range(rnd.randint(1, 4))])
        elif c == 11:
            self.one([rnd.choice((b'LPOP', b'RPOP')), k])
        elif c == 12:
            self.one([b'LTRIM', k, b'0', b'%d' % rnd.randint(-1, 50)])
        elif c == 13:
            args = [b'HSET', k]
            for _ in range(rnd.randint(1, 4)):
                args += [b'f%d' % rnd.randrange(20), self.value()]
            self.one(args)
        elif c == 14:
            self.one([b'HINCRBY', k, b'f%d' % rnd.randrange(8), b'3'])
        elif c == 15:
            args = [b'ZADD', k]
            for _ in range(rnd.randint(1, 3)):
                args += [rnd.choice((b'1', b'-2.5', b'inf', b'-inf', b'0.1000000000000000055511151231257827')),
                         b'm%d' % rnd.randrange(10)]
            self.one(args)
        elif c == 16:
            self.one([b'ZINCRBY', k, b'1.25', b'm%d' % rnd.randrange(5)])
        elif c == 17:
            self.one([b'ZPOPMIN', k, b'%d' % rnd.randint(1, 3)])
        elif c == 18:
            seq = self.stream_seq.get(k, 0)
            self.stream_seq[k] = seq + 1
            sid_ = b'%d-%d' % (self.now, seq)
            if rnd.random() < 0.3:
                self.one([b'XADD', k, b'MINID', b'%d-0' % (self.now - 5000), sid_, b'n', b'%d' % seq])
            else:
                self.one([b'XADD', k, sid_, b'n', b'%d' % seq, b'f', v])
        elif c == 19:
            self.one([b'SADD', k] + [b'm%d' % rnd.randrange(30) for _ in range(rnd.randint(1, 3))])
        elif c == 20:
            self.one([b'SREM', k, b'm%d' % rnd.randrange(30)])      # SPOP, rewritten
        elif c == 21:
            self.one([b'PEXPIREAT', k, self.pxat()])
        elif c == 22:
            self.one([b'PERSIST', k])
        elif c == 23:
            self.multi(b'DEL', sorted({self.key() for _ in range(rnd.randint(2, 6))}))
        elif c == 24:
            kv = []
            for kk in sorted({self.key() for _ in range(rnd.randint(2, 5))}):
                kv += [kk, self.value()]
            self.multi(b'MSET', kv, stride=2)
        elif c == 25:
            dst = self.key()
            if self.shard(k) == self.shard(dst):
                self.one([rnd.choice((b'RENAME', b'RENAMENX')), k, dst])
            else:                                               # across shards
                txid = self.next_txid()
                cnt = 1 if self.version == 'head' else 2
                self.flows[self.shard(k)].cmd(self.db, txid, cnt, [b'DEL', k])
                self.flows[self.shard(dst)].cmd(self.db, txid, cnt,
                                                [b'RESTORE', dst, b'0', dump_payload(v), b'REPLACE', b'ABSTTL'])
        elif c == 26:
            self.transaction([[b'SET', self.key(), self.value()], [b'INCR', b'cnt'],
                              [b'LPUSH', self.key(), self.value()], [b'HSET', self.key(), b'f', self.value()]])
        elif c == 27:
            self.transaction([[b'LPOP', k], [b'LPUSH', self.key(), self.value()]])      # LMOVE
        elif c == 28:
            self.expire(k)
        elif c == 29:
            self.one([b'HSETEX', k, b'%d' % rnd.randint(1, 3600), b'f%d' % rnd.randrange(9), v])
        elif c == 30:
            self.one([b'SADDEX', k, b'%d' % rnd.randint(1, 3600)] + [b'm%d' % i for i in range(rnd.randint(1, 3))])
        elif c == 31:
            self.one([b'HDEL', k, b'f%d' % rnd.randrange(20)])
        elif c == 32:
            self.one([b'DEL', k])
        elif c == 33:
            self.one([b'SET', k, v, b'PXAT', self.pxat(), b'STICK'] if rnd.random() < 0.5 else
                     [b'SET', k, v, b'_MCFLAGS', b'%d' % rnd.randrange(1 << 16)])
        elif c == 34:
            self.db = rnd.choice((0, 0, 1, 2, 15))                # SELECT on the client
            self.one([b'SET', k, v])
        elif c == 35 and rnd.random() < 0.25:
            self.global_cmd([b'FLUSHDB'] if rnd.random() < 0.6 else [b'FLUSHDB', b'ASYNC'])
        elif c == 36 and rnd.random() < 0.1:
            self.global_cmd([b'FLUSHALL'])
        elif c == 37:
            for f in self.flows:
                f.ping()
        elif c == 38:
            self.one([b'SETRANGE', k, b'%d' % rnd.randrange(100), v])
        else:
            self.one([b'PEXPIREAT', k, self.pxat()] if rnd.random() < 0.5 else [b'SET', k, v])

    def run(self, target):
        """Writes until the largest flow holds about target bytes; each
        flow ends with an LSN entry, as after a pause."""
        while max(len(f.out) for f in self.flows) < target:
            self.write()
        for f in self.flows:
            f.lsn_entry()
        return [bytes(f.out) for f in self.flows]


def stable_sessions():
    seeds = {}
    # current masters: 3 shards, shard_cnt 1, expiry DELs with txid 0
    for i, f in enumerate(Master(1, 3, 'head', lsn0=3, txid0=1).run(5000)):
        seeds['stable-head-flow%d' % i] = f
    # a long-lived master: LSNs cross 2^32, txids in the 5-byte form
    for i, f in enumerate(Master(2, 2, 'head', lsn0=(1 << 32) - 40, txid0=100000).run(4000)):
        seeds['stable-head-biglsn-flow%d' % i] = f
    # one shard: every record on the one flow, txids in the 9-byte form
    seeds['stable-head-1shard'] = Master(3, 1, 'head', lsn0=70000, txid0=1 << 33).run(5000)[0]
    # v1.21 - v1.37: shard_cnt counts the shards touched, EXPIRED records
    for i, f in enumerate(Master(4, 2, 'v137', lsn0=900, txid0=5000).run(4000)):
        seeds['stable-v137-flow%d' % i] = f
    # <= v1.20: MULTI_COMMAND ... EXEC, no LSN entries, SELECT only when
    # the db changes (the decoder carries the db over)
    for i, f in enumerate(Master(5, 2, 'v120', lsn0=1, txid0=40, select_always=False,
                                 lsn_every=None).run(4000)):
        seeds['stable-v120-flow%d' % i] = f
    return seeds


def stable_special():
    """Hand-written stable-sync streams for the corners a workload rarely
    reaches."""
    rnd = random.Random(6)
    seeds = {}

    # big arguments: lengths on both sides of the 1- to 2-byte boundary
    # (the 5-byte one, 16384, is big-arg's; kept out to keep this small),
    # between ordinary records; a record of 998 arguments
    f = Flow(rnd, 1000, (1, 3))
    for n in (62, 63, 64, 65, 255, 256, 1000, 4095):
        f.cmd(0, 7 + n, 1, [b'SET', b'big:%d' % n, bytes([0x41 + n % 26]) * n])
        f.cmd(0, 8 + n, 1, [b'INCR', b'c'])
    f.cmd(0, 30000, 1, [b'HSET', b'wide'] + [b'%d' % (i // 2) if i % 2 == 0 else b'' for i in range(996)])
    f.cmd(0, 30001, 1, [b'APPEND', b'k' * 300, b'x' * 70])
    f.ping()
    f.lsn_entry()
    seeds['stable-big-args'] = bytes(f.out)

    # empty arguments wherever an argument may be empty
    f = Flow(rnd, 5, (2, 4))
    for args in ([b'SET', b'', b''], [b'SET', b'k', b'', b'KEEPTTL'], [b'APPEND', b'k', b''],
                 [b'HSET', b'h', b'', b''], [b'ZADD', b'z', b'1', b''], [b'SADD', b's', b''],
                 [b'LPUSH', b'', b'', b'', b''], [b'XADD', b'x', b'1-1', b'', b''],
                 [b'DEL', b'', b'a', b''], [b'MSET', b'', b'', b'a', b''], [b'HSETEX', b'h', b'10', b'', b''],
                 [b'SADDEX', b's', b'10', b''], [b'RENAME', b'', b'e']):
        f.cmd(0, 0 if args[0] == b'DEL' else 11, 1, args)
    f.ping()
    f.lsn_entry()
    seeds['stable-empty-args'] = bytes(f.out)

    # binary keys and values: every byte, the journal's own opcodes and
    # packed-uint prefixes among them
    f = Flow(rnd, 64, (3, 9))
    allb = bytes(range(256))
    for i in range(0, 256, 32):
        f.cmd(i % 3, 100 + i, 1, [b'SET', allb[i:i + 32], allb[255 - i::-7]])
    for chunk in (b'\x06\x00\x0a\x05\x01\x03\x09', b'\x0d\x0d\x0f\x40', b'\x80\x81\xff\xc0', b'\x00'):
        f.cmd(0, 500, 1, [b'HSET', chunk, chunk, chunk * 3])
        f.cmd(0, 501, 1, [b'LPUSH', b'l', chunk])
    f.cmd(0, 0, 1, [b'DEL', b'\x00\xff'])
    f.lsn_entry()
    seeds['stable-binary'] = bytes(f.out)

    # Dragonfly-only and rewritten commands (journal.md sections 7, 8)
    f = Flow(rnd, 300, (4, 12))
    for args in ([b'HSETEX', b'h', b'100', b'f1', b'v1', b'f2', b'v2'],
                 [b'HSETEX', b'h', b'KEEPTTL', b'100', b'f3', b'v3'],
                 [b'HSETEX', b'h', b'FNX', b'EX', b'100', b'FIELDS', b'1', b'f4', b'v4'],
                 [b'HSETEX', b'h', b'PX', b'1500', b'FIELDS', b'2', b'a', b'1', b'b', b'2'],
                 [b'SADDEX', b's', b'60', b'm1', b'm2', b'm3'], [b'SADDEX', b's', b'KEEPTTL', b'60', b'm4'],
                 [b'FIELDEXPIRE', b'h', b'30', b'f1'], [b'HEXPIRE', b'h', b'30', b'FIELDS', b'1', b'f2'],
                 [b'HGETEX', b'h', b'PERSIST', b'FIELDS', b'1', b'f2'], [b'SHRINK', b's'],
                 [b'SET', b'st', b'v', b'PXAT', b'1795241999999', b'STICK', b'_MCFLAGS', b'42'],
                 [b'STICK', b'st', b'h'], [b'PREPEND', b'st', b'pre-'],
                 [b'PEXPIREAT', b'st', b'1795241999999'], [b'PERSIST', b'st'],
                 [b'RESTORE', b'dst', b'1795241999999', dump_payload(b'moved'), b'REPLACE', b'ABSTTL', b'STICK'],
                 [b'XGROUP', b'CREATECONSUMER', b'x', b'g', b'alice'],
                 [b'XCLAIM', b'x', b'g', b'alice', b'0', b'1-1', b'TIME', b'1795241960000', b'RETRYCOUNT', b'1',
                  b'FORCE', b'JUSTID', b'LASTID', b'1-1'],
                 [b'XGROUP', b'SETID', b'x', b'g', b'1-1', b'ENTRIESREAD', b'1'],
                 [b'XTRIM', b'x', b'MINID', b'1-1'], [b'XADD', b'x', b'MAXLEN', b'0', b'2-0', b'f', b'v'],
                 [b'JSON.SET', b'j', b'$', b'{"a":[1,2,{"b":null}]}'], [b'JSON.MSET', b'j', b'$.a', b'7'],
                 [b'PING'], [b'SCRIPT', b'LOAD', b"return redis.call('GET', KEYS[1])"],
                 [b'FT.CREATE', b'idx', b'ON', b'HASH', b'SCHEMA', b'f', b'TEXT'],
                 [b'DFLYCLUSTER', b'FLUSHSLOTS', b'0', b'100', b'5000', b'16383'],
                 [b'CL.THROTTLE', b'u', b'15', b'30', b'60', b'1'], [b'DELEX', b'st', b'IFEQ', b'v'],
                 [b'MOVE', b'st', b'3'], [b'SET', b'bits', b'\x0f\xf0'], [b'SET', b'hll', b'HYLL\x01' + b'\x00' * 11],
                 [b'ZPOPMAX', b'z', b'2'], [b'ZADD', b'z', b'0.30000000000000004', b'a', b'-inf', b'b'],
                 [b'FLUSHALL'], [b'FLUSHDB', b'SYNC']):
        f.cmd(0, 0 if args[0] == b'PING' else 900, 1, args)
    f.lsn_entry()
    seeds['stable-dragonfly-cmds'] = bytes(f.out)

    # every field in each packed-uint width, shortest or not: SELECT db,
    # txid, shard_cnt, nargs, total_len, argument lengths, LSN values
    out = b''
    lsn = 5
    for i, form in enumerate((1, 2, 5, 9, 2, 5, 9, 1)):
        db = (0, 63, 64, 65535, 1, 2, 300, 9)[i]
        txid = (5, 9000, 1 << 32, (1 << 64) - 1, 0, 77, 1 << 40, 63)[i]
        args = [b'SET', b'k%d' % i, b'v' * i]
        out += (b'\x06' + pux(db, widest(db, min(form, 5))) +
                b'\x0a' + pux(txid, widest(txid, form)) + pux(1 + i, form) + pux(len(args), form) +
                pux(sum(map(len, args)), form) + b''.join(pux(len(a), form) + a for a in args))
        out += b'\x0f' + pux(lsn, widest(lsn, form))
        out += PING
        lsn += 2
    # SELECTs one after another before one record (the last one counts)
    out += b'\x06\x01\x06\x02\x06\x40\x40' + jentry(10, 1, 1, [b'INCR', b'cnt'])
    out += b'\x0f' + pux(lsn, 9)
    seeds['stable-long-forms'] = out

    # an idle flow: PINGs, each followed by its LSN entry, then writes
    f = Flow(rnd, 62, (1, 1))
    for _ in range(30):
        f.ping()
    f.cmd(0, 0, 1, [b'DEL', b'expired:key'])
    f.cmd(0, 63, 1, [b'SET', b'k', b'v'])
    seeds['stable-idle'] = bytes(f.out)
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
