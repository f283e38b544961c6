#!/usr/bin/python3
"""captureseeds.py CAPTURES OUTDIR: extra seeds for the journal fuzzer, cut
from the stable-sync journals of the Dragonfly recordings in CAPTURES
(../shared/fixtures/dragonfly-captures, see its README).  `make fuzz` runs
it; OUTDIR is under obj/, never in the repository.

A FLOW's journal starts after the 0xFF trailer and the 40-byte token of
its FULL reply (a PARTIAL flow is journal from its first byte).  Each is
cut at record boundaries (journal.md sections 3-4: a SELECT and its entry
are one record) into pieces of about PIECE bytes.  OUTDIR is emptied
first; without CAPTURES it is left empty and a line says so."""
import json
import os
import shutil
import sys

PIECE = 4096


def pu(d, i):
    """Packed uint at d[i]: (value, next index); IndexError when cut."""
    b = d[i]
    if b < 0x40:
        return b, i + 1
    if b < 0x80:
        return (b & 0x3f) << 8 | d[i + 1], i + 2
    n = {0x80: 4, 0x81: 8}.get(b)
    if n is None:
        raise ValueError('packed uint prefix 0x%02x' % b)
    if i + 1 + n > len(d):
        raise IndexError
    return int.from_bytes(d[i + 1:i + 1 + n], 'big'), i + 1 + n


def record_end(d, i):
    """Index after the record or LSN entry at d[i]."""
    op, i = pu(d, i)
    while op == 6:                                  # SELECT: part of the next
        _, i = pu(d, i)
        op, i = pu(d, i)
    if op == 13:                                    # PING
        return i
    if op == 15:                                    # LSN
        return pu(d, i)[1]
    if op not in (9, 10, 11, 12):
        raise ValueError('opcode %d' % op)
    _, i = pu(d, i)                                 # txid
    _, i = pu(d, i)                                 # shard_cnt
    if op == 12:                                    # EXEC
        return i
    nargs, i = pu(d, i)
    _, i = pu(d, i)                                 # total_len
    for _ in range(nargs):
        n, i = pu(d, i)
        i += n
    if i > len(d):
        raise IndexError
    return i


def pieces(d):
    """d cut at record boundaries; a tail that does not parse is dropped."""
    out, start, i = [], 0, 0
    while i < len(d):
        try:
            i = record_end(d, i)
        except (IndexError, ValueError):
            break
        if i - start >= PIECE:
            out.append(d[start:i])
            start = i
    if i > start:
        out.append(d[start:i])
    return out


def journal_start(d, flow):
    reply = flow.get('reply') or []
    if reply and reply[0] == '+PARTIAL':
        return 0
    if len(reply) < 2:
        return None
    k = d.find(b'\xff' + b'\x00' * 8 + reply[1][1:].encode())
    return None if k < 0 else k + 9 + 40


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: captureseeds.py CAPTURES OUTDIR')
    captures, outdir = sys.argv[1:]
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    if not os.path.isdir(captures):
        print('captureseeds: no %s: the journal fuzzer starts from t/fuzz/corpus/journal only' % captures)
        return
    nfiles = nbytes = 0
    for top, _, files in sorted(os.walk(captures)):
        if 'manifest.json' not in files:
            continue
        with open(os.path.join(top, 'manifest.json')) as f:
            man = json.load(f)
        scen = os.path.relpath(top, captures).replace(os.sep, '-')
        for n, flow in enumerate(man.get('flows', [])):
            path = os.path.join(top, 'flow-%d.bin' % n)
            if not os.path.exists(path):
                continue
            with open(path, 'rb') as f:
                d = f.read()
            start = journal_start(d, flow)
            if start is None:
                print('captureseeds: %s: no end of full sync found, skipped' % path)
                continue
            for k, p in enumerate(pieces(d[start:])):
                with open(os.path.join(outdir, '%s-flow%d-%03d' % (scen, n, k)), 'wb') as f:
                    f.write(p)
                nfiles += 1
                nbytes += len(p)
    print('captureseeds: %d seeds (%d bytes) from the stable-sync journals in %s, in %s' %
          (nfiles, nbytes, captures, outdir))


if __name__ == '__main__':
    main()
