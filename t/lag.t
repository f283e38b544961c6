#!/usr/bin/python3
# The lag counters (lag.h) on their own, through t/bin/lagtest: the journal
# framing scanner counts every record kind (SELECT prefixes, commands with
# many and with large arguments, PING, legacy EXEC, LSN entries that are
# no records) in every packed-uint form, however the bytes are cut; a byte
# that is no journal framing stops the count; acknowledgements take the
# lag in records down and fill the latency histogram with each record's
# wait since its arrival.  On every journal of the fuzz corpus that the
# real decoder (t/bin/journalevents) takes, the scanner counts the records
# it decodes.
import glob
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401

TOOL = os.path.join(TBIN, 'lagtest')
if not os.access(TOOL, os.X_OK):
    skip_all('t/bin/lagtest not built')


def pu(v, form=None):
    """journal.md 1: the shortest form, or the one asked for."""
    form = form or (1 if v < 64 else 2 if v < 16384 else 5 if v < 1 << 32 else 9)
    if form == 1:
        return bytes([v])
    if form == 2:
        return bytes([0x40 | v >> 8, v & 0xff])
    if form == 5:
        return b'\x80' + v.to_bytes(4, 'big')
    return b'\x81' + v.to_bytes(8, 'big')


def command(db, *args, form=None):
    args = [a if isinstance(a, bytes) else a.encode() for a in args]
    body = pu(len(args), form) + pu(sum(len(a) for a in args), form)
    body += b''.join(pu(len(a), form) + a for a in args)
    return b'\x06' + pu(db, form) + b'\x0a' + pu(7, form) + pu(1, form) + body


PING = b'\x0d'
EXEC = b'\x0c' + pu(7) + pu(2)
stream = b''.join([
    command(0, 'SET', 'a', 'b'),
    command(3, 'SET', 'big', b'x' * 70000),
    PING,
    b'\x0f' + pu(2),                       # LSN: no record
    command(70, 'MSET', *['k%d' % i for i in range(200)], form=5),
    command(1, 'DEL', 'a', form=9),
    EXEC,
    command(0, 'SET', 'empty', ''),
])
RECS = 7
FIRST = len(command(0, 'SET', 'a', 'b'))


def lag(data, chunk, *acks):
    r = run([TOOL, str(chunk)] + [str(a) for a in acks], input=data, timeout=30)
    return r.stdout.decode().splitlines()


for chunk in (1, 3, 64, 1 << 20):
    is_(lag(stream, chunk)[0], 'records %d lag %d broken 0' % (RECS, RECS),
        'every record counted, fed %d bytes at a time' % chunk)
is_(lag(stream[:-1], 5)[0], 'records %d lag %d broken 0' % (RECS - 1, RECS - 1),
    'a record missing its last byte is not received yet')
is_(lag(stream[:FIRST] + b'\xc1' + stream[FIRST:], 4)[0], 'records 1 lag 1 broken 1',
    'a byte that is no packed uint stops the count after the record before it')
is_(lag(command(0, 'SET', 'a', 'b')[:2] + b'\x3e', 1)[0], 'records 0 lag 0 broken 1',
    'an unknown opcode stops the count')
out = lag(stream, 1 << 20, 2, 2, RECS + 5)
is_(out[1:3], ['records %d lag %d broken 0' % (RECS, RECS - 2)] * 2,
    'acknowledged up to LSN 2: the lag is the rest; the same ack again changes nothing')
is_(out[3], 'records %d lag 0 broken 0' % RECS, 'an ack past what arrived: lag 0')
h = out[4].split()
is_(h[1], str(RECS), 'the histogram counted every record once')
ok(int(h[2]) == RECS * 1000000 and h[3 + 9] == str(RECS),
   'each waited 1 s from its arrival: in the 1 s bucket, sum %d s' % RECS) or diag(out[4])

EVENTS = os.path.join(TBIN, 'journalevents')
here = os.path.dirname(os.path.abspath(__file__))
files = sorted(glob.glob(os.path.join(here, 'fuzz', 'regress', 'journal-*')) +
               glob.glob(os.path.join(here, 'fuzz', 'corpus', 'journal', '*')))
agree, checked = [], 0
for f in files:
    data = open(f, 'rb').read()
    r = run([EVENTS, f], timeout=60)
    if r.returncode != 0:
        continue
    checked += 1
    want = sum(1 for ln in r.stdout.split(b'\n') if ln.split(b' ')[0] in (b'cmd', b'exec', b'ping'))
    got = lag(data, 13)[0].split()[1]
    if got != str(want):
        agree.append('%s: %s, decoder %d' % (os.path.basename(f), got, want))
ok(checked > 5 and not agree, 'the scanner counts what the decoder decodes on %d corpus journals' % checked) or \
    diag(repr(agree))
done_testing()
