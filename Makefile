# cmpca - hand-written GNU Makefile. `make` builds, `make test` installs
# dependencies, builds and runs every test, `make run` brings up a local CA.
# SAN=1 builds with AddressSanitizer and UndefinedBehaviorSanitizer.

CC ?= cc
PKGS := libcrypto libssl libp11 libpq fcgi
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
# libcoap (CoAP front, RFC 9482) for cmpcad only, with its OpenSSL
# backend for DTLS (coaps_listen; docs/architecture.md, "CoAP").
COAP_PKG := libcoap-3-openssl
COAP_CFLAGS := $(shell pkg-config --cflags $(COAP_PKG) 2>/dev/null)
COAP_LIBS := $(shell pkg-config --libs $(COAP_PKG) 2>/dev/null)

ifeq ($(SAN),1)
CFLAGS += -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
B := build/san
else
CFLAGS += -D_FORTIFY_SOURCE=2
B := build/rel
endif

LIB_SRC := lib/lib_pct.c lib/lib_file.c
HSM_SRC := hsm/hsm.c hsm/hsm_err.c hsm/hsm_token.c hsm/hsm_uri.c \
	hsm/hsm_keygen.c hsm/hsm_aes.c hsm/hsm_caps.c hsm/hsm_eekey.c \
	hsm/hsm_archive.c
DB_SRC := db/db.c db/db_ca.c db/db_cert.c db/db_txn.c db/db_secret.c \
	db/db_pending.c db/db_ra.c db/db_upstream.c db/db_issue.c db/db_crl.c \
	db/db_audit.c db/db_ocsp.c db/db_ocsp_answer.c db/db_cross.c \
	db/db_stats.c db/db_admin.c db/db_keyarch.c \
	db/db_chain.c db/db_harden.c db/db_migrate.c db/db_param.c
CA_SRC := ca/log.c ca/cfg.c ca/profile.c ca/profile_san.c ca/profile_subject.c \
	ca/profile_names.c ca/profile_policy.c ca/profile_reserved.c ca/metrics.c ca/cmp_asn.c ca/ca_store.c ca/audit.c \
	ca/audit_verify.c ca/audit_anchor.c \
	ca/serial.c ca/crl_reason.c \
	ca/issue/cert_build.c ca/issue/cert_profile.c ca/issue/issue.c \
	ca/issue/cross.c ca/issue/kga.c \
	ca/cmp/cmp_hdr.c ca/cmp/cmp_protect.c ca/cmp/cmp_sign.c \
	ca/cmp/cmp_guard.c ca/cmp/cmp_secret.c ca/cmp/cmp_req.c ca/cmp/cmp_sig.c \
	ca/cmp/cmp_auth.c ca/cmp/cmp_certreq.c ca/cmp/cmp_certconf.c \
	ca/cmp/cmp_kga.c ca/cmp/cmp_krr.c \
	ca/cmp/cmp_rr.c ca/cmp/cmp_genm.c ca/cmp/cmp_poll.c ca/cmp/cmp_ccr.c \
	ca/cmp/cmp_upstream.c ca/cmp/cmp_upstream_rr.c \
	ca/cmp/cmp_upstream_nest.c ca/cmp/cmp_upstream_check.c ca/cmp/cmp_server.c \
	ca/client/cmp_client.c ca/client/client_ccr.c ca/client/client_mac.c \
	ca/client/client_upstream.c \
	ca/status/crl.c ca/status/ocsp.c ca/status/ocsp_ca.c \
	ca/status/ocsp_answer.c ca/status/ocsp_cache.c \
	ca/status/ocsp_signer.c
DAEMON_SRC := daemon/fcgi.c daemon/cmpcad.c daemon/priv.c daemon/admin.c \
	daemon/admin_buf.c daemon/admin_health.c daemon/worker.c daemon/http.c \
	daemon/coap_srv.c daemon/coap_xfer.c
CLI_SRC := $(sort $(wildcard cli/*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
HSM_OBJ := $(HSM_SRC:%.c=$(B)/%.o)
DB_OBJ := $(DB_SRC:%.c=$(B)/%.o)
CA_OBJ := $(CA_SRC:%.c=$(B)/%.o)

PROGS := $(B)/cmpcad $(B)/cmpca
# One program per module for what needs neither a token nor a database;
# tests/unit/unitlib.c holds the helpers they share.
UNIT_PLAIN := test_asn test_protect test_hdr test_fcgi test_cross test_ocsp \
	test_cfg test_store test_log test_metrics test_names test_coap
UNIT_TESTS := $(B)/test_hsm $(B)/test_db $(B)/test_engine $(B)/test_admin \
	$(B)/test_lib $(UNIT_PLAIN:%=$(B)/%)
TEST_TOOLS := $(B)/cmpdump $(B)/cmpnest $(B)/cmpload $(B)/cmphostile \
	$(B)/fcgipost $(B)/certlint

.PHONY: all deps deps-test test unit e2e run stop check clean bench install uninstall soak \
	package test-package test-cluster bench-cluster bench-kga bench-targets test-tokens
all: $(PROGS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/daemon/coap_srv.o: CFLAGS += $(COAP_CFLAGS)

$(B)/cmpcad: $(DAEMON_SRC:%.c=$(B)/%.o) $(CA_OBJ) $(HSM_OBJ) $(DB_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(COAP_LIBS)

$(B)/cmpca: $(CLI_SRC:%.c=$(B)/%.o) $(CA_OBJ) $(HSM_OBJ) $(DB_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/test_hsm: $(B)/tests/unit/test_hsm.o $(B)/tests/unit/test_hsm_keys.o \
    $(B)/tests/unit/test_hsm_seal.o $(HSM_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(B)/test_db: $(B)/tests/unit/test_db.o $(B)/tests/unit/test_db_cert.o \
    $(B)/tests/unit/test_db_secret.o $(B)/tests/unit/test_db_issue.o \
    $(B)/tests/unit/test_db_more.o $(B)/tests/unit/test_db_scope.o \
    $(DB_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(UNIT_PLAIN:%=$(B)/%): $(B)/%: $(B)/tests/unit/%.o $(B)/tests/unit/unitlib.o \
    $(CA_OBJ) $(HSM_OBJ) $(DB_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(B)/test_fcgi: $(B)/daemon/fcgi.o $(B)/daemon/admin.o \
    $(B)/daemon/admin_buf.o $(B)/daemon/admin_health.o $(B)/daemon/worker.o $(B)/daemon/http.o

$(B)/test_cfg: $(B)/tests/unit/cfglog.o

$(B)/test_coap: $(B)/daemon/coap_xfer.o

$(B)/test_lib: $(B)/tests/unit/test_lib.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

ENGINE_TESTS := test_engine test_engine_msg test_engine_txn test_engine_secret \
	test_engine_ext test_engine_ca test_engine_ocsp test_engine_sig \
	test_engine_kga test_build \
	cfglog
$(B)/test_engine: $(ENGINE_TESTS:%=$(B)/tests/unit/%.o) $(B)/daemon/fcgi.o \
    $(B)/daemon/admin.o $(B)/daemon/admin_buf.o $(B)/daemon/admin_health.o $(B)/daemon/worker.o \
    $(B)/daemon/http.o $(CA_OBJ) \
    $(HSM_OBJ) $(DB_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(B)/test_admin: $(B)/tests/unit/test_admin.o $(B)/daemon/admin.o $(B)/daemon/admin_buf.o $(B)/daemon/admin_health.o $(B)/daemon/http.o $(CA_OBJ) $(HSM_OBJ) $(DB_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# Test tools: decode a CMP response for assertions in shell tests.
$(B)/cmpdump: $(B)/tests/tools/cmpdump.o $(CA_OBJ) $(HSM_OBJ) $(DB_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/cmpnest: $(B)/tests/tools/cmpnest.o $(CA_OBJ) $(HSM_OBJ) $(DB_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Hostile-input corpus (tests/e2e/hostile.sh): the generated cases, and a
# FastCGI client for the 100,000-rejections memory check.
$(B)/cmphostile: $(B)/tests/tools/cmphostile.o $(CA_OBJ) $(HSM_OBJ) $(DB_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/fcgipost: $(B)/tests/tools/fcgipost.o
	$(CC) $(LDFLAGS) -o $@ $^

# RFC 5280 lint of the certificates the e2e suites issue (e2e_lint in
# tests/e2e/lib.sh): libcrypto only.
$(B)/certlint: $(B)/tests/tools/certlint.o
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs libcrypto)

# `make run` installs what building and running need; the test tools (JDK,
# Bouncy Castle, Chromium, clang, the validators) come with `make test`.
deps:
	@scripts/deps

deps-test:
	@scripts/deps --test

# `make test`: dependencies, build, unit tests, end-to-end tests.
test: deps-test
	$(MAKE) all $(UNIT_TESTS) $(TEST_TOOLS)
	scripts/test --bin $(B)

# `make soak`: the load suite for LOAD_SECS seconds (default 300), not the
# 45 s of `make test`.
soak: deps-test
	$(MAKE) all $(TEST_TOOLS)
	LOAD_SECS=$${LOAD_SECS:-300} tests/e2e/load.sh --bin $(B)

unit: $(UNIT_TESTS) $(B)/certlint
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
	    --include=tests/cppcheck.h -i ca/cmp_asn.c -I. lib hsm db ca daemon cli tests

clean:
	rm -rf build

# Installation (docs/operations.md, "Install on Debian 12"). PREFIX and
# DESTDIR as usual; the configuration lives in SYSCONFDIR (/etc by default,
# whatever PREFIX is, because systemd and operators look there).
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
DATADIR ?= $(PREFIX)/share/cmpca
SCHEMADIR ?= $(DATADIR)/schema
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/cmpca
UNITDIR ?= $(PREFIX)/lib/systemd/system
CONFFILE ?= $(SYSCONFDIR)/cmpca/cmpca.conf
INSTALL ?= install

# Compiled-in defaults of schema_dir and of the configuration file. The
# stamp changes only when the paths do, so `make install PREFIX=/usr`
# after `make` recompiles cfg.c and nothing else.
PATHS_DEF := -DCMPCA_SCHEMADIR='"$(SCHEMADIR)"' -DCMPCA_CONFFILE='"$(CONFFILE)"'
$(B)/ca/cfg.o: CFLAGS += $(PATHS_DEF)
$(B)/ca/cfg.o: $(B)/paths.stamp
$(B)/paths.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(PATHS_DEF)' | cmp -s - $@ || echo '$(PATHS_DEF)' >$@
.PHONY: FORCE
FORCE:

MAN_PAGES := docs/man/cmpca.1 docs/man/cmpca.conf.5 docs/man/cmpcad.8
NGINX_FILES := nginx/cmp-locations.conf nginx/cmpca-metrics.conf \
	nginx/cmpca-limits.conf \
	$(wildcard nginx/*.example)
DOC_FILES := README.md $(wildcard docs/*.md)
# The example configuration: scripts/cmpca.conf.in with the stack's
# placeholders replaced by the installed layout (see cmpca.conf(5)).
CONF_SED := -e 's|@MODULE@|/usr/lib/softhsm/libsofthsm2.so|' \
	-e 's|@TOKEN@|cmpca|' -e 's|@INIT_ARGS@||' \
	-e 's|@VAR@/hsm/pin|$(SYSCONFDIR)/cmpca/pin|' \
	-e 's|"@DB@"|"dbname=cmpca user=cmpca_daemon"|' \
	-e 's|"@DB_OPERATOR@"|"dbname=cmpca user=cmpca_operator"|' \
	-e 's|"@DB_OWNER@"|"dbname=cmpca user=cmpca_owner"|' \
	-e 's|"@DB_READER@"|"dbname=cmpca user=cmpca_reader"|' \
	-e 's|@VAR@/cmpcad.sock|/run/cmpca/cmpcad.sock|' \
	-e 's|@VAR@/crl|/var/lib/cmpca/crl|' \
	-e 's|@VAR@/audit/anchor.log|/var/lib/cmpca/audit-anchor.log|' \
	-e 's|@WORKERS@|4|' -e 's|@CA_LABEL@|issuing|g' \
	-e 's|@RUN_USER@|cmpca|' -e 's|@SOCKET_GROUP@||' \
	-e 's|@SCHEMA_DIR@|$(SCHEMADIR)|' \
	-e 's|@TXN_TIMEOUT@|300|' -e 's|@HOUSEKEEPING@|10|' -e 's|@CRL_DELAY@|5|' \
	-e 's|@OCSP_VALIDITY@|3600|' -e 's|@OCSP_REFRESH@|1800|' \
	-e 's|@POLL_AFTER@|5|' -e 's|@TRUST_ANCHORS@||' \
	-e 's|@ALLOW_UNPROTECTED@||' -e 's|@COAP_LISTEN@||' \
	-e 's|@COAPS_LISTEN@||' -e 's|@COAPS_CERT@||' -e 's|@COAPS_KEY@||' \
	-e 's|@BASE_URL@|http://ca.example.com|g' \
	-e 's|, rendered by scripts/stack\.|: an example.\n\# Copy it to $(CONFFILE), then set token, pin_file, db, default_ca and\n\# the URLs (crl_url, ocsp_url) of the profiles (cmpca.conf(5), docs/operations.md).|'
# The man pages and the nginx examples name installed paths: rewritten for
# PREFIX and SYSCONFDIR (an nginx example that includes /usr/local/... under
# PREFIX=/usr would fail `nginx -t`).
MAN_SED := -e 's|/etc/cmpca/|$(SYSCONFDIR)/cmpca/|g' \
	-e 's|/usr/local/share/cmpca|$(DATADIR)|g'
UNIT_SED := -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@CONFFILE@|$(CONFFILE)|g'

install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(SCHEMADIR) $(DESTDIR)$(DATADIR)/nginx \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	$(INSTALL) -m 0755 $(B)/cmpca $(DESTDIR)$(BINDIR)/cmpca
	$(INSTALL) -m 0755 $(B)/cmpcad $(DESTDIR)$(SBINDIR)/cmpcad
	$(INSTALL) -m 0644 db/schema/*.sql $(DESTDIR)$(SCHEMADIR)/
	for f in $(NGINX_FILES); do \
	    d=$(DESTDIR)$(DATADIR)/nginx/$${f##*/}; \
	    sed $(MAN_SED) $$f >$$d && chmod 0644 $$d || exit 1; \
	done
	sed $(CONF_SED) scripts/cmpca.conf.in >$(DESTDIR)$(DATADIR)/cmpca.conf.example
	chmod 0644 $(DESTDIR)$(DATADIR)/cmpca.conf.example
	sed $(UNIT_SED) systemd/cmpcad.service.in >$(DESTDIR)$(UNITDIR)/cmpcad.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/cmpcad.service
	for m in $(MAN_PAGES); do \
	    d=$(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; \
	    sed $(MAN_SED) $$m >$$d && chmod 0644 $$d || exit 1; \
	done
	$(INSTALL) -m 0644 $(DOC_FILES) $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/cmpca $(DESTDIR)$(SBINDIR)/cmpcad \
	    $(DESTDIR)$(UNITDIR)/cmpcad.service \
	    $(DESTDIR)$(MANDIR)/man1/cmpca.1 \
	    $(DESTDIR)$(MANDIR)/man5/cmpca.conf.5 \
	    $(DESTDIR)$(MANDIR)/man8/cmpcad.8
	rm -f $(addprefix $(DESTDIR)$(SCHEMADIR)/,$(notdir $(wildcard db/schema/*.sql))) \
	    $(addprefix $(DESTDIR)$(DATADIR)/nginx/,$(notdir $(NGINX_FILES))) \
	    $(DESTDIR)$(DATADIR)/cmpca.conf.example \
	    $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOC_FILES)))
	-rmdir $(DESTDIR)$(SCHEMADIR) $(DESTDIR)$(DATADIR)/nginx \
	    $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR) 2>/dev/null

-include $(shell find build -name '*.d' 2>/dev/null)

# The Debian package (issue 28): `make package` builds ../cmpca_*.deb from
# this tree; `make test-package` builds it from a clean clone of what is
# committed, installs it on this machine, runs a CA with the installed
# files and purges it (tests/package/test_package.sh).
package: deps
	dpkg-buildpackage -us -uc -b

test-package: deps-test
	tests/package/test_package.sh

# Several hosts (issue 25): scripts/cluster's topology (three CA hosts, a
# PostgreSQL primary with a synchronous standby, one token behind p11-kit
# server), tests/e2e/cluster.sh's messages placed on hosts and failures on
# it, about 4 minutes on this loaded machine.
test-cluster: deps-test
	$(MAKE) all $(B)/cmpload
	tests/e2e/cluster.sh --bin $(B)

# Other tokens (issue 27): tests/e2e/tokens.sh's cases on SoftHSM, NSS's
# soft token, openCryptoki's software token and a TPM 2.0 (swtpm) through
# tpm2-pkcs11, each on a fresh stack; at most 6 minutes (timeout 360).
test-tokens: deps-test
	$(MAKE) all
	timeout 360 tests/e2e/tokens.sh --bin $(B)

# Benchmark (issue 6): `make bench` builds the load client, the FastCGI
# transport-ceiling responder and the HSM signing probe, then runs
# scripts/bench, which prints one table and asserts nothing.
BENCH_PROGS := $(B)/cmpload $(B)/fcgi_echo $(B)/hsmsign $(B)/fcgipost \
	$(B)/cmphostile

$(B)/cmpload: $(B)/tests/bench/cmpload.o $(B)/tests/bench/cmpload_tx.o \
	$(B)/tests/bench/cmpload_kga.o
	$(CC) $(LDFLAGS) -pthread -o $@ $^ $(LDLIBS) -lm

$(B)/fcgi_echo: $(B)/tests/bench/fcgi_echo.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/hsmsign: $(B)/tests/bench/hsmsign.o $(HSM_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench: deps-test
	$(MAKE) all $(BENCH_PROGS)
	scripts/bench --bin $(B)

# The cluster rows of `make bench` alone (issue 25): scripts/cluster with
# one CA host, then two; about a minute plus the cluster's start. Uses the
# ports of test-cluster (18800-18811): not at the same time.
bench-cluster: deps-test
	$(MAKE) all $(B)/cmpload
	scripts/bench --bin $(B) --cluster

# The central key generation rows of `make bench` alone (issue 26): irimp
# at 1 and 4 clients, then kgaimp and the HSM's key generation for EC
# P-256 and RSA-2048; about two minutes.
bench-kga: deps-test
	$(MAKE) all $(BENCH_PROGS)
	scripts/bench --bin $(B) --kga

# The rows issue 29's targets name, alone (about four minutes).
bench-targets: deps-test
	$(MAKE) all $(BENCH_PROGS)
	scripts/bench --bin $(B) --targets

# Fuzzing (issues 5, 30): libFuzzer targets in tests/fuzz/, built with
# clang-14 into build/fuzz with -fsanitize=fuzzer,address,undefined.
# `make fuzz FUZZ_TIME=N` runs each for N seconds on the corpora of
# tests/fuzz/corpus/ (scripts/fuzz; the targets that serve requests borrow
# a stack's database and token). `make fuzz-long` runs each FUZZ_TIME
# (default 600) seconds and keeps the grown corpus in build/fuzz/corpus/;
# `make fuzz-cov` builds with clang's source coverage into build/fuzzcov,
# runs every corpus once and prints line coverage per file.
FUZZ_CC := clang-14
FUZZ_TIME ?= 60
FB := build/fuzz
FCB := build/fuzzcov
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
# clang counts the v*printf wrappers of log.c as non-literal formats.
FUZZ_CFLAGS := -O1 -g -std=c11 -D_GNU_SOURCE $(WARN) -Wno-format-nonliteral \
	-fno-omit-frame-pointer \
	$(FUZZ_SAN) -fsanitize=fuzzer-no-link -I. $(PKG_CFLAGS)
FUZZ_COV_CFLAGS := -O0 -g -std=c11 -D_GNU_SOURCE $(WARN) \
	-Wno-format-nonliteral -fprofile-instr-generate -fcoverage-mapping \
	-fsanitize=fuzzer-no-link -I. $(PKG_CFLAGS)
FUZZ_NAMES := decode protect engine p10cr template ocsp fcgi fcgiserve admin \
	cfg client
FUZZ_TARGETS := $(FUZZ_NAMES:%=$(FB)/fuzz_%)
FUZZ_SRC := $(CA_SRC) $(HSM_SRC) $(DB_SRC) $(LIB_SRC) daemon/fcgi.c \
	daemon/admin.c daemon/admin_buf.c daemon/admin_health.c daemon/worker.c \
	daemon/http.c tests/fuzz/cmp_mutate.c \
	tests/fuzz/cmp_mutate_msg.c tests/fuzz/mut_parts.c tests/fuzz/fuzz_env.c \
	tests/fuzz/fuzz_ids.c tests/fuzz/fuzz_up.c
FUZZ_LIBOBJ := $(FUZZ_SRC:%.c=$(FB)/%.o)
FUZZ_COVOBJ := $(FUZZ_SRC:%.c=$(FCB)/%.o)
# Objects only pattern rules name would be deleted as intermediates.
.SECONDARY: $(FUZZ_LIBOBJ) $(FUZZ_COVOBJ) \
	$(FUZZ_NAMES:%=$(FB)/tests/fuzz/fuzz_%.o) \
	$(FUZZ_NAMES:%=$(FCB)/tests/fuzz/fuzz_%.o)

$(FB)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FB)/fuzz_%: $(FB)/tests/fuzz/fuzz_%.o $(FUZZ_LIBOBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

$(FCB)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_COV_CFLAGS) -MMD -MP -c -o $@ $<

$(FCB)/fuzz_%: $(FCB)/tests/fuzz/fuzz_%.o $(FUZZ_COVOBJ)
	$(FUZZ_CC) -fprofile-instr-generate -fsanitize=fuzzer -o $@ $^ \
	    $(LDLIBS)

.PHONY: fuzz fuzz-build fuzz-long fuzz-cov fuzz-cov-build
fuzz-build: $(FUZZ_TARGETS)
fuzz-cov-build: $(FUZZ_NAMES:%=$(FCB)/fuzz_%)

fuzz: deps-test
	$(MAKE) all $(B)/cmphostile fuzz-build
	scripts/fuzz --bin $(B) --time $(FUZZ_TIME)

# fuzz-long: 600 s a target unless FUZZ_TIME is given on the command line.
FUZZ_LONG := $(if $(filter command line,$(origin FUZZ_TIME)),$(FUZZ_TIME),600)
fuzz-long: deps
	$(MAKE) all $(B)/cmphostile fuzz-build
	scripts/fuzz --bin $(B) --time $(FUZZ_LONG) --keep

fuzz-cov: deps
	$(MAKE) all $(B)/cmphostile fuzz-cov-build
	scripts/fuzz --bin $(B) --cov
