#!/usr/bin/python3
"""Full sync of 1M x 100 B strings from an 8-shard test master into one
redis-server with `df2redis migrate`, against `redis-cli --pipe` of the
same data into another: prints the time ratio (goal <= 1.25x) and the peak
RSS of the supervisor and of each worker.  BENCH_KEYS overrides 1M."""
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from dftest import *  # noqa: E402,F401

import redis  # noqa: E402

KEYS = int(os.environ.get('BENCH_KEYS', 1000000))
SIZE = 100


def start_master():
    port = free_port()
    p = spawn([DFLYMASTER, '--port', str(port), '--shards', '8'],
              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline().decode()
    if not line.startswith('ready'):
        sys.exit('dflymaster did not start')
    return p, port


def peak_rss(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def watch(sup, peaks, stop):
    """Sample VmHWM of the supervisor and its children until stop."""
    while not stop.is_set():
        kids = []
        try:
            with open('/proc/%d/task/%d/children' % (sup, sup)) as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            pass
        for pid in [sup] + kids:
            v = peak_rss(pid)
            if v is not None:
                peaks[pid] = max(peaks.get(pid, 0), v)
        time.sleep(0.02)


def main():
    mp, mport = start_master()
    m = redis.Redis(port=mport, socket_timeout=600)
    m.execute_command('DEBUG', 'POPULATE', KEYS, 'key', SIZE)

    # the same data as a RESP stream for redis-cli --pipe
    proto = os.path.join(tmpdir('bench'), 'data.resp')
    with open(proto, 'wb') as f:
        cursor = 0
        while True:
            cursor, keys = m.scan(cursor, count=5000)
            if keys:
                for k, v in zip(keys, m.mget(keys)):
                    f.write(b'*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n' % (len(k), k, len(v), v))
            if cursor == 0:
                break

    a, b = RedisServer(), RedisServer()
    t0 = time.time()
    with open(proto, 'rb') as f:
        subprocess.run(['redis-cli', '-p', str(b.port), '--pipe'], stdin=f,
                       stdout=subprocess.DEVNULL, check=True)
    t_pipe = time.time() - t0

    sd = tmpdir('state')
    peaks, stop = {}, threading.Event()
    t0 = time.time()
    p = subprocess.Popen([DF2REDIS, 'migrate', '-d', '--source', '127.0.0.1:%d' % mport,
                          '--target', a.url, '--state-dir', sd],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    w = threading.Thread(target=watch, args=(p.pid, peaks, stop))
    w.start()
    out, err = p.communicate()
    t_sync = time.time() - t0
    stop.set()
    w.join()
    if p.returncode != 0:
        print(err.decode()[-2000:])
        sys.exit('df2redis migrate failed')
    na, nb = a.client().dbsize(), b.client().dbsize()
    print('keys: master %d, df2redis target %d, redis-cli target %d' % (KEYS, na, nb))
    print('redis-cli --pipe: %.2f s   df2redis migrate: %.2f s   ratio %.2fx (goal <= 1.25x)' %
          (t_pipe, t_sync, t_sync / t_pipe))
    print('peak RSS: supervisor %d KiB; workers %s KiB' %
          (peaks.get(p.pid, 0), ' '.join(str(v) for k, v in sorted(peaks.items()) if k != p.pid)))
    mp.terminate()
    if na != KEYS:
        sys.exit('target holds %d keys, expected %d' % (na, KEYS))


main()
