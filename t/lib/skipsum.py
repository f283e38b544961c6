#!/usr/bin/python3
"""skipsum FILE - the one line `make test` ends with: how many tests were
skipped and why, from the FILE\tCOUNT\tREASON lines dftest.skip() and
skip_all() append to $DF2REDIS_SKIPS (COUNT 'all': a whole file)."""
import collections
import sys


def main(path):
    try:
        with open(path) as f:
            rows = [line.rstrip('\n').split('\t', 2) for line in f if line.strip()]
    except FileNotFoundError:
        rows = []
    if not rows:
        print('skipped: none')
        return
    tests = collections.Counter()
    files = collections.defaultdict(set)
    for name, count, why in rows:
        if count == 'all':
            files[why].add(name)
        else:
            tests[why] += int(count)
    parts = []
    for why in sorted(set(tests) | set(files)):
        what = []
        if files[why]:
            what.append('%d file%s (%s)' % (len(files[why]), 's' * (len(files[why]) > 1),
                                             ' '.join(sorted(files[why]))))
        if tests[why]:
            what.append('%d test%s' % (tests[why], 's' * (tests[why] > 1)))
        parts.append('%s: %s' % (why, ' and '.join(what)))
    nfiles = sum(len(v) for v in files.values())
    print('skipped: %d whole files, %d tests; %s' % (nfiles, sum(tests.values()), '; '.join(parts)))


main(sys.argv[1])
