#!/usr/bin/python3
# Key filters end to end (filter.h, jfilter.c).  Through t/bin/journalapply
# (the writer alone): a journal record whose keys are all left out is
# dropped and counted, DEL and MSET are cut to the copied keys, RENAME
# across the filter is a data error naming the command, the record and
# both keys; FLUSHDB under a name filter is refused unless --filter-flush
# all; under a db filter a FLUSHDB of a db left out is dropped and FLUSHALL
# empties only the copied dbs.  Through df2redis replicate and the test
# master: snapshot keys and journal records filtered alike, target keys
# the filter excludes never touched, the sweep of a full resync deleting
# what the master deleted and leaving the excluded keys alone; RENAME
# across the filter stops the daemon naming the command and LSN, and
# never writes half of it.
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

APPLY = os.path.join(TBIN, 'journalapply')
if not os.access(APPLY, os.X_OK):
    skip_all('t/bin/journalapply not built')
TMP = tmpdir('jfilter')


def jcmd(db, *args):
    return journal_cmd(args, db)


def apply(url, cmds, filt):
    path = os.path.join(TMP, 'j.bin')
    with open(path, 'wb') as f:
        for c in cmds:
            f.write(jcmd(*c))
    args = []
    for o in filt:
        args += ['-F', o]
    r = run([APPLY] + args + [url, path], timeout=60, universal_newlines=True)
    return r.returncode, r.stdout + r.stderr


def db(c, n):
    c.execute_command('SELECT', n)
    out = {k.decode(): c.get(k) for k in c.keys('*')}
    c.execute_command('SELECT', 0)
    return out


# ---------------------------------------------------------------- the writer
srv = RedisServer()
c = srv.client()
F = ['key-prefix=u:', 'key-exclude-prefix=u:tmp:', 'db-exclude=3']
c.mset({'t:1': 'theirs', 't:2': 'theirs', 'u:old': 'x'})
rc, out = apply(srv.url, [(0, 'SET', 'u:1', 'a'), (0, 'SET', 't:1', 'master'), (0, 'SET', 'u:tmp:1', 'b'),
                          (0, 'MSET', 'u:2', 'x', 't:2', 'master', 'u:3', 'y'),
                          (0, 'DEL', 'u:old', 't:1'), (3, 'SET', 'u:in3', '1'), (0, 'SADD', 't:s', 'm')], F)
if not ok(rc == 0, 'journal: applied with a filter'):
    diag(out)
ok(re.search(r'filtered 6\b', out), 'journal: 4 records dropped and 2 cut, counted') or diag(out)
is_(db(c, 0), {'u:1': b'a', 'u:2': b'x', 'u:3': b'y', 't:1': b'theirs', 't:2': b'theirs'},
    'journal: copied keys written, MSET and DEL cut, the keys the filter leaves out untouched')
is_(db(c, 3), {}, 'journal: nothing written for a db left out')

c.flushall()
c.set('u:a', '1')
rc, out = apply(srv.url, [(0, 'SET', 'u:b', '1'), (0, 'RENAME', 'u:a', 't:a'), (0, 'SET', 'u:c', '1')], F)
ok(rc == 1 and re.search(r'error data: journal record at byte \d+: RENAME has keys on both sides of the '
                         r'filter \("u:a" copied, "t:a" left out\) and cannot be split', out),
   'journal: RENAME across the filter: a data error naming the record and both keys') or diag(out)
is_((c.get('u:a'), c.exists('t:a'), c.exists('u:c')), (b'1', 0, 0), 'journal: nothing of it written, nothing after it')
rc, out = apply(srv.url, [(0, 'MSETNX', 'u:x', '1', 't:x', '1')], F)
ok(rc == 1 and re.search(r'MSETNX has keys on both sides', out), 'journal: MSETNX cannot be cut') or diag(out)

c.flushall()
c.set('t:keep', '1')
rc, out = apply(srv.url, [(0, 'SET', 'u:1', '1'), (0, 'FLUSHDB')], F)
ok(rc == 1 and re.search(r'FLUSHDB would delete on the target the keys --key-prefix/--key-regex leave out '
                         r'\(--filter-flush all', out), 'journal: FLUSHDB under a name filter refused') or diag(out)
ok(c.get('t:keep') == b'1', 'journal: and nothing flushed')
rc, out = apply(srv.url, [(0, 'FLUSHALL')], F)
ok(rc == 1 and re.search(r'FLUSHALL would delete', out), 'journal: FLUSHALL too') or diag(out)
rc, out = apply(srv.url, [(0, 'SET', 'u:1', '1'), (0, 'FLUSHDB')], F + ['filter-flush=all'])
ok(rc == 0 and db(c, 0) == {}, 'journal: --filter-flush all lets it flush the whole db') or diag(out)

# db filters alone
for d in (0, 1, 2):
    c.execute_command('SELECT', d)
    c.set('k%d' % d, d)
c.execute_command('SELECT', 0)
rc, out = apply(srv.url, [(1, 'FLUSHDB')], ['db-filter=0,2'])
ok(rc == 0 and db(c, 1) == {'k1': b'1'}, 'journal: FLUSHDB of a db left out dropped') or diag(out)
rc, out = apply(srv.url, [(0, 'FLUSHALL')], ['db-filter=0,2'])
ok(rc == 0 and (db(c, 0), db(c, 1), db(c, 2)) == ({}, {'k1': b'1'}, {}),
   'journal: FLUSHALL under a db filter empties the copied dbs only') or diag(out)
srv.stop()

# ---------------------------------------------------------------- replicate
NFLOWS = 2
FILTER = ['--key-prefix', 'u:', '--key-exclude-prefix', 'u:tmp:', '--db-filter', '0']


def master_filtered(mc):
    return {k.decode(): mc.get(k) for k in mc.scan_iter(match='u:*', count=1000)
            if not k.startswith(b'u:tmp:')}


m = Master(NFLOWS, ['--refuse-partial'])
mc = m.client()
for i in range(200):
    mc.set('u:%d' % i, 'v%d' % i)
    mc.set('t:%d' % i, 'master')
mc.set('u:tmp:1', 'master')
m.client(1).set('u:db1', 'master')
tgt = RedisServer()
tc = tgt.client()
theirs = {'t:1': b'theirs', 'other': b'theirs', 'u:tmp:1': b'theirs'}
tc.mset(theirs)
tc.execute_command('SELECT', 1)
tc.set('keep', 'theirs')
tc.execute_command('SELECT', 0)
p = replicate_start(m, tgt.url, FILTER)
ok(wait_status(p.sock, lambda t: flows_stable(t, NFLOWS), timeout=60, proc=p) is not None, 'replicate: stable')


def want():
    w = dict(theirs)
    w.update(master_filtered(mc))
    return {'0': w, '1': {'keep': b'theirs'}}


def got():
    return {'0': db(tc, 0), '1': db(tc, 1)}


d, g = wait_equal(got, want(), timeout=30, proc=p)
if not ok(not d, 'snapshot: the copied keys written, the target\'s other keys untouched, db 1 not written'):
    diag('\n'.join(d[:10]))
n = sum(int(x) for x in re.findall(r'snapshot applied: .* skipped, (\d+) filtered\)', proc_log(p)))
is_(n, 202, 'snapshot: the 202 keys left out counted by the flows')
# the journal, filtered the same way
mc.set('u:j', '1')
mc.set('t:j', '1')
mc.mset({'u:m': 'a', 't:m': 'b'})
mc.delete('u:1', 't:1')
mc.set('u:tmp:2', 'x')
m.client(1).set('u:db1b', '1')
mc.set('u:last', '1')
d, g = wait_equal(got, want(), timeout=30, proc=p)
if not ok(not d, 'journal: filtered as the snapshot; MSET and DEL cut to the copied keys'):
    diag('\n'.join(d[:10]))
    diag(proc_log(p)[-1500:])
is_(replicate_stop(p), 0, 'SIGTERM: exit 0')

# away: the master deletes a copied key; the target gains keys of others
mc.delete('u:2')
mc.set('u:new', '1')
tc.set('t:late', 'theirs')
theirs['t:late'] = b'theirs'
p = replicate_start(m, tgt.url, FILTER, state_dir=p.state_dir)
ok(wait_status(p.sock, lambda t: flows_stable(t, NFLOWS), timeout=90, proc=p) is not None,
   'restart: stable sync after a full resync')
d, g = wait_equal(got, want(), timeout=30, proc=p)
if not ok(not d, 'sweep: the key the master deleted went, the keys the filter excludes stayed'):
    diag('\n'.join(d[:10]))
log = proc_log(p)
ok(re.search(r'full resync: 1 keys swept', log), 'sweep: exactly one key swept') or diag(log[-1500:])
is_(replicate_stop(p), 0, 'SIGTERM: exit 0')
m.stop()
tgt.stop()

# RENAME across the filter in stable sync: the daemon stops, naming it
m = Master(1)
mc = m.client()
mc.set('u:r', '1')
tgt = RedisServer()
tc = tgt.client()
p = replicate_start(m, tgt.url, FILTER + ['--max-retries', '1'])
ok(wait_status(p.sock, lambda t: flows_stable(t, 1), timeout=60, proc=p) is not None, 'rename: stable')
mc.rename('u:r', 't:r')
mc.set('u:after', '1')
end = time.time() + 60
while p.poll() is None and time.time() < end:
    time.sleep(0.1)
if p.poll() is None:
    p.kill()
p.wait()
log = proc_log(p)
is_(p.returncode, 1, 'rename: the daemon stops: exit 1')
ok(re.search(r'LSN \d+: journal RENAME: .*RENAME has keys on both sides of the filter \("u:r" copied, '
             r'"t:r" left out\)', log), 'rename: the error names the command, its LSN and both keys') \
    or diag(log[-2000:])
is_((tc.get('u:r'), tc.get('t:r'), tc.get('u:after')), (b'1', None, None),
    'rename: no half of it written, nothing after it')
m.stop()
tgt.stop()
done_testing()
