/*
 * priv.h - the daemon's user and its PIN file check (priv.c).
 */
#ifndef CMPCA_PRIV_H
#define CMPCA_PRIV_H

#include <sys/types.h>

struct cfg;

/*
 * Switches to cfg->user when running as root (refuses root without it),
 * or checks that cfg->user names the current user. Returns 1, or 0 with a
 * logged reason: the daemon must not start.
 */
int priv_drop(const struct cfg *cfg) CA_MUST_CHECK;

/*
 * Owner and group the unix socket gets: cfg->user's uid and gid when
 * running as root, and socket_group's gid when set; -1 where nothing is
 * to change (and for a TCP socket). Returns 1, or 0 with a logged reason.
 */
int priv_socket_owner(const struct cfg *cfg, uid_t *owner, gid_t *group)
    CA_MUST_CHECK;

/* The PIN file is ours and closed to group and others: 1, or 0 (logged). */
int priv_pin_check(const struct cfg *cfg) CA_MUST_CHECK;

#endif
