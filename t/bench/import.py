#!/usr/bin/python3
# df2redis import benchmark; prints figures measured in this run, never asserts.
#  1. 1M x 100 B strings: df2redis import vs redis-cli --pipe of the same
#     data pre-rendered as RESP, each into a fresh redis-server (goal <= 1.15x)
#  2. a mixed-type 1M-key RDB: keys/s into standalone and a 3-master cluster
#  3. peak RSS of df2redis importing one 10M-member set (goal <= 64 MB)
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'lib'))
from dftest import *

N = int(os.environ.get('BENCH_KEYS', 1000000))
NSET = int(os.environ.get('BENCH_SET', 10000000))
TMP = tmpdir('bench-import')


def gen_rdb(name, script, *args):
    s = RedisServer()
    c = s.client()
    c.eval(script, 0, *args)
    c.save()
    path = os.path.join(TMP, name + '.rdb')
    shutil.copy(os.path.join(s.dir, 'dump.rdb'), path)
    s.stop()
    return path


def timed_import(url, path):
    t0 = time.time()
    p = subprocess.Popen([DF2REDIS, 'import', '--target', url, path],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, _, ru = os.wait4(p.pid, 0)
    el = time.time() - t0
    err = p.stderr.read().decode(errors='replace')
    if 'errors' not in err or ' 0 errors' not in err:
        print('import failed: ' + err[-500:])
    return el, ru.ru_maxrss / 1024.0


def bulk(s):
    return b'$%d\r\n%s\r\n' % (len(s), s)


# 1. strings vs redis-cli --pipe
strings = gen_rdb('strings', "for i=1,tonumber(ARGV[1]) do "
                  "redis.call('SET','key:'..i,string.format('%0100d',i)) end", N)
resp = os.path.join(TMP, 'strings.resp')
with open(resp, 'wb') as f:
    for i in range(1, N + 1):
        k = b'key:%d' % i
        v = b'%0100d' % i
        f.write(b'*3\r\n$3\r\nSET\r\n' + bulk(k) + bulk(v))
s = RedisServer()
t0 = time.time()
with open(resp, 'rb') as f:
    subprocess.run(['redis-cli', '-p', str(s.port), '--pipe'], stdin=f,
                   stdout=subprocess.DEVNULL, check=True)
t_pipe = time.time() - t0
s.stop()
s = RedisServer()
t_imp, _ = timed_import(s.url, strings)
got = s.client().dbsize()
s.stop()
print('strings: %d keys x 100 B: redis-cli --pipe %.2f s, df2redis import %.2f s '
      '(%d keys): ratio %.2fx (goal <= 1.15x)' % (N, t_pipe, t_imp, got, t_imp / t_pipe))

# 2. mixed types
mixed = gen_rdb('mixed', """
local n = tonumber(ARGV[1])
for i = 1, n do
  local k = 'k:' .. i
  local t = i % 5
  if t == 0 then redis.call('SET', k, string.rep('v', 50))
  elseif t == 1 then redis.call('RPUSH', k, 'a', 'b', 'c', 'd')
  elseif t == 2 then redis.call('SADD', k, 'a', 'b', 'c', i)
  elseif t == 3 then redis.call('HSET', k, 'f1', 'v1', 'f2', i)
  else redis.call('ZADD', k, 1, 'a', 2.5, 'b', i, 'c') end
end""", N)
s = RedisServer()
t_sa, _ = timed_import(s.url, mixed)
s.stop()
print('mixed: %d keys into standalone: %.2f s, %.0f keys/s' % (N, t_sa, N / t_sa))
cl = RedisCluster()
t_cl, _ = timed_import(cl.url, mixed)
cl.stop()
print('mixed: %d keys into a 3-master cluster: %.2f s, %.0f keys/s' % (N, t_cl, N / t_cl))

# 3. peak RSS on one big set
bigset = gen_rdb('bigset', "for i=1,tonumber(ARGV[1]),1000 do local t={} "
                 "for j=i,i+999 do t[#t+1]='member:'..j end "
                 "redis.call('SADD','bigset',unpack(t)) end", NSET)
s = RedisServer()
t_set, rss = timed_import(s.url, bigset)
card = s.client().scard('bigset')
s.stop()
print('bigset: %d members (%d written) in %.2f s, df2redis peak RSS %.1f MB (goal <= 64 MB)'
      % (NSET, card, t_set, rss))
