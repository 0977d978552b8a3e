/*
 * priv.h - the daemon's user and its PIN file check (priv.c).
 */
#ifndef CMPCA_PRIV_H
#define CMPCA_PRIV_H

struct cfg;

/*
 * Switches to cfg->user when running as root (refuses root without it),
 * or checks that cfg->user names the current user. Returns 1, or 0 with a
 * logged reason: the daemon must not start.
 */
int priv_drop(const struct cfg *cfg) CA_MUST_CHECK;

/* The PIN file is ours and closed to group and others: 1, or 0 (logged). */
int priv_pin_check(const struct cfg *cfg) CA_MUST_CHECK;

#endif
