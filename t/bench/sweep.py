#!/usr/bin/python3
"""What the sweep after a full resync costs (sweep.h, marks.h).  A 4-shard
test master holds 1M x 100 B strings (BENCH_KEYS overrides), replicated by
`df2redis replicate` into one redis-server; df2redis is stopped, the master
deletes 10% of the keys, and df2redis starts again into a full resync
(the master refuses partial syncs).  The time from that start to every
flow in stable sync, with the default sweep divided by the same with
--no-sweep-on-resync (goal <= 1.25x), best of a few runs each; and, for
the sweep, the keys swept (they must equal the deleted ones), the
sweeper's own time and the marks' bytes on disk per key.

Prints figures measured in this run, never asserts.  BENCH_QUICK=1 runs
once."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

NFLOWS = 4
KEYS = int(os.environ.get('BENCH_KEYS', 1000000))
TRIES = 1 if os.environ.get('BENCH_QUICK') else 2


def fill(c):
    v = 'v' * 100
    pl = c.pipeline(transaction=False)
    for i in range(KEYS):
        pl.set('k:%d' % i, v)
        if i % 5000 == 4999:
            pl.execute()
    pl.execute()


def delete_tenth(c):
    pl = c.pipeline(transaction=False)
    for i in range(0, KEYS, 10):
        pl.delete('k:%d' % i)
        if i % 50000 == 0:
            pl.execute()
    pl.execute()


def session(sock):
    r = ctl(sock, 'status json')
    return json.loads(r[r.index('{'):r.rindex('}') + 1])['session']


def marks_bytes(sd):
    return sum(os.path.getsize(os.path.join(sd, f)) for f in os.listdir(sd)
               if f.startswith('marks-'))


def run(sweep):
    """Seconds of the resync, and the sweep's figures (or None)."""
    m = Master(NFLOWS, ['--refuse-partial'])
    tgt = RedisServer()
    fill(m.client())
    extra = ['-v'] if sweep else ['--no-sweep-on-resync']
    p = replicate_start(m, tgt.url, extra)
    if wait_status(p.sock, lambda t: flows_stable(t, NFLOWS), timeout=600, proc=p) is None:
        sys.exit('no stable sync: ' + proc_log(p)[-2000:])
    replicate_stop(p)
    delete_tenth(m.client())
    t0 = time.monotonic()
    p = replicate_start(m, tgt.url, extra, state_dir=p.state_dir)
    peak = [0]

    def done(text):
        if sweep:
            peak[0] = max(peak[0], marks_bytes(p.state_dir))
        return flows_stable(text, NFLOWS) and (not sweep or 'sweeps 1' in text)
    if wait_status(p.sock, done, timeout=900, proc=p) is None:
        sys.exit('no stable sync after the resync: ' + proc_log(p)[-2000:])
    secs = time.monotonic() - t0
    s = session(p.sock)
    for line in proc_log(p).splitlines():
        if ' sweep: ' in line:
            print('   ', line[11:])
    replicate_stop(p)
    left = tgt.client().dbsize()
    m.stop()
    tgt.stop()
    return secs, s['last_sweep'], peak[0], left


def main():
    best = {}
    for sweep in (False, True, False, True)[:2 * TRIES]:
        secs, ls, peak, left = run(sweep)
        print('  %s: resync %.2f s, target keys %d%s' % (
            'sweep   ' if sweep else 'no sweep', secs, left,
            '' if not ls else ', swept %d in %d ms, marks %d B (%.1f B/key)' % (
                ls['swept'], ls['ms'], peak, peak / max(1, ls['marks']))), flush=True)
        if sweep not in best or secs < best[sweep][0]:
            best[sweep] = (secs, ls, left)
    ratio = best[True][0] / best[False][0]
    print('sweep: full resync of %d keys with the sweep / without: %.2fx (goal <= 1.25x); '
          'swept %d of %d deleted; keys left %d (master %d)' % (
              KEYS, ratio, best[True][1]['swept'], len(range(0, KEYS, 10)), best[True][2],
              KEYS - len(range(0, KEYS, 10))))


if __name__ == '__main__':
    main()
