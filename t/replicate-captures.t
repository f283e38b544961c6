#!/usr/bin/python3
# df2redis migrate from recordings of a real Dragonfly v1.40 master
# (dragonfly-captures/, served byte for byte by the test master): the
# target equals expected-fullsync.json, skipped keys are named; a wrong
# EOF token is a protocol error that never reports success.
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

if not HAVE_MASTER:
    skip_all('t/dflymaster/dflymaster not built')
need_tool('mdb_dump', 'lmdb-utils')
need_fixtures('dragonfly-captures')

for name in ('types-lz4', 'types-none', 'big-lz4', 'journal-lz4', os.path.join('partial-lz4', 'first')):
    cdir = os.path.join(CAPTURES, name)
    want = load_expected(os.path.join(cdir, 'expected-fullsync.json'))
    m = Master(1, ['--replay', cdir])
    tgt = RedisServer()
    r = migrate(m, tgt.url, ['--unsupported', 'skip'])
    ran_ok(r, 'capture %s: exit 0' % name)
    w = redis_only(want)
    got = dump_server(tgt.client())
    # keys Redis cannot hold (JSON, bloom, member TTLs) are skipped and named
    skipped = set()
    for db, keys in want.items():
        for k, v in keys.items():
            if k not in got.get(db, {}) and v['type'] not in REDIS_TYPES:
                skipped.add(k)
    gotw = {db: {k: v for k, v in keys.items() if k in w.get(db, {}) or k not in skipped}
            for db, keys in got.items()}
    d = diff_keyspaces(gotw, w)
    ok(not d, 'capture %s: target equals expected-fullsync.json (%d keys)' %
       (name, sum(len(x) for x in w.values())))
    if d:
        diag('\n'.join(x[:300] for x in d))
    missing = [k for k in skipped if k not in r.stderr]
    ok(not missing, 'capture %s: each skipped key named in the log (%d)' % (name, len(skipped)))
    if missing:
        diag('not named: %r' % missing[:5])
    m.stop()
    tgt.stop()

# a bad EOF token: the replayed FLOW reply says one token, the stream carries another
cdir = os.path.join(CAPTURES, 'types-none')
d = tmpdir('badtok')
with open(os.path.join(cdir, 'manifest.json')) as f:
    man = json.load(f)
txt = json.dumps(man)
tok = re.search(r'[0-9a-f]{40}', json.dumps(man['flows'][0]['reply'])).group(0)
with open(os.path.join(d, 'manifest.json'), 'w') as f:
    f.write(txt.replace(tok, '0' * 40))
for fn in os.listdir(cdir):
    if fn != 'manifest.json':
        os.symlink(os.path.join(cdir, fn), os.path.join(d, fn))
m = Master(1, ['--replay', d])
tgt = RedisServer()
r = migrate(m, tgt.url, ['--unsupported', 'skip', '--max-retries', '1'])
ok(r.returncode == 1 and re.search(r'flow 0 \S+: EOF token "%s" differs' % tok, r.stderr),
   'bad EOF token: protocol error, retried, never reported done')
ok('total:' not in r.stdout and 0 not in lsn_flows(r.state_dir),
   'bad EOF token: no success summary, no checkpoint for flow 0')
is_(sorted(lsn_flows(r.state_dir)), [1, 2], 'the flows that read their trailer checkpointed it')
m.stop()
tgt.stop()

done_testing()
