/* Check suite for ftpc/stress_report's text report: every line fits an 80-column terminal
 * for the figures of a big run (5,000 clients, millions of operations, latencies of
 * minutes), and no figure is lost to make it fit. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stress_report.h"

static stress_stats st;
static stress_vfail vf[2];

static void big_run(stress_result *r)
{
    stress_stats_init(&st);
    for (int i = 0; i < STRESS_OP_COUNT; i++) {
        st.op_count[i] = 1234567;
        st.op_errors[i] = 12345;
    }
    for (int i = 0; i < STRESS_CMD_COUNT; i++) {
        stress_hist_add(&st.cmd[i], 1500);
        stress_hist_add(&st.cmd[i], 754321987); /* 12.5 minutes */
        st.cmd[i].count = 98765432;
    }
    st.bytes_down = 3865470566400ULL; /* an hour at 1 GiB/s */
    st.bytes_up = 1932735283200ULL;
    st.verify_failures = 2;
    st.faults_abort = 123456789;
    st.faults_drop = 987654321;
    st.hash_busy = 1234567;
    st.hash_readback = 123456;
    stress_stats_reply_error(
        &st, 421, "Too many connections (8) from this IP, and the server will take no more now");
    stress_stats_reply_error(&st, 530, "Login authentication failed");
    stress_stats_error(&st, 0, ECONNRESET);
    stress_stats_error(&st, 0, 0);
    stress_stats_error(&st, 0, ETIMEDOUT);
    stress_stats_error(&st, 0, EPROTO);
    for (size_t i = 0; i < st.nerrs; i++)
        st.errs[i].n = 1234567;
    snprintf(vf[0].who, sizeof(vf[0].who), "4999");
    snprintf(vf[0].file, sizeof(vf[0].file), "stress-fixture-0007-18446744073709551615.bin");
    vf[0].offset = 4194303;
    snprintf(vf[1].who, sizeof(vf[1].who), "4998");
    snprintf(vf[1].file, sizeof(vf[1].file), "stress-put-4998-18446744073709551615.bin");
    vf[1].offset = UINT64_MAX;
    memset(r, 0, sizeof(*r));
    r->target = "ftp://stress@ftp.example.org:2121/stress/run";
    r->clients = r->clients_requested = 5000;
    r->duration_s = 3600.25;
    r->seed = UINT64_MAX;
    r->st = &st;
    r->vfail = vf;
    r->nvfail = 2;
    r->unfinished = 4321;
    r->never_in = 4992;
    r->cpu_user_s = 3456.78;
    r->cpu_sys_s = 2345.67;
    r->peak_rss_kib = 12345678;
    r->exit_status = 8;
    r->mix = "login=1,get=4,put=2,list=1";
    r->size = "1024-4294967296";
    r->tls = 1;
    r->compress = 1;
    r->setup_error = "";
}

static char *text_of(const stress_result *r)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    ck_assert_ptr_nonnull(f);
    stress_report_text(f, r);
    fclose(f);
    return out;
}

static void assert_fits(const char *text)
{
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        ck_assert_msg(n <= 80, "a line of %zu columns:\n%.*s\nin:\n%s", n, (int)n, p, text);
        p = nl ? nl + 1 : p + n;
    }
}

/* The text with its line breaks and the indentation after them as single spaces: what a
 * line break moved must still be there. */
static char *joined(const char *text)
{
    char *j = malloc(strlen(text) + 1);
    size_t o = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '\n') {
            while (p[1] == ' ')
                p++;
            j[o++] = ' ';
        } else {
            j[o++] = *p;
        }
    }
    j[o] = '\0';
    return j;
}

START_TEST(test_big_run_fits)
{
    stress_result r;
    big_run(&r);
    char *text = text_of(&r);
    assert_fits(text);
    char *j = joined(text);
    static const char *must[] = {
        "ftpc stress ftp://stress@ftp.example.org:2121/stress/run: 5000 clients, 3600.25 s,",
        "seed 18446744073709551615, TLS, MODE Z",
        "mix login=1,get=4,put=2,list=1, size 1024-4294967296",
        "4938268 (1371.6/s); login 1234567 (12345 failed), get 1234567 (12345 "
        "failed), put 1234567 (12345 failed), list 1234567 (12345 failed)",
        "4321 cut off by the end of the run",
        "4992 of 5000 never logged in (refused, or not answered before the end)",
        "(3865470566400 bytes)",
        "(1932735283200 bytes)",
        "98765432",
        "754321.987",
        "421: 1234567, 530: 1234567, ECONNRESET: 1234567, EOF: 1234567, ETIMEDOUT: 1234567, "
        "EPROTO: 1234567",
        "421 Too many connections (8) from this IP, and the server will take no more now",
        "HASH busy 1234567 times (asked again later); 123456 uploads read back instead",
        "client 4999, file stress-fixture-0007-18446744073709551615.bin, offset 4194303",
        "client 4998, file stress-put-4998-18446744073709551615.bin: HASH differs",
        "1111111110 injected (123456789 ABOR, 987654321 dropped)",
        "CPU user 3456.78 s, sys 2345.67 s (161% of one core); peak RSS 12345678 KiB",
    };
    for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
        ck_assert_msg(strstr(j, must[i]) != NULL, "missing \"%s\" in:\n%s", must[i], text);
    free(j);
    free(text);
}
END_TEST

START_TEST(test_failed_set_up_fits)
{
    stress_result r;
    big_run(&r);
    r.no_run = true;
    r.setup_s = 31.5;
    r.setup_bytes = 123456789012;
    r.exit_status = 3;
    r.setup_error = "timed out after 30 s waiting for [2001:db8:1234:5678::42]:2121 (the reply "
                    "to AUTH TLS)";
    char *text = text_of(&r);
    assert_fits(text);
    char *j = joined(text);
    ck_assert_msg(strstr(j, "set-up failed  timed out after 30 s waiting for "
                            "[2001:db8:1234:5678::42]:2121 (the reply to AUTH TLS) (exit status "
                            "3; no client ran)") != NULL,
                  "%s", text);
    ck_assert_msg(strstr(j, "the set-up moved 123456789012 bytes") != NULL, "%s", text);
    free(j);
    free(text);
}
END_TEST

START_TEST(test_operations_out_of_the_mix_are_left_out_unless_they_ran)
{
    /* --mix login: "get 0 (0 failed), put 0 (0 failed), list 0 (0 failed)" said nothing */
    stress_result r;
    big_run(&r);
    unsigned weights[STRESS_OP_COUNT] = {0};
    weights[STRESS_OP_LOGIN] = 1;
    st.op_count[STRESS_OP_GET] = st.op_errors[STRESS_OP_GET] = 0;
    st.op_count[STRESS_OP_PUT] = st.op_errors[STRESS_OP_PUT] = 0;
    st.op_count[STRESS_OP_LIST] = 7; /* out of the mix, yet counted: shown */
    st.op_errors[STRESS_OP_LIST] = 0;
    r.mix = "login=1";
    r.mix_weights = weights;
    char *text = text_of(&r);
    char *j = joined(text);
    ck_assert_msg(strstr(j, "; login 1234567 (12345 failed), list 7 (0 failed) 4321 cut off") !=
                      NULL,
                  "%s", text);
    ck_assert_msg(strstr(j, "get 0") == NULL && strstr(j, "put 0") == NULL, "%s", text);
    /* and no file size: no file moves */
    ck_assert_msg(strstr(j, "mix login=1 operations") != NULL, "%s", text);
    free(j);
    free(text);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("stress_report");
    TCase *tc = tcase_create("text");
    tcase_add_test(tc, test_big_run_fits);
    tcase_add_test(tc, test_failed_set_up_fits);
    tcase_add_test(tc, test_operations_out_of_the_mix_are_left_out_unless_they_ran);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
