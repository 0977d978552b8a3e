/*
 * test_metrics.c - the /metrics counters (ca/metrics.c): shared across fork,
 * rendered in the text format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ca/ca.h"
#include "tests/unit/unitlib.h"

/* Metrics: counters shared across fork, rendered in the text format. */
static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
		p += n;
	}
	return 0;
}

static void
test_metrics(void **state)
{
	char *text;
	size_t len;
	pid_t pid;
	int st, i;

	(void)state;
	/* Before init: no-ops, nothing to render. */
	metrics_request(CMP_BODY_IR, "accepted", 10);
	assert_null(metrics_render(NULL, 2, &len));
	EQ(metrics_init(), 1);
	EQ(metrics_init(), 1); /* idempotent */
	metrics_request(CMP_BODY_IR, "accepted", 1500);	 /* le 0.0025 */
	metrics_request(CMP_BODY_CERTCONF, "accepted", 20000000); /* +Inf */
	metrics_request(-1, "rejected", 10);
	metrics_request(CMP_BODY_RR, "no-such-outcome", 10);
	metrics_hsm(300);
	metrics_db_error("23505"); /* a refusal: not counted */
	metrics_db_error("CA001");
	metrics_db_error("08006");
	metrics_db_error("");
	metrics_worker_restart(1);
	metrics_worker_restart(CA_MAX_WORKERS + 1); /* ignored */
	/* A child's adds land in the same counters (a forked worker). */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (i = 0; i < 1000; i++)
			metrics_request(CMP_BODY_IR, "accepted", 1500);
		_exit(0);
	}
	for (i = 0; i < 1000; i++)
		metrics_request(CMP_BODY_IR, "accepted", 1500);
	EQ(waitpid(pid, &st, 0), pid);
	text = metrics_render(NULL, 2, &len);
	assert_non_null(text);
	EQ(strlen(text), len);
	assert_true(has_line(text, "cmpca_requests_total{body=\"ir\","
				   "outcome=\"accepted\"} 2001"));
	assert_true(has_line(text, "cmpca_requests_total{body=\"certConf\","
				   "outcome=\"accepted\"} 1"));
	assert_true(has_line(text, "cmpca_requests_total{body=\"none\","
				   "outcome=\"rejected\"} 1"));
	assert_true(has_line(text, "cmpca_requests_total{body=\"rr\","
				   "outcome=\"other\"} 1"));
	assert_true(has_line(text,
	    "cmpca_request_duration_seconds_bucket{le=\"0.001\"} 2"));
	assert_true(has_line(text,
	    "cmpca_request_duration_seconds_bucket{le=\"0.0025\"} 2003"));
	assert_true(has_line(text,
	    "cmpca_request_duration_seconds_bucket{le=\"10\"} 2003"));
	assert_true(has_line(text,
	    "cmpca_request_duration_seconds_bucket{le=\"+Inf\"} 2004"));
	assert_true(has_line(text, "cmpca_request_duration_seconds_count 2004"));
	assert_true(has_line(text, "cmpca_hsm_operation_seconds_count 1"));
	assert_true(has_line(text,
	    "cmpca_hsm_operation_seconds_bucket{le=\"0.00025\"} 0"));
	assert_true(has_line(text,
	    "cmpca_hsm_operation_seconds_bucket{le=\"0.0005\"} 1"));
	assert_true(has_line(text, "cmpca_db_errors_total 2"));
	assert_true(has_line(text, "cmpca_worker_restarts_total{slot=\"1\"} 1"));
	assert_true(has_line(text, "cmpca_worker_restarts_total{slot=\"2\"} 0"));
	assert_false(has_line(text, "cmpca_worker_restarts_total{slot=\"3\"} 0"));
	assert_true(has_line(text, "cmpca_db_up 0"));
	assert_null(strstr(text, "cmpca_pending_approvals"));
	free(text);
}

/*
 * The OCSP signing cap (ocsp_sign_max) across processes: slots held by
 * pid; a full cap refuses; a slot of a process that died while holding
 * it is taken back; the OCSP counters render.
 */
static void
test_metrics_ocsp(void **state)
{
	char *text;
	size_t len;
	pid_t pid;
	int st, fds[2];
	char c;

	(void)state;
	EQ(metrics_init(), 1);
	EQ(metrics_ocsp_sign_enter(1), 1);
	EQ(metrics_ocsp_sign_enter(1), 0); /* the one slot is ours */
	EQ(metrics_ocsp_sign_enter(2), 1); /* a second slot */
	metrics_ocsp_sign_leave();
	metrics_ocsp_sign_leave();
	/* A child holds the only slot while we look: refused. */
	EQ(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (metrics_ocsp_sign_enter(1) != 1)
			_exit(1);
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		pause(); /* dies holding it */
		_exit(0);
	}
	close(fds[1]);
	EQ(read(fds[0], &c, 1), 1);
	close(fds[0]);
	EQ(metrics_ocsp_sign_enter(1), 0);
	kill(pid, SIGKILL);
	EQ(waitpid(pid, &st, 0), pid);
	EQ(metrics_ocsp_sign_enter(1), 1); /* taken back from the dead */
	metrics_ocsp_sign_leave();
	metrics_ocsp(METRICS_OCSP_SIGNED);
	metrics_ocsp(METRICS_OCSP_NONCE_IGNORED);
	metrics_ocsp(METRICS_OCSP_NONCE_IGNORED);
	metrics_ocsp(METRICS_OCSP_N); /* ignored */
	text = metrics_render(NULL, 2, &len);
	assert_non_null(text);
	assert_true(has_line(text, "cmpca_ocsp_total{event=\"signed\"} 1"));
	assert_true(has_line(text,
	    "cmpca_ocsp_total{event=\"nonce_ignored\"} 2"));
	assert_true(has_line(text, "cmpca_ocsp_total{event=\"busy\"} 0"));
	free(text);
}

int
main(void)
{
	const struct CMUnitTest metrics[] = {
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_metrics_ocsp),
	};

	return cmocka_run_group_tests_name("metrics", metrics, NULL, NULL) != 0;
}
