#!/usr/bin/python3
# Protocol faults from the test master.  A fault that never clears (every
# session hit): df2redis names the flow and byte, retries with backoff a
# bounded number of times, gives up with exit 1, no success summary and
# no checkpoint.  A fault that clears (--fault-once: only the first full
# sync is hit; the test master's STARTSTABLE error is always one-shot): a
# clear log line, one restart, and a target equal to the master key by
# key.  Plus the test master's own barrier check.
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

if not HAVE_MASTER:
    skip_all('t/dflymaster/dflymaster not built')
need_tool('mdb_dump', 'lmdb-utils')

CHUNK = 1024    # small tagged chunks, so the sample's big values have some


def sample_master(shards, args=()):
    m = Master(shards, ['--compression', 'none', '--chunk-size', str(CHUNK)] + list(args))
    m.client().execute_command('DFLYMASTER', 'LOAD-SAMPLE')
    return m


def no_checkpoint(r):
    return not lsn_flows(r.state_dir)


# The flipped byte: the first TAGGED_CHUNK opcode (0xE0) of a flow, which
# the decoder must refuse as opcode 0xE1.  Its offset is taken from a clean
# master with the same keyspace (the stream layout does not depend on the
# instance).
m = sample_master(2)
flip = None
for fl in range(2):
    at = first_tagged_chunk(capture_fullsync(m, 2, fl), 2 * CHUNK)
    if at >= 0:
        flip = (fl, at)
        break
m.stop()
ok(flip is not None, 'the sample has a tagged chunk to corrupt: flow %s byte %s' %
   (flip or ('-', '-')))
flip = flip or (1, 0)

# ------------------------------------------------------------ faults that never clear

for fault, what, where in (
        (['--fault-close-flow', '1:3000'], 'master closes a flow', r'flow 1 full-sync: byte \d+: '),
        (['--fault-flip-byte', '%d:%d' % flip], 'corrupt opcode',
         r'flow %d full-sync: byte %d: unknown opcode 0xe1' % flip)):
    m = sample_master(2, fault)
    tgt = RedisServer()
    r = migrate(m, tgt.url, ['--max-retries', '2', '--unsupported', 'skip'])
    ok(r.returncode == 1 and 'giving up after 2 retries' in r.stderr and 'total:' not in r.stdout,
       '%s every time: bounded retries, then failure, no success summary' % what)
    ok(r.stderr.count('restarting the full sync') == 2, '%s every time: the session was restarted twice' % what)
    ok(len(re.findall(where, r.stderr)) == 3, '%s every time: each attempt logs flow and byte' % what)
    if len(re.findall(where, r.stderr)) != 3:
        diag(r.stderr[-2000:])
    ok(no_checkpoint(r), '%s every time: no LSN checkpoint written' % what)
    m.stop()
    tgt.stop()

# ------------------------------------------------------------ faults that clear

for fault, what, where in (
        (['--fault-close-flow', '1:3000'], 'master closes a flow once',
         r'flow 1 full-sync: byte \d+: the master closed the flow'),
        (['--fault-flip-byte', '%d:%d' % flip], 'corrupt opcode once',
         r'flow %d full-sync: byte %d: unknown opcode 0xe1' % flip),
        (['--fault-startstable-error'], '-ERR on STARTSTABLE once',
         r'supervisor: .*DFLY STARTSTABLE: -ERR invalid state')):
    m = sample_master(2, ['--fault-once'] + fault)
    tgt = RedisServer()
    r = migrate(m, tgt.url, ['--max-retries', '3', '--unsupported', 'skip'])
    ran_ok(r, '%s: exit 0' % what)
    ok(len(re.findall(where, r.stderr)) == 1 and r.stderr.count('restarting the full sync') == 1,
       '%s: one clear log line, one restart' % what)
    if len(re.findall(where, r.stderr)) != 1:
        diag(r.stderr[-2000:])
    ok('total: 2 flows' in r.stdout and len(lsn_flows(r.state_dir)) == 2,
       '%s: success summary and both checkpoints' % what)
    compare(dump_server(tgt.client()), redis_only(dump_server(m.client())),
            '%s: target equals master key by key' % what)
    ok(m.alive(), '%s: master saw no barrier violation' % what)
    m.stop()
    tgt.stop()

# ------------------------------------------------------------ the barrier hook works

m = Master(2, ['--snapshot-delay-us', '2000'])
m.client().execute_command('DEBUG', 'POPULATE', 20000, 'k', 100)
ctrl, f, flows, syncid = replica_session(m, 2)
raw_command(ctrl, 'DFLY', 'SYNC', syncid)
raw_command(ctrl, 'DFLY', 'STARTSTABLE', syncid)
try:
    m.proc.wait(10)
except subprocess.TimeoutExpired:
    pass
ok(m.proc.returncode == 3 and 'BARRIER VIOLATION' in m.logtext(),
   'negative control: an early STARTSTABLE makes the master exit 3')
for s in flows + [ctrl]:
    s.close()
m.stop()

done_testing()
