# df2redis: build, test, fuzz and bench.  Everything is discovered by wildcard:
#   src/*.c        -> bin/df2redis (src/df2redisctl.c -> bin/df2redisctl,
#                     with config.c, clock.c, error.c and version.c only)
#   t/tools/*.c    -> t/bin/NAME, test programs (link the library and the test encoder)
#   t/dflymaster/*.c -> t/dflymaster/dflymaster, the Dragonfly test master
#   t/fuzz/*.c     -> t/bin/fuzz-NAME with `make fuzz` (clang + libFuzzer)
# V selects a variant (rel, asan, fuzz); each has its own object tree.

V ?= rel
PKGS = hiredis lmdb liblz4 libzstd libbsd-overlay openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CC_rel = cc
CC_asan = cc
CC_fuzz = clang
CC = $(CC_$(V))
WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
SAN_rel =
SAN_asan = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_fuzz = -fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer
OPT_rel = -O2
OPT_asan = -O1
OPT_fuzz = -O1
CFLAGS ?= $(OPT_$(V)) -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(SAN_$(V)) -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS) -MMD -MP
LDLIBS = $(PKG_LIBS) -lm -lpthread
LDFLAGS_ALL = $(LDFLAGS) $(SAN_$(V))

O = obj/$(V)
SRCS := $(wildcard src/*.c)
MAIN_SRCS = src/df2redis.c src/df2redisctl.c
LIB_SRCS := $(filter-out $(MAIN_SRCS),$(SRCS))
LIB_OBJS := $(LIB_SRCS:src/%.c=$(O)/src/%.o)
TOOL_SRCS := $(wildcard t/tools/*.c)
TOOLS := $(TOOL_SRCS:t/tools/%.c=t/bin/%)
DFM_SRCS := $(wildcard t/dflymaster/*.c)
DFM_OBJS := $(DFM_SRCS:%.c=$(O)/%.o)
# the master's snapshot encoder doubles as the tests' independent stream encoder
DFENC_OBJS := $(filter $(O)/t/dflymaster/rdbenc%.o,$(DFM_OBJS))
FUZZ_SRCS := $(wildcard t/fuzz/*.c)
FUZZERS := $(FUZZ_SRCS:t/fuzz/%.c=t/bin/fuzz-%)

PROGS = bin/df2redis bin/df2redisctl
ifneq ($(wildcard t/dflymaster/dflymaster.c),)
PROGS += t/dflymaster/dflymaster
endif

# Binaries live at fixed paths; when the variant changes, drop the old ones.
ifneq ($(V),fuzz)
ifneq ($(shell cat obj/.variant 2>/dev/null),$(V))
$(shell rm -f bin/df2redis bin/df2redisctl t/dflymaster/dflymaster; rm -rf t/bin; mkdir -p obj; echo $(V) > obj/.variant)
endif
endif

.PHONY: all test asan fuzz bench soak demo clean install install-user uninstall redis74
all: $(PROGS) $(TOOLS)

bin/df2redis: $(O)/src/df2redis.o $(LIB_OBJS)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS)

# the control tool reads a config file and speaks ctl.h: none of the daemon
CTL_OBJS = $(addprefix $(O)/src/,df2redisctl.o config.o filter.o clock.o error.o version.o)
CTL_LIBS := $(shell pkg-config --libs libbsd-overlay 2>/dev/null)
bin/df2redisctl: $(CTL_OBJS)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CTL_LIBS)

t/dflymaster/dflymaster: $(DFM_OBJS) $(O)/src/log.o $(O)/src/crc64.o $(O)/src/clock.o
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS)

t/bin/%: $(O)/t/tools/%.o $(LIB_OBJS) $(DFENC_OBJS)
	@mkdir -p t/bin
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# prove, then one line saying how many tests were skipped and why
SKIPS = $(CURDIR)/t/tmp/skips
PROVE = rm -f $(SKIPS); DF2REDIS_SKIPS=$(SKIPS) prove -r t/; \
	rc=$$?; python3 t/lib/skipsum.py $(SKIPS); exit $$rc

# Redis 7.4 for the tests that target it (t/lib/dftest.py redis_server_bin),
# built once from ../shared/vendor into t/redis-7.4 (ignored, kept by clean).
# Without the tarball nothing is built and those tests skip, naming why.
REDIS74_TGZ = ../shared/vendor/redis-7.4.1.tar.gz
REDIS74 = t/redis-7.4
redis74:
	@if [ -x $(REDIS74)/bin/redis-server ]; then :; \
	elif [ ! -f $(REDIS74_TGZ) ]; then \
	    echo "redis74: no $(REDIS74_TGZ): the Redis 7.4 tests will skip"; \
	else \
	    echo "redis74: building Redis 7.4 into $(REDIS74) (MALLOC=libc)"; \
	    rm -rf $(REDIS74)/build && mkdir -p $(REDIS74)/build && \
	    tar -xzf $(REDIS74_TGZ) -C $(REDIS74)/build --strip-components=1 && \
	    $(MAKE) -C $(REDIS74)/build MALLOC=libc BUILD_TLS=no >$(REDIS74)/build.log 2>&1 || \
	        { echo "redis74: build failed, see $(REDIS74)/build.log"; exit 1; }; \
	    mkdir -p $(REDIS74)/bin && \
	    cp $(REDIS74)/build/src/redis-cli $(REDIS74)/bin/ && \
	    cp $(REDIS74)/build/src/redis-server $(REDIS74)/bin/redis-server.new && \
	    mv $(REDIS74)/bin/redis-server.new $(REDIS74)/bin/redis-server && \
	    rm -rf $(REDIS74)/build; \
	fi

# the Debian packages first (.ci/packages; installed only as root)
test:
	@sh .ci/install-packages
	$(MAKE) all redis74
	@$(PROVE)

asan:
	$(MAKE) V=asan all
	@export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 DF2REDIS_ASAN=1; \
	    $(PROVE)
	$(MAKE) V=rel all

FUZZ_SECONDS ?= 60
# seeds read in place from the shared fixtures, never copied
FUZZ_SEEDS = $(wildcard ../shared/fixtures/redis-assets ../shared/fixtures/dragonfly-testdata)
fuzz:
	$(MAKE) V=fuzz fuzzers
	python3 t/fuzz/captureseeds.py ../shared/fixtures/dragonfly-captures obj/fuzz/seeds-journal
	for f in $(FUZZERS); do \
	    n=$${f#t/bin/fuzz-}; mkdir -p obj/fuzz/corpus-$$n; \
	    x=obj/fuzz/seeds-$$n; [ -d $$x ] || x=; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
	        -artifact_prefix=obj/fuzz/ obj/fuzz/corpus-$$n t/fuzz/corpus/$$n $$x \
	        $(FUZZ_SEEDS) || exit 1; \
	done

.PHONY: fuzzers
fuzzers: $(FUZZERS)
t/bin/fuzz-%: $(O)/t/fuzz/%.o $(LIB_OBJS)
	@mkdir -p t/bin
	$(CC) $(LDFLAGS_ALL) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

bench: all
	t/bench/run

# long fault runs, not in make test: SOAK_MINUTES (20), SOAK_EVERY (30 s)
soak: all
	/usr/bin/python3 t/soak/soak.py

demo:
	@sh t/demo/run

PREFIX ?= /usr/local
MANDIR ?= $(PREFIX)/share/man
UNAME := $(shell uname)
SYSCONFDIR ?= $(if $(filter FreeBSD,$(UNAME)),$(PREFIX)/etc,/etc)
# the host's init system: systemd, openrc, bsdrc or none
INIT ?= $(shell if [ -d /run/systemd/system ]; then echo systemd; \
	elif [ -x /sbin/openrc-run ]; then echo openrc; \
	elif [ "$(UNAME)" = FreeBSD ]; then echo bsdrc; else echo none; fi)
RC_systemd = rc/df2redis.service /etc/systemd/system/df2redis.service 644
RC_openrc = rc/df2redis.openrc /etc/init.d/df2redis 755
RC_bsdrc = rc/df2redis.rc $(PREFIX)/etc/rc.d/df2redis 755
RC = $(RC_$(INIT))
SYSUSERSDIR ?= /usr/lib/sysusers.d
# the rc files name the default paths: point them at these
RC_SED = -e 's|\(/usr/local\)\{0,1\}/etc/df2redis.conf|$(SYSCONFDIR)/df2redis.conf|g' \
	-e 's|/usr/local/bin/|$(PREFIX)/bin/|g'

# the configuration is installed once: never over an operator's
install: bin/df2redis bin/df2redisctl
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(SYSCONFDIR)
	install -m 755 bin/df2redis bin/df2redisctl $(DESTDIR)$(PREFIX)/bin/
	install -m 644 src/df2redis.8 src/df2redisctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 src/df2redis.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -d $(DESTDIR)$(PREFIX)/share/df2redis
	install -m 644 etc/df2redis-grafana.json $(DESTDIR)$(PREFIX)/share/df2redis/
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/df2redis.conf ]; then \
	    echo "kept $(DESTDIR)$(SYSCONFDIR)/df2redis.conf (etc/df2redis.conf is the sample)"; \
	else install -m 644 etc/df2redis.conf $(DESTDIR)$(SYSCONFDIR)/; fi
	@set -- $(RC); if [ $$# -eq 3 ]; then \
	    install -d $(DESTDIR)$$(dirname $$2) && \
	    sed $(RC_SED) $$1 > $(DESTDIR)$$2.new && chmod $$3 $(DESTDIR)$$2.new && \
	    mv $(DESTDIR)$$2.new $(DESTDIR)$$2 && echo "installed $(DESTDIR)$$2 ($(INIT))"; \
	else echo "no init system found (INIT=systemd|openrc|bsdrc installs its script)"; fi
	@if [ "$(INIT)" = systemd ]; then \
	    install -d $(DESTDIR)$(SYSUSERSDIR) && \
	    install -m 644 rc/df2redis.sysusers $(DESTDIR)$(SYSUSERSDIR)/df2redis.conf; fi
	@$(MAKE) -s install-user

# the user the init scripts run df2redis as; only on the host itself, as root
install-user:
	@if [ -n "$(DESTDIR)" ] || [ "$$(id -u)" != 0 ] || [ "$(INIT)" = none ] || \
	    id df2redis >/dev/null 2>&1; then :; \
	elif [ "$(INIT)" = systemd ] && command -v systemd-sysusers >/dev/null; then \
	    systemd-sysusers $(SYSUSERSDIR)/df2redis.conf; \
	elif [ "$(INIT)" = openrc ] && command -v useradd >/dev/null; then \
	    useradd --system --no-create-home --home-dir /var/lib/df2redis \
	    --shell /usr/sbin/nologin df2redis && echo "created the user df2redis"; \
	elif [ "$(INIT)" = bsdrc ] && command -v pw >/dev/null; then \
	    pw useradd df2redis -c "df2redis replication daemon" -d /var/db/df2redis \
	    -s /usr/sbin/nologin && echo "created the user df2redis"; \
	else echo "the $(INIT) script runs df2redis as the user df2redis: create it"; fi

# the configuration stays: it is the operator's
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/df2redis $(DESTDIR)$(PREFIX)/bin/df2redisctl \
	    $(DESTDIR)$(MANDIR)/man8/df2redis.8 $(DESTDIR)$(MANDIR)/man8/df2redisctl.8 \
	    $(DESTDIR)$(MANDIR)/man5/df2redis.conf.5 \
	    $(DESTDIR)$(PREFIX)/share/df2redis/df2redis-grafana.json
	@rmdir $(DESTDIR)$(PREFIX)/share/df2redis 2>/dev/null || :
	@set -- $(RC); if [ $$# -eq 3 ]; then rm -f $(DESTDIR)$$2; fi
	@if [ "$(INIT)" = systemd ]; then rm -f $(DESTDIR)$(SYSUSERSDIR)/df2redis.conf; fi
	@echo "kept $(DESTDIR)$(SYSCONFDIR)/df2redis.conf"

clean:
	rm -rf obj t/bin bin/df2redis bin/df2redisctl t/dflymaster/dflymaster

-include $(shell find obj/$(V) -name '*.d' 2>/dev/null)
