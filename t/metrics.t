#!/usr/bin/python3
# metrics-listen (httpd.h, metrics.h): GET /metrics scraped during the full
# sync and in stable sync with real values (keys written, LSNs, lag in
# records while the target is paused, a restarted target's reconnects, a
# killed worker's error and restart), promtool on a real scrape, every
# metric the Grafana dashboard charts, the status page in headless
# Chromium, bad requests, idle clients that hold every slot, and a SIGHUP
# that moves the listener.
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401
from repltest import *  # noqa: E402,F401

if not HAVE_MASTER:
    skip_all('t/dflymaster/dflymaster not built')

ROOTDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NFLOWS = 4
POP = 20000


def http(port, raw, timeout=10):
    """Send raw bytes, read until the server closes: (status, headers, body)."""
    s = socket.create_connection(('127.0.0.1', port), timeout)
    try:
        s.sendall(raw)
        data = b''
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    finally:
        s.close()
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    m = re.match(r'HTTP/1\.1 (\d{3}) ', lines[0]) if lines else None
    hdrs = dict(tuple(x.strip() for x in ln.split(':', 1)) for ln in lines[1:] if ':' in ln)
    return (int(m.group(1)) if m else 0), hdrs, body


def get(port, path):
    return http(port, ('GET %s HTTP/1.1\r\nHost: x\r\n\r\n' % path).encode())


def scrape(port):
    """{(name, frozenset(labels)): value} and the text."""
    st, _, body = get(port, '/metrics')
    text = body.decode()
    out = {}
    for ln in text.splitlines():
        if ln.startswith('#') or not ln:
            continue
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', ln)
        if not m:
            continue
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ''))
        out[(m.group(1), labels)] = float(m.group(3))
    return st, out, text


def per_flow(mx, name, **extra):
    """{flow: value} of one metric (other labels as given)."""
    out = {}
    for (n, labels), v in mx.items():
        d = dict(labels)
        if n != name or any(d.get(k) != str(w) for k, w in extra.items()):
            continue
        out[int(d['flow'])] = v
    return out


def get_or_none(port):
    try:
        return get(port, '/metrics')[0]
    except OSError:
        return None


def total(mx, name, **extra):
    return sum(per_flow(mx, name, **extra).values())


def scrape_until(port, pred, timeout=60):
    end = time.time() + timeout
    mx = {}
    while time.time() < end:
        st, mx, _ = scrape(port)
        if st == 200 and pred(mx):
            return mx
        time.sleep(0.05)
    return None


m = Master(NFLOWS, ['--snapshot-delay-us', '3000'])
m.client().execute_command('DEBUG', 'POPULATE', POP, 'k', 100)
keys = sum(m.client(db).dbsize() for db in range(16))
tgt = RedisServer()
sd = tmpdir('state')
sock = os.path.join(sd, 'df2redis.sock')
port = free_port()
conf = os.path.join(sd, 'df2redis.conf')
with open(conf, 'w') as f:
    f.write('metrics-listen 127.0.0.1:%d\n' % port)

# ------------------------------------------------------------ the option

r = run([DF2REDIS, 'replicate', '-n', '--source', m.addr, '--target', tgt.url, '--state-dir', sd,
         '--metrics-listen', 'localhost:9121'])
ok(r.returncode == 2 and b'metrics-listen "localhost:9121"' in r.stderr and b'IPv4' in r.stderr,
   'metrics-listen takes address literals only: exit 2 naming the value') or diag(r.stderr.decode())
r = run([DF2REDIS, 'replicate', '-n', '--source', m.addr, '--target', tgt.url, '--state-dir', sd,
         '--metrics-listen', '[::1]:9121'])
is_(r.returncode, 0, 'metrics-listen [::1]:9121 is accepted')
occupied = socket.socket()
occupied.bind(('127.0.0.1', 0))
occupied.listen(1)
bport = occupied.getsockname()[1]
r = run([DF2REDIS, 'replicate', '-d', '--source', m.addr, '--target', tgt.url, '--state-dir', tmpdir('busy'),
         '--metrics-listen', '127.0.0.1:%d' % bport], timeout=60)
ok(r.returncode == 1 and b'metrics-listen 127.0.0.1:%d: Address already in use' % bport in r.stderr,
   'a metrics-listen port in use: exit 1 naming it') or diag(r.stderr.decode())
r = run([DF2REDIS, 'replicate', '--help'])
ok(b'--metrics-listen' in r.stdout, '--help lists --metrics-listen')

# ------------------------------------------------------------ full sync

p = spawn([DF2REDIS, 'replicate', '-d', '-f', conf, '--source', m.addr, '--target', tgt.url,
           '--state-dir', sd, '--retry-delay-ms', '50'],
          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wait_port(port, proc=p)
mx = scrape_until(port, lambda x: total(x, 'df2redis_flow_phase', phase='full-sync') > 0 and
                  total(x, 'df2redis_flow_snapshot_keys') > 0)
ok(mx is not None, 'a scrape during the full sync: flows in phase full-sync, keys decoded')
mx = mx or {}
ok(mx.get(('df2redis_session_state', frozenset({('state', 'full-sync')}))) == 1 or
   mx.get(('df2redis_session_state', frozenset({('state', 'barrier')}))) == 1,
   'session state full-sync is 1')
is_(mx.get(('df2redis_snapshot_keys_expected', frozenset())), float(keys),
    'snapshot_keys_expected is the master\'s key count')
ok(0 < total(mx, 'df2redis_flow_snapshot_keys') < keys, 'full sync under way: 0 < keys decoded < %d' % keys)
is_(len(per_flow(mx, 'df2redis_flow_snapshot_keys')), NFLOWS, 'one series per flow')

# ------------------------------------------------------------ stable sync

st = wait_status(sock, lambda t: flows_stable(t, NFLOWS), proc=p)
ok(st is not None, 'stable sync')
mx = scrape_until(port, lambda x: total(x, 'df2redis_flow_phase', phase='stable') == NFLOWS)
ok(mx is not None, 'every flow in phase stable in the metrics')
mx = mx or {}
is_(total(mx, 'df2redis_flow_keys_written_total'), float(keys), 'keys written: the master\'s %d' % keys)
is_(total(mx, 'df2redis_flow_snapshot_keys'), float(keys), 'snapshot keys: the master\'s %d' % keys)
is_(total(mx, 'df2redis_flow_resyncs_total', type='full'), float(NFLOWS), 'one full sync per flow')
ok(total(mx, 'df2redis_flow_target_commands_total') >= keys, 'target commands >= keys')
ok(all(v > 0 for v in per_flow(mx, 'df2redis_flow_received_bytes_total').values()),
   'bytes received on every flow')
nodes = [dict(k[1]).get('node') for k in mx if k[0] == 'df2redis_target_commands_in_flight']
ok(len(nodes) == NFLOWS and set(nodes) == {tgt.url}, 'per node series: each flow\'s target node %s' % tgt.url)
lsn0 = per_flow(mx, 'df2redis_flow_lsn')
j0 = total(mx, 'df2redis_flow_journal_commands_total')
c0 = total(mx, 'df2redis_apply_latency_seconds_count')

W = 400
pipe = m.client().pipeline(transaction=False)
for i in range(W):
    pipe.set('w%d' % i, 'x' * 10)
pipe.execute()
mx = scrape_until(port, lambda x: total(x, 'df2redis_flow_journal_commands_total') >= j0 + W and
                  total(x, 'df2redis_flow_lag_records') == 0)
ok(mx is not None, 'the %d writes applied, lag in records back to 0' % W)
mx = mx or {}
lsn1 = per_flow(mx, 'df2redis_flow_lsn')
ok(all(lsn1.get(i, 0) > lsn0.get(i, 0) for i in range(NFLOWS)) and
   sum(lsn1.values()) - sum(lsn0.values()) >= W, 'the LSN of every flow advanced, by %d in all' % W) or \
    diag('%r -> %r' % (lsn0, lsn1))
ok(total(mx, 'df2redis_apply_latency_seconds_count') - c0 >= W,
   'apply latency histogram observed every record')
inf = total(mx, 'df2redis_apply_latency_seconds_bucket', le='+Inf')
is_(inf, total(mx, 'df2redis_apply_latency_seconds_count'), 'histogram: +Inf bucket equals the count')

# ------------------------------------------------------------ lag in records

tc = tgt.client()
seen = {'metrics': 0, 'json': 0, 'text': 0}
tc.execute_command('CLIENT', 'PAUSE', 3000, 'WRITE')
pipe = m.client().pipeline(transaction=False)
for i in range(W):
    pipe.set('p%d' % i, 'y' * 10)
pipe.execute()
end = time.time() + 2.5
while time.time() < end and not all(seen.values()):
    _, mx, _ = scrape(port)
    seen['metrics'] = max(seen['metrics'], total(mx, 'df2redis_flow_lag_records'))
    js = json.loads(ctl(sock, 'status json').split('\n')[1])
    seen['json'] = max(seen['json'], sum(f['lag_records'] or 0 for f in js['flows']))
    txt = ctl(sock, 'status')
    seen['text'] = max(seen['text'], sum(int(x) for x in re.findall(r' lag_records (\d+)$', txt, re.M)))
    time.sleep(0.05)
ok(seen['metrics'] > 0, 'target paused: df2redis_flow_lag_records > 0 (%d)' % seen['metrics'])
ok(seen['json'] > 0, 'target paused: status --json lag_records > 0 (%d)' % seen['json'])
ok(seen['text'] > 0, 'target paused: status lag_records > 0 (%d)' % seen['text'])
mx = scrape_until(port, lambda x: total(x, 'df2redis_flow_lag_records') == 0 and
                  total(x, 'df2redis_flow_journal_commands_total') >= j0 + 2 * W, timeout=60)
ok(mx is not None, 'pause over: lag in records back to 0 on every flow')
js = json.loads(ctl(sock, 'status json').split('\n')[1])
ok(all(f['lag_records'] == 0 for f in js['flows']), 'status --json: lag_records 0 on every flow')
is_(tc.get('p%d' % (W - 1)), b'y' * 10, 'the writes made while paused reached the target')

# ------------------------------------------------------------ requests

st, _, body = get(port, '/nope')
is_(st, 404, 'a wrong path: 404')
st, hdrs, _ = http(port, b'POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n')
ok(st == 405 and hdrs.get('Allow') == 'GET, HEAD', 'POST: 405 with Allow')
st, _, _ = http(port, b'GARBAGE\r\n\r\n')
is_(st, 400, 'a malformed request line: 400')
st, _, _ = http(port, b'GET /metrics HTTP/1.1\r\nX-Big: ' + b'a' * 8000 + b'\r\n\r\n')
is_(st, 431, 'a request head over the limit: 431')
st, hdrs, body = http(port, b'HEAD /metrics HTTP/1.0\r\n\r\n')
ok(st == 200 and body == b'' and int(hdrs.get('Content-Length', 0)) > 0, 'HEAD: the length, no body')
st, hdrs, body = http(port, b'HEAD /nope HTTP/1.0\r\n\r\n')
ok(st == 404 and body == b'', 'HEAD of a wrong path: 404, no body')
st, hdrs, body = get(port, '/metrics?x=1')
ok(st == 200 and hdrs.get('Content-Type', '').startswith('text/plain; version=0.0.4'),
   'GET /metrics?query: Prometheus text 0.0.4')

# ------------------------------------------------------------ idle clients

idle = [socket.create_connection(('127.0.0.1', port), 5) for _ in range(10)]
pipe = m.client().pipeline(transaction=False)
for i in range(W):
    pipe.set('i%d' % i, 'z' * 10)
pipe.execute()
ok(wait_for(lambda: tc.get('i%d' % (W - 1)) == b'z' * 10, 30),
   'ten clients that send nothing: replication goes on')
try:
    busy = http(port, b'GET /metrics HTTP/1.1\r\n\r\n')[0]
except ConnectionResetError:
    busy = 'reset'
ok(busy in (200, 503, 'reset'), 'a request while every slot is held: refused at once (%s)' % busy)


def closed_by_server(s):
    """The server closes it (after a 503 for those past the slots)."""
    s.settimeout(30)
    try:
        while s.recv(4096) != b'':
            pass
        return True
    except OSError:
        return False


ok(all(closed_by_server(s) for s in idle), 'the idle clients are closed by the server (timeout)')
for s in idle:
    s.close()
is_(get(port, '/metrics')[0], 200, 'then a scrape is served again')

# ------------------------------------------------------------ promtool, grafana

st, mx, text = scrape(port)
if shutil.which('promtool'):
    r = subprocess.run(['promtool', 'check', 'metrics'], input=text, capture_output=True, text=True)
    ok(r.returncode == 0 and r.stdout.strip() == '' and r.stderr.strip() == '',
       'promtool check metrics: clean') or diag(r.stdout + r.stderr)
else:
    skip('promtool check metrics', 'promtool not installed (Debian prometheus)')
names = set(n for n, _ in mx) | set(re.findall(r'^# TYPE (\S+) ', text, re.M))
with open(os.path.join(ROOTDIR, 'etc', 'df2redis-grafana.json')) as f:
    dash = json.load(f)
exprs = []


def walk(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == 'expr' and isinstance(v, str):
                exprs.append(v)
            else:
                walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)


walk(dash)
used = set(re.findall(r'\bdf2redis_[a-z0-9_]+', ' '.join(exprs)))
missing = sorted(n for n in used if n not in names)
ok(len(exprs) >= 6 and not missing, 'grafana: %d queries, every metric they name is scraped' % len(exprs)) or \
    diag('missing: %r' % missing)

man = open(os.path.join(ROOTDIR, 'src', 'df2redis.8')).read()
undoc = sorted(n for n in re.findall(r'^# TYPE (\S+) ', text, re.M) if n not in man)
ok(not undoc, 'df2redis(8) METRICS names every metric') or diag(repr(undoc))

# ------------------------------------------------------------ the page

st, hdrs, body = get(port, '/')
page = body.decode()
ok(st == 200 and hdrs.get('Content-Type', '').startswith('text/html') and
   'http-equiv="refresh"' in page and not re.search(r'(src|href)="?(https?:)?//', page),
   'GET /: one self-contained HTML page that refreshes itself')
chromium = shutil.which('chromium')
if chromium:
    W_PX, H_PX = 1100, 500
    udir = tempfile.mkdtemp(prefix='chromium-', dir=tmpdir('chromium'))
    png = os.path.join(udir, 'status.png')
    common = [chromium, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
              '--disable-background-networking', '--disable-component-update', '--disable-sync',
              '--user-data-dir=' + udir]
    url = 'http://127.0.0.1:%d/' % port
    subprocess.run(common + ['--screenshot=' + png, '--window-size=%d,%d' % (W_PX, H_PX), url],
                   capture_output=True, timeout=120)
    data = open(png, 'rb').read() if os.path.exists(png) else b''
    ok(data[:8] == b'\x89PNG\r\n\x1a\n', 'chromium: a PNG screenshot')
    w, h = struct.unpack('>II', data[16:24]) if len(data) >= 24 else (0, 0)
    is_((w, h), (W_PX, H_PX), 'the screenshot has the window\'s size')
    idat = b''.join(data[i + 8:i + 8 + struct.unpack('>I', data[i:i + 4])[0]]
                    for i in [mo.start() - 4 for mo in re.finditer(b'IDAT', data)])
    try:
        raw = zlib.decompress(idat)
    except zlib.error:
        raw = b''
    ok(len(set(raw)) > 8, 'the screenshot is not blank (%d distinct byte values)' % len(set(raw)))
    r = subprocess.run(common + ['--dump-dom', url], capture_output=True, text=True, timeout=120)
    rows = re.findall(r'<tr class="flow" id="flow-(\d+)">.*?<td class="phase[^"]*">([^<]*)</td>', r.stdout)
    ok(sorted(int(i) for i, _ in rows) == list(range(NFLOWS)) and all(ph == 'stable' for _, ph in rows),
       'chromium DOM: one row per flow, phase stable') or diag(r.stdout[:2000])
    shutil.copy(png, os.path.join(ROOTDIR, 't', 'tmp', 'metrics-status.png'))
else:
    skip('the status page in chromium', 'chromium not installed (Debian chromium)', 4)

# ------------------------------------------------------------ target restart, worker killed

tgt.stop()
tgt.start()
pipe = m.client().pipeline(transaction=False)
for i in range(W):
    pipe.set('r%d' % i, 'v')
pipe.execute()
mx = scrape_until(port, lambda x: all(v >= 1 for v in per_flow(x, 'df2redis_target_reconnects_total').values())
                  and len(per_flow(x, 'df2redis_target_reconnects_total')) == NFLOWS, timeout=60)
ok(mx is not None, 'target restarted: every flow counted a reconnect to %s' % tgt.url)
ok(wait_for(lambda: tc.get('r%d' % (W - 1)) == b'v', 30), 'and the writes after it arrived')

st = ctl(sock, 'status')
victim = status_flows(st)[1][2]
os.kill(victim, signal.SIGKILL)
mx = scrape_until(port, lambda x: per_flow(x, 'df2redis_flow_restarts_total').get(1) == 1 and
                  total(x, 'df2redis_flow_phase', phase='stable') == NFLOWS, timeout=60)
ok(mx is not None, 'a worker killed in stable sync: restarts_total{flow="1"} 1, every flow stable again')
mx = mx or {}
is_(per_flow(mx, 'df2redis_flow_errors_total', kind='system').get(1), 1.0,
    'errors_total{flow="1",kind="system"} 1 (its death)') or \
    diag(repr(sorted((dict(k[1]), v) for k, v in mx.items() if k[0] == 'df2redis_flow_errors_total' and v)))
is_(sum(v for k, v in mx.items() if k[0] == 'df2redis_flow_errors_total'), 1.0, 'no other error counted') or diag(ctl(sock, 'status'))
ok(per_flow(mx, 'df2redis_flow_resyncs_total', type='partial').get(1, 0) >= 1,
   'resyncs_total{type="partial"} counted the resume')
st, _, body = get(port, '/')
ok('killed by signal 9' in body.decode(), 'the page shows the flow\'s last error')

# ------------------------------------------------------------ SIGHUP moves the listener

with open(conf, 'w') as f:
    f.write('metrics-listen 127.0.0.1:%d\n' % bport)
p.send_signal(signal.SIGHUP)
time.sleep(0.5)
is_(get_or_none(port), 200, 'SIGHUP to a port in use: the old listener stays')
port2 = free_port()
with open(conf, 'w') as f:
    f.write('metrics-listen 127.0.0.1:%d\n' % port2)
p.send_signal(signal.SIGHUP)
ok(wait_for(lambda: get_or_none(port2) == 200, 10), 'SIGHUP: the new metrics-listen answers')


def refused(prt):
    try:
        socket.create_connection(('127.0.0.1', prt), 2).close()
        return False
    except OSError:
        return True


ok(refused(port), 'and the old one is closed')
p.send_signal(signal.SIGTERM)
out, err = p.communicate(timeout=60)
err = err.decode()
is_(p.returncode, 0, 'SIGTERM: exit 0')
ok('metrics on http://127.0.0.1:%d/metrics' % port2 in err and 'takes a restart' not in err,
   'the log names the new listener, no "takes a restart"') or diag(err[-2000:])
ok('SIGHUP: metrics-listen 127.0.0.1:%d not applied, keeping 127.0.0.1:%d' % (bport, port) in err,
   'the port in use was logged, the old address kept') or diag(err[-2000:])
occupied.close()
m.stop()

# ------------------------------------------------------------ a cluster: MOVED per node

m = Master(2, [])
cl = RedisCluster()
sd = tmpdir('state')
sock = os.path.join(sd, 'df2redis.sock')
port = free_port()
p = spawn([DF2REDIS, 'replicate', '-d', '--source', m.addr, '--target', cl.url, '--state-dir', sd,
           '--metrics-listen', '127.0.0.1:%d' % port], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
ok(wait_status(sock, lambda t: flows_stable(t, 2), proc=p) is not None, 'cluster target: stable sync')
m.client().set('warm', '1')
mx = scrape_until(port, lambda x: len([k for k in x if k[0] == 'df2redis_target_commands_in_flight']) == 2 * 3)
ok(mx is not None, 'cluster target: one series per flow and master node (2 x 3)')
ms = cl.masters()
src, dst = ms[0], ms[1]
sc, dc = src.client(), dst.client()
sl = min(s for a, b in cl.slots_of(src) for s in range(a, b + 1))
key = next('mv%d' % i for i in range(100000)
           if sc.execute_command('CLUSTER', 'KEYSLOT', 'mv%d' % i) == sl)
dc.execute_command('CLUSTER', 'SETSLOT', sl, 'IMPORTING', cl.node_id(src))
sc.execute_command('CLUSTER', 'SETSLOT', sl, 'MIGRATING', cl.node_id(dst))
for n in cl.masters():
    n.client().execute_command('CLUSTER', 'SETSLOT', sl, 'NODE', cl.node_id(dst))
m.client().set(key, 'moved')
mx = scrape_until(port, lambda x: sum(v for k, v in x.items() if k[0] == 'df2redis_target_moved_total' and
                                      dict(k[1])['node'] == src.url) >= 1, timeout=30)
ok(mx is not None, 'a slot moved to another master: MOVED counted for %s, the node that answered it' % src.url)
ok(wait_for(lambda: dc.get(key) == b'moved', 30), 'and the write reached the new owner')
p.send_signal(signal.SIGTERM)
is_(p.wait(60), 0, 'cluster target: SIGTERM, exit 0')
m.stop()
cl.stop()
done_testing()
