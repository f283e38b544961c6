#!/usr/bin/python3
# df2redis import: fixtures and generated RDB files into real redis-servers
# (standalone and a 3-master cluster), compared key by key with a server
# that loaded the same file natively; conflicts, db maps, unsupported
# values, big values and faults (slot migration, restart, auth, OOM).
import glob
import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *

if not os.access(DF2REDIS, os.X_OK):
    skip_all('bin/df2redis not built')

TMP = tmpdir('import')
SCALE = 1 if not ASAN else 0.01


def gen_rdb(name, fill, args=()):
    """Fill a scratch redis-server, SAVE, keep its dump.rdb."""
    s = RedisServer(args=list(args))
    c = s.client()
    fill(c)
    c.save()
    path = os.path.join(TMP, name + '.rdb')
    shutil.copy(os.path.join(s.dir, 'dump.rdb'), path)
    s.stop()
    return path


def imp(url, files, *opts, env=None, timeout=300):
    e = dict(os.environ)
    e.update(env or {})
    return run([DF2REDIS, 'import', '--target', url] + list(opts) + list(files),
               env=e, timeout=timeout, universal_newlines=True)


def native(path):
    s = RedisServer(rdb=path)
    d = dump_server(s.client(), detail=True)
    s.stop()
    return d


def cluster_dump(cl):
    out = {}
    for n in cl.nodes:
        out.update(dump_db(n.client(), detail=True))
    return {'0': out} if out else {}


def collapse(d):
    out = {}
    for db in d.values():
        out.update(db)
    return {'0': out} if out else {}


def flush_cluster(cl):
    for n in cl.nodes:
        n.client().flushall()


def same(got, want, name):
    diff = diff_keyspaces(got, want)
    if not ok(not diff, name):
        for l in diff:
            diag(l)


def check_run(r, name):
    if not ok(r.returncode == 0, name + ': exit 0'):
        diag(r.stderr[-3000:])
    return r.returncode == 0


def summary_count(r, what):
    m = re.search(r'(\d+) ' + what, r.stderr)
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- fixtures
fixtures = sorted(glob.glob(os.path.join(FIXTURES, 'redis-assets', '*.rdb')) +
                  glob.glob(os.path.join(FIXTURES, 'dragonfly-testdata', '*.rdb')))
# Files with a corrupt key: import must stop there, naming the file, the
# byte offset and the key; redis-server 7.0 loads corrupt_empty_keys.rdb by
# dropping its empty keys, which df2redis never does silently.
CORRUPT = {'corrupt_empty_keys.rdb': (100, 'set'),
           'corrupt_ziplist.rdb': (494, 'key:000000000091')}
corrupt = [f for f in fixtures if os.path.basename(f) in CORRUPT]
fixtures = [f for f in fixtures if f not in corrupt]
if have_fixtures():
    is_(sorted(os.path.basename(f) for f in corrupt), sorted(CORRUPT), 'both corrupt fixtures present')
else:
    skip('the fixture RDB files: standalone, cluster, corrupt and refused ones', NO_FIXTURES)
loadable = []
for f in fixtures:
    try:
        s = RedisServer(rdb=f)
        s.client().ping()
    except Exception:
        diag('redis-server 7.0 refuses %s: compared with the decoder' % os.path.basename(f))
        continue
    loadable.append(f)
    s.stop()

standalone = RedisServer()
cl = RedisCluster()
for f in loadable:
    want = native(f)
    standalone.client().flushall()
    r = imp(standalone.url, [f])
    check_run(r, 'fixture %s' % os.path.basename(f))
    same(dump_server(standalone.client(), detail=True), want,
         'fixture %s: every key as redis-server loads it' % os.path.basename(f))

for f in loadable:
    want = collapse(native(f))
    flush_cluster(cl)
    r = imp(cl.url, [f])
    check_run(r, 'cluster: fixture %s' % os.path.basename(f))
    same(cluster_dump(cl), want,
         'cluster: fixture %s: every key, dbs collapsed to 0' % os.path.basename(f))



def prefix_rdb(path, name, end):
    """The file's bytes before offset end, closed by an EOF opcode and a
    zero checksum (which redis-server does not verify)."""
    with open(path, 'rb') as f:
        data = f.read()
    out = os.path.join(TMP, name)
    with open(out, 'wb') as f:
        f.write(data[:end] + b'\xff' + b'\0' * 8)
    return out


for f in corrupt:
    base = os.path.basename(f)
    off, key = CORRUPT[base]
    with open(f, 'rb') as fh:
        keystart = fh.read().index(key.encode()) - 2    # type byte, length byte
    want = native(prefix_rdb(f, 'before-' + base, keystart))
    for url, dump, flush, where in [
            (standalone.url, lambda: dump_server(standalone.client(), detail=True),
             lambda: standalone.client().flushall(), ''),
            (cl.url, lambda: cluster_dump(cl), lambda: flush_cluster(cl), 'cluster: ')]:
        flush()
        r = imp(url, [f])
        ok(r.returncode == 1, '%s%s: exit 1' % (where, base)) or diag(r.stderr[-2000:])
        ok(re.search(r'%s: byte %d: .* while decoding key "%s"' % (re.escape(f), off, re.escape(key)),
                     r.stderr), '%s%s: error names the file, byte %d and key "%s"' % (where, base, off, key)) \
            or diag(r.stderr[-2000:])
        ok('repair or replace the file and run the import again' in r.stderr,
           '%s%s: tells the operator what to do' % (where, base))
        got = dump()
        same(got, want if not where else collapse(want),
             '%s%s: exactly the complete keys before the bad one (%d)' % (where, base,
                                                                         sum(map(len, want.values()))))



# a file cut in the middle of a big key (built under a temporary name)
def fill_trunc(c):
    c.eval("for i=1,200 do redis.call('SET','s'..i,'v'..i) end", 0)
    c.execute_command('SELECT', 1)
    c.eval("for i=1,20000 do redis.call('SADD','bigset','member:'..i) end", 0)
    c.execute_command('SELECT', 0)


trunc = gen_rdb('trunc', fill_trunc)
with open(trunc, 'rb') as fh:
    data = fh.read()
at = data.index(b'bigset')
cut = os.path.join(TMP, 'cut.rdb')
with open(cut, 'wb') as fh:
    fh.write(data[:at + (len(data) - at) // 2])
want = native(trunc)
del want['1']
c = standalone.client()
c.flushall()
c.config_resetstat()
r = imp(standalone.url, [cut])
ok(r.returncode == 1 and re.search(r'cut.rdb: truncated at byte \d+ \(no end of file marker\) '
                                   r'while decoding key "bigset"', r.stderr),
   'file cut inside a big key: exit 1, names the byte and the key') or diag(r.stderr[-2000:])
sadds = c.info('commandstats').get('cmdstat_sadd', {}).get('calls', 0)
ok(sadds > 1, 'the big key was being built in several SADDs (%d)' % sadds)
c.execute_command('SELECT', 1)
is_(c.keys(), [], 'its temporary key is deleted, nothing of it is visible')
c.execute_command('SELECT', 0)
same(dump_server(c, detail=True), want, 'the 200 keys before it are written')



# Fixtures redis-server 7.0 cannot load (newer encodings, JSON) have no
# native reference: the decoder's own view (rdbevents) is the reference
# for every key, value and expiry, and already-expired keys must be absent.
def unesc(tok):
    if tok == '""':
        return ''
    return latin1(re.sub(rb'\\x([0-9a-f]{2})', lambda m: bytes([int(m.group(1), 16)]), tok.encode()))


def decoded(path):
    r = run([os.path.join(TBIN, 'rdbevents'), path], universal_newlines=True)
    out, keys, now = {}, {}, int(time.time() * 1000)
    for line in r.stdout.splitlines():
        t = line.split(' ')
        if t[0] == 'key':
            cur = {'db': t[2], 'type': t[3], 'exp': int(t[5]), 'items': [], 'entries': [], 'groups': []}
            keys[unesc(t[7])] = cur
        elif t[0] == 'item':
            cur['items'].append((float(t[3]), [unesc(x) for x in t[5:]]))
        elif t[0] == 'entry':
            cur['entries'].append([t[2], [unesc(x) for x in t[4:]]])
        elif t[0] == 'group':
            cur['groups'].append([unesc(t[2]), t[3]])
    for name, k in keys.items():
        if k['type'] not in ('string', 'list', 'set', 'zset', 'hash', 'stream') or 0 <= k['exp'] <= now:
            continue
        v = {'string': lambda: ''.join(x[1][0] for x in k['items']),
             'list': lambda: [x[1][0] for x in k['items']],
             'set': lambda: sorted(x[1][0] for x in k['items']),
             'zset': lambda: [[m, repr(sc)] for sc, m in sorted((x[0], x[1][0]) for x in k['items'])],
             'hash': lambda: sorted(x[1] for x in k['items']),
             'stream': lambda: {'entries': k['entries'], 'groups': sorted(k['groups'])}}[k['type']]()
        out.setdefault(k['db'], {})[name] = {'type': k['type'], 'value': v, 'pexpiretime': k['exp']}
    return out, len(keys)


refused = [f for f in fixtures if f not in loadable and not f.endswith('redis_json.rdb')]
for f in refused:
    base = os.path.basename(f)
    want, nkeys = decoded(f)
    standalone.client().flushall()
    r = imp(standalone.url, [f])
    check_run(r, 'fixture %s' % base)
    nwant = sum(map(len, want.values()))
    same(dump_server(standalone.client()), want,
         'fixture %s: every key as the decoder read it (%d of %d; the rest expired)' % (base, nwant, nkeys))

# ---------------------------------------------------------------- generated mixed file
def fill_mixed(c):
    p = c.pipeline(transaction=False)
    for i in range(300):
        p.set('s:%d' % i, b'v\x00\xff%d' % i * (i % 7 + 1))
        p.rpush('l:%d' % i, *[b'e%d' % j for j in range(i % 13 + 1)])
        p.sadd('set:%d' % i, *[b'm%d' % j for j in range(i % 11 + 1)])
        p.sadd('iset:%d' % i, *range(i % 9 + 1))
        p.hset('h:%d' % i, mapping={b'f%d' % j: b'x' * j for j in range(i % 10 + 1)})
        p.zadd('z:%d' % i, {b'm%d' % j: j / 3.0 for j in range(i % 10 + 1)})
    p.zadd('zinf', {'a': float('inf'), 'b': float('-inf'), 'c': 0.1, 'd': 1e-300})
    p.set('ttl:str', 'x')
    p.pexpireat('ttl:str', int(time.time() * 1000) + 3600 * 1000)
    p.sadd('ttl:set', 'a', 'b')
    p.pexpireat('ttl:set', int(time.time() * 1000) + 7200 * 1000)
    p.set(b'bin\x00key\xff', b'\x00\x01')
    p.set('', 'empty key name')
    p.set('emptyval', '')
    p.execute()
    c.execute_command('SELECT', 1)
    c.set('db1:a', '1')
    c.rpush('db1:l', 'x', 'y')
    c.execute_command('SELECT', 2)
    c.hset('db2:h', 'f', 'v')
    c.execute_command('SELECT', 0)


mixed = gen_rdb('mixed', fill_mixed)
want_mixed = native(mixed)
standalone.client().flushall()
r = imp(standalone.url, [mixed])
check_run(r, 'mixed types, 3 dbs')
same(dump_server(standalone.client(), detail=True), want_mixed, 'mixed types, 3 dbs: exact')
is_(summary_count(r, 'keys written'), sum(len(v) for v in want_mixed.values()),
    'summary counts every key written')

# --batch: 1..100000
for b in ('0', '100001', 'x'):
    r = imp(standalone.url, [mixed], '--batch', b)
    ok(r.returncode == 2 and '--batch %s' % b in r.stderr and '1-100000' in r.stderr,
       '--batch %s refused, range named' % b) or diag(r.stderr)
standalone.client().flushall()
r = imp(standalone.url, [mixed], '--batch', '1')
check_run(r, '--batch 1')
same(dump_server(standalone.client(), detail=True), want_mixed, '--batch 1: every key built member by member, exact')

# --db-map
standalone.client().flushall()
r = imp(standalone.url, [mixed], '--db-map', '1:5,2:0')
check_run(r, '--db-map 1:5,2:0')
want = {'0': dict(want_mixed['0'], **want_mixed['2']), '5': want_mixed['1']}
same(dump_server(standalone.client(), detail=True), want, '--db-map 1:5,2:0: db 1 in 5, db 2 merged into 0')

# cluster: every db to 0
flush_cluster(cl)
r = imp(cl.url, [mixed])
check_run(r, 'cluster: mixed file with 3 dbs')
same(cluster_dump(cl), collapse(want_mixed), 'cluster: dbs 1 and 2 written to db 0')
r = imp(cl.url, [mixed], '--db-map', '1:3')
ok(r.returncode != 0 and 'cluster has only db 0' in r.stderr, 'cluster: --db-map to db 3 refused')

# ---------------------------------------------------------------- expiry
def fill_expiring(c):
    c.set('soon', 'x')
    c.pexpireat('soon', int(time.time() * 1000) + 300)
    c.sadd('soonset', 'a')
    c.pexpireat('soonset', int(time.time() * 1000) + 300)
    c.set('stays', 'y')


expiring = gen_rdb('expiring', fill_expiring)
time.sleep(0.5)
standalone.client().flushall()
r = imp(standalone.url, [expiring])
check_run(r, 'keys expired by import time')
is_(summary_count(r, 'expired and dropped'), 2, 'two keys counted as expired and dropped')
is_(sorted(standalone.client().keys()), [b'stays'], 'expired keys not written')

# ---------------------------------------------------------------- conflicts
NBIG = 3000


def fill_conflict(c):
    c.set('str', 'new')
    c.sadd('set', 'a', 'b')
    c.sadd('bigset', *range(NBIG))
    c.rpush('biglist', *range(NBIG))
    c.set('fresh', 'f')


conflict = gen_rdb('conflict', fill_conflict)
want_conflict = native(conflict)


def prefill(c):
    c.flushall()
    c.set('str', 'old', px=3600000)
    c.sadd('set', 'x')
    c.set('bigset', 'old')
    c.rpush('biglist', 'old1', 'old2')
    c.set('other', 'untouched')


c = standalone.client()
prefill(c)
r = imp(standalone.url, [conflict], '--conflict', 'overwrite')
check_run(r, '--conflict overwrite')
want = {'0': dict(want_conflict['0'])}
want['0']['other'] = {'type': 'string', 'value': 'untouched', 'pexpiretime': -1}
same(dump_server(c, detail=True), want, '--conflict overwrite: keys replaced whole, no old members')

prefill(c)
before = dump_server(c, detail=True)
r = imp(standalone.url, [conflict], '--conflict', 'skip')
check_run(r, '--conflict skip')
want = {'0': dict(before['0'])}
want['0']['fresh'] = want_conflict['0']['fresh']
same(dump_server(c, detail=True), want, '--conflict skip: existing keys untouched, new ones written')
is_(summary_count(r, 'skipped existing'), 4, '--conflict skip: 4 keys counted as skipped')

prefill(c)
c.delete('str', 'set', 'bigset')
r = imp(standalone.url, [conflict], '--conflict', 'panic')
ok(r.returncode != 0, '--conflict panic: exit non-zero')
ok('key "biglist"' in r.stderr and 'already exists' in r.stderr,
   '--conflict panic: names the existing key') or diag(r.stderr[-2000:])
is_(c.lrange('biglist', 0, -1), [b'old1', b'old2'], '--conflict panic: existing key untouched')

# ---------------------------------------------------------------- unsupported
jsonrdb = os.path.join(FIXTURES, 'dragonfly-testdata', 'redis_json.rdb')
if have_fixtures():
    c.flushall()
    r = imp(standalone.url, [jsonrdb])
    ok(r.returncode != 0 and 'key "' in r.stderr and '--unsupported skip' in r.stderr,
       '--unsupported fail: a JSON value stops the import, naming the key') or diag(r.stderr[-2000:])
    r = imp(standalone.url, [jsonrdb], '--unsupported', 'skip')
    check_run(r, '--unsupported skip')
    n = summary_count(r, 'skipped unsupported')
    ok(n is not None and n > 0, '--unsupported skip: JSON values counted as skipped (%s)' % n)
    ok(re.search(r'key ".*" skipped: .*JSON', r.stderr), '--unsupported skip: skipped keys logged by name')
else:
    skip('--unsupported with the redis_json.rdb fixture', NO_FIXTURES, 4)

# ---------------------------------------------------------------- faults: auth, OOM
pw = RedisServer(password='s3cret')
r = imp(pw.url, [conflict], env={'DF2REDIS_TARGET_PASSWORD': 'wrong'})
ok(r.returncode != 0 and re.search('WRONGPASS|invalid password|auth', r.stderr, re.I),
   'wrong password: clear error, exit non-zero') or diag(r.stderr[-2000:])
pwf = os.path.join(TMP, 'pw')
with open(pwf, 'w') as f:
    f.write('s3cret\n')
r = imp(pw.url, [conflict], '--target-password-file', pwf)
check_run(r, 'right password from --target-password-file')
# one rule: --target-password-file, then the URL, then the environment
badf = os.path.join(TMP, 'badpw')
with open(badf, 'w') as f:
    f.write('wrong\n')
rightu = 'redis://:s3cret@%s' % pw.url
wrongu = 'redis://:wrong@%s' % pw.url
r = imp(wrongu, [conflict], '--target-password-file', pwf, env={'DF2REDIS_TARGET_PASSWORD': 'wrong'})
check_run(r, 'password: the file wins over the URL and the environment')
r = imp(rightu, [conflict], '--target-password-file', badf)
ok(r.returncode != 0, 'password: a wrong file is not rescued by the URL')
r = imp(rightu, [conflict], env={'DF2REDIS_TARGET_PASSWORD': 'wrong'})
check_run(r, 'password: the URL wins over the environment')
r = imp(pw.url, [conflict], env={'DF2REDIS_TARGET_PASSWORD': 's3cret'})
check_run(r, 'password: the environment when neither file nor URL has one')
u = run([DF2REDIS, 'import', '--help'], universal_newlines=True)
ok(re.search(r'first line of FILE;\s+without it, the one in the URL; without that,\s+\$DF2REDIS_TARGET_PASSWORD',
             u.stdout), 'usage states the password rule') or diag(u.stdout)
ok('repair or replace the file' in ' '.join(u.stdout.split()).lower(), 'usage says what to do after a corrupt file')
pw.stop()

many = gen_rdb('many', lambda c: c.eval(
    "for i=1,30000 do redis.call('SET','k'..i,string.rep('x',100)..i) end", 0))
oom = RedisServer(args=['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction'])
r = imp(oom.url, [many])
ok(r.returncode != 0, 'OOM target: exit non-zero')
ok(re.search(r'key "[^"]+": OOM', r.stderr), 'OOM target: error names the key') or diag(r.stderr[-2000:])
oom.client().flushall()
bigoom = gen_rdb('bigoom', lambda c: c.eval(
    "for i=1,100000 do redis.call('SADD','bigset','member:'..i) end", 0))
r = imp(oom.url, [bigoom])
ok(r.returncode != 0 and re.search(r'key "bigset": OOM', r.stderr),
   'OOM while a big key is built: exit non-zero, names the key') or diag(r.stderr[-2000:])
is_(oom.client().keys(), [], 'OOM: the temporary key is deleted on a new connection')
oom.stop()


# ---------------------------------------------------------------- journal replay (writer_journal)
def jcmd(*args, db=0):
    return journal_cmd(args, db)


src = RedisServer()
sc = src.client()
sc.rpush('dumped', 'a', 'b')
payload = sc.dump('dumped')
src.stop()
jr = (jcmd('SET', 'j1', 'v', 'STICK', '_MCFLAGS', '7') + jcmd('MSET', 'm1', 'a', 'm2', 'b', 'm3', 'c') +
      jcmd('DEL', 'm2', 'm3') + b'\x0d' + jcmd('PING') + jcmd('RESTORE', 'r1', 0, payload, 'REPLACE', 'ABSTTL', 'STICK') +
      jcmd('SET', 'd1', 'x', db=1) + jcmd('STICK', 'j1') + jcmd('PEXPIREAT', 'j1', 4102444800000))
jfile = os.path.join(TMP, 'journal.bin')
with open(jfile, 'wb') as f:
    f.write(jr)
want_j = {'0': {'j1': {'type': 'string', 'value': 'v', 'pexpiretime': 4102444800000},
                'm1': {'type': 'string', 'value': 'a', 'pexpiretime': -1},
                'r1': {'type': 'list', 'value': ['a', 'b'], 'pexpiretime': -1}},
          '1': {'d1': {'type': 'string', 'value': 'x', 'pexpiretime': -1}}}
JA = os.path.join(TBIN, 'journalapply')
c.flushall()
r = run([JA, standalone.url, jfile], universal_newlines=True)
check_run(r, 'journal: applied to standalone')
same(dump_server(c, detail=True), want_j, 'journal: STICK/_MCFLAGS dropped, MSET, DEL, RESTORE, SELECT, PEXPIREAT')
flush_cluster(cl)
r = run([JA, cl.url, jfile], universal_newlines=True)
check_run(r, 'journal: multi-key MSET/DEL split per key on a cluster')
want_c = {'0': {k: v for k, v in want_j['0'].items()}}
want_c['0']['d1'] = want_j['1']['d1']
same(cluster_dump(cl), want_c, 'journal: cluster result exact, db 1 written to db 0')
with open(jfile, 'wb') as f:
    f.write(jcmd('SADDEX', 'sx', 100, 'a', 'b'))
r = run([JA, standalone.url, jfile], universal_newlines=True)
ok(r.returncode != 0 and 'key "sx"' in r.stderr, 'journal: SADDEX member TTLs fail by default, naming the key')
r = run([JA, '-u', 'lossy', standalone.url, jfile], universal_newlines=True)
ok(r.returncode == 0 and 'lossy 1' in r.stdout and sorted(c.smembers('sx')) == [b'a', b'b'],
   'journal: SADDEX with --unsupported lossy writes the members, counted lossy')
with open(jfile, 'wb') as f:
    f.write(jcmd('SET', 'w', 'x') + jcmd('LPUSH', 'w', 'y'))
r = run([JA, standalone.url, jfile], universal_newlines=True)
ok(r.returncode != 0 and 'key "w"' in r.stderr and 'WRONGTYPE' in r.stderr and 'LPUSH' in r.stderr,
   'journal: WRONGTYPE stops with the key and the command') or diag(r.stderr)

# MODULE_AUX (a module's data outside any key): said, naming the module
L = rdb_len
aux = (b'\xf7' + L(rdb_module_id('graphdata', 5)) + L(2) + L(2) + L(2) + L(7) + L(5) + L(1) + b'x' + L(0) +
       b'\xfe\x00' + b'\x00' + L(5) + b'after' + L(1) + b'x')
apath = os.path.join(tmpdir('aux'), 'aux.rdb')
with open(apath, 'wb') as f:
    f.write(b'REDIS0009' + aux + b'\xff' + b'\0' * 8)
c.flushall()
r = imp(standalone.url, [apath])
ok(r.returncode == 0 and re.search(r'aux.rdb: byte \d+: module "graphdata": its auxiliary data \(no key\) is not written',
                                   r.stderr), 'MODULE_AUX: a warning names the module') or diag(r.stderr)
is_(c.get('after'), b'x', 'MODULE_AUX: the keys after it are written')

cl.stop()
standalone.stop()
done_testing()
