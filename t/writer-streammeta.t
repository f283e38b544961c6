#!/usr/bin/python3
# Stream details through t/bin/writerfeed: an empty stream from a file
# without v2 metadata (no entries-added, no max-deleted-id) must come out
# with entries-added 0 and max-deleted-id 0-0, a non-empty one with
# entries-added = its length; a pending entry whose message was deleted
# (XDEL) cannot be restored by Redis: counted as lossy and logged, or an
# error under --unsupported fail.
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from dftest import *

FEED = os.path.join(TBIN, 'writerfeed')
if not os.access(FEED, os.X_OK):
    skip_all('t/bin/writerfeed not built')

TMP = tmpdir('streammeta')


def feed(url, lines, opts=()):
    path = os.path.join(TMP, 'feed.txt')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    r = run([FEED] + list(opts) + [url, path], timeout=60)
    return r.returncode, (r.stdout + r.stderr).decode(errors='replace')


def like(text, pat, name):
    if not ok(re.search(pat, text), name):
        diag(text[-2000:])


def xinfo(c, key):
    i = c.execute_command('XINFO', 'STREAM', key)
    return dict(zip(i[::2], i[1::2]))


srv = RedisServer()
c = srv.client()

# ---------------------------------------------------------------- v1 metadata
for batch in ['4', '512']:
    c.flushall()
    rc, out = feed(srv.url, ['key 0 0 stream empty', 'meta 0 7-3', 'end 0',
                             'key 0 0 stream three',
                             'entry 0 1-1 a b', 'entry 0 2-1 c d', 'entry 0 5-1 e f',
                             'meta 0 9-9', 'end 0'], ['-b', batch])
    if not ok(rc == 0, 'batch %s: streams written' % batch):
        diag(out)
    i = xinfo(c, 'empty')
    is_((i[b'length'], i[b'last-generated-id'], i[b'entries-added'], i[b'max-deleted-entry-id']),
        (0, b'7-3', 0, b'0-0'), 'batch %s: empty stream: length 0, last id 7-3, entries-added 0, '
        'max-deleted-id 0-0' % batch)
    is_(c.execute_command('XINFO', 'GROUPS', 'empty'), [], 'batch %s: empty stream: no group left' % batch)
    i = xinfo(c, 'three')
    is_((i[b'length'], i[b'last-generated-id'], i[b'entries-added'], i[b'max-deleted-entry-id']),
        (3, b'9-9', 3, b'0-0'), 'batch %s: 3 entries, last id 9-9, entries-added 3' % batch)

# ---------------------------------------------------------------- deleted PEL
# group g: pending 1-1 (message kept) and 2-1 (message deleted), both alice's
PEL = ['key 0 0 stream s', 'entry 0 1-1 a b', 'entry 0 3-1 c d', 'meta 0 3-1',
       'group 0 g 3-1', 'pel 0 1-1 1700000000000 2', 'pel 0 2-1 1700000000000 1',
       'consumer 0 alice', 'cpel 0 1-1', 'cpel 0 2-1', 'end 0']

c.flushall()
rc, out = feed(srv.url, PEL)
ok(rc != 0, '--unsupported fail: a pending entry of a deleted message fails the run')
like(out, r'error data: key "s": pending entry 2-1 of group "g" \(consumer "alice"\) refers to a '
     r'deleted message', 'the error names key, id, group and consumer')

c.flushall()
rc, out = feed(srv.url, PEL, ['-u', 'skip'])
if not ok(rc == 0, '--unsupported skip: written'):
    diag(out)
like(out, r'lossy 1 ', 'counted as lossy')
like(out, r'key "s": pending entry 2-1 of group "g" \(consumer "alice"\) refers to a deleted '
     r'message: dropped', 'logged with key, id, group and consumer')
pend = c.xpending_range('s', 'g', '-', '+', 10)
is_([(p['message_id'], p['consumer'], p['times_delivered']) for p in pend], [(b'1-1', b'alice', 2)],
    'the entry whose message exists is pending for alice with its delivery count')
is_(c.keys(), [b's'], 'no temporary key left')
srv.stop()
done_testing()
