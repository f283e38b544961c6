#!/usr/bin/python3
# Journal commands resent after their replies were lost (t/lib/replyloss.py
# cuts the connection once the server executed everything): counters,
# pushes, pops, appends, XADD with its id, XGROUP CREATE, RENAME, mixed
# with plain SET/DEL/HSET on the same keys, must each take effect once.
# Compared with the same commands run once on a reference server; no
# sequence marker ({N}df2redis:seq:...) may be left behind.
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *
from replyloss import ReplyLoss

APPLY = os.path.join(TBIN, 'journalapply')
if not os.access(APPLY, os.X_OK):
    skip_all('t/bin/journalapply not built')

TMP = tmpdir('wjournal')


jcmd = journal_cmd


def journal(cmds):
    path = os.path.join(TMP, 'j.bin')
    with open(path, 'wb') as f:
        for db, c in cmds:
            f.write(jcmd(c, db))
    return path


def gen(rng, n):
    """(db, argv) commands; every non-idempotent kind, plain ones between."""
    out = [(0, ['SET', 'c', '0']), (0, ['XGROUP', 'CREATE', 'st', 'g', '0', 'MKSTREAM'])]
    xid = 1
    for i in range(n):
        db = rng.choice([0, 0, 0, 1])
        k = rng.randrange(4)
        r = rng.randrange(20)
        if r == 0:
            out.append((db, ['SET', 'c%d' % k, str(i)]))
        elif r == 1:
            out.append((db, ['INCRBY', 'c%d' % k, '3']))
        elif r == 2:
            out.append((db, ['INCR', 'c']))
        elif r == 3:
            out.append((db, ['RPUSH', 'l%d' % k, 'a%d' % i, 'b%d' % i]))
        elif r == 4:
            out.append((db, ['LPOP', 'l%d' % k]))
        elif r == 5:
            out.append((db, ['APPEND', 's%d' % k, 'x%d' % i]))
        elif r == 6:
            out.append((db, ['HINCRBY', 'h', 'f%d' % k, '2']))
        elif r == 7:
            out.append((db, ['HSET', 'h', 'f%d' % k, str(i)]))
        elif r == 8:
            out.append((db, ['ZINCRBY', 'z', '1.5', 'm%d' % k]))
        elif r == 9:
            out.append((db, ['INCRBYFLOAT', 'fl', '0.25']))
        elif r == 10:
            out.append((db, ['LPUSH', 'l%d' % k, 'p%d' % i]))
        elif r == 11:
            out.append((db, ['LREM', 'l%d' % k, '1', 'a%d' % (i - 5)]))
        elif r == 12:
            out.append((0, ['XADD', 'st', '%d-1' % xid, 'f', str(i)]))
            xid += 1
        elif r == 13:
            out.append((db, ['DEL', 'c%d' % k]))
        elif r == 14:
            out.append((db, ['BITFIELD', 'bf', 'INCRBY', 'u8', '0', '7']))
        elif r == 15:
            out.append((db, ['SET', 'r%d' % i, 'v']))
            out.append((db, ['RENAME', 'r%d' % i, 'rn%d' % k]))
        elif r == 16:
            out.append((db, ['ZPOPMIN', 'z']))
        elif r == 17:
            out.append((db, ['LINSERT', 'l%d' % k, 'BEFORE', 'p%d' % (i - 3), 'ins%d' % i]))
        elif r == 18:
            out.append((db, ['SADD', 'set', 'm%d' % k]))
        else:
            out.append((db, ['LTRIM', 'l%d' % k, '0', '20']))
    out.append((0, ['XGROUP', 'CREATE', 'st', 'g2', '$']))
    out.append((0, ['PREPEND', 'c', '1']))
    return out


def reference(srv, cmds):
    c = srv.client()
    for db, a in cmds:
        c.execute_command('SELECT', db)
        if a[0] == 'PREPEND':
            c.set(a[1], a[2] + (c.get(a[1]) or b'').decode())
            continue
        try:
            c.execute_command(*a)
        except Exception as e:
            # the same error must fail journalapply; gen() avoids them
            raise RuntimeError('reference: %r: %s' % (a, e))
    c.execute_command('SELECT', 0)
    return dump_server(c)


N = 3000 if not ASAN else 600
rng = random.Random(7)
cmds = gen(rng, N)
path = journal(cmds)
ref = RedisServer()
want = reference(ref, cmds)
ref.stop()

tgt = RedisServer()
tc = tgt.client()


def markers():
    return [k for db in range(2) for k in tgt.client(db).keys('*df2redis*')]


# without faults first: the same result, markers gone
r = run([APPLY, tgt.url, path], timeout=60, universal_newlines=True)
if not ok(r.returncode == 0, 'journal applied'):
    diag(r.stderr[-2000:])
d = diff_keyspaces(dump_server(tc), want)
if not ok(not d, 'same keyspace as the reference'):
    for l in d:
        diag(l[:300])
is_(markers(), [], 'no sequence marker left')

# replies lost at several places, each time the rest resent
for trig in ['INCR', 'RPUSH', 'LPOP', 'APPEND', 'HINCRBY', 'ZINCRBY', 'XADD', 'RENAME',
             'BITFIELD', 'LINSERT', 'PREPEND', 'g2']:
    tc.flushall()
    px = ReplyLoss(tgt.port, trig)
    r = run([APPLY, px.url, path], timeout=60, universal_newlines=True)
    px.stop()
    ok(px.dropped.is_set() and px.withheld > 0,
       'lost from the first %s on: %d replies withheld' % (trig, px.withheld))
    if not ok(r.returncode == 0, '%s: journal applied' % trig):
        diag(r.stderr[-2000:])
    d = diff_keyspaces(dump_server(tc), want)
    if not ok(not d, '%s: every command took effect once' % trig):
        for l in d:
            diag(l[:300])
    is_(markers(), [], '%s: no sequence marker left' % trig)

tgt.stop()
done_testing()
