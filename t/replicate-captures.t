#!/usr/bin/python3
# df2redis migrate from recordings of a real Dragonfly v1.40 master
# (dragonfly-captures/, served byte for byte by the test master): the
# target equals expected-fullsync.json, skipped keys are named; a wrong
# EOF token is a protocol error that never reports success.  df2redis
# replicate applies the recorded stable-sync journal too and reaches
# expected.json; partial-lz4: first/ leaves exactly the recorded LSNs in
# LMDB, and resuming with them through the recorded PARTIAL session
# reaches its expected.json.
import json
import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

if not HAVE_MASTER:
    skip_all('t/dflymaster/dflymaster not built')
need_tool('mdb_dump', 'lmdb-utils')
need_fixtures('dragonfly-captures')

def do_capture(name, version, vname):
    cdir = os.path.join(CAPTURES, name)
    want = load_expected(os.path.join(cdir, 'expected-fullsync.json'))
    m = Master(1, ['--replay', cdir])
    tgt = RedisServer(version=version)
    r = migrate(m, tgt.url, ['--unsupported', 'lossy'])
    ran_ok(r, '%s: capture %s: exit 0' % (vname, name))
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
    ok(not d, '%s: capture %s: target equals expected-fullsync.json (%d keys)' %
       (vname, name, sum(len(x) for x in w.values())))
    if d:
        diag('\n'.join(x[:300] for x in d))
    missing = [k for k in skipped if k not in r.stderr]
    ok(not missing, '%s: capture %s: each skipped key named in the log (%d)' % (vname, name, len(skipped)))
    if missing:
        diag('not named: %r' % missing[:5])
    ft = capture_field_times(cdir)
    if version is not None:
        is_(dump_field_times(tgt.client()), ft,
            '%s: capture %s: each hash field\'s TTL as in the snapshot' % (vname, name))
    else:
        lost = sorted(k for keys in ft.values() for k in keys)
        is_(sorted(set(re.findall(r'key "([^"]*)" written without its hash field TTLs', r.stderr))), lost,
            '%s: capture %s: each hash written without its field TTLs named' % (vname, name))
    m.stop()
    tgt.stop()
    return ft


def capture_field_times(cdir):
    """{db: {hash: [[field, expire_ms]]}} of the hashes with field TTLs in
    a capture's snapshot, as df2redis inspect --flow decodes them."""
    out = {}
    for f in sorted(os.listdir(cdir)):
        if not re.match(r'flow-\d+\.bin$', f):
            continue
        r = run([DF2REDIS, 'inspect', '--flow', os.path.join(cdir, f)], universal_newlines=True)
        for line in r.stdout.splitlines():
            k = json.loads(line)
            if k.get('type') == 'hash' and any(len(x) == 3 for x in k['value']):
                out.setdefault(str(k['db']), {})[k['key']] = sorted(
                    [x[0], x[2] if len(x) == 3 and x[2] is not None else -1] for x in k['value'])
    return out


CAPS = ('types-lz4', 'types-none', 'big-lz4', 'journal-lz4', os.path.join('partial-lz4', 'first'))
for version in TARGET_VERSIONS:
    vname = 'Redis ' + version_name(version)
    why = redis_missing(version)
    if why is not None:
        skip('%s: the captures\' full syncs' % vname, why, 4 * len(CAPS) + 1)
        continue
    fts = [do_capture(name, version, vname) for name in CAPS]
    ok(fts[0].get('0', {}).get('hfttl'), '%s: a real Dragonfly hash with field TTLs was there' % vname)


def unheld(want):
    """{db: keys} of want whose type Redis 7.0 cannot hold."""
    w = redis_only(want)
    return {db: {k for k in keys if k not in w.get(db, {})} for db, keys in want.items()}


def held(got, nope):
    return {db: {k: v for k, v in keys.items() if k not in nope.get(db, ())}
            for db, keys in got.items()}


def replicate_capture(name, state_dir=None, want_file='expected.json'):
    """df2redis replicate from the recording NAME until the target equals
    its expected.json; stopped by SIGTERM.  The state directory."""
    cdir = os.path.join(CAPTURES, name)
    want = load_expected(os.path.join(cdir, want_file))
    w, nope = redis_only(want), unheld(want)
    with open(os.path.join(cdir, 'manifest.json')) as f:
        man = json.load(f)
    m = Master(1, ['--replay', cdir])
    tgt = replicate_capture.target or RedisServer()
    p = replicate_start(m, tgt.url, ['--unsupported', 'lossy', '--max-retries', '1'], state_dir)
    d, got = wait_equal(lambda: held(dump_server(tgt.client()), nope), w, timeout=60, proc=p)
    ok(not d, 'replicate %s: target equals %s (%d keys)' %
       (name, want_file, sum(len(x) for x in w.values())))
    if d:
        diag('\n'.join(x[:300] for x in d))
        diag(proc_log(p)[-3000:])
    log = proc_log(p)
    missing = [k for db, ks in nope.items() for k in ks if k not in got.get(db, {}) and
               '"%s"' % k not in log]
    ok(not missing, 'replicate %s: each skipped key named in the log (%d)' %
       (name, sum(len(x) for x in nope.values())))
    if missing:
        diag('not named: %r' % missing[:5])
    is_(replicate_stop(p), 0, 'replicate %s: SIGTERM in stable sync, exit 0' % name)
    recs = lsn_fields(p.state_dir)
    sizes = {i: os.path.getsize(os.path.join(cdir, 'flow-%d.bin' % i))
             for i in range(len(man['flows']))}
    is_({i: r['bytes'] for i, r in recs.items()}, sizes,
        'replicate %s: every flow read its recording to the last byte' % name)
    is_({i: r['state'] for i, r in recs.items()}, {i: 2 for i in sizes},
        'replicate %s: every flow stored in stable sync' % name)
    m.stop()
    if tgt is not replicate_capture.target:
        tgt.stop()
    replicate_capture.log = log
    replicate_capture.recs = recs
    return p.state_dir


replicate_capture.target = None

for name in ('types-lz4', 'types-none', 'big-lz4', 'journal-lz4'):
    replicate_capture(name)

# partial-lz4: first/ by full sync and its journal, then the recorded
# reconnection that got PARTIAL on every flow
pdir = os.path.join(CAPTURES, 'partial-lz4')
with open(os.path.join(pdir, 'manifest.json')) as f:
    pman = json.load(f)
tgt = RedisServer()
replicate_capture.target = tgt
sd = replicate_capture(os.path.join('partial-lz4', 'first'))
is_([replicate_capture.recs[i]['next_lsn'] for i in sorted(replicate_capture.recs)], pman['lsns'],
    'partial-lz4/first: the stored next LSNs equal the master\'s REPLICAOFFSET exactly')

# the replayed PARTIAL session answers only the recorded FLOW (those LSNs):
# another LSN, or none (a full sync), gets an error
m = Master(1, ['--replay', pdir])
flow0 = pman['flows'][0]['cmd']
for args, what in ((flow0[:-1] + [str(int(flow0[-1]) + 1)], 'another LSN'), (flow0[:-1], 'no LSN')):
    s = socket.create_connection(('127.0.0.1', m.port))
    raw_command(s, *args)
    bad = s.makefile('rb').readline()
    s.close()
    ok(bad.startswith(b'-ERR'), 'replay of partial-lz4: DFLY FLOW with %s is refused' % what)
m.stop()

sd = replicate_capture('partial-lz4', state_dir=sd)
log = replicate_capture.log
log = log[log.rfind('supervisor: replicating'):]
ok('resumed by partial sync' in log and 'DFLY SYNC' not in log and 'full resync' not in log,
   'partial-lz4: resumed by partial sync, no DFLY SYNC')
# flow 1 got 50 INCR + 50 LPUSH + 20 INCR from its LSN on, the others nothing
want = list(pman['lsns'])
want[1] += 120
is_([replicate_capture.recs[i]['next_lsn'] for i in sorted(replicate_capture.recs)], want,
    'partial-lz4: flow 1 went on from its LSN by 120 records, the idle flows kept theirs')
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
r = migrate(m, tgt.url, ['--unsupported', 'lossy', '--max-retries', '1'])
ok(r.returncode == 1 and re.search(r'flow 0 \S+: EOF token "%s" differs' % tok, r.stderr),
   'bad EOF token: protocol error, retried, never reported done')
ok('total:' not in r.stdout and 0 not in lsn_flows(r.state_dir),
   'bad EOF token: no success summary, no checkpoint for flow 0')
is_(sorted(lsn_flows(r.state_dir)), [1, 2], 'the flows that read their trailer checkpointed it')
m.stop()
tgt.stop()

done_testing()
