#!/usr/bin/python3
# df2redis inspect: every fixture RDB against what a real redis-server loads
# from it, every Dragonfly capture against the master's keyspace, --summary
# against the full output, errors, and byte-exact JSON escaping.
import glob
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *  # noqa: E402,F401

REDIS_DIRS = [os.path.join(FIXTURES, 'redis-assets'), os.path.join(FIXTURES, 'dragonfly-testdata')]


def inspect(path, *opts):
    """(exit status, [objects], stdout text, stderr text)"""
    r = run([DF2REDIS, 'inspect'] + list(opts) + [path], timeout=120)
    objs = []
    bad = None
    for line in r.stdout.decode('ascii', 'replace').splitlines():
        try:
            objs.append(json.loads(line))
        except ValueError:
            bad = line
            break
    if bad is not None:
        diag('not JSON: %r' % bad[:200])
        objs = None
    return r.returncode, objs, r.stdout, r.stderr.decode('latin-1')


def now_ms():
    return int(time.time() * 1000)


def score(x):
    return float(x) if not isinstance(x, str) else float(x)


# ------------------------------------------------------------ shapes

def shape_redis(o):
    """An inspect key in dftest.dump_key(detail=True) shape."""
    t, v = o['type'], o['value']
    if t == 'set':
        v = sorted(m[0] if isinstance(m, list) else m for m in v)
    elif t == 'zset':
        v = [[m, repr(score(s))] for m, s in sorted(v, key=lambda p: (score(p[1]), p[0].encode('latin-1')))]
    elif t == 'hash':
        v = sorted([p[0], p[1]] for p in v)
    elif t == 'stream':
        v = {'entries': v['entries'], 'last_id': v['last_id'],
             'groups': sorted(({'name': g['name'], 'last_id': g['last_id'],
                                'pel': sorted([p[0], p[1], p[3]] for p in g['pel']),
                                'consumers': sorted(c[0] for c in g['consumers'])}
                               for g in v['groups']), key=lambda g: g['name'])}
    return {'type': t, 'value': v, 'pexpiretime': o['expire_ms'] if o['expire_ms'] is not None else -1}


def shape_capture(o):
    """An inspect key in the captures' expected-fullsync.json shape."""
    t, v = o['type'], o['value']
    if t == 'json':
        t = 'ReJSON-RL'
    elif t == 'MBbloom--':
        v = '<MBbloom-->'
    elif t == 'stream':
        v = {'entries': v['entries'], 'groups': sorted([g['name'], g['last_id']] for g in v['groups'])}
    if t in ('set', 'zset', 'hash'):
        return dict(shape_redis(o), type=t)
    return {'type': t, 'value': v, 'pexpiretime': o['expire_ms'] if o['expire_ms'] is not None else -1}


def keyspace(objs, shape):
    out = {}
    for o in objs:
        if 'key' in o:
            out.setdefault(str(o['db']), {})[o['key']] = shape(o)
    return out


def count_keys(ks):
    return sum(len(d) for d in ks.values())


# ------------------------------------------------------------ fixtures vs redis-server

def fixture_files():
    files = []
    for d in REDIS_DIRS:
        for f in sorted(os.listdir(d)):
            if f.startswith('corrupt_'):
                continue
            files.append(os.path.join(d, f))
    return files


def check_fixture(path):
    name = os.path.relpath(path, FIXTURES)
    rc, objs, _, err = inspect(path)
    if not is_(rc, 0, '%s: inspect exits 0' % name):
        diag(err)
        return
    ok(objs is not None, '%s: every line is JSON' % name)
    objs = objs or []
    try:
        srv = RedisServer(rdb=path)
        time.sleep(0.05)
        loaded = srv.loaded()
    except Exception:   # it exits while loading: the server refused the file
        loaded = False
    if not loaded:
        ok(len(objs) > 0, '%s: redis-server 7.0 refuses it; inspect decodes %d keys' % (name, len(objs)))
        check_unloadable(name, objs)
        return
    c = srv.client()
    got = dump_server(c)
    for db, ks in got.items():
        for k, v in ks.items():
            if v['type'] == 'stream':
                c.execute_command('SELECT', db)
                v['value'] = stream_detail(c, k.encode('latin-1'))
    srv.stop()
    t = now_ms()
    live = [o for o in objs if o['expire_ms'] is None or o['expire_ms'] > t + 1000]
    expired = [o for o in objs if o['expire_ms'] is not None and o['expire_ms'] <= t + 1000]
    want = keyspace(live, shape_redis)
    diffs = diff_keyspaces(got, want)
    ok(not diffs, '%s: %d keys equal to what redis-server loaded (%d already expired, absent)'
       % (name, count_keys(want), len(expired)))
    for d in diffs:
        diag(d)
    gone = [o['key'] for o in expired if o['key'] in got.get(str(o['db']), {})]
    is_(gone, [], '%s: expired keys are absent in redis' % name)


def stream_detail(c, key):
    """A stream with its PELs and consumers (dftest's detail=True trips over
    redis-py's XPENDING reply parser)."""
    entries = [[latin1(i), [latin1(x) for kv in f.items() for x in kv]] for i, f in c.xrange(key, '-', '+')]
    groups = []
    for g in c.xinfo_groups(key):
        name = g['name']
        pel = c.xpending_range(key, name, '-', '+', 1 << 30)
        groups.append({'name': latin1(name), 'last_id': latin1(g['last-delivered-id']),
                       'pel': sorted([latin1(p['message_id']), latin1(p['consumer']), p['times_delivered']]
                                     for p in pel),
                       'consumers': sorted(latin1(x['name']) for x in c.xinfo_consumers(key, name))})
    info = c.xinfo_stream(key)
    return {'entries': entries, 'last_id': latin1(info['last-generated-id']),
            'groups': sorted(groups, key=lambda g: g['name'])}


def check_unloadable(name, objs):
    """Files redis-server 7.0 refuses: checked against what the spec says they hold."""
    types = sorted(set(o['type'] for o in objs))
    base = os.path.basename(name)
    if base.startswith('RDB_TYPE_STREAM_LISTPACKS'):
        st = [o for o in objs if o['type'] == 'stream']
        ok(len(st) == 1 and len(st[0]['value']['entries']) > 0 and
           st[0]['value']['last_id'] is not None,
           '%s: one stream with entries and a last id (types %s)' % (name, types))
    elif base == 'redis_json.rdb':
        js = [o for o in objs if o['type'] == 'json']
        parsed = []
        for o in js:
            try:
                parsed.append(json.loads(o['value']))
            except ValueError:
                pass
        ok(len(js) > 0 and len(parsed) == len(js), '%s: json values are JSON text (types %s)' % (name, types))
    else:
        ok(all(o['type'] in ('string', 'list', 'set', 'zset', 'hash', 'stream', 'json') or
               o['value'] is None for o in objs), '%s: sane types %s' % (name, types))


# ------------------------------------------------------------ captures

def touched_keys(objs):
    """(db, key) of every key a journal command in the recording names."""
    keys = set()
    for o in objs:
        if 'journal' not in o:
            continue
        a, db = o['journal'], str(o['db'])
        cmd = a[0].upper()
        if cmd in ('MULTI', 'EXEC', 'SELECT', 'PING', 'FLUSHALL', 'FLUSHDB'):
            continue
        if cmd == 'MSET':
            ks = a[1::2]
        elif cmd in ('DEL', 'UNLINK'):
            ks = a[1:]
        elif cmd == 'RENAME':
            ks = a[1:3]
        else:
            ks = a[1:2]
        keys.update((db, k) for k in ks)
    return keys


def check_capture(d):
    name = os.path.relpath(d, CAPTURES)
    want = load_expected(os.path.join(d, 'expected-fullsync.json'))
    objs = []
    flows = sorted(f for f in glob.glob(os.path.join(d, 'flow-*.bin')) if os.path.getsize(f) > 0)
    nblob_lines = 0
    for f in flows:
        rc, o, _, err = inspect(f, '--flow', '--journal')
        if not is_(rc, 0, '%s/%s: inspect --flow --journal exits 0' % (name, os.path.basename(f))):
            diag(err)
        objs += o or []
        rc, o2, _, err2 = inspect(f, '--flow')
        nblob_lines += sum(1 for l in err2.splitlines() if 'journal blob' in l)
        is_(len(o2 or []), sum(1 for x in (o or []) if 'key' in x),
            '%s/%s: without --journal the same %d keys' % (name, os.path.basename(f), len(o2 or [])))
    touched = touched_keys(objs)
    journal = [o for o in objs if 'journal' in o]
    if name.startswith('types'):
        ok(len(journal) > 0 and nblob_lines >= len(journal),
           '%s: %d journal commands printed, %d blobs reported on stderr without --journal'
           % (name, len(journal), nblob_lines))
    got = keyspace([o for o in objs if 'key' in o and (str(o['db']), o['key']) not in touched], shape_capture)
    exp = {db: {k: v for k, v in ks.items() if (db, k) not in touched} for db, ks in want.items()}
    exp = {db: ks for db, ks in exp.items() if ks}
    diffs = diff_keyspaces(got, exp)
    ok(not diffs, '%s: %d keys untouched by the journal equal expected-fullsync.json (%d touched)'
       % (name, count_keys(exp), len(touched)))
    for x in diffs:
        diag(x)
    dup = len([o for o in objs if 'key' in o]) - len({(o['db'], o['key']) for o in objs if 'key' in o})
    is_(dup, 0, '%s: no key printed twice' % name)
    return objs


# ------------------------------------------------------------ summary

def check_summary(path, *opts):
    name = os.path.relpath(path, FIXTURES)
    t0 = now_ms()
    rc, objs, _, _ = inspect(path, *opts)
    rc2, summ, _, err = inspect(path, '--summary', *opts)
    t1 = now_ms()
    is_((rc, rc2), (0, 0), '%s: inspect and --summary exit 0' % name)
    objs, summ = objs or [], summ or []
    want = {}
    for o in objs:
        if 'key' not in o:
            continue
        e = want.setdefault((o['db'], o['type']), [0, 0])
        e[0] += 1
        if o['expire_ms'] is not None and o['expire_ms'] < t0:
            e[1] += 1
        elif o['expire_ms'] is not None and o['expire_ms'] < t1:
            diag('key %r expired during the test' % o['key'])
    lines = [s for s in summ if 'db' in s]
    got = {(s['db'], s['type']): [s['keys'], s['expired']] for s in lines}
    is_(got, want, '%s: --summary counts equal the full output (%d keys)' % (name, len(objs)))
    is_([(s['db'], s['type']) for s in lines], sorted(got), '%s: --summary sorted by db, type' % name)
    tot = [s['total'] for s in summ if 'total' in s]
    is_(tot, [{'keys': sum(v[0] for v in want.values()), 'expired': sum(v[1] for v in want.values())}],
        '%s: --summary total line' % name)


# ------------------------------------------------------------ errors

def check_fixture_errors(tmp):
    rejected = 0
    for f in sorted(glob.glob(os.path.join(FIXTURES, 'redis-assets', 'corrupt_*.rdb'))):
        rc, _, _, err = inspect(f)
        if rc != 0:
            rejected += 1
            ok(f in err and 'byte' in err and 'Traceback' not in err,
               '%s: rejected, error names the file and the byte: %s' % (os.path.basename(f), err.strip()[:200]))
        else:
            diag('%s: decoded without error' % os.path.basename(f))
    rc, _, _, err = inspect(os.path.join(FIXTURES, 'redis-assets', 'corrupt_ziplist.rdb'))
    ok(rc == 1, 'corrupt_ziplist.rdb exits 1 (%d corrupt fixtures rejected)' % rejected)

    src = os.path.join(FIXTURES, 'redis-assets', 'encodings.rdb')
    data = open(src, 'rb').read()
    for cut in (5, len(data) // 2, len(data) - 1):
        p = os.path.join(tmp, 'cut-%d.rdb' % cut)
        with open(p, 'wb') as f:
            f.write(data[:cut])
        rc, _, _, err = inspect(p)
        ok(rc == 1 and err.startswith(p + ': ') and 'truncated at byte %d' % cut in err,
           'encodings.rdb cut at %d: %s' % (cut, err.strip()))
    flow = os.path.join(CAPTURES, 'types-lz4', 'flow-0.bin')
    fd = open(flow, 'rb').read()
    before = load_expected(os.path.join(CAPTURES, 'types-lz4', 'manifest.json'))['flows'][0]['bytes_before_startstable']
    for cut in (100, before // 2, before):
        p = os.path.join(tmp, 'flow-cut-%d.bin' % cut)
        with open(p, 'wb') as f:
            f.write(fd[:cut])
        rc, _, _, err = inspect(p, '--flow')
        last = err.strip().splitlines()[-1] if err.strip() else ''
        ok(rc == 1 and last == '%s: truncated at byte %d' % (p, cut), 'flow cut at %d: %s' % (cut, last))


def check_errors():
    tmp = tmpdir('inspect')
    if have_fixtures():
        check_fixture_errors(tmp)
    else:
        skip('corrupt and cut fixtures', NO_FIXTURES, 8)

    p = os.path.join(tmp, 'garbage.rdb')
    with open(p, 'wb') as f:
        f.write(b'REDIS0011' + b'\xfa\x03abc\x03def' + b'\xe5' + b'\x00' * 32)
    rc, _, _, err = inspect(p)
    ok(rc == 1 and p in err and 'byte' in err, 'unknown opcode: %s' % err.strip())

    rc, _, _, err = inspect(os.path.join(tmp, 'no-such-file.rdb'))
    ok(rc == 1 and 'no-such-file.rdb' in err, 'missing file: %s' % err.strip())
    r = run([DF2REDIS, 'inspect'])
    is_(r.returncode, 2, 'no FILE: usage, exit 2')
    r = run([DF2REDIS, 'inspect', '--journal', p])
    is_(r.returncode, 2, '--journal without --flow: usage, exit 2')


# ------------------------------------------------------------ escaping

def check_escaping():
    srv = RedisServer()
    c = srv.client()
    allbytes = bytes(range(256))
    c.set(allbytes, b'"\\' + allbytes)
    c.hset(b'h\x00', mapping={b'f"': b'v\\', b'\xff': b''})
    c.rpush(b'l', b'\n', b'\x7f', b'')
    c.execute_command('SAVE')
    path = os.path.join(srv.dir, 'dump.rdb')
    srv.stop()
    rc, objs, out, _ = inspect(path)
    is_(rc, 0, 'escaping: inspect exits 0')
    ok(all(0x20 <= b <= 0x7e for b in out.replace(b'\n', b'')), 'escaping: output is printable ASCII only')

    def esc(b):
        return ''.join(chr(x) if 0x20 <= x <= 0x7e and x not in (0x22, 0x5c) else '\\u%04x' % x for x in b)
    lines = out.decode('ascii').splitlines()
    want = '{"db":0,"key":"%s","type":"string","expire_ms":null,"value":"%s"}' % (esc(allbytes), esc(b'"\\' + allbytes))
    ok(want in lines, 'escaping: all 256 bytes of key and value byte-exact')
    ks = keyspace(objs or [], shape_redis)
    is_(ks.get('0', {}).get('h\x00', {}).get('value'), [['f"', 'v\\'], ['\xff', '']], 'escaping: hash round-trips')
    is_(ks.get('0', {}).get('l', {}).get('value'), ['\n', '\x7f', ''], 'escaping: list round-trips')


# ------------------------------------------------------------ main

if not os.path.exists(DF2REDIS):
    skip_all('bin/df2redis not built')

if have_fixtures():
    for f in fixture_files():
        check_fixture(f)
    for d in sorted(glob.glob(os.path.join(CAPTURES, '*'))) + [os.path.join(CAPTURES, 'partial-lz4', 'first')]:
        if os.path.isfile(os.path.join(d, 'expected-fullsync.json')):
            check_capture(d)
    check_summary(os.path.join(FIXTURES, 'redis-assets', 'encodings.rdb'))
    check_summary(os.path.join(FIXTURES, 'dragonfly-testdata', 'redis6_small.rdb'))
    check_summary(os.path.join(CAPTURES, 'types-lz4', 'flow-0.bin'), '--flow')
else:
    skip('every fixture and capture decoded and compared; --summary', NO_FIXTURES)
check_errors()
check_escaping()
done_testing()
