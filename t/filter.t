#!/usr/bin/python3
# The key filter (filter.h) on its own, through t/bin/filtertest and the
# options of `df2redis replicate` (config.c): the predicate (db filters and
# excludes, prefixes, POSIX extended regexes, includes OR together,
# excludes win, NUL bytes in names), the keys of journal commands and
# their verdicts (kept, dropped, cut where the command allows it, refused
# across the filter), and the options: repeated in the file they add up,
# on the command line they replace the file's; bad values are errors
# naming the option.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from dftest import *  # noqa: E402,F401

TOOL = os.path.join(TBIN, 'filtertest')
if not os.access(TOOL, os.X_OK):
    skip_all('t/bin/filtertest not built')
TMP = tmpdir('filter')


def ft(args, queries):
    r = run([TOOL] + list(args), input='\n'.join(queries) + '\n', universal_newlines=True, timeout=30)
    return r.returncode, r.stdout.splitlines(), r.stderr


def answers(args, queries, want, name):
    rc, out, err = ft(args, queries)
    if not is_(out, want, name):
        diag(err)


# ---------------------------------------------------------------- predicate
answers([], ['key 0 anything', 'key 1023 x', 'spec'], ['1', '1', 'active 0 keyed 0 flush 0'],
        'no filter: every key of every db')
answers(['--db-filter', '0,2-4'], ['key %d k' % d for d in range(6)] + ['spec'],
        ['1', '0', '1', '1', '1', '0', 'active 1 keyed 0 flush 0'], 'db-filter 0,2-4: dbs 0, 2, 3, 4')
answers(['--db-exclude', '3'], ['key 0 k', 'key 3 k', 'key 1023 k'], ['1', '0', '1'],
        'db-exclude 3: every db but 3')
answers(['--db-filter', '0-5', '--db-exclude', '2,4'], ['key %d k' % d for d in range(7)],
        ['1', '1', '0', '1', '0', '1', '0'], 'db excludes win over db-filter')
answers(['--key-prefix', 'user:', '--key-prefix', 'order:'],
        ['key 0 user:1', 'key 0 order:7', 'key 0 users', 'key 0 user', 'key 0 x:user:1'],
        ['1', '1', '0', '0', '0'], 'key-prefix, twice: either prefix, from the start only')
answers(['--key-prefix', 'user:', '--key-exclude-prefix', 'user:tmp:'],
        ['key 0 user:1', 'key 0 user:tmp:1', 'key 0 other'], ['1', '0', '0'],
        'an exclude prefix wins over an include')
answers(['--key-exclude-prefix', 'tmp:'], ['key 0 tmp:1', 'key 0 user:1', 'key 0 tmp'], ['0', '1', '1'],
        'excludes alone: every other key')
answers(['--key-regex', '^s:[0-9]+$', '--key-regex', 'cache'],
        ['key 0 s:12', 'key 0 s:12a', 'key 0 x:cache:y', 'key 0 s:'], ['1', '0', '1', '0'],
        'key-regex: POSIX extended, unanchored unless said, either one')
answers(['--key-prefix', 'user:', '--key-regex', '^s:'], ['key 0 user:1', 'key 0 s:1', 'key 0 t'],
        ['1', '1', '0'], 'prefixes and regexes OR together')
answers(['--key-regex', 'a', '--key-exclude-regex', 'b$'], ['key 0 ab', 'key 0 ba', 'key 0 cc'],
        ['0', '1', '0'], 'an exclude regex wins')
answers(['--key-prefix', 'u', '--db-filter', '1'], ['key 0 u1', 'key 1 u1', 'key 1 v1'], ['0', '1', '0'],
        'db and name filters together')
# names are bytes: a NUL inside is matched whole
answers(['--key-prefix', 'a'], ['key 0 a\\x00b', 'key 0 \\x00a'], ['1', '0'], 'a prefix over a name with a NUL')
answers(['--key-regex', '^a[^x]b$', '--key-regex', 'c$'],
        ['key 0 a\\x00b', 'key 0 a\\x00c', 'key 0 a\\x00\\x00'], ['1', '1', '0'],
        'a regex sees the whole name, NUL bytes included')
answers(['--key-regex', '^a.b$'], ['key 0 a\\x00b', 'key 0 axb'], ['0', '1'], '`.` does not match a NUL byte')
answers(['--key-regex', '\\xff'], ['key 0 \\xff', 'key 0 x'], ['0', '0'],
        'a regex is text: \\xff in it is not the byte')
answers(['--key-regex', '^\udcff'], ['key 0 \\xffz', 'key 0 z'], ['1', '0'],
        'a byte past ASCII in a regex matches itself')

# ---------------------------------------------------------------- commands
F = ['--key-prefix', 'u:', '--db-exclude', '3']
answers(F, ['cmd 0 SET u:1 v', 'cmd 0 SET t:1 v', 'cmd 3 SET u:1 v', 'cmd 0 set t:1 v'],
        ['keep', 'drop', 'drop', 'drop'], 'one key: kept or dropped, by db too, any case')
answers(F, ['cmd 0 MSET u:1 a t:1 b u:2 c', 'cmd 0 MSET t:1 a t:2 b', 'cmd 0 MSET u:1 a u:2 b'],
        ['split MSET u:1 a u:2 c', 'drop', 'keep'], 'MSET: cut to the pairs whose key is copied')
answers(F, ['cmd 0 DEL t:1 u:1 t:2 u:2', 'cmd 0 UNLINK u:1 t:1', 'cmd 0 TOUCH t:1 u:9'],
        ['split DEL u:1 u:2', 'split UNLINK u:1', 'split TOUCH u:9'], 'DEL, UNLINK, TOUCH: cut per key')
answers(F, ['cmd 0 MSETNX u:1 a t:1 b', 'cmd 0 RENAME u:1 t:1', 'cmd 0 RENAMENX t:1 u:1',
            'cmd 0 SMOVE u:s t:s m', 'cmd 0 LMOVE u:l t:l LEFT RIGHT', 'cmd 0 COPY t:a u:b',
            'cmd 0 SUNIONSTORE u:d u:a t:b', 'cmd 0 BITOP AND u:d t:a', 'cmd 0 PFMERGE t:d u:a',
            'cmd 0 RPOPLPUSH u:a t:b', 'cmd 0 SORT u:l STORE t:d'],
        ['mixed u:1 t:1', 'mixed u:1 t:1', 'mixed u:1 t:1', 'mixed u:s t:s', 'mixed u:l t:l', 'mixed u:b t:a',
         'mixed u:a t:b', 'mixed u:d t:a', 'mixed u:a t:d', 'mixed u:a t:b', 'mixed u:l t:d'],
        'commands that cannot be cut: mixed, naming a key of each side')
answers(F, ['cmd 0 RENAME u:1 u:2', 'cmd 0 RENAME t:1 t:2', 'cmd 0 MSETNX t:1 a t:2 b'],
        ['keep', 'drop', 'drop'], 'the same on one side: kept or dropped')
answers(F, ['cmd 0 ZUNIONSTORE u:d 2 u:a t:b WEIGHTS 1 2', 'cmd 0 ZINTERSTORE u:d 1 u:a AGGREGATE MAX',
            'cmd 0 EVAL return 2 u:a t:b x', 'cmd 0 EVAL return 1 t:b u:x'],
        ['mixed u:a t:b', 'keep', 'mixed u:a t:b', 'drop'],
        'numkeys commands: only the counted keys (EVAL\'s args are not keys)')
answers(F, ['cmd 0 MOVE u:1 3', 'cmd 3 MOVE u:1 0', 'cmd 0 MOVE u:1 5', 'cmd 0 MOVE t:1 3'],
        ['mixed u:1 u:1', 'mixed u:1 u:1', 'keep', 'drop'], 'MOVE: the key in both dbs')
answers(F, ['cmd 0 FLUSHDB', 'cmd 3 FLUSHDB', 'cmd 3 SCRIPT FLUSH', 'cmd 0 DFLYFOO u:1 x',
            'cmd 0 DFLYFOO t:1 u:1'],
        ['keep', 'drop', 'drop', 'keep', 'drop'],
        'keyless commands by their db; an unknown command has its key at argv[1]')
answers([], ['keys MSET a 1 b 2', 'keys DEL a b c', 'keys RENAME a b', 'keys ZUNIONSTORE d 2 a b WEIGHTS 1 2',
             'keys XGROUP CREATE s g $', 'keys FLUSHALL', 'keys GET k', 'keys PING', 'keys BITOP OR d a b',
             'keys EVAL s 0 x', 'keys SORT a BY w:* STORE d', 'keys GEORADIUS g 1 2 3 m STOREDIST d',
             'keys LMPOP 2 a b LEFT', 'keys BLMPOP 0 1 a RIGHT'],
        ['2 1 3', '1 1 2 3', '0 1 2', '0 1 3 4', '0 2', '0', '0 1', '0', '0 2 3 4', '0', '0 1 5', '0 1 7',
         '0 2 3', '0 3'],
        'the keys of commands: step (0: cannot be cut) and argv indexes')

# ---------------------------------------------------------------- options
conf = os.path.join(TMP, 'f.conf')
with open(conf, 'w') as f:
    f.write('key-prefix a:\nkey-prefix b:\ndb-filter 0\ndb-filter 2\nkey-exclude-regex x$\n')
answers(['-f', conf], ['key 0 a:1', 'key 2 b:1', 'key 1 a:1', 'key 0 c:1', 'key 0 a:x'],
        ['1', '1', '0', '0', '0'], 'config file: repeated filter keys add up')
answers(['-f', conf, '--key-prefix', 'c:', '--key-prefix', 'd:'],
        ['key 0 a:1', 'key 0 c:1', 'key 0 d:1', 'key 1 c:1', 'key 0 c:x'],
        ['0', '1', '1', '0', '0'], 'on the command line a list replaces the file\'s, the others stay')
answers(['--filter-flush', 'all', '--key-prefix', 'a'], ['spec'], ['active 1 keyed 1 flush 1'],
        'filter-flush all')


def refused(args, pat, name):
    rc, out, err = ft(args, [])
    ok(rc == 1 and re.search(pat, err), name) or diag(err)


import re  # noqa: E402
refused(['--key-regex', 'a('], r'error config: --key-regex "a\(": .*[Uu]nmatched', 'a bad regex: an error naming it')
refused(['--key-exclude-regex', '[z-a]'], r'error config: --key-exclude-regex "\[z-a\]"', 'a bad range in a regex')
refused(['--db-filter', '2-1'], r'--db-filter: range end "1" is too small', 'a backward db range')
refused(['--db-exclude', '1024'], r'--db-exclude: db "1024" is too large', 'a db past 1023')
refused(['--db-filter', '1,,2'], r'--db-filter "1,,2": an empty item', 'an empty db item')
refused(['--key-prefix='], r'--key-prefix: empty value', 'an empty prefix')
refused(['--filter-flush', 'some'], r'filter-flush: "some" is not fail or all', 'filter-flush: fail or all')
refused(['--flush-on-resync', '--key-prefix', 'a'], r'flush-on-resync empties whole target dbs.*--filter-flush all',
        'flush-on-resync with a name filter needs --filter-flush all')
rc, out, err = ft(['--flush-on-resync', '--key-prefix', 'a', '--filter-flush', 'all'], ['spec'])
is_(out, ['active 1 keyed 1 flush 1'], 'and is accepted with it')
with open(conf, 'w') as f:
    f.write('key-prefix a\nkey-regex (\n')
refused(['-f', conf], r'f\.conf:2: key-regex "\(": ', 'a bad regex in the file: file and line')
done_testing()
