#!/usr/bin/python3
"""A paused target must not slow the master (spool.h).  A 4-shard test
master replicated by `df2redis replicate` into one redis-server takes SETs
as fast as one client can send them (pipelines of 200, 100-byte values):
first for 10 s with a healthy target, then for 20 s while the target is
paused (CLIENT PAUSE 20000 ALL).  Figures, each best of a few runs:

- the master's write rate during the pause divided by its rate with a
  healthy target (goal >= 0.95; without the spool the master throttles
  its writers once a flow's unsent output passes 1 MiB);
- the catch-up rate once the target is back (the writes of the pause,
  divided by the time until every flow's spool is empty and the target
  acknowledged everything), as a ratio to `redis-benchmark -t set -P 16`
  against the same target (goal >= 0.8);
- the master's throttle count (DFLYMASTER STATS), the largest spool.

Prints figures measured in this run, never asserts.  BENCH_QUICK=1 runs
once."""
import json
import multiprocessing as mp
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

NFLOWS = 4
TRIES = 1 if os.environ.get('BENCH_QUICK') else 2
HEALTHY_S = 10
PAUSE_S = 20
BATCH = 200
KEYS = 200000
VALUE = b'v' * 100


def resp(*args):
    return b'*%d\r\n' % len(args) + b''.join(b'$%d\r\n%s\r\n' % (len(a), a) for a in args)


def writer(port, secs, out):
    """Pipelined SETs for secs seconds; sends the count to out."""
    s = socket.create_connection(('127.0.0.1', port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    n = 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        s.sendall(b''.join(resp(b'SET', b'k:%d' % ((n + i) % KEYS), VALUE) for i in range(BATCH)))
        want, got = 5 * BATCH, 0
        while got < want:
            b = s.recv(want - got)
            if not b:
                raise RuntimeError('master closed the connection')
            got += len(b)
        n += BATCH
    s.close()
    out.send(n)


def write_for(port, secs):
    a, b = mp.Pipe()
    pr = mp.Process(target=writer, args=(port, secs, b))
    t0 = time.monotonic()
    pr.start()
    n = a.recv()
    pr.join()
    return n, time.monotonic() - t0


def flows_json(p):
    r = ctl(p.sock, 'status json')
    return {f['id']: f for f in json.loads(r[r.index('{'):r.rindex('}') + 1])['flows']}


def caught_up(p):
    fl = flows_json(p)
    return all(f['spool_bytes'] == 0 and f['lag_ms'] == 0 for f in fl.values())


def benchmark(port):
    out = subprocess.run(['redis-benchmark', '-p', str(port), '-t', 'set', '-P', '16',
                          '-n', '1000000', '-q', '-d', str(len(VALUE))],
                         stdout=subprocess.PIPE, universal_newlines=True).stdout
    m = re.search(r'SET: ([\d.]+) requests per second', out.replace('\r', '\n'))
    return float(m.group(1)) if m else 0.0


def one_run():
    m = Master(NFLOWS)
    tgt = RedisServer()
    p = replicate_start(m, tgt.url, [])
    try:
        if wait_status(p.sock, lambda t: flows_stable(t, NFLOWS), timeout=60, proc=p) is None:
            raise RuntimeError('no stable sync: ' + proc_log(p)[-2000:])
        n, secs = write_for(m.port, HEALTHY_S)
        healthy = n / secs
        wait_status(p.sock, lambda t: caught_up(p), timeout=120, proc=p)
        s0 = mstats(m)
        tgt.client().execute_command('CLIENT', 'PAUSE', PAUSE_S * 1000, 'ALL')
        n, secs = write_for(m.port, PAUSE_S)
        paused = n / secs
        spool = sum(f['spool_bytes'] for f in flows_json(p).values())
        t0 = time.monotonic()
        while not caught_up(p) and time.monotonic() - t0 < 600:
            time.sleep(0.02)
        catchup = n / (time.monotonic() - t0)
        s1 = mstats(m)
        return {'healthy': healthy, 'paused': paused, 'catchup': catchup,
                'throttles': s1['throttles'] - s0['throttles'],
                'throttled_ms': s1['throttled_ms'] - s0['throttled_ms'],
                'cancelled': s1['cancelled'] - s0['cancelled'], 'spool': spool,
                'bench': benchmark(tgt.port)}
    finally:
        replicate_stop(p)
        m.stop()
        tgt.stop()


def main():
    runs = [one_run() for _ in range(TRIES)]
    for r in runs:
        print('run: healthy %.0f w/s, paused %.0f w/s, catch-up %.0f w/s, redis-benchmark -P 16 '
              '%.0f SET/s, spool at the end of the pause %d bytes, throttles %d (%d ms), '
              'sessions cancelled %d' % (r['healthy'], r['paused'], r['catchup'], r['bench'],
                                         r['spool'], r['throttles'], r['throttled_ms'],
                                         r['cancelled']))
    print('master write rate, target paused %d s / healthy: %.2f (goal >= 0.95)' % (
        PAUSE_S, max(r['paused'] / r['healthy'] for r in runs)))
    print('catch-up rate / redis-benchmark -t set -P 16: %.2f (goal >= 0.8)' % (
        max(r['catchup'] / r['bench'] for r in runs if r['bench'] > 0)))
    print('master throttles while paused: %d' % min(r['throttles'] for r in runs))


if __name__ == '__main__':
    main()
