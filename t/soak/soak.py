#!/usr/bin/python3
"""make soak: SOAK_MINUTES (default 20) of a steady mixed write load on a
4-shard test master, replicated through a TCP proxy by `df2redis
replicate` into a Redis Cluster of 3 masters with one replica each, with a
fault every SOAK_EVERY seconds (default 30), in rotation:

  worker      kill -9 of one worker
  supervisor  kill -9 of the supervisor and its workers, started again on
              the same state directory (as an init script would)
  failover    kill -9 of a target master (its replica is promoted); the
              dead node comes back as a replica
  pause       every target master paused 20 s (CLIENT PAUSE ALL)
  stall       the proxy between df2redis and the master stops forwarding
              for 10 s
  restart     df2redisctl restart-flow N
  resync      kill -9 of the supervisor and its workers after 200 keys of
              their own reached the target; the master deletes them and
              drops its backlog, so the restart is a full resync whose
              sweep must delete them (the swept count is reported)

The load: SET, INCR, APPEND, LPUSH, XADD, EXPIRE, MULTI/EXEC and, once,
FLUSHDB.  At the end the load stops and the target must equal the master
key by key.  Reported: RSS and open descriptors of every df2redis process
in the first and the last minute, partial versus full resyncs and the keys
the full resyncs swept.
Exit 0 when the target equals the master, 1 otherwise."""
import json
import os
import random
import re
import select
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

NFLOWS = 4
MINUTES = float(os.environ.get('SOAK_MINUTES', '20'))
EVERY = float(os.environ.get('SOAK_EVERY', '30'))
NK = 64


def say(msg):
    print('%s %s' % (time.strftime('%H:%M:%S'), msg), flush=True)


class Proxy:
    """Forwards 127.0.0.1:port to the master; stall(s) stops forwarding
    in both directions for s seconds, connections kept open."""

    def __init__(self, target_port):
        self.target = target_port
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(('127.0.0.1', 0))
        self.ls.listen(64)
        self.port = self.ls.getsockname()[1]
        self.stalled_until = 0
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            c, _ = self.ls.accept()
            u = socket.create_connection(('127.0.0.1', self.target))
            threading.Thread(target=self.pump, args=(c, u), daemon=True).start()

    def pump(self, a, b):
        peers = {a: b, b: a}
        try:
            while True:
                while time.time() < self.stalled_until:
                    time.sleep(0.05)
                r, _, _ = select.select([a, b], [], [], 0.1)
                for s in r:
                    d = s.recv(262144)
                    if not d:
                        raise EOFError
                    peers[s].sendall(d)
        except (EOFError, OSError):
            a.close()
            b.close()

    def stall(self, secs):
        self.stalled_until = time.time() + secs

    @property
    def addr(self):
        return '127.0.0.1:%d' % self.port


class Load:
    def __init__(self, m):
        self.c, self.go, self.n, self.rnd = m.client(), True, 0, random.Random(9)
        self.flush_at = None
        self.t = threading.Thread(target=self.run)
        self.t.start()

    def run(self):
        while self.go:
            if self.flush_at is not None and time.time() >= self.flush_at:
                self.c.flushdb()
                say('load: FLUSHDB')
                self.flush_at = None
            pl = self.c.pipeline(transaction=False)
            for _ in range(20):
                i, n = self.rnd.randrange(NK), self.n
                op = self.rnd.randrange(8)
                if op == 0:
                    pl.set('s:%d' % i, n)
                elif op == 1:
                    pl.incr('ctr:%d' % i)
                elif op == 2:
                    pl.append('app:%d' % i, '%d,' % (n % 100))
                elif op == 3:
                    pl.lpush('list:%d' % i, n)
                elif op == 4:
                    pl.xadd('xs:%d' % i, {'n': n}, maxlen=50, approximate=False)
                elif op == 5:
                    pl.expire('s:%d' % i, 100000)
                else:
                    pl.set('big:%d' % i, 'v' * 500 + str(n))
                self.n += 1
            pl.execute()
            if self.n % 2000 < 20:
                tx = self.c.pipeline(transaction=True)
                tx.incr('tx:a').incr('tx:b')
                tx.execute()
            time.sleep(0.003)

    def stop(self):
        self.go = False
        self.t.join()


def proc_stats(pids):
    out = {}
    for pid in pids:
        try:
            with open('/proc/%d/status' % pid) as f:
                rss = int([x for x in f if x.startswith('VmRSS')][0].split()[1])
            out[pid] = (rss, len(os.listdir('/proc/%d/fd' % pid)))
        except (OSError, IndexError):
            pass
    return out


def ours(ks):
    return {db: {k: v for k, v in keys.items() if 'df2redis:lsn:' not in k}
            for db, keys in ks.items()}


class Soak:
    def __init__(self):
        self.m = Master(NFLOWS, ['--backlog-ms', '300000', '--backlog-records', '2000000'])
        self.cl = RedisCluster(replicas=1, node_timeout=2000)
        self.proxy = Proxy(self.m.port)
        self.sd = tmpdir('soak-state')
        self.p = None
        self.gone = self.swept = 0
        self.start()

    def start(self):
        argv = ['-v', '--max-retries', '50', '--source', self.proxy.addr]
        self.p = replicate_start(self.m, self.cl.url, argv, state_dir=self.sd)

    def pids(self):
        try:
            fl = status_flows(ctl(self.p.sock, 'status'))
        except OSError:
            return []
        return [self.p.pid] + [pid for (_, _, pid) in fl.values() if pid > 0]

    def stable(self, timeout=180):
        return wait_status(self.p.sock, lambda t: flows_stable(t, NFLOWS), timeout=timeout,
                           proc=self.p) is not None

    # ---- faults
    def resync(self):
        c = self.m.client()
        self.gone += 1
        names = ['soak:gone:%d:%d' % (self.gone, i) for i in range(200)]
        for n in names:
            c.set(n, 'x')
        end = time.time() + 60
        last = self.cl.client()
        while time.time() < end and last.exists(names[-1]) == 0:
            time.sleep(0.2)
        self.kill_all()
        c.delete(*names)
        c.execute_command('DFLYMASTER', 'evict-next-partial')
        self.start()

        def swept(text):
            return flows_stable(text, NFLOWS) and re.search(r'^sweeps [1-9]', text, re.M)
        # the partial attempt is stable a moment before the master cancels it
        if wait_status(self.p.sock, swept, timeout=180, proc=self.p) is None:
            return 'resync: no sweep after the restart'
        r = ctl(self.p.sock, 'status json')
        sj = json.loads(r[r.index('{'):r.rindex('}') + 1])['session']
        self.swept += sj['swept']
        return 'full resync after the backlog passed: %d keys swept (200 deleted meanwhile)' % \
            sj['swept']

    def worker(self):
        fl = status_flows(ctl(self.p.sock, 'status'))
        i = random.randrange(NFLOWS)
        os.kill(fl[i][2], signal.SIGKILL)
        return 'kill -9 of flow %d' % i

    def kill_all(self):
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.p.wait()

    def supervisor(self):
        self.kill_all()
        self.start()
        return 'kill -9 of the supervisor and its workers, started again'

    def failover(self):
        seed = self.cl.nodes[0].port
        ms = [x for x in self.cl.masters() if x.port != seed]
        victim = ms[0]
        victim.kill()
        end = time.time() + 30
        while time.time() < end and len(self.cl.masters()) < 3:
            time.sleep(0.2)
        victim.start()
        return 'kill -9 of target master :%d, replica promoted, node back' % victim.port

    def pause(self):
        for x in self.cl.masters():
            x.client().execute_command('CLIENT', 'PAUSE', 20000, 'ALL')
        return 'target masters paused 20 s'

    def stall(self):
        self.proxy.stall(10)
        return 'proxy stalled 10 s'

    def restart(self):
        i = random.randrange(NFLOWS)
        r = ctl(self.p.sock, 'restart-flow %d' % i)
        return 'restart-flow %d: %s' % (i, r.strip().splitlines()[0] if r.strip() else '')


def main():
    s = Soak()
    if not s.stable():
        say('no stable sync: ' + proc_log(s.p)[-2000:])
        return 1
    load = Load(s.m)
    load.flush_at = time.time() + MINUTES * 30
    s0 = mstats(s.m)
    faults = ['worker', 'supervisor', 'failover', 'pause', 'stall', 'restart', 'resync']
    t0 = time.time()
    first = last = None
    k = 0
    while time.time() - t0 < MINUTES * 60:
        time.sleep(EVERY)
        if s.p.poll() is not None:
            say('df2redis exited %s' % s.p.returncode)
            break
        name = faults[k % len(faults)]
        k += 1
        try:
            say('fault: ' + getattr(s, name)())
        except Exception as e:  # noqa: BLE001 - report, go on
            say('fault %s failed: %s' % (name, e))
        st = proc_stats(s.pids())
        if first is None and st and time.time() - t0 >= 60:
            first = st
        last = st
    load.stop()
    say('load stopped after %d writes; waiting for the target' % load.n)
    want = dump_server(s.m.client())
    end = time.time() + 300
    got = None
    while time.time() < end:
        try:
            got = ours(dump_cluster(s.cl))
        except Exception:  # noqa: BLE001 - a node coming back
            got = None
        if got == want:
            break
        time.sleep(1)
    s1 = mstats(s.m)
    say('faults: %d; master sessions: partial %d, full %d; keys swept by full resyncs %d' % (
        k, s1['partial_syncs'] - s0['partial_syncs'], s1['full_syncs'] - s0['full_syncs'],
        s.swept))
    for label, st in (('first minute', first), ('last minute', last)):
        if st:
            say('%s: RSS kB %s, fds %s' % (label, sorted(v[0] for v in st.values()),
                                          sorted(v[1] for v in st.values())))
    equal = got == want
    say('target equals the master: %s (%d keys)' % (equal, len(want.get('0', {}))))
    if not equal and got is not None:
        print('\n'.join(x[:200] for x in diff_keyspaces(got, want)[:20]))
        print(proc_log(s.p)[-3000:])
    replicate_stop(s.p)
    s.m.stop()
    s.cl.stop()
    return 0 if equal else 1


if __name__ == '__main__':
    sys.exit(main())
