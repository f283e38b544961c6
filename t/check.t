#!/usr/bin/python3
# df2redis check: equal data of every type after a migrate, each way a
# target can differ (named in --json), a check while replication runs
# under a write load, a cluster target, --sample, --max-ops, errors
# (exit 2) and the memory a 200k-member key takes to check.
import json
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

if not HAVE_MASTER:
    skip_all('t/dflymaster/dflymaster not built')

plan(56)

BIGN = 12000


def check(master, target_url, *extra, env=None):
    """df2redis check --json: (exit status, the JSON object or None, stderr)."""
    r = df2redis('check', ['--source', master.addr, '--target', target_url, '--json',
                           '--recheck-ms', '50'] + list(extra), env=env)
    try:
        out = json.loads(r.stdout)
    except ValueError:
        out = None
    return r.returncode, out, r.stderr


def master_types(m):
    """{type: keys} over every db of the master, as TYPE names them."""
    counts = {}
    for db in range(16):
        c = m.client(db)
        for k in c.scan_iter(count=1000):
            t = c.type(k).decode()
            counts[t] = counts.get(t, 0) + 1
    return counts


def by_key(out):
    return {(d['db'], d['key']): d for d in out['diffs']}


m = Master(4)
c = m.client()
c.execute_command('DFLYMASTER', 'LOAD-SAMPLE')
c.execute_command('DEBUG', 'POPULATE', 1000, 'pop', 32)
pl = c.pipeline(transaction=False)
for i in range(0, BIGN, 1000):
    r = range(i, i + 1000)
    pl.rpush('big:list', *('e%d' % j for j in r))
    pl.hset('big:hash', mapping={'f%d' % j: 'v%d' % j for j in r})
    pl.sadd('big:set', *('m%d' % j for j in r))
    pl.zadd('big:zset', {'m%d' % j: j + 0.5 for j in r})
for i in range(1, 2501):
    pl.xadd('big:stream', {'n': str(i)}, id='%d-1' % i)
pl.execute()

t = RedisServer()
r = migrate(m, t.url, ['--unsupported', 'skip'])
ran_ok(r, 'migrate with the sample and big keys of every type')

# ---------------------------------------------------------------- equal
rc, out, err = check(m, t.url, '--unsupported', 'skip')
is_(rc, 0, 'equal data: exit 0')
if out is None:
    diag(err)
    out = {'types': {}, 'diffs': []}
ok(out.get('result') == 'equal' and [x['key'] for x in out['diffs']] == ['j:doc'],
   'equal data: result equal, only the unsupported key named')
want = master_types(m)
got = {('ReJSON-RL' if k == 'json' else k): v['keys'] for k, v in out['types'].items() if v['keys']}
is_(got, want, 'per-type counts are the master\'s: %s' % want)
ok(all(v['equal'] == v['keys'] for k, v in out['types'].items() if k != 'json'),
   'every key of the types Redis holds is equal')
is_(out.get('unsupported'), 1, 'the JSON document (no JSON module on the target) counts as unsupported')
is_(out.get('keys'), sum(want.values()), 'every source key checked')
is_(out.get('target_keys'), sum(want.values()) - 1, 'every target key looked up on the source')

rc, out2, _ = check(m, t.url)
ok(rc == 1 and out2 and out2['unsupported'] == 1 and
   any(d['key'] == 'j:doc' and d['kind'] == 'unsupported' for d in out2['diffs']),
   '--unsupported fail (the default): the JSON document makes exit 1, named')

r = df2redis('check', ['--source', m.addr, '--target', t.url, '--unsupported', 'skip'])
ok(r.returncode == 0 and 'EQUAL' in r.stdout and 'string' in r.stdout, 'text report: per-type table, EQUAL')

# ------------------------------------------------------------ differences
tc, tc1 = t.client(), t.client(1)
tc.delete('s:plain')                       # missing
tc1.delete('db1:h')                        # missing, db 1
tc.set('extra:key', 'x')                   # extra
tc.set('s:int', '54321')                   # same length, other bytes
tc.setrange('s:big', 99990, 'Z')           # deep in a big string
tc.lset('big:list', 11000, 'changed')      # deep in a big list
tc.hset('big:hash', 'f11001', 'changed')   # deep in a big hash
tc.srem('big:set', 'm11002')               # same size, one member other
tc.sadd('big:set', 'other')
tc.zadd('big:zset', {'m11003': 1.25})      # one score
entries = tc.xrange('x:s')
tc.delete('x:s')
for i, (eid, fields) in enumerate(entries):
    if i == 100:
        fields = {b'n': b'changed'}
    tc.xadd('x:s', fields, id=eid)
tc.pexpire('ttl:ex', 100000)               # another TTL
tc.persist('ttl:px')                       # the TTL missing
tc.expire('s:neg', 1000)                   # a TTL the source lacks
tc.delete('set:str')                       # another type
tc.rpush('set:str', 'a')
rc, out, err = check(m, t.url, '--unsupported', 'skip', '--show', '100')
is_(rc, 1, 'a differing target: exit 1')
if out is None:
    diag(err)
    out = {'diffs': [], 'types': {}}
d = by_key(out)
def why(db, key):
    return d.get((db, key), {}).get('why', '')
def kind(db, key):
    return d.get((db, key), {}).get('kind')
ok(kind(0, 's:plain') == 'missing' and kind(1, 'db1:h') == 'missing', 'missing keys named (db 0 and db 1)')
ok(any(x['kind'] == 'extra' and x['key'] == 'extra:key' for x in out['diffs']), 'the extra key named')
ok('offset 0' in why(0, 's:int'), 's:int: the bytes differ from offset 0 (%s)' % why(0, 's:int'))
ok('offset 99990' in why(0, 's:big'), 's:big: from offset 99990 (%s)' % why(0, 's:big'))
ok('element 11000' in why(0, 'big:list'), 'big:list: element 11000 of %d (%s)' % (BIGN, why(0, 'big:list')))
ok('f11001' in why(0, 'big:hash'), 'big:hash: field f11001 (%s)' % why(0, 'big:hash'))
ok('m11002' in why(0, 'big:set'), 'big:set: member m11002 not on the target (%s)' % why(0, 'big:set'))
ok('m11003' in why(0, 'big:zset'), 'big:zset: the score of m11003 (%s)' % why(0, 'big:zset'))
ok(kind(0, 'x:s') == 'different' and ('entry' in why(0, 'x:s')),
   'x:s: an entry differs (%s)' % why(0, 'x:s'))
ok('TTL' in why(0, 'ttl:ex') and 'source' in why(0, 'ttl:ex'), 'ttl:ex: another TTL (%s)' % why(0, 'ttl:ex'))
ok('not on the target' in why(0, 'ttl:px'), 'ttl:px: the TTL is missing (%s)' % why(0, 'ttl:px'))
ok('none on the source' in why(0, 's:neg'), 's:neg: a TTL the source lacks (%s)' % why(0, 's:neg'))
ok('a set on the source, a list on the target' in why(0, 'set:str'), 'set:str: the type (%s)' % why(0, 'set:str'))
is_((out.get('missing'), out.get('extra'), out.get('different')), (2, 1, 11), 'the counts: 2 missing, 1 extra, 11 different')
ok(out.get('recheck_rounds', 0) >= 1, 'each difference was re-checked before it was reported')
r = df2redis('check', ['-v', '--source', m.addr, '--target', t.url, '--unsupported', 'skip',
                       '--recheck-ms', '50', '--show', '100'])
ok(r.returncode == 1 and 're-checking 13 keys after 50 ms (--recheck-ms)' in r.stderr and
   'DIFFERENT' in r.stdout and 'missing: db 0 key "s:plain": not on the target' in r.stdout,
   'text report with -v: each re-check round on stderr, the keys named on stdout') or diag(r.stderr + r.stdout)
rc, out4, _ = check(m, t.url, '--unsupported', 'skip', '--rechecks', '0')
ok(rc == 1 and out4['recheck_rounds'] == 0 and out4['different'] == 11, '--rechecks 0: reported as found')
rc, out3, _ = check(m, t.url, '--unsupported', 'skip', '--show', '3')
ok(rc == 1 and len(out3['diffs']) == 3, '--show 3: three keys named')

# ------------------------------------------------------------ errors
pw = RedisServer(password='secret')
rc, out, err = check(m, 'redis://:wrong@' + pw.url)
ok(rc == 2 and out is None and 'target' in err and ('WRONGPASS' in err or 'invalid' in err),
   'wrong target password: exit 2, saying so (%s)' % err.strip()[:150])
pw.stop()
dead = free_port()
r = df2redis('check', ['--source', '127.0.0.1:%d' % dead, '--target', t.url])
ok(r.returncode == 2 and 'source' in r.stderr and str(dead) in r.stderr,
   'dead source: exit 2, naming it (%s)' % r.stderr.strip()[:150])
r = df2redis('check', ['--source', m.addr])
ok(r.returncode == 2 and '--target' in r.stderr, 'no --target: usage error, exit 2')
r = df2redis('check', ['--help'])
ok(r.returncode == 0 and '--max-ops' in r.stdout and '--sample' in r.stdout, '--help: usage on stdout, exit 0')

# ------------------------------------------------------------ --sample
t2 = RedisServer()
r = migrate(m, t2.url, ['--unsupported', 'skip'])
ran_ok(r, 'migrate into a second target')
total = sum(want.values())
rc, out, _ = check(m, t2.url, '--unsupported', 'skip', '--sample', '10')
ok(rc == 0 and 0 < out['keys'] < total * 0.25 and out['sample_percent'] == 10,
   '--sample 10: %s of %d keys checked, equal' % (out and out['keys'], total))

# ------------------------------------------------------------ --max-ops
rc, out, _ = check(m, t2.url, '--unsupported', 'skip')
ok(rc == 0 and out['throttle_ms'] == 0, 'no --max-ops: no wait')
ops = out['ops']
limit = max(ops // 2, 100)
rc, out, _ = check(m, t2.url, '--unsupported', 'skip', '--max-ops', str(limit))
ok(rc == 0 and out['max_ops'] == limit and out['ops'] >= ops, '--max-ops %d: equal, %d commands' % (limit, out['ops']))
# the limiter lets at most one batch (2 x 256 x 2 commands) run ahead
ok(out['throttle_ms'] > 0 and out['elapsed_ms'] >= (out['ops'] - 1100) * 1000 // limit,
   '--max-ops: waited %d ms, %d ms for %d commands' % (out['throttle_ms'], out['elapsed_ms'], out['ops']))

# ------------------------------------------------------------ target lost
t6 = RedisServer()
r = migrate(m, t6.url, ['--unsupported', 'skip'])
proc = subprocess.Popen([DF2REDIS, 'check', '--source', m.addr, '--target', t6.url, '--unsupported',
                         'skip', '--max-ops', '500'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
time.sleep(0.5)
t6.kill()
out, err = proc.communicate(timeout=120)
err = err.decode()
ok(proc.returncode == 2 and 'target' in err and str(t6.port) in err,
   'the target killed during a check: exit 2, naming it (%s)' % err.strip()[:150])

# ------------------------------------------------------------ db map
t5 = RedisServer()
r = migrate(m, t5.url, ['--unsupported', 'skip', '--db-map', '1:2'])
ran_ok(r, 'migrate with --db-map 1:2')
rc, out, _ = check(m, t5.url, '--unsupported', 'skip', '--db-map', '1:2')
ok(rc == 0 and out['keys'] == total, '--db-map 1:2: source db 1 compared with target db 2, equal')
rc, out, _ = check(m, t5.url, '--unsupported', 'skip', '--show', '100')
d = by_key(out or {'diffs': []})
ok(rc == 1 and d.get((1, 'db1:s'), {}).get('kind') == 'missing' and
   any(x['kind'] == 'extra' and x['target_db'] == 2 and x['key'] == 'db1:s' for x in out['diffs']),
   'without the map: db 1\'s keys missing from target db 1, extra in target db 2')
t5.stop()

# ------------------------------------------------------------ filters
t7 = RedisServer()
r = migrate(m, t7.url, ['--key-prefix', 'big:'])
ran_ok(r, 'migrate with --key-prefix big:')
t7.client().set('other:key', 'not the master\'s')
nbig = sum(1 for k in m.client().scan_iter(match='big:*', count=1000))
rc, out, _ = check(m, t7.url, '--key-prefix', 'big:')
ok(rc == 0 and out['keys'] == nbig and out['target_keys'] == nbig,
   '--key-prefix big:: the %d keys copied checked, equal; the rest of both sides left alone' % nbig) or \
    diag(str(out)[:500])
rc, out, _ = check(m, t7.url, '--key-prefix', 'big:', '--key-exclude-regex', 'big:(list|set)$')
ok(rc == 0 and out['keys'] == nbig - 2, 'an exclude regex narrows what is checked')
rc, out, _ = check(m, t7.url, '--unsupported', 'skip', '--show', '10000')
d = out['diffs'] if out else []
ok(rc == 1 and any(x['kind'] == 'missing' and x['key'] == 'pop:1' for x in d) and
   any(x['kind'] == 'extra' and x['key'] == 'other:key' for x in d),
   'without the filter: the keys it left out are missing, the target\'s own extra')
rc, out, err = check(m, t7.url, '--key-regex', '(')
ok(rc == 2 and 'regex' in err, 'a bad --key-regex: exit 2, naming it (%s)' % err.strip()[:100])
t7.stop()

# ------------------------------------------------------------ cluster
cl = RedisCluster()
r = migrate(m, cl.url, ['--unsupported', 'skip'])
ran_ok(r, 'migrate into a cluster')
rc, out, err = check(m, cl.url, '--unsupported', 'skip')
ok(rc == 0 and out['target_cluster'] and out['keys'] == total,
   'cluster target: equal, every key checked (%s)' % (err.strip()[:200] if rc else total))
cc = cl.client()
cc.lset('big:list', 5000, 'x')
cc.delete('pop:7')
rc, out, _ = check(m, cl.url, '--unsupported', 'skip')
d = by_key(out or {'diffs': []})
ok(rc == 1 and 'element 5000' in d.get((0, 'big:list'), {}).get('why', '') and
   d.get((0, 'pop:7'), {}).get('kind') == 'missing', 'cluster target: the differences named')
cl.stop()

# ------------------------------------------------------------ live
t3 = RedisServer()
p = replicate_start(m, t3.url, ['--unsupported', 'skip'])
st = wait_status(p.sock, lambda s: flows_stable(s, 4), timeout=120, proc=p)
ok(st is not None, 'replication in stable sync')


# each container is written about once a second, each string once in ten:
# slower than the lag, so a re-check after it sees each key settled
class Load(LoadThread):
    pause = 0.02

    def batch(self, pl):
        for _ in range(20):
            i = random.randrange(10000)
            pl.set('load:%d' % i, os.urandom(8).hex())
            pl.hset('load:h%d' % (i % 1000), 'f%d' % i, os.urandom(4).hex())
            pl.rpush('load:l%d' % (i % 1000), i)
            pl.zadd('load:z%d' % (i % 1000), {'m%d' % i: random.random()})
        self.n += 80


load = Load(m)
rc, out, err = check(m, t3.url, '--unsupported', 'skip', '--state-dir', p.state_dir)
load.stop()
ok(load.n > 0 and rc == 0, 'a check while %d writes ran: equal (re-checked %s keys)' %
   (load.n, out and out['rechecked_equal']))
if rc:
    diag(json.dumps(out)[:2000] if out else err)
ok(out and out['lag_from_daemon'], 'the re-check waited for the lag the daemon told')
replicate_stop(p)
t3.stop()

# ------------------------------------------------------------ memory
m2 = Master(2)
c2 = m2.client()
pl = c2.pipeline(transaction=False)
val = 'v' * 200
for i in range(0, 200000, 2000):
    pl.rpush('huge:list', *('%s%d' % (val, j) for j in range(i, i + 2000)))
    pl.hset('huge:hash', mapping={'f%d' % j: val for j in range(i, i + 2000)})
pl.execute()
t4 = RedisServer()
r = migrate(m2, t4.url)
ran_ok(r, 'migrate a 200k-element list and hash (%d MB of values each)' % (200000 * 200 >> 20))
proc = subprocess.Popen([DF2REDIS, 'check', '--source', m2.addr, '--target', t4.url, '--json'],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
# VmHWM only grows: the last one read before the exit is the peak
# (rusage would carry this test's own RSS over the exec)
hwm = 0
while proc.poll() is None:
    try:
        with open('/proc/%d/status' % proc.pid) as f:
            hwm = max([hwm] + [int(l.split()[1]) for l in f if l.startswith('VmHWM:')])
    except (OSError, ValueError):
        pass
    time.sleep(0.005)
out = proc.stdout.read()
res = json.loads(out)
ok(proc.returncode == 0 and res['types']['list']['equal'] == 1 and res['types']['hash']['equal'] == 1,
   'the 200k-element list and hash are equal')
if ASAN:
    skip('peak RSS of the check', 'ASan\'s shadow memory makes RSS meaningless')
else:
    ok(0 < hwm < 16 * 1024, 'checked with a peak RSS of %d KB (holding either would take %d MB)' %
       (hwm, 200000 * 200 >> 20))
m2.stop()
t4.stop()
t2.stop()
t.stop()
m.stop()
done_testing()
