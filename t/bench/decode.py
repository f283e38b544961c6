#!/usr/bin/python3
"""Decode benchmark: df2redis inspect against redis-check-rdb on the same
files, in the same run.

Builds with a real redis-server (fed by redis-cli --pipe, then SAVE):
  mixed   1M keys: strings, ints, lists, sets, intsets, zsets, hashes (small
          and big encodings), a few streams with groups, some TTLs
  string  one 100 MB string (rdbcompression off: decoded in pieces)
  set     one set of 2M members
then runs `df2redis inspect --summary`, `df2redis inspect` (JSON to
/dev/null) and `redis-check-rdb` on each and prints keys/s, MB/s and the
peak RSS of each child (wait4's ru_maxrss, i.e. the child's own peak).
Figures only; nothing is asserted about wall-clock time.
DF2REDIS_ASAN=1 or BENCH_SCALE=0.1 shrink everything; BENCH_KEEP=DIR keeps
a copy of each file there."""
import os
import random
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from dftest import DF2REDIS, RedisServer, tmpdir  # noqa: E402

SCALE = float(os.environ.get('BENCH_SCALE', '0.1' if os.environ.get('DF2REDIS_ASAN') else '1'))
NKEYS = int(1000000 * SCALE)
BIGSTR = int(100 * 1024 * 1024 * SCALE)
BIGSET = int(2000000 * SCALE)
TIME = '/usr/bin/time'     # GNU time


def resp(*args):
    out = [b'*%d\r\n' % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b'$%d\r\n%s\r\n' % (len(a), a))
    return b''.join(out)


def pipe(srv, gen):
    p = subprocess.Popen(['redis-cli', '-p', str(srv.port), '--pipe'], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    buf = []
    size = 0
    for cmd in gen:
        buf.append(cmd)
        size += len(cmd)
        if size > 1 << 20:
            p.stdin.write(b''.join(buf))
            buf, size = [], 0
    p.stdin.write(b''.join(buf))
    p.stdin.close()
    out = p.stdout.read()
    if p.wait() != 0 or b'errors: 0' not in out:
        sys.exit('redis-cli --pipe failed: %s' % out.decode(errors='replace'))


def mixed_commands(n):
    rnd = random.Random(42)
    far = int(time.time() * 1000) + 10 * 365 * 86400 * 1000
    for i in range(n):
        k = 'key:%d' % i
        r = i % 20
        if r < 6:
            yield resp('SET', k, 'value-%d-%s' % (i, 'x' * (i % 40)))
        elif r < 8:
            yield resp('SET', k, rnd.randrange(-10 ** 12, 10 ** 12))
        elif r == 8:
            yield resp('SET', k, 'ttl-value', 'PXAT', far + i)
        elif r < 11:
            yield resp('RPUSH', k, *('item-%d' % j for j in range(1 + i % 8)))
        elif r == 11:
            yield resp('SADD', k, *('member-%d' % j for j in range(1 + i % 6)))
        elif r == 12:
            yield resp('SADD', k, *range(i % 7, i % 7 + 5))
        elif r < 15:
            yield resp('ZADD', k, *(x for j in range(1 + i % 6) for x in (j * 1.5, 'zm-%d' % j)))
        elif r < 18:
            yield resp('HSET', k, *(x for j in range(1 + i % 6) for x in ('field-%d' % j, 'val-%d' % j)))
        elif r == 18:
            yield resp('HSET', k, 'f', i, 'g', 'x')
            yield resp('PEXPIREAT', k, far + i)
        elif i % 5000 == 19:
            # big encodings: quicklist, hashtable set/hash, skiplist zset
            yield resp('RPUSH', k, *('long-list-item-%d' % j for j in range(300)))
        elif i % 5000 == 39:
            yield resp('HSET', k, *(x for j in range(300) for x in ('hf%d' % j, 'hv' * 40)))
        elif i % 5000 == 59:
            yield resp('ZADD', k, *(x for j in range(300) for x in (j, 'zmember-%d' % j)))
        elif i % 5000 == 79:
            yield resp('SADD', k, *('big-set-member-%d' % j for j in range(300)))
        else:
            yield resp('SET', k, i)
    for s in range(max(1, n // 100000)):
        k = 'stream:%d' % s
        for j in range(200):
            yield resp('XADD', k, '*', 'f', j, 'g', 'payload-%d' % j)
        yield resp('XGROUP', 'CREATE', k, 'grp', '0')
        yield resp('XREADGROUP', 'GROUP', 'grp', 'alice', 'COUNT', 50, 'STREAMS', k, '>')


def bigset_commands(n):
    for i in range(0, n, 1000):
        yield resp('SADD', 'bigset', *('m:%d' % j for j in range(i, min(n, i + 1000))))


def build(name, gen, args=()):
    srv = RedisServer(args=list(args))
    t = time.time()
    if name == 'string':
        srv.client().setrange('bigstring', BIGSTR - 1, b'x')
    else:
        pipe(srv, gen)
    srv.client().execute_command('SAVE')
    path = os.path.join(srv.dir, 'dump.rdb')
    nkeys = srv.client().dbsize()
    srv.stop()
    if os.environ.get('BENCH_KEEP'):
        shutil.copy(path, os.path.join(os.environ['BENCH_KEEP'], name + '.rdb'))
    print('%-7s built: %d keys, %.1f MB in %.1f s' % (name, nkeys, os.path.getsize(path) / 1e6, time.time() - t),
          flush=True)
    return path, nkeys


RUNS = 3


def measure(argv):
    """(wall seconds, CPU seconds, peak RSS MB, exit status) of one child,
    the best of RUNS runs: on a shared machine the minimum is the figure
    least disturbed by other work.  The child is started by /usr/bin/time,
    whose wait4() rusage (RUSAGE_CHILDREN) is the child's own: a child forked
    straight from this Python process would inherit its ~30 MB high-water
    mark across exec()."""
    d = tmpdir('bench')
    rssf, errf = os.path.join(d, 'rss'), os.path.join(d, 'stderr')
    best = None
    for _ in range(RUNS):
        with open(os.devnull, 'wb') as null, open(errf, 'wb') as err:
            t = time.time()
            rc = subprocess.call([TIME, '-f', '%M %U %S', '-o', rssf] + argv, stdout=null, stderr=err)
            dt = time.time() - t
        with open(rssf) as f:
            rss_kb, user, system = f.read().split()[-3:]
        run = (dt, float(user) + float(system), int(rss_kb) / 1024.0, rc)
        if rc != 0:
            with open(errf, errors='replace') as f:
                print('  %s exited %d: %s' % (argv[0], rc, f.read()[-300:]))
            return run
        best = run if best is None else (min(best[0], dt), min(best[1], run[1]), max(best[2], run[2]), rc)
    return best


def report(name, path, nkeys):
    mb = os.path.getsize(path) / 1e6
    rows = [('inspect --summary', [DF2REDIS, 'inspect', '--summary', path]),
            ('inspect (JSON)', [DF2REDIS, 'inspect', path]),
            ('redis-check-rdb', ['redis-check-rdb', path])]
    res = {}
    for label, argv in rows:
        dt, cpu, rss, rc = measure(argv)
        res[label] = (dt, max(cpu, 0.005))
        print('  %-18s %7.2f s wall %6.2f s cpu %11.0f keys/s %8.1f MB/s  peak RSS %6.1f MB%s'
              % (label, dt, cpu, nkeys / dt, mb / dt, rss, '' if rc == 0 else '  (exit %d)' % rc), flush=True)
    ref, summ, js = res['redis-check-rdb'], res['inspect --summary'], res['inspect (JSON)']
    print('  speed ratio inspect --summary / redis-check-rdb: %.1fx cpu, %.1fx wall (goal >= 3x); '
          'JSON: %.1fx cpu' % (ref[1] / summ[1], ref[0] / summ[0], ref[1] / js[1]), flush=True)


def main():
    if not os.path.exists(DF2REDIS):
        sys.exit('bin/df2redis not built')
    if not os.path.exists(TIME):
        sys.exit('%s (GNU time) is needed to measure each child' % TIME)
    tmpdir('bench')
    print('scale %g: %d keys, %d MB string, %d-member set' % (SCALE, NKEYS, BIGSTR >> 20, BIGSET), flush=True)
    for name, gen, args in (('mixed', mixed_commands(NKEYS), ()),
                            ('string', None, ('--rdbcompression', 'no')),
                            ('set', bigset_commands(BIGSET), ())):
        path, nkeys = build(name, gen, args)
        report(name, path, nkeys)


if __name__ == '__main__':
    main()
