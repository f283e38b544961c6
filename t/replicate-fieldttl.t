#!/usr/bin/python3
# Hash-field and set-member TTLs end to end, from the Dragonfly test master
# through df2redis into Redis 7.0 and 7.4.  In the snapshot (types 31/32):
# on 7.4 every field's TTL arrives as HPEXPIREAT, HPEXPIRETIME equal to the
# master's; on 7.0 the hash is refused naming the key, left out whole
# under --unsupported skip, or written without its field TTLs under lossy.  In the journal (HSETEX in both
# forms, HEXPIRE, FIELDEXPIRE, as Dragonfly journals them: verbatim, TTLs
# relative): on 7.4 the target equals the master, field TTLs within the
# replay's delay; on 7.0 refused, the key left out (skip) or applied
# without them (lossy).  Set-member TTLs are refused, their set left out
# (skip: snapshot and journal, later records on it too) or written without
# them (lossy) on both.
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

if not HAVE_MASTER:
    skip_all('t/dflymaster/dflymaster not built')

NFLOWS = 2
SLACK_MS = 3000     # a relative TTL replayed later, and the master's whole seconds


def without(dump, keys):
    """dump_server() without keys of db 0"""
    out = {db: dict(d) for db, d in dump.items()}
    for k in keys:
        out.get('0', {}).pop(k, None)
    return out


def field_times(c, keys):
    return {k: hash_field_times(c, k) for k in keys}


def fill_snapshot(mc):
    """Hashes with field TTLs (small and past the listpack limits), one
    without, and a plain key."""
    mc.hset('hs', mapping={'a': '1', 'b': '2', 'c': '3'})
    mc.execute_command('HSETEX', 'hs', '1000', 'a', '10')
    mc.execute_command('HEXPIRE', 'hs', '2000', 'FIELDS', '1', 'b')
    mc.hset('hb', mapping={'f%03d' % i: 'v%d' % i for i in range(300)})
    mc.execute_command('FIELDEXPIRE', 'hb', '5000', *['f%03d' % i for i in range(0, 300, 7)])
    mc.execute_command('HSETEX', 'hn', 'FIELDS', '1', 'x', 'y')
    mc.hset('plain', mapping={'k': 'v'})
    mc.set('s', 'v')


def snapshot_cases(version, vname):
    m = Master(shards=NFLOWS)
    mc = m.client()
    fill_snapshot(mc)
    want = dump_server(mc)
    hashes = ['hs', 'hb', 'hn', 'plain']
    tgt = RedisServer(version=version)
    c = tgt.client()
    if version is not None:
        r = migrate(m, tgt.url)
        ran_ok(r, '%s: migrate with field TTLs in the snapshot' % vname)
        compare(dump_server(c), want, '%s: every key, field and value' % vname)
        got, mt = field_times(c, hashes), field_times(mc, hashes)
        is_(got, mt, '%s: each field\'s HPEXPIRETIME equals the master\'s' % vname)
        ok(sum(1 for f in mt['hb'] if f[1] != -1) == 43 and mt['hs'][2][1] == -1,
           '%s: the master had 45 field TTLs (the setup holds)' % vname)
    else:
        r = migrate(m, tgt.url)
        ok(r.returncode != 0, '%s: migrate refuses field TTLs by default' % vname)
        if not ok(re.search(r'key "(hs|hb)".*hash field TTLs need Redis 7.4.*--unsupported skip', r.stderr),
                  '%s: naming the key' % vname):
            diag(r.stderr[-2000:])
        c.flushall()
        r = migrate(m, tgt.url, ['--unsupported', 'lossy'])
        ran_ok(r, '%s: migrate --unsupported lossy' % vname)
        compare(dump_server(c), want, '%s: every key, field and value, without field TTLs' % vname)
        is_(sorted(re.findall(r'key "([^"]*)" written without its hash field TTLs', r.stderr)),
            ['hb', 'hs'], '%s: each hash that lost its field TTLs logged by name' % vname)
        c.flushall()
        r = migrate(m, tgt.url, ['--unsupported', 'skip'])
        ran_ok(r, '%s: migrate --unsupported skip' % vname)
        compare(dump_server(c), without(want, ['hs', 'hb']),
                '%s: skip: the hashes with field TTLs left out whole, every other key written' % vname)
        is_(sorted(re.findall(r'flow \d+ full-sync: flow \d+: key "([^"]*)" skipped: hash field TTLs need Redis 7.4',
                              r.stderr)), ['hb', 'hs'], '%s: skip: each logged by name with its flow and phase' % vname)
    # set-member TTLs: never on any version
    mc.flushall()
    mc.execute_command('SADDEX', 'sx', '1000', 'a', 'b')
    mc.sadd('sp', 'c')
    c.flushall()
    r = migrate(m, tgt.url)
    ok(r.returncode != 0 and re.search(r'key "sx".*member TTLs have no Redis equivalent', r.stderr),
       '%s: set-member TTLs refused by default, naming the key' % vname)
    c.flushall()
    r = migrate(m, tgt.url, ['--unsupported', 'lossy'])
    ran_ok(r, '%s: set-member TTLs: --unsupported lossy' % vname)
    is_((sorted(c.smembers('sx')), c.ttl('sx'), sorted(c.smembers('sp'))), ([b'a', b'b'], -1, [b'c']),
        '%s: lossy: the members without their TTLs' % vname)
    ok(re.search(r'key "sx" written without its member TTLs', r.stderr), '%s: lossy: logged by name' % vname)
    c.flushall()
    r = migrate(m, tgt.url, ['--unsupported', 'skip'])
    ran_ok(r, '%s: set-member TTLs: --unsupported skip' % vname)
    is_((c.exists('sx'), sorted(c.smembers('sp'))), (0, [b'c']),
        '%s: skip: the set with member TTLs is not on the target, the other one is' % vname)
    ok(re.search(r'key "sx" skipped: set member TTLs have no Redis equivalent', r.stderr),
       '%s: skip: logged by name' % vname)
    m.stop()
    tgt.stop()


FAR = int(time.time()) + 86400


def journal_mix(mc):
    """What the master journals for field TTLs, as Dragonfly does."""
    mc.hset('j1', mapping={'a': '0', 'b': '0'})
    mc.execute_command('HSETEX', 'j1', '500', 'a', '1', 'c', '1')
    mc.execute_command('HSETEX', 'j1', 'NX', '900', 'a', '2', 'd', '2')
    mc.execute_command('HSETEX', 'j1', 'KEEPTTL', '700', 'a', '3', 'b', '3')
    mc.execute_command('HSETEX', 'j2', 'FNX', '600', 'x', '1')
    mc.execute_command('HSETEX', 'j2', 'FXX', 'PXAT', FAR * 1000 + 123, 'FIELDS', '1', 'x', '2')
    mc.execute_command('HSETEX', 'j2', 'FIELDS', '1', 'y', '2')
    mc.hset('j3', mapping={'a': '1', 'b': '1', 'c': '1'})
    mc.execute_command('HEXPIRE', 'j3', '300', 'FIELDS', '2', 'a', 'b')
    mc.execute_command('HEXPIRE', 'j3', '800', 'NX', 'FIELDS', '2', 'a', 'c')
    mc.execute_command('HEXPIRE', 'j3', '0', 'FIELDS', '1', 'b')
    mc.hset('j4', 'a', '1')
    mc.execute_command('HEXPIRE', 'j4', '0', 'FIELDS', '1', 'a')
    mc.hset('j5', mapping={'a': '1', 'b': '1'})
    mc.execute_command('FIELDEXPIRE', 'j5', '400', 'b')
    mc.set('after', 'done')


JKEYS = ['j1', 'j2', 'j3', 'j5']


def close_times(got, want):
    """Field TTLs equal but for the replay's delay (relative TTLs)."""
    if sorted(got) != sorted(want):
        return False
    for k in want:
        if [f for f, _ in got[k]] != [f for f, _ in want[k]]:
            return False
        for (f, g), (_, w) in zip(got[k], want[k]):
            if (g == -1) != (w == -1) or abs(g - w) > SLACK_MS:
                return False
    return True


def journal_cases(version, vname):
    m = Master(shards=NFLOWS)
    mc = m.client()
    tgt = RedisServer(version=version)
    c = tgt.client()
    extra = [] if version is not None else ['--unsupported', 'lossy']
    p = replicate_start(m, tgt.url, extra)
    wait_status(p.sock, lambda t: flows_stable(t, NFLOWS), timeout=60, proc=p)
    journal_mix(mc)
    want = dump_server(mc)
    d, got = wait_equal(lambda: dump_server(c), want, timeout=30, proc=p)
    if not ok(not d, '%s: after the journal the target equals the master' % vname):
        diag('\n'.join(d))
        diag(proc_log(p)[-2000:])
    mt = field_times(mc, JKEYS)
    # PXAT becomes whole seconds from now, rounded up (ParseHSetEx)
    if not ok(mt['j1'][0][1] > 0 and mt['j2'][1] == ['y', -1] and
              FAR * 1000 <= mt['j2'][0][1] <= (FAR + 2) * 1000,
              '%s: the master holds field TTLs (the setup holds)' % vname):
        diag(repr(mt))
    if version is not None:
        gt = field_times(c, JKEYS)
        if not ok(close_times(gt, mt), '%s: every field TTL as on the master' % vname):
            diag('target %r\nmaster %r' % (gt, mt))
    else:
        log = proc_log(p)
        ok(re.search(r'key "j1": HSETEX applied without its TTLs', log),
           '%s: --unsupported lossy applies them without the TTLs, naming the key' % vname)
    is_(replicate_stop(p), 0, '%s: SIGTERM: exit 0' % vname)
    if version is None:
        # and refused by default: the worker stops naming the key
        c.flushall()
        mc.flushall()
        p = replicate_start(m, tgt.url)
        wait_status(p.sock, lambda t: flows_stable(t, NFLOWS), timeout=60, proc=p)
        mc.hset('r1', 'a', '1')
        mc.execute_command('HEXPIRE', 'r1', '100', 'FIELDS', '1', 'a')
        end = time.time() + 30
        while time.time() < end and not re.search(r'key "r1"', proc_log(p)) and p.poll() is None:
            time.sleep(0.1)
        if not ok(re.search(r'key "r1": HEXPIRE: field TTLs need Redis 7.4', proc_log(p)),
                  '%s: by default the record is refused, naming the key' % vname):
            diag(proc_log(p)[-2000:])
        replicate_stop(p)
    m.stop()
    tgt.stop()


def journal_skip(version, vname):
    """--unsupported skip in the journal: a key given member or field TTLs
    the target cannot hold is deleted there, and later records on it are
    dropped until the master deletes it"""
    m = Master(shards=NFLOWS)
    mc = m.client()
    tgt = RedisServer(version=version)
    c = tgt.client()
    mc.sadd('ss', 'a')          # in the snapshot, then member TTLs in the journal
    MS = ['m%d' % i for i in range(8)]     # skipped in the snapshot, on both flows
    for k in MS:
        mc.execute_command('SADDEX', k, '1000', 'a')
    p = replicate_start(m, tgt.url, ['--unsupported', 'skip'])
    wait_status(p.sock, lambda t: flows_stable(t, NFLOWS), timeout=60, proc=p)
    journal_mix(mc)
    mc.execute_command('SADDEX', 'ss', '1000', 'b')
    mc.sadd('ss', 'c')
    mc.execute_command('SADDEX', 'sd', '1000', 'a')
    mc.delete('sd')
    mc.sadd('sd', 'new')
    mc.set('last', 'x')
    skipped = ['ss'] + MS + ([] if version is not None else JKEYS)
    want = without(dump_server(mc), skipped)
    d, got = wait_equal(lambda: dump_server(c), want, timeout=30, proc=p)
    if not ok(not d, '%s: skip: the target equals the master but for the skipped keys' % vname):
        diag('\n'.join(d))
        diag(proc_log(p)[-2000:])
    ok(c.smembers('sd') == {b'new'} and not c.exists('ss'),
       '%s: skip: a set given member TTLs stays out, one deleted on the master comes back' % vname)
    log = proc_log(p)
    if not ok(re.search(r'flow \d+ stable: flow \d+: key "ss" skipped: SADDEX: member TTLs have no Redis equivalent', log),
              '%s: skip: logged by name with flow and phase' % vname):
        diag(log[-2000:])
    # a worker started again (partial sync) knows what its flow skipped
    for f in range(NFLOWS):
        r = ctl(p.sock, 'restart-flow %d' % f)
        if not r.startswith('ok'):
            diag(r)
    ok(wait_status(p.sock, lambda t: flows_stable(t, NFLOWS), timeout=60, proc=p) is not None and
       mstats(m)['partial_syncs'] >= NFLOWS, '%s: skip: both workers restarted, resumed by partial sync' % vname)
    for k in ['ss'] + MS:
        mc.sadd(k, 'late')
    mc.set('last2', 'x')
    wait_for(lambda: c.get('last2') == b'x', timeout=30)
    is_([k for k in ['ss'] + MS if c.exists(k)], [],
        '%s: skip: a restarted worker still leaves its flow\'s skipped keys out (STATE_DIR/skipped-N)' % vname)
    # FLUSHALL runs once for all flows: every flow forgets its skipped keys
    mc.flushall()
    for k in MS:
        mc.sadd(k, 'fresh')
    d, got = wait_equal(lambda: dump_server(c), dump_server(mc), timeout=30, proc=p)
    if not ok(not d, '%s: skip: after FLUSHALL the keys skipped on every flow are written again' % vname):
        diag('\n'.join(d))
    is_(replicate_stop(p), 0, '%s: SIGTERM: exit 0' % vname)
    m.stop()
    tgt.stop()


NSNAP = {None: 15, '7.4': 11}
NJOUR = {None: 12, '7.4': 11}
for version in TARGET_VERSIONS:
    vname = 'Redis ' + version_name(version)
    why = redis_missing(version)
    if why is not None:
        skip('%s: field TTLs end to end' % vname, why, NSNAP[version] + NJOUR[version])
        continue
    snapshot_cases(version, vname)
    journal_cases(version, vname)
    journal_skip(version, vname)
done_testing()
