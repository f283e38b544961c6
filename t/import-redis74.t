#!/usr/bin/python3
# df2redis import of the RDB v12 files Redis 7.4 writes for hashes with
# field TTLs (redis-rdb.md 4: type 25 HASH_LISTPACK_EX for small hashes,
# type 24 HASH_METADATA for big ones): into a fresh 7.4 every key equals
# what 7.4 itself loads from the same file, each field's HPEXPIRETIME
# too; into 7.0 such a key is refused naming it, under --unsupported
# lossy written without its field TTLs and counted, under skip left out.
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *

if not os.access(DF2REDIS, os.X_OK):
    skip_all('bin/df2redis not built')
why = redis_missing('7.4')
if why is not None:
    skip_all(why)

TMP = tmpdir('imp74')
NOW = int(time.time() * 1000)
FAR = NOW + 3600 * 1000


def imp(url, files, *opts):
    return run([DF2REDIS, 'import', '--target', url] + list(opts) + list(files),
               timeout=300, universal_newlines=True)


def fill(c):
    """Small hashes stay listpackex (type 25), big ones hashtable (type 24)."""
    c.hset('small', mapping={'a': '1', 'b': 'two', 'c': '3', '12345': 'int'})
    c.execute_command('HPEXPIRE', 'small', 500000, 'FIELDS', 2, 'a', '12345')
    c.execute_command('HPEXPIREAT', 'small', FAR + 7, 'FIELDS', 1, 'b')
    # every field with a TTL, and the key's own TTL
    c.hset('small-all', mapping={'x': 'y', 'z': 'w'})
    c.execute_command('HEXPIRE', 'small-all', 900, 'FIELDS', 2, 'x', 'z')
    c.pexpireat('small-all', FAR + 99)
    # more entries than hash-max-listpack-entries (512)
    c.hset('big', mapping={'f%03d' % i: 'v%d' % i for i in range(600)})
    for i in range(0, 600, 3):
        c.execute_command('HPEXPIREAT', 'big', FAR + i * 1000 + i, 'FIELDS', 1, 'f%03d' % i)
    # a value longer than hash-max-listpack-value (64)
    c.hset('big-value', mapping={'long': 'L' * 100, 'short': 's', 'n': '42'})
    c.execute_command('HPEXPIRE', 'big-value', 700000, 'FIELDS', 2, 'long', 'n')
    # a field whose TTL was set then removed, and a plain hash beside them
    c.hset('persisted', mapping={'p': '1', 'q': '2'})
    c.execute_command('HEXPIRE', 'persisted', 100, 'FIELDS', 2, 'p', 'q')
    c.execute_command('HPERSIST', 'persisted', 'FIELDS', 1, 'p')
    c.hset('plain', mapping={'k': 'v'})
    c.set('str', 'v')
    c.select(3) if hasattr(c, 'select') else c.execute_command('SELECT', 3)
    c.hset('db3', mapping={'d': '1', 'e': '2'})
    c.execute_command('HPEXPIREAT', 'db3', FAR + 3, 'FIELDS', 1, 'e')
    c.execute_command('SELECT', 0)


src = RedisServer(version='7.4')
sc = src.client()
fill(sc)
enc = {k: sc.object('encoding', k) for k in ['small', 'small-all', 'big', 'big-value']}
is_(enc, {'small': b'listpackex', 'small-all': b'listpackex', 'big': b'hashtable',
          'big-value': b'hashtable'}, 'Redis 7.4 holds both encodings (types 25 and 24)')
sc.save()
path = os.path.join(TMP, 'v12.rdb')
shutil.copy(os.path.join(src.dir, 'dump.rdb'), path)
src.stop()
with open(path, 'rb') as f:
    is_(f.read(9), b'REDIS0012', 'the file is RDB version 12')

# the type byte before each key name (RDB strings of < 64 bytes: one length byte)
with open(path, 'rb') as f:
    data = f.read()
types = {}
for k in [b'small', b'small-all', b'big', b'big-value', b'persisted', b'plain']:
    i = data.find(bytes([len(k)]) + k)
    types[k.decode()] = data[i - 1] if i > 0 else None
is_(types, {'small': 25, 'small-all': 25, 'big': 24, 'big-value': 24, 'persisted': 25,
            'plain': 16}, 'each hash with a field TTL has type 24 or 25')

native = RedisServer(rdb=path, version='7.4')
nc = native.client()
want = dump_server(nc)
want_t = dump_field_times(nc)
native.stop()
is_(sorted(want_t.get('0', {})), ['big', 'big-value', 'persisted', 'small', 'small-all'],
    'Redis 7.4 loads the field TTLs it saved')
is_(want_t['0']['small'], [['12345', want_t['0']['small'][0][1]], ['a', want_t['0']['small'][1][1]],
                           ['b', FAR + 7], ['c', -1]], 'an absolute field time survives SAVE and load')

# ---------------------------------------------------------------- into 7.4
t74 = RedisServer(version='7.4')
c74 = t74.client()
r = imp(t74.url, [path])
if not ok(r.returncode == 0, 'import into 7.4: exit 0'):
    diag(r.stderr[-2000:])
diff = diff_keyspaces(dump_server(c74), want)
if not ok(not diff, 'import into 7.4: every key, field and value as 7.4 loads them'):
    for d in diff:
        diag(d)
is_(dump_field_times(c74), want_t, 'import into 7.4: each field\'s HPEXPIRETIME as 7.4 loads it')
is_(c74.execute_command('PEXPIRETIME', 'small-all'), FAR + 99, 'the key\'s own TTL too')
ok(re.search(r'\b0 skipped unsupported\b', r.stderr) or 'unsupported' not in r.stderr,
   'nothing skipped')

# a field expired in the file is dropped, as the target would expire it;
# a hash whose every field expired is dropped, not refused as empty
gen = RedisServer(version='7.4', args=['--enable-debug-command', 'yes'])
gc = gen.client()
gc.execute_command('DEBUG', 'SET-ACTIVE-EXPIRE', 0)
gc.hset('gone', mapping={'a': '1', 'b': '2'})
gc.hset('half', mapping={'a': '1', 'b': '2', 'c': '3'})
gc.hset('bigone', mapping={'f%03d' % i: 'v' for i in range(600)})
past = int(time.time() * 1000) + 50
gc.execute_command('HPEXPIREAT', 'gone', past, 'FIELDS', 2, 'a', 'b')
gc.execute_command('HPEXPIREAT', 'half', past, 'FIELDS', 1, 'a')
gc.execute_command('HPEXPIREAT', 'bigone', past, 'FIELDS', 600, *['f%03d' % i for i in range(600)])
while int(time.time() * 1000) <= past + 5:
    time.sleep(0.02)
gc.save()
epath = os.path.join(TMP, 'expired.rdb')
shutil.copy(os.path.join(gen.dir, 'dump.rdb'), epath)
gen.stop()
with open(epath, 'rb') as f:
    edata = f.read()
ok(edata.find(b'\x04gone') > 0 and edata.find(b'\x06bigone') > 0,
   'Redis 7.4 saves a hash whose fields all expired (the setup holds)')
c74.flushall()
r = imp(t74.url, [epath])
if not ok(r.returncode == 0, 'expired fields: exit 0'):
    diag(r.stderr[-2000:])
is_((sorted(c74.keys()), c74.hgetall('half')), ([b'half'], {b'b': b'2', b'c': b'3'}),
    'expired fields dropped; a hash left with none is not written')

# ---------------------------------------------------------------- into 7.0
t70 = RedisServer()
c70 = t70.client()
r = imp(t70.url, [path])
ok(r.returncode != 0, 'import into 7.0: refused by default')
if not ok(re.search(r'key "(small|small-all|big|big-value|persisted)".*hash field TTLs need Redis 7.4.*'
                    r'--unsupported skip', r.stderr), 'the error names the key and the policy'):
    diag(r.stderr[-2000:])
c70.flushall()
r = imp(t70.url, [path], '--unsupported', 'lossy')
if not ok(r.returncode == 0, 'import into 7.0 --unsupported lossy: exit 0'):
    diag(r.stderr[-2000:])
# 7.0 holds what 7.4 loaded, minus the field TTLs
got = dump_server(c70)
diff = diff_keyspaces(got, want)
if not ok(not diff, 'import into 7.0 --unsupported lossy: every field and value'):
    for d in diff:
        diag(d)
m = re.search(r'(\d+) lossy', r.stderr)
is_(int(m.group(1)) if m else r.stderr[-500:], 6, "the six hashes with field TTLs counted as lossy")
is_(sorted(re.findall(r'key "([^"]*)" written without its hash field TTLs', r.stderr)),
    ['big', 'big-value', 'db3', 'persisted', 'small', 'small-all'], 'and each logged by name')
# skip: those six hashes are not on the target, every other key is
c70.flushall()
r = imp(t70.url, [path], '--unsupported', 'skip')
if not ok(r.returncode == 0, 'import into 7.0 --unsupported skip: exit 0'):
    diag(r.stderr[-2000:])
LOST = ['big', 'big-value', 'db3', 'persisted', 'small', 'small-all']
want_skip = {db: {k: v for k, v in keys.items() if k not in LOST} for db, keys in want.items()}
want_skip = {db: keys for db, keys in want_skip.items() if keys}
diff = diff_keyspaces(dump_server(c70), want_skip)
if not ok(not diff, 'import into 7.0 --unsupported skip: the hashes with field TTLs left out whole'):
    for d in diff:
        diag(d)
is_(sorted(re.findall(r'key "([^"]*)" skipped: hash field TTLs need Redis 7.4', r.stderr)), LOST,
    'and each logged by name')
done_testing()
