/*
 * fcgi_echo - the transport ceiling of the benchmark: a trivial libfcgi
 * responder that reads each request body and answers a fixed small body.
 * nginx in front of it with the same configuration style as cmpcad's
 * measures what HTTP + FastCGI alone cost, with no CMP work at all.
 *
 * usage: fcgi_echo SOCKET [WORKERS]
 *
 * Pre-fork like cmpcad: the master opens the unix socket, forks WORKERS
 * (default 2) processes that accept on it, and on SIGTERM or SIGINT stops
 * them and exits.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

#define MAX_WORKERS 64

/* 64 bytes, about a small CMP error message. */
static const char body[] =
    "fcgi_echo: fixed response body of sixty-four bytes for bench.\n";

static volatile sig_atomic_t stopping;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Serves requests on fd until killed. Returns only on a fatal error. */
static int
worker(int fd)
{
	FCGX_Request req;
	char buf[4096];
	const char *cl;
	long left;
	int n;

	if (FCGX_InitRequest(&req, fd, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		cl = FCGX_GetParam("CONTENT_LENGTH", req.envp);
		left = cl != NULL ? atol(cl) : 0;
		while (left > 0) {
			n = FCGX_GetStr(buf,
			    left < (long)sizeof(buf) ? (int)left
			                             : (int)sizeof(buf),
			    req.in);
			if (n <= 0)
				break;
			left -= n;
		}
		FCGX_FPrintF(req.out,
		    "Status: 200 OK\r\nContent-Type: application/pkixcmp\r\n"
		    "Content-Length: %d\r\n\r\n",
		    (int)(sizeof(body) - 1));
		FCGX_PutStr(body, (int)(sizeof(body) - 1), req.out);
		FCGX_Finish_r(&req);
	}
	return 1;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	sigset_t block, old;
	pid_t pids[MAX_WORKERS];
	int i, fd, nworkers = 2, rc = 1;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: fcgi_echo SOCKET [WORKERS]\n");
		return 2;
	}
	if (argc == 3)
		nworkers = atoi(argv[2]);
	if (nworkers < 1 || nworkers > MAX_WORKERS) {
		fprintf(stderr, "fcgi_echo: WORKERS must be 1 to %d\n",
		    MAX_WORKERS);
		return 2;
	}
	if (FCGX_Init() != 0)
		return 1;
	unlink(argv[1]);
	if ((fd = FCGX_OpenSocket(argv[1], 512)) < 0 ||
	    chmod(argv[1], 0666) != 0) {
		fprintf(stderr, "fcgi_echo: cannot listen on %s\n", argv[1]);
		return 1;
	}
	/* Signals wait for sigsuspend() in the master; workers die of them. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (i = 0; i < nworkers; i++) {
		if ((pids[i] = fork()) == 0) {
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			sigprocmask(SIG_SETMASK, &old, NULL);
			_exit(worker(fd));
		}
		if (pids[i] < 0) {
			fprintf(
			    stderr, "fcgi_echo: fork: %s\n", strerror(errno));
			nworkers = i;
			goto out;
		}
	}
	while (!stopping)
		sigsuspend(&old);
	rc = 0;
out:
	for (i = 0; i < nworkers; i++)
		kill(pids[i], SIGTERM);
	for (i = 0; i < nworkers; i++)
		waitpid(pids[i], NULL, 0);
	close(fd);
	unlink(argv[1]);
	return rc;
}
