#!/usr/bin/python3
# The writer with big values, through df2redis import: a 2M-member set, a
# 1M-field hash, a 1M-element list and a 100 MB string, each built in many
# commands under a temporary name and renamed into place, compared by
# DEBUG DIGEST-VALUE with the server that wrote the file; the importer's
# memory stays bounded (the 100 MB string is not held in flight).
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *

if not os.access(DF2REDIS, os.X_OK):
    skip_all('bin/df2redis not built')

SCALE = 1 if not ASAN else 0.01
NSET, NHASH, NLIST = int(2000000 * SCALE), int(1000000 * SCALE), int(1000000 * SCALE)
STRMB = 100 if not ASAN else 3
BATCH = 512                     # df2redis import's default --batch
DEBUG = ['--enable-debug-command', 'yes']


RSS_MB = 64                     # memory bound whatever the value size


def imp(url, path):
    """Run df2redis import; exit status, stderr and peak RSS in MB."""
    p = spawn([DF2REDIS, 'import', '--target', url, path], stdout=subprocess.DEVNULL,
              stderr=subprocess.PIPE)
    err = []
    reader = threading.Thread(target=lambda: err.append(p.stderr.read()), daemon=True)
    reader.start()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    reader.join(10)
    return p.returncode, b''.join(err).decode(errors='replace'), ru.ru_maxrss / 1024.0


def calls(c, cmd):
    return c.info('commandstats').get('cmdstat_' + cmd, {}).get('calls', 0)


def same_value(tc, sc, k, name):
    want = (sc.type(k), sc.execute_command('DEBUG', 'DIGEST-VALUE', k), sc.execute_command('PEXPIRETIME', k))
    is_((tc.type(k), tc.execute_command('DEBUG', 'DIGEST-VALUE', k), tc.execute_command('PEXPIRETIME', k)),
        want, name)


def big_run(name, fill, checks):
    """Fill a source server, SAVE, import its file into a fresh target and
    compare every key with the source (which holds what the file holds)."""
    src = RedisServer(args=['--rdbcompression', 'no'] + DEBUG)
    sc = src.client()
    t0 = time.time()
    fill(sc)
    sc.save()
    path = os.path.join(src.dir, 'dump.rdb')
    diag('%s: %.0f MB file made in %.1f s' % (name, os.path.getsize(path) / 1e6, time.time() - t0))
    tgt = RedisServer(args=DEBUG)
    tc = tgt.client()
    t0 = time.time()
    rc, err, rss = imp(tgt.url, path)
    ok(rc == 0, '%s: exit 0' % name) or diag(err[-3000:])
    diag('%s: imported in %.1f s, peak RSS %.1f MB' % (name, time.time() - t0, rss))
    if not ASAN:
        ok(rss <= RSS_MB, '%s: peak RSS %.1f MB <= %d MB' % (name, rss, RSS_MB))
    for k, cmd, least in checks:
        n = calls(tc, cmd)
        ok(n >= least, '%s: built in many commands (%d %s, at least %d)' % (k, n, cmd.upper(), least))
        same_value(tc, sc, k, '%s: same type, digest and expiry' % k)
    is_(sorted(tc.keys()), sorted(sc.keys()), '%s: the keys and no temporary one' % name)
    tgt.stop()
    src.stop()


def fill_set_str(c):
    c.eval("for i=1,tonumber(ARGV[1]),100 do local t={} for j=i,math.min(i+99,ARGV[1]) do "
           "t[#t+1]='member:'..j end redis.call('SADD',KEYS[1],unpack(t)) end", 1, 'bigset', NSET)
    c.pexpireat('bigset', int(time.time() * 1000) + 86400000)
    c.eval("local s=string.rep('0123456789abcdef',65536) for i=1,tonumber(ARGV[1]) do "
           "redis.call('APPEND',KEYS[1],s) redis.call('APPEND',KEYS[1],tostring(i)) end", 1, 'bigstr', STRMB)


def fill_hash_list(c):
    c.eval("for i=1,tonumber(ARGV[1]),100 do local t={} for j=i,math.min(i+99,ARGV[1]) do "
           "t[#t+1]='f'..j t[#t+1]='v'..j end redis.call('HSET',KEYS[1],unpack(t)) end", 1, 'bighash', NHASH)
    c.eval("for i=1,tonumber(ARGV[1]),100 do local t={} for j=i,math.min(i+99,ARGV[1]) do "
           "t[#t+1]='e'..j end redis.call('RPUSH',KEYS[1],unpack(t)) end", 1, 'biglist', NLIST)
    c.pexpireat('biglist', int(time.time() * 1000) + 86400000)


# a string goes in 1 MB chunks: the first by SET, the rest by checked APPEND scripts
big_run('set and string', fill_set_str,
        [('bigset', 'sadd', NSET // BATCH), ('bigstr', 'eval', STRMB - 1)])
# a list goes in checked RPUSH scripts
big_run('hash and list', fill_hash_list,
        [('bighash', 'hset', NHASH // BATCH), ('biglist', 'eval', NLIST // BATCH)])
done_testing()
