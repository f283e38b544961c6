#!/usr/bin/python3
# The target layer against a real 3-master Redis Cluster: hash slots, keys
# routed to their masters, a slot migrated mid-stream (ASK, then MOVED) and
# a master restarted mid-stream.
import os
import random
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *

TARGETCAT = os.path.join(TBIN, 'targetcat')
N = 5000 if ASAN else 50000


def targetcat(args, text='', timeout=120):
    return run([TARGETCAT] + args, input=text, text=True, timeout=timeout)


class Stream:
    def __init__(self, args):
        self.p = spawn([TARGETCAT] + args, stdin=subprocess.PIPE,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def send(self, lines):
        self.p.stdin.write(''.join(l + '\n' for l in lines))
        self.p.stdin.flush()

    def finish(self, timeout=120):
        out, err = self.p.communicate(timeout=timeout)
        return self.p.returncode, out, err


def wait_for(cond, what, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.02)
    diag('timed out waiting for ' + what)
    return False


def stats(err):
    m = re.search(r'moved=(\d+) ask=(\d+) retries=(\d+) reconnects=(\d+)', err)
    return dict(zip(('moved', 'ask', 'retries', 'reconnects'), map(int, m.groups()))) if m else {}


def resent(err):
    return sum(int(m) for m in re.findall(r'connection lost .*; (\d+) commands to resend', err))


# ---------------------------------------------------------------- slots

def slot(key):
    k = ''.join(c if (c.isascii() and c.isalnum()) or c in '{}:._' else '\\x%02x' % ord(c) for c in key)
    return int(targetcat(['--slot', k]).stdout)


is_(slot('foo'), 12182, 'slot("foo") = 12182')
is_(slot('123456789'), 0x31C3 % 16384, 'slot("123456789") is CRC16 0x31C3')
is_(slot('{user1000}.following'), slot('{user1000}.followers'), 'hash tags share a slot')
is_(slot('{user1000}.following'), slot('user1000'), 'the tag alone is hashed')

cl = RedisCluster()
nodes = cl.nodes
seed = nodes[0].client()
rnd = random.Random(7)
keys = ['foo', 'foo{}{bar}', '{}', '{', '}{x}', 'a{b}c{d}', 'x' * 300, 'sp ace', '\x01\x7f\xff'] + \
       ['k%d' % rnd.randrange(10 ** 9) for _ in range(40)]
mism = []
for k in keys:
    want = seed.execute_command('CLUSTER', 'KEYSLOT', k.encode('latin-1'))
    if slot(k) != want:
        mism.append(k)
is_(mism, [], 'slots agree with CLUSTER KEYSLOT on %d keys' % len(keys))

# ---------------------------------------------------------------- routing

r = targetcat(['redis://%s/3' % cl.url], 'SET x 1\n')
ok(r.returncode == 1 and 'only db 0' in r.stderr and 'db 3' in r.stderr,
   'db 3 refused on a cluster: %s' % r.stderr.strip())
r = targetcat(['redis://%s/0' % cl.url], 'SET x0 1\n')
is_((r.returncode, r.stdout.strip()), (0, '0 +OK'), 'db 0 accepted on a cluster')

lines = ['SET key:%d val:%d' % (i, i) for i in range(N)] + \
        ['RPUSH {lst}:a %d' % i for i in range(1000)] + ['@all DBSIZE', 'PING']
t0 = time.time()
r = targetcat(['--window', '512', cl.url], '\n'.join(lines) + '\n')
elapsed = time.time() - t0
is_(r.returncode, 0, 'cluster stream exits 0')
out = r.stdout.splitlines()
ok(all(out[i] == '%d +OK' % i for i in range(N)), 'every SET acknowledged under its tag')
allr = [l for l in out if l.startswith('%d ' % (N + 1000))]
ok(len(allr) == 1 and re.match(r'\d+ :\d+$', allr[0]), '@all: one reply for the three masters (%s)' % allr)

# @all with an error on one master only: that error is the reply
lib = "#!lua name=tlib\nredis.register_function('tf', function() return 1 end)"
nodes[1].client().execute_command('FUNCTION', 'LOAD', lib)
esc = lib.replace('\\', '\\\\').replace(' ', '\\s').replace('\n', '\\x0a')
r = targetcat([cl.url], '@all FUNCTION LOAD %s\nPING\n' % esc)
ok(r.returncode == 0 and r.stdout.startswith('0 -ERR Library \'tlib\' already exists') and
   r.stdout.count('\n') == 2, '@all: the error of one master is the reply (%r)' % r.stdout)
ok(all(n.client().execute_command('FUNCTION', 'LIST') for n in nodes), '@all: loaded on every master')
diag('cluster: %d commands in %.2fs (%.0f/s)' % (len(lines), elapsed, len(lines) / elapsed))

per_node = []
wrong = []
for n in nodes:
    c = n.client()
    ks = list(c.scan_iter(match='key:*', count=1000))
    per_node.append(len(ks))
    myslots = set()
    for rng in c.execute_command('CLUSTER', 'SLOTS'):
        if rng[2][1] == n.port:
            myslots.update(range(rng[0], rng[1] + 1))
    p = c.pipeline(transaction=False)
    for k in ks:
        p.execute_command('CLUSTER', 'KEYSLOT', k)
    wrong += [k for k, sl in zip(ks, p.execute()) if sl not in myslots]
is_(sum(per_node), N, 'all %d keys are on the cluster' % N)
ok(all(x > N // 5 for x in per_node), 'keys spread over all masters %s' % per_node)
is_(wrong, [], 'every key sits on the master that serves its slot')
cc = cl.client()
vals = cc.mget_nonatomic(['key:%d' % i for i in range(N)])
is_([i for i, v in enumerate(vals) if v != b'val:%d' % i][:5], [], 'every value right')
is_([int(x) for x in cc.lrange('{lst}:a', 0, -1)], list(range(1000)), 'list order kept')


# ---------------------------------------------------------------- slot migration

def node_id(c):
    return c.execute_command('CLUSTER', 'MYID').decode()


def owner_of(s):
    for n in nodes:
        for rng in n.client().execute_command('CLUSTER', 'SLOTS'):
            if rng[0] <= s <= rng[1]:
                return [x for x in nodes if x.port == rng[2][1]][0]


K = 400 if ASAN else 2000
S = slot('{mig}')
src = owner_of(S)
dst = [n for n in nodes if n is not src][0]
sc, dc = src.client(), dst.client()
mkeys = ['{mig}:%d' % i for i in range(K)]
st = Stream(['--window', '4096', cl.url])
st.send(['SET %s a' % k for k in mkeys] + ['SET other:%d a' % i for i in range(K)])
wait_for(lambda: sc.get(mkeys[-1]) == b'a', 'first part')
dc.execute_command('CLUSTER', 'SETSLOT', S, 'IMPORTING', node_id(sc))
sc.execute_command('CLUSTER', 'SETSLOT', S, 'MIGRATING', node_id(dc))
half = mkeys[:K // 2]
sc.execute_command('MIGRATE', '127.0.0.1', dst.port, '', 0, 5000, 'KEYS', *half)
# while migrating: keys already moved answer ASK, the others are written on src
st.send(sum((['SET %s b' % k, 'APPEND %s y' % k] for k in mkeys), []))
# a two-key command on a migrated key: ASK, then TRYAGAIN from the importing
# node (the destination key is still missing there) until the slot is moved
st.send(['RENAME {mig}:0 {mig}:renamed'])


def asking_get(c, k):
    p = c.pipeline(transaction=False)
    p.execute_command('ASKING')
    p.get(k)
    return p.execute()[1]


def rename_tryagain():
    # the importing node answers the RENAME with TRYAGAIN: Redis counts it
    # as a rejected call
    stat = dc.info('commandstats').get('cmdstat_rename', {})
    return stat.get('rejected_calls', 0) > 0


wait_for(lambda: sc.get(mkeys[-1]) == b'by' and asking_get(dc, half[-1]) == b'by', 'second part')
# end the migration only once the RENAME has met TRYAGAIN at least once
wait_for(rename_tryagain, 'the RENAME to be refused with TRYAGAIN')
# the rest of the slot: the second half, and any key:N that hashes there
sc.execute_command('MIGRATE', '127.0.0.1', dst.port, '', 0, 5000, 'KEYS',
                   *sc.execute_command('CLUSTER', 'GETKEYSINSLOT', S, 1000000))
for n in nodes:
    n.client().execute_command('CLUSTER', 'SETSLOT', S, 'NODE', node_id(dc))
# now the slot has moved: src answers MOVED
st.send(sum((['SET %s c' % k, 'APPEND %s z' % k] for k in mkeys), []) +
        ['SET other:%d b' % i for i in range(K)])
rc, out, err = st.finish()
s = stats(err)
is_(rc, 0, 'stream across a slot migration exits 0')
ok(s.get('ask', 0) > 0, 'ASK redirections followed (%s)' % s)
ok(s.get('moved', 0) > 0, 'MOVED redirections followed')
ok(s.get('retries', 0) > 0 and 'TRYAGAIN' in err, 'TRYAGAIN retried until the migration ended')
is_(dc.get('{mig}:renamed'), b'by', 'the retried RENAME ran once the slot had moved, before later writes')
is_([k for k in mkeys if dc.get(k) != b'cz'][:5], [], 'every migrated key has its last value, in order')
is_(sum(1 for _ in sc.scan_iter(match='{mig}:*')), 0, 'nothing left on the old owner')
is_([i for i in range(K) if cc.get('other:%d' % i) != b'b'][:5], [], 'other slots unaffected')
is_(len(out.splitlines()), 2 * K + 2 * K + 1 + 3 * K, 'one reply per command')
odd = [l for l in out.splitlines() if l.split(' ', 1)[1] not in ('+OK', ':2')]
is_(odd[:3], [], 'no redirection reached the caller')

# ---------------------------------------------------------------- reshard

# 32 slots move at once, 16 from each of two masters, keys migrated and
# CLUSTER SETSLOT ... NODE everywhere, while the client's map is stale.
# The first MOVED (from the quick master) reloads the whole map; the
# commands the other old owner still holds (behind a slow script) must
# follow their slots at once, before the next writes to the same keys are
# sent straight to the new owner.
def slot_keys(n):
    """{slot: [keys]} of n candidate keys, found with CLUSTER KEYSLOT."""
    p = seed.pipeline(transaction=False)
    cand = ['rs:%d' % i for i in range(n)]
    for k in cand:
        p.execute_command('CLUSTER', 'KEYSLOT', k)
    by = {}
    for k, sl in zip(cand, p.execute()):
        by.setdefault(sl, []).append(k)
    return by


def first_slot(n):
    return [r for r in n.client().execute_command('CLUSTER', 'SLOTS') if r[2][1] == n.port][0][0]


rslow, rdst, rquick = nodes[0], nodes[1], nodes[2]
rdc = rdst.client()
RSLOTS = list(range(first_slot(rslow), first_slot(rslow) + 16)) + \
    list(range(first_slot(rquick), first_slot(rquick) + 16))
by_slot = slot_keys(16384 * 16)
rkeys = [k for sl in RSLOTS for k in by_slot[sl][:4]]
slowkey = by_slot[first_slot(rslow) + 100][0]
slow = '@3 EVAL local\\si=0\\swhile\\si<4e7\\sdo\\si=i+1\\send\\sreturn\\si 1 ' + slowkey
st = Stream(['--window', '4096', cl.url])
st.send(['SET %s %s:1' % (k, k) for k in rkeys])
wait_for(lambda: cc.get(rkeys[-1]) == ('%s:1' % rkeys[-1]).encode(), 'round 1')
for src in (rslow, rquick):
    sc_ = src.client()
    for sl in RSLOTS:
        if owner_of(sl) is not src:
            continue
        rdc.execute_command('CLUSTER', 'SETSLOT', sl, 'IMPORTING', node_id(sc_))
        sc_.execute_command('CLUSTER', 'SETSLOT', sl, 'MIGRATING', node_id(rdc))
        sc_.execute_command('MIGRATE', '127.0.0.1', rdst.port, '', 0, 5000, 'KEYS',
                            *sc_.execute_command('CLUSTER', 'GETKEYSINSLOT', sl, 1000))
for n in [rdst, rslow, rquick]:
    for sl in RSLOTS:
        n.client().execute_command('CLUSTER', 'SETSLOT', sl, 'NODE', node_id(rdc))
# round 2 to the old owners, on the slow one behind the script; round 3
# once the quick one's MOVED reloaded the map
st.send([slow] + ['SET %s %s:2' % (k, k) for k in rkeys])
time.sleep(0.3)
st.send(['SET %s %s:3' % (k, k) for k in rkeys])
rc, out, err = st.finish()
s = stats(err)
is_(rc, 0, 'stream across a reshard of %d slots exits 0' % len(RSLOTS))
ok(s.get('moved', 0) > 0, 'MOVED followed (%s)' % s)
outl = out.splitlines()
ok(len(outl) == 3 * len(rkeys) + 1 and outl[len(rkeys)] == '%d :40000000' % len(rkeys),
   'the slow script ran on its master (%s)' % outl[len(rkeys):len(rkeys) + 1])
p = rdc.pipeline(transaction=False)
for k in rkeys:
    p.get(k)
stale = [(k, v) for k, v in zip(rkeys, p.execute()) if v != ('%s:3' % k).encode()]
is_(stale[:3], [], 'every one of %d keys has the value of its last SET' % len(rkeys))
is_([n.port for n in (rslow, rquick) if any(n.client().scan_iter(match='rs:*'))], [],
    'nothing left on the old owners')
odd = [l for l in outl if not l.endswith(' +OK') and not l.endswith(' :40000000')]
is_(odd[:3], [], 'every SET answered +OK, no redirection reached the caller')
cc = cl.client()

# ---------------------------------------------------------------- TRYAGAIN

# A two-key command answered TRYAGAIN (one key migrated, one not) is retried
# until the slot has moved; the commands queued behind it in its slot wait
# for it and then run exactly once each: neither the retry rounds nor the
# copies left behind execute them again.
T = slot('{try}')
tsrc = owner_of(T)
tdst = [n for n in nodes if n is not tsrc][0]
tsc, tdc = tsrc.client(), tdst.client()
tsc.set('{try}:a', 'x')
tsc.set('{try}:b', 'y')
tsc.set('{try}:cnt', 0)
tdc.execute_command('CLUSTER', 'SETSLOT', T, 'IMPORTING', node_id(tsc))
tsc.execute_command('CLUSTER', 'SETSLOT', T, 'MIGRATING', node_id(tdc))
tsc.execute_command('MIGRATE', '127.0.0.1', tdst.port, '', 0, 5000, 'KEYS', '{try}:b')
I = 500 if ASAN else 2000
st = Stream(['--window', '8192', cl.url])
st.send(['MSET {try}:a 1 {try}:b 2'])
time.sleep(0.5)
st.send(sum((['INCR {try}:cnt', 'RPUSH {try}:l %d' % i] for i in range(I)), []))
time.sleep(1.0)
tsc.execute_command('MIGRATE', '127.0.0.1', tdst.port, '', 0, 5000, 'KEYS',
                    *tsc.execute_command('CLUSTER', 'GETKEYSINSLOT', T, 1000000))
for n in nodes:
    n.client().execute_command('CLUSTER', 'SETSLOT', T, 'NODE', node_id(tdc))
rc, out, err = st.finish()
s = stats(err)
is_(rc, 0, 'stream across TRYAGAIN retries exits 0')
ok(s.get('retries', 0) >= 3, 'the MSET was retried several times (%s)' % s)
is_((tdc.get('{try}:a'), tdc.get('{try}:b')), (b'1', b'2'), 'the MSET ran once the slot had moved')
is_(tdc.get('{try}:cnt'), b'%d' % I, '%d INCRs behind it: executed %s times' % (I, tdc.get('{try}:cnt')))
lst = [int(x) for x in tdc.lrange('{try}:l', 0, -1)]
is_((len(lst), lst[:3], lst == list(range(I))), (I, [0, 1, 2], True), 'every RPUSH once, in order')
incr_replies = [l.split(' ', 1)[1] for l in out.splitlines()[1::2]]
is_(incr_replies[:3] + incr_replies[-1:], [':1', ':2', ':3', ':%d' % I], 'INCR replies count up from 1')

# ---------------------------------------------------------------- master restart

total = sum(n.client().dbsize() for n in nodes)
is_(total, N + 2 + 2 * K + 1 + 4 + len(rkeys), 'no key lost on the way (%d)' % total)

victim = nodes[2]
vc = victim.client()
vc.execute_command('CONFIG', 'SET', 'appendonly', 'yes')
vc.execute_command('CONFIG', 'SET', 'appendfsync', 'always')
time.sleep(0.2)
wait_for(lambda: vc.info('persistence')['aof_rewrite_in_progress'] == 0 and
         vc.info('persistence')['aof_rewrite_scheduled'] == 0, 'AOF on')
victim.argv += ['--appendonly', 'yes', '--appendfsync', 'always']
R = 2000 if ASAN else 10000
st = Stream(['--window', '8192', cl.url])
st.send(['SET r:%d a:%d' % (i, i) for i in range(R)])
wait_for(lambda: cc.mget_nonatomic(['r:%d' % i for i in range(R)]) ==
         [b'a:%d' % i for i in range(R)], 'first part')
vc.execute_command('CLIENT', 'PAUSE', 20000, 'WRITE')
st.send(['SET r:%d b:%d' % (i, i) for i in range(R)])
time.sleep(0.5)
victim.kill()
time.sleep(0.5)
victim.start()
st.send(['HSET rh:%d f %d' % (i, i) for i in range(R)])
rc, out, err = st.finish(timeout=180)
s = stats(err)
is_(rc, 0, 'stream across a master restart exits 0')
ok(s.get('reconnects', 0) >= 1 and resent(err) > 0,
   'reconnected and resent %d commands (%s)' % (resent(err), s))
wait_for(lambda: all(b'cluster_state:ok' in n.client().execute_command('CLUSTER', 'INFO')
                     for n in nodes), 'cluster ok')
cc = cl.client()
vals = cc.mget_nonatomic(['r:%d' % i for i in range(R)])
is_([i for i, v in enumerate(vals) if v != b'b:%d' % i][:5], [], 'every write applied across the restart')
is_([i for i in range(0, R, 97) if cc.hget('rh:%d' % i, 'f') != str(i).encode()], [],
    'writes after the restart applied')
diag(err.strip().splitlines()[-1])

cl.stop()
done_testing()
