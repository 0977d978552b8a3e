# cmpca - hand-written GNU Makefile. `make` builds, `make test` installs
# dependencies, builds and runs every test, `make run` brings up a local CA.
# SAN=1 builds with AddressSanitizer and UndefinedBehaviorSanitizer.

CC ?= cc
PKGS := libcrypto libp11 libpq fcgi
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
	-Wmissing-prototypes -Wmissing-declarations -Wsign-compare -Wformat=2 \
	-Wwrite-strings -Wcast-align
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) -fstack-protector-strong \
	-I. $(PKG_CFLAGS)
LDFLAGS += -Wl,-z,relro,-z,now
LDLIBS += $(PKG_LIBS) -ldl

ifeq ($(SAN),1)
CFLAGS += -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
B := build/san
else
CFLAGS += -D_FORTIFY_SOURCE=2
B := build/rel
endif

HSM_SRC := hsm/hsm.c hsm/hsm_keygen.c hsm/hsm_aes.c
DB_SRC := db/db.c db/db_ca.c db/db_cert.c db/db_txn.c db/db_secret.c \
	db/db_pending.c db/db_ra.c db/db_issue.c db/db_crl.c \
	db/db_audit.c db/db_ocsp.c db/db_cross.c
CA_SRC := ca/log.c ca/cfg.c ca/cmp_asn.c ca/cmp_hdr.c ca/cmp_protect.c \
	ca/cmp_issue.c ca/cmp_server.c ca/cmp_certreq.c ca/cmp_sig.c \
	ca/cmp_rr.c ca/cmp_genm.c ca/cmp_poll.c ca/crl.c ca/ca_store.c \
	ca/ocsp.c ca/ocsp_signer.c ca/cross.c ca/cmp_ccr.c
DAEMON_SRC := ca/fcgi.c ca/cmpcad.c ca/priv.c
CLI_SRC := ca/cmpca.c $(sort $(wildcard ca/cli_*.c))

HSM_OBJ := $(HSM_SRC:%.c=$(B)/%.o)
DB_OBJ := $(DB_SRC:%.c=$(B)/%.o)
CA_OBJ := $(CA_SRC:%.c=$(B)/%.o)

PROGS := $(B)/cmpcad $(B)/cmpca
UNIT_TESTS := $(B)/test_hsm $(B)/test_db $(B)/test_cmp $(B)/test_engine
TEST_TOOLS := $(B)/cmpdump $(B)/cmpnest

.PHONY: all deps test unit e2e run stop check clean bench
all: $(PROGS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/cmpcad: $(DAEMON_SRC:%.c=$(B)/%.o) $(CA_OBJ) $(HSM_OBJ) $(DB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/cmpca: $(CLI_SRC:%.c=$(B)/%.o) $(CA_OBJ) $(HSM_OBJ) $(DB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/test_hsm: $(B)/tests/unit/test_hsm.o $(HSM_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(B)/test_db: $(B)/tests/unit/test_db.o $(DB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(B)/test_cmp: $(B)/tests/unit/test_cmp.o $(B)/ca/fcgi.o $(CA_OBJ) $(HSM_OBJ) $(DB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(B)/test_engine: $(B)/tests/unit/test_engine.o $(B)/ca/fcgi.o $(CA_OBJ) $(HSM_OBJ) $(DB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# Test tools: decode a CMP response for assertions in shell tests.
$(B)/cmpdump: $(B)/tests/tools/cmpdump.o $(CA_OBJ) $(HSM_OBJ) $(DB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/cmpnest: $(B)/tests/tools/cmpnest.o $(CA_OBJ) $(HSM_OBJ) $(DB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	@scripts/deps

# `make test`: dependencies, build, unit tests, end-to-end tests.
test: deps
	$(MAKE) all $(UNIT_TESTS) $(TEST_TOOLS)
	scripts/test --bin $(B)

unit: $(UNIT_TESTS)
	scripts/test --bin $(B) --unit-only

run: deps
	$(MAKE) all
	scripts/run --bin $(B)

stop:
	scripts/stack down

# cppcheck with a reviewed suppressions file; cmp_asn.c is ASN.1 template
# tables only (macros cppcheck cannot expand).
check:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	    --inline-suppr --suppressions-list=tests/cppcheck.supp \
	    --include=tests/cppcheck.h -i ca/cmp_asn.c -I. hsm db ca tests

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

# Benchmark (issue 6): `make bench` builds the load client, the FastCGI
# transport-ceiling responder and the HSM signing probe, then runs
# scripts/bench, which prints one table and asserts nothing.
BENCH_PROGS := $(B)/cmpload $(B)/fcgi_echo $(B)/hsmsign

$(B)/cmpload: $(B)/tests/bench/cmpload.o
	$(CC) $(LDFLAGS) -pthread -o $@ $^ $(LDLIBS) -lm

$(B)/fcgi_echo: $(B)/tests/bench/fcgi_echo.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/hsmsign: $(B)/tests/bench/hsmsign.o $(HSM_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench: deps
	$(MAKE) all $(BENCH_PROGS)
	scripts/bench --bin $(B)
