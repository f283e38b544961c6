#!/usr/bin/python3
# Journal commands a target can never run (journal.md section 8) are
# translated where Redis has an equivalent (FIELDEXPIRE -> HEXPIRE on a
# hash, HSETEX in both of Dragonfly's forms and HGETEX -> scripts and the
# HEXPIRE family, DELEX IFEQ/IFNE -> a script), else fail as data errors
# (no retry can pass) naming the key and the record.  A command that
# only loses member or field TTLs leaves the whole key out under
# --unsupported skip (deleted on the target, later records on it dropped
# until the master deletes it) and is applied without the TTLs under
# lossy; other commands are counted and skipped under both.  Run against
# Redis 7.0 (no field TTLs: refused or applied without them) and 7.4
# (field TTLs applied as Dragonfly applies them).
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *

APPLY = os.path.join(TBIN, 'journalapply')
if not os.access(APPLY, os.X_OK):
    skip_all('t/bin/journalapply not built')

TMP = tmpdir('wunsup')


def jcmd(*args):
    return journal_cmd(args)


def apply(url, cmds, mode='fail', filt=()):
    path = os.path.join(TMP, 'j.bin')
    with open(path, 'wb') as f:
        for c in cmds:
            f.write(jcmd(*c))
    args = ['-u', mode]
    for o in filt:
        args += ['-F', o]
    r = run([APPLY] + args + [url, path], timeout=60,
            universal_newlines=True)
    return r.returncode, r.stdout + r.stderr


def like(text, pat, name):
    if not ok(re.search(pat, text), name):
        diag(text[-1500:])



def field_ms(c, key, *fields):
    """Each field's remaining TTL in ms (-1 none, -2 no field), on 7.4."""
    return c.execute_command('HPTTL', key, 'FIELDS', len(fields), *fields)


def within(ms, lo_s, hi_s):
    """A relative field TTL set by the replay: lo..hi seconds."""
    return lo_s * 1000 - 2000 <= ms <= hi_s * 1000


FAR = int(time.time()) + 86400

# Cases whose outcome does not depend on the version:
# (name, commands, error pattern under fail, lossy, skipped, check under skip)
COMMON = [
    ('SADDEX member TTLs', [('SADDEX', 'sx', '100', 'a', 'b')],
     r'key "sx": SADDEX: member TTLs have no Redis equivalent', 1, 0,
     lambda c: c.smembers('sx') == {b'a', b'b'} and c.ttl('sx') == -1),
    ('FIELDEXPIRE on a set', [('SADD', 'fs', 'a', 'b'), ('FIELDEXPIRE', 'fs', '100', 'a')],
     # 7.0 refuses FIELDEXPIRE before knowing the type, 7.4 when it finds a set
     r'key "fs": FIELDEXPIRE: (field TTLs need Redis 7.4|member TTLs of a set have no Redis equivalent)',
     1, 0,
     lambda c: c.smembers('fs') == {b'a', b'b'}),
    ('BF.ADD without the module', [('BF.ADD', 'bf', 'x'), ('SET', 'after', '1')],
     r'key "bf": BF.ADD: the target lacks the module', 0, 1,
     lambda c: not c.exists('bf') and c.get('after') == b'1'),
    ('CL.THROTTLE without redis-cell', [('CL.THROTTLE', 'cl', '15', '30', '60')],
     r'key "cl": CL.THROTTLE: the target lacks the module', 0, 1, lambda c: not c.exists('cl')),
    ('FT.CREATE without search', [('FT.CREATE', 'idx', 'SCHEMA', 'f', 'TEXT')],
     r'key "idx": FT.CREATE: the target lacks the module', 0, 1, lambda c: True),
    ('DFLYCLUSTER FLUSHSLOTS', [('DFLYCLUSTER', 'FLUSHSLOTS', '0', '100')],
     r'DFLYCLUSTER: Dragonfly cluster management has no Redis equivalent', 0, 1, lambda c: True),
    ('DELEX IFDEQ', [('SET', 'dx', 'v'), ('DELEX', 'dx', 'IFDEQ', 'abc')],
     r'key "dx": DELEX: only IFEQ and IFNE can be emulated', 0, 1, lambda c: c.get('dx') == b'v'),
    ('a command the target does not know', [('DFLYFOO', 'u', '1'), ('SET', 'after2', '1')],
     r'key "u": DFLYFOO: the target cannot run it: ERR [Uu]nknown', 0, 1,
     lambda c: c.get('after2') == b'1'),
    ('a malformed HSETEX', [('HSETEX', 'hm', 'NX', 'FIELDS', '1', 'a', '1')],
     r'key "hm": HSETEX: a malformed HSETEX', 0, 1, lambda c: not c.exists('hm')),
    ('a malformed HSETEX (pairs)', [('HSETEX', 'hm', '100', 'a')],
     r'key "hm": HSETEX: a malformed HSETEX', 0, 1, lambda c: not c.exists('hm')),
]

# Field TTLs before 7.4: refused, or applied without them under skip.
OLD = [
    ('FIELDEXPIRE on a hash', [('HSET', 'h', 'a', '1'), ('FIELDEXPIRE', 'h', '100', 'a')],
     r'key "h": FIELDEXPIRE: field TTLs need Redis 7.4', 1, 0,
     lambda c: c.hgetall('h') == {b'a': b'1'} and c.ttl('h') == -1),
    ("HSETEX, Dragonfly's form", [('HSET', 'h2', 'a', '0'), ('HSETEX', 'h2', 'NX', '100', 'a', '1', 'b', '2')],
     r'key "h2": HSETEX: field TTLs need Redis 7.4', 1, 0,
     lambda c: c.hgetall('h2') == {b'a': b'0', b'b': b'2'}),
    # KEEPTTL keeps only a TTL a field has, and no field has one here:
    # Dragonfly gives every field the new one (StringMap::ComputeTtl)
    ("HSETEX KEEPTTL, Dragonfly's form", [('HSETEX', 'hk', 'KEEPTTL', '100', 'a', '1')],
     r'key "hk": HSETEX: field TTLs need Redis 7.4', 1, 0, lambda c: c.hgetall('hk') == {b'a': b'1'}),
    ("HSETEX, Redis 8's form with EX", [('HSETEX', 'h5', 'FXX', 'EX', '100', 'FIELDS', '1', 'a', '1')],
     r'key "h5": HSETEX: field TTLs need Redis 7.4', 1, 0, lambda c: not c.exists('h5')),
    ('HEXPIRE before 7.4', [('HSET', 'h3', 'a', '1'), ('HEXPIRE', 'h3', '10', 'FIELDS', '1', 'a')],
     r'key "h3": HEXPIRE: field TTLs need Redis 7.4', 1, 0, lambda c: c.hgetall('h3') == {b'a': b'1'}),
    ('HGETEX before 7.4', [('HSET', 'h4', 'a', '1'), ('HGETEX', 'h4', 'EX', '100', 'FIELDS', '1', 'a')],
     r'key "h4": HGETEX: field TTLs need Redis 7.4', 1, 0, lambda c: c.hgetall('h4') == {b'a': b'1'}),
]

# Field TTLs on 7.4: applied as Dragonfly applies them, nothing lost.
# (name, commands, check)
NEW = [
    ('FIELDEXPIRE on a hash', [('HSET', 'h', 'a', '1', 'b', '2'), ('FIELDEXPIRE', 'h', '100', 'a', 'zz')],
     lambda c: c.hgetall('h') == {b'a': b'1', b'b': b'2'} and
     within(field_ms(c, 'h', 'a')[0], 100, 100) and field_ms(c, 'h', 'b', 'zz') == [-1, -2]),
    ("HSETEX, Dragonfly's form", [('HSET', 'h2', 'a', '0'), ('HSETEX', 'h2', '100', 'a', '1', 'b', '2')],
     lambda c: c.hgetall('h2') == {b'a': b'1', b'b': b'2'} and
     all(within(x, 100, 100) for x in field_ms(c, 'h2', 'a', 'b'))),
    ("HSETEX NX, Dragonfly's form: existing fields untouched, TTL too",
     [('HSET', 'h2', 'a', '0'), ('HSETEX', 'h2', 'NX', '100', 'a', '1', 'b', '2')],
     lambda c: c.hgetall('h2') == {b'a': b'0', b'b': b'2'} and
     field_ms(c, 'h2', 'a')[0] == -1 and within(field_ms(c, 'h2', 'b')[0], 100, 100)),
    ("HSETEX KEEPTTL, Dragonfly's form: a field's own TTL kept, the others get the new one",
     [('HSET', 'hk', 'a', '0', 'b', '0'), ('HEXPIREAT', 'hk', FAR, 'FIELDS', '1', 'a'),
      ('HSETEX', 'hk', 'KEEPTTL', '100', 'a', '1', 'b', '1', 'c', '1')],
     lambda c: c.hgetall('hk') == {b'a': b'1', b'b': b'1', b'c': b'1'} and
     c.execute_command('HEXPIRETIME', 'hk', 'FIELDS', 1, 'a') == [FAR] and
     all(within(x, 100, 100) for x in field_ms(c, 'hk', 'b', 'c'))),
    ("HSETEX FNX, Dragonfly's form: nothing set when one field exists",
     [('HSET', 'hf', 'a', '0'), ('HSETEX', 'hf', 'FNX', '100', 'a', '1', 'b', '2'),
      ('HSETEX', 'hg', 'FNX', '100', 'a', '1')],
     lambda c: c.hgetall('hf') == {b'a': b'0'} and c.hgetall('hg') == {b'a': b'1'} and
     within(field_ms(c, 'hg', 'a')[0], 100, 100)),
    ("HSETEX FXX, Redis 8's form with PXAT",
     [('HSET', 'h5', 'a', '0', 'b', '0'), ('HSETEX', 'h5', 'FXX', 'PXAT', FAR * 1000 + 5, 'FIELDS', '2', 'a', '1', 'b', '2'),
      ('HSETEX', 'h5', 'FXX', 'PXAT', FAR * 1000, 'FIELDS', '2', 'a', '3', 'zz', '3')],
     lambda c: c.hgetall('h5') == {b'a': b'1', b'b': b'2'} and
     c.execute_command('HPEXPIRETIME', 'h5', 'FIELDS', 2, 'a', 'b') == [FAR * 1000 + 5] * 2),
    ("HSETEX, Redis 8's form without an expiry drops the fields' TTLs, KEEPTTL keeps them",
     [('HSET', 'h6', 'a', '0', 'b', '0'), ('HEXPIRE', 'h6', '100', 'FIELDS', '2', 'a', 'b'),
      ('HSETEX', 'h6', 'FIELDS', '1', 'a', '1'), ('HSETEX', 'h6', 'KEEPTTL', 'FIELDS', '2', 'b', '2', 'c', '2')],
     lambda c: c.hgetall('h6') == {b'a': b'1', b'b': b'2', b'c': b'2'} and
     field_ms(c, 'h6', 'a', 'c') == [-1, -1] and within(field_ms(c, 'h6', 'b')[0], 100, 100)),
    ('HEXPIRE NX and XX, as journaled (relative)',
     [('HSET', 'h3', 'a', '1', 'b', '1'), ('HEXPIRE', 'h3', '50', 'FIELDS', '1', 'a'),
      ('HEXPIRE', 'h3', '100', 'NX', 'FIELDS', '2', 'a', 'b'), ('HEXPIRE', 'h3', '200', 'XX', 'FIELDS', '1', 'a')],
     lambda c: within(field_ms(c, 'h3', 'a')[0], 200, 200) and within(field_ms(c, 'h3', 'b')[0], 100, 100)),
    ('HEXPIRE 0 deletes the fields, and the hash when none is left',
     [('HSET', 'h7', 'a', '1', 'b', '1'), ('HEXPIRE', 'h7', '0', 'FIELDS', '1', 'a'),
      ('HSET', 'h8', 'a', '1'), ('HEXPIRE', 'h8', '0', 'FIELDS', '1', 'a')],
     lambda c: c.hgetall('h7') == {b'b': b'1'} and not c.exists('h8')),
    ('HPEXPIRE, HEXPIREAT, HPEXPIREAT, HPERSIST',
     [('HSET', 'h9', 'a', '1', 'b', '1', 'c', '1', 'd', '1'), ('HPEXPIRE', 'h9', '100000', 'FIELDS', '1', 'a'),
      ('HEXPIREAT', 'h9', FAR, 'FIELDS', '1', 'b'), ('HPEXPIREAT', 'h9', FAR * 1000 + 9, 'FIELDS', '2', 'c', 'd'),
      ('HPERSIST', 'h9', 'FIELDS', '1', 'd')],
     lambda c: within(field_ms(c, 'h9', 'a')[0], 100, 100) and
     c.execute_command('HPEXPIRETIME', 'h9', 'FIELDS', 3, 'b', 'c', 'd') == [FAR * 1000, FAR * 1000 + 9, -1]),
    ('HGETEX EX, PXAT, PERSIST and a plain read',
     [('HSET', 'h4', 'a', '1', 'b', '1', 'c', '1'), ('HGETEX', 'h4', 'EX', '100', 'FIELDS', '2', 'a', 'c'),
      ('HGETEX', 'h4', 'PXAT', FAR * 1000 + 4, 'FIELDS', '1', 'b'), ('HGETEX', 'h4', 'PERSIST', 'FIELDS', '1', 'c'),
      ('HGETEX', 'h4', 'FIELDS', '1', 'a')],
     lambda c: within(field_ms(c, 'h4', 'a')[0], 100, 100) and
     c.execute_command('HPEXPIRETIME', 'h4', 'FIELDS', 2, 'b', 'c') == [FAR * 1000 + 4, -1]),
]


def refused_cases(c, url, cases, vname):
    for name, cmds, pat, lossy, skipped, check in cases:
        name = '%s: %s' % (vname, name)
        key = re.search(r'key "([^"]+)"', pat)
        c.flushall()
        rc, out = apply(url, cmds)
        ok(rc == 1, '%s: fails by default' % name)
        like(out, r'error data: .*' + pat + r'.*--unsupported skip', '%s: a data error naming it' % name)
        c.flushall()
        rc, out = apply(url, cmds, 'lossy')
        if not ok(rc == 0, '%s: --unsupported lossy goes on' % name):
            diag(out[-1500:])
        like(out, r'lossy %d skipped %d' % (lossy, skipped),
             '%s: lossy: counted (lossy %d, skipped %d)' % (name, lossy, skipped))
        like(out, r'key "[^"]*"', '%s: lossy: logged by name' % name)
        ok(check(c), '%s: lossy: the target holds the rest' % name)
        # skip: a key that loses TTLs is left out whole
        c.flushall()
        rc, out = apply(url, cmds, 'skip')
        if not ok(rc == 0, '%s: --unsupported skip goes on' % name):
            diag(out[-1500:])
        like(out, r'lossy 0 skipped %d' % (lossy + skipped),
             '%s: skip: counted (lossy 0, skipped %d)' % (name, lossy + skipped))
        if lossy:
            like(out, r'key "%s" skipped: .*deleted on the target' % key.group(1),
                 '%s: skip: the key logged by name' % name)
            ok(not c.exists(key.group(1)), '%s: skip: the key is not on the target' % name)
        else:
            like(out, r'key "[^"]*"', '%s: skip: logged by name' % name)
            ok(check(c), '%s: skip: the target holds the rest' % name)


def reads_old(c, url, vname):
    """before 7.4 an HGETEX that reads or PERSISTs loses nothing"""
    c.flushall()
    for mode in ('fail', 'skip', 'lossy'):
        rc, out = apply(url, [('HSET', 'hr', 'a', '1'), ('HGETEX', 'hr', 'FIELDS', '1', 'a'),
                              ('HGETEX', 'hr', 'PERSIST', 'FIELDS', '1', 'a')], mode)
        ok(rc == 0 and 'lossy 0 skipped 0' in out and c.hgetall('hr') == {b'a': b'1'},
           '%s: %s: HGETEX reading or PERSIST: nothing lost, the key kept' % (vname, mode)) or diag(out)


def skip_stays(c, url, vname):
    """under skip a skipped key stays skipped until the master deletes it"""
    c.flushall()
    rc, out = apply(url, [('SADD', 'sx', 'z'), ('SADDEX', 'sx', '100', 'a'), ('SADD', 'sx', 'b'),
                          ('SADD', 't', 'q'), ('SADDEX', 'sy', '100', 'a'), ('RENAME', 'sy', 't'),
                          ('SADDEX', 'sd', '100', 'a'), ('DEL', 'sd'), ('SADD', 'sd', 'c'),
                          ('SET', 'other', '1')], 'skip')
    if not ok(rc == 0, '%s: skip: a journal writing skipped keys goes on' % vname):
        diag(out)
    like(out, r'lossy 0 skipped 4', '%s: sx, sy, t (renamed from sy) and sd skipped' % vname)
    is_([c.exists(k) for k in ('sx', 'sy', 't')], [0, 0, 0],
        '%s: a later SADD does not write back part of a skipped set; RENAME skips its destination' % vname)
    is_((c.smembers('sd'), c.get('other')), ({b'c'}, b'1'),
        '%s: after the master deleted it the key is written again' % vname)
    like(out, r'key "t" skipped: the journal\'s RENAME names a skipped key', '%s: logged by name' % vname)


def applied_cases(c, url, cases, vname):
    for name, cmds, check in cases:
        name = '%s: %s' % (vname, name)
        c.flushall()
        rc, out = apply(url, cmds)
        if not ok(rc == 0, '%s: applied' % name):
            diag(out[-1500:])
        like(out, r'lossy 0 skipped 0', '%s: nothing lost' % name)
        if not ok(check(c), '%s: as Dragonfly applies it' % name):
            diag(repr(c.hgetall(cmds[0][1])))


def lossless(c, url, vname):
    """translations that lose nothing on any version"""
    c.flushall()
    c.mset({'d1': 'v', 'd2': 'v', 'd3': 'v', 'd4': 'v'})
    rc, out = apply(url, [('DELEX', 'd1', 'IFEQ', 'v'), ('DELEX', 'd2', 'IFEQ', 'w'),
                          ('DELEX', 'd3', 'IFNE', 'v'), ('DELEX', 'd4', 'IFNE', 'w'), ('DELEX', 'd5'),
                          ('HSETEX', 'hk', 'FIELDS', '1', 'a', '1'),
                          ('HSETEX', 'hk', 'FNX', 'KEEPTTL', 'FIELDS', '1', 'a', '2'),
                          ('PREPEND', 'd2', 'x')])
    if not ok(rc == 0, "%s: DELEX IFEQ/IFNE, HSETEX without an expiry, PREPEND: applied" % vname):
        diag(out)
    like(out, r'lossy 0 skipped 0', '%s: nothing lost' % vname)
    is_([c.exists(k) for k in ['d1', 'd2', 'd3', 'd4']], [0, 1, 1, 0],
        '%s: DELEX IFEQ/IFNE deleted only on a match' % vname)
    is_((c.hgetall('hk'), c.get('d2')), ({b'a': b'1'}, b'xv'),
        "%s: Redis 8's HSETEX without an expiry is HSET, FNX refused it; PREPEND" % vname)
    # a TTL of 0 or a time past deletes (UpdateTTL), on any version
    c.flushall()
    rc, out = apply(url, [('HSET', 'hz', 'a', '1', 'b', '1', 'c', '1', 'd', '1'),
                          ('HEXPIRE', 'hz', '0', 'FIELDS', '1', 'a'),
                          ('HPEXPIREAT', 'hz', '1000', 'FIELDS', '1', 'b'),
                          ('HPERSIST', 'hz', 'FIELDS', '1', 'c'),
                          ('SADD', 'sz', 'x', 'y'), ('FIELDEXPIRE', 'sz', '0', 'x'),
                          ('HSET', 'hy', 'a', '1', 'b', '1'), ('FIELDEXPIRE', 'hy', '0', 'a')])
    if not ok(rc == 0, '%s: HEXPIRE 0, HPEXPIREAT past, HPERSIST, FIELDEXPIRE 0: applied' % vname):
        diag(out)
    like(out, r'lossy 0 skipped 0', '%s: nothing lost' % vname)
    is_((c.hgetall('hz'), c.smembers('sz'), c.hgetall('hy')),
        ({b'c': b'1', b'd': b'1'}, {b'y'}, {b'b': b'1'}), '%s: the fields and members deleted' % vname)


NREFUSED = 10       # tests per refused case
NSTAYS = 4
NAPPLIED = 3        # tests per applied case
NLOSSLESS = 7
for version in TARGET_VERSIONS:
    vname = 'Redis ' + version_name(version)
    old = version is None
    count = (len(COMMON) + (len(OLD) if old else 0)) * NREFUSED + (3 if old else 0) + \
        (0 if old else len(NEW) * NAPPLIED) + NLOSSLESS + NSTAYS
    why = redis_missing(version)
    if why is not None:
        skip('%s: field TTLs in the journal' % vname, why, count)
        continue
    srv = RedisServer(version=version)
    c = srv.client()
    ver = tuple(int(x) for x in c.info('server')['redis_version'].split('.'))
    ok((ver < (7, 4)) == old, '%s: the target is %r' % (vname, ver))
    refused_cases(c, srv.url, COMMON, vname)
    if old:
        refused_cases(c, srv.url, OLD, vname)
        reads_old(c, srv.url, vname)
    else:
        applied_cases(c, srv.url, NEW, vname)
    lossless(c, srv.url, vname)
    skip_stays(c, srv.url, vname)
    srv.stop()

srv = RedisServer()
c = srv.client()
# a key of another type than the master had: a divergence
c.flushall()
c.set('w', 'x')
rc, out = apply(srv.url, [('LPUSH', 'w', 'y')], 'skip')
like(out, r'error diverged: key "w": LPUSH: WRONGTYPE', 'WRONGTYPE is a divergence, even with --unsupported skip')
srv.stop()

# RENAME across slots on a cluster: keys in two slots
cl = RedisCluster()
cc = cl.client()
cc.set('a', '1')
rc, out = apply(cl.url, [('RENAME', 'a', 'b')])
like(out, r'error data: key "a": RENAME: the target cannot run it: (CROSSSLOT|ERR Script attempted to '
     r'access a non local key)', 'RENAME across nodes: a data error')
cl.stop()
done_testing()
