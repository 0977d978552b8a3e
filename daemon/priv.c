/*
 * priv.c - the daemon's privileges: whom it runs as, and the PIN file it
 * may trust.
 *
 * Started as root, cmpcad needs `user` in [cmpca]: the master opens the
 * FastCGI socket (its directory may be root's), then takes that user's
 * groups, gid and uid for good before any worker, the housekeeper, the
 * HSM or the database is touched. Without `user` it refuses to run as
 * root; `user = root` keeps root, knowingly (a warning says so). Started
 * as anyone else, `user`, when set, must name that user: nothing can be
 * switched then. After the switch the process is not dumpable (no core
 * files, no ptrace or /proc/PID/mem by the same uid): setuid() from root
 * clears the flag already, prctl() makes it explicit for every start.
 *
 * The unix socket belongs to that user and to socket_group (else the
 * user's group); its mode is 0660 (fcgi_listen), so only nginx, as a
 * member of that group, connects.
 *
 * The PIN file must be a regular file owned by the user the daemon runs
 * as and closed to group and others; otherwise cmpcad does not start.
 */
#include <sys/prctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "ca/ca.h"
#include "daemon/fcgi.h"
#include "daemon/priv.h"

int
priv_drop(const struct cfg *cfg)
{
	struct passwd *pw;

	if (geteuid() != 0) {
		if (cfg->user == NULL)
			return 1;
		pw = getpwnam(cfg->user);
		if (pw == NULL || pw->pw_uid != geteuid()) {
			log_err("%s: user = %s, but cmpcad runs as uid %u: start "
				"it as root or as %s", cfg->path, cfg->user,
			    (unsigned)geteuid(), cfg->user);
			return 0;
		}
		return 1;
	}
	if (cfg->user == NULL) {
		log_err("%s: cmpcad refuses to run as root: set user (e.g. "
			"user = cmpca) in [cmpca]", cfg->path);
		return 0;
	}
	errno = 0;
	if ((pw = getpwnam(cfg->user)) == NULL) {
		log_err("%s: user %s: %s", cfg->path, cfg->user,
		    errno != 0 ? strerror(errno) : "no such user");
		return 0;
	}
	if (pw->pw_uid == 0) {
		log_warn("running as root (user = %s): a compromised worker "
			 "owns the machine", cfg->user);
		return 1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
	    setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		log_err("cannot switch to user %s: %s", cfg->user,
		    strerror(errno));
		return 0;
	}
	/* For good: no way back to root. */
	if (setuid(0) == 0 || geteuid() == 0) {
		log_err("cannot drop root for good");
		return 0;
	}
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	log_info("running as user %s (uid %u, gid %u)", pw->pw_name,
	    (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	return 1;
}

int
priv_socket_owner(const struct cfg *cfg, uid_t *owner, gid_t *group)
{
	struct passwd *pw = NULL;
	struct group *gr;

	*owner = (uid_t)-1;
	*group = (gid_t)-1;
	if (fcgi_is_tcp(cfg->socket_path))
		return 1;
	if (geteuid() == 0 && cfg->user != NULL) {
		errno = 0;
		if ((pw = getpwnam(cfg->user)) == NULL) {
			log_err("%s: user %s: %s", cfg->path, cfg->user,
			    errno != 0 ? strerror(errno) : "no such user");
			return 0;
		}
		*owner = pw->pw_uid;
		*group = pw->pw_gid;
	}
	if (cfg->socket_group != NULL) {
		errno = 0;
		if ((gr = getgrnam(cfg->socket_group)) == NULL) {
			log_err("%s: socket_group %s: %s", cfg->path,
			    cfg->socket_group,
			    errno != 0 ? strerror(errno) : "no such group");
			return 0;
		}
		*group = gr->gr_gid;
	}
	return 1;
}

int
priv_pin_check(const struct cfg *cfg)
{
	struct stat st;

	if (cfg->pin_file == NULL)
		return 1; /* CMPCA_HSM_PIN from the environment */
	if (stat(cfg->pin_file, &st) != 0) {
		log_err("pin file %s: %s", cfg->pin_file, strerror(errno));
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		log_err("pin file %s: not a regular file", cfg->pin_file);
		return 0;
	}
	if (st.st_uid != geteuid()) {
		log_err("pin file %s: owned by uid %u, not by uid %u that "
			"cmpcad runs as (chown it)", cfg->pin_file,
		    (unsigned)st.st_uid, (unsigned)geteuid());
		return 0;
	}
	if ((st.st_mode & 077) != 0) {
		log_err("pin file %s: readable or writable by group or others "
			"(mode %03o, want 0600 or 0400)", cfg->pin_file,
		    (unsigned)(st.st_mode & 0777));
		return 0;
	}
	return 1;
}
