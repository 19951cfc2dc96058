/* Check suite for ftpc/mlstopts: the OPTS MLST that turns on a UNIX.mode fact left off. */
#include <check.h>
#include <string.h>

#include "mirror_modes.h"
#include "mlstopts.h"

static bool opts(const char *facts, char *out, size_t size)
{
    strcpy(out, "untouched");
    return ftpc_mlst_opts(facts, strlen(facts), out, size);
}

START_TEST(test_mode_off_is_turned_on)
{
    char out[96];
    /* pyftpdlib's FEAT line: the facts ftpc reads, in its order, spelled as the server does */
    ck_assert(
        opts("type*;perm*;size*;modify*;unique*;unix.mode;unix.uid;unix.gid;", out, sizeof(out)));
    ck_assert_str_eq(out, "OPTS MLST type;size;modify;unix.mode;");
    ck_assert(opts("Type*;UNIX.MODE;Size;", out, sizeof(out)));
    ck_assert_str_eq(out, "OPTS MLST Type;Size;UNIX.MODE;");
    ck_assert(opts("type*;unix.mode", out, sizeof(out)));
    ck_assert_str_eq(out, "OPTS MLST type;unix.mode;");
}
END_TEST

START_TEST(test_nothing_to_ask)
{
    char out[96];
    /* already on (ftpd, ProFTPD, pure-ftpd), not offered, or no type to tell files by */
    ck_assert(!opts("type*;size*;modify*;perm*;unique*;UNIX.mode*;", out, sizeof(out)));
    ck_assert(!opts("type*;size*;modify*;", out, sizeof(out)));
    ck_assert(!opts("size*;unix.mode;", out, sizeof(out)));
    ck_assert(!opts("", out, sizeof(out)));
    /* a fact that only starts like one ftpc reads is another fact */
    ck_assert(!opts("type*;unix.modes;unix.mod;", out, sizeof(out)));
    ck_assert_str_eq(out, "untouched");
    /* too small a buffer: nothing written */
    ck_assert(!opts("type*;unix.mode;", out, 10));
    ck_assert_str_eq(out, "untouched");
}
END_TEST

START_TEST(test_mode_values)
{
    ck_assert_int_eq(ftpc_mode_from_fact("0755", 4), 0755);
    ck_assert_int_eq(ftpc_mode_from_fact("644", 3), 0644);
    ck_assert_int_eq(ftpc_mode_from_fact("0o750", 5), 0750); /* Python's oct() */
    ck_assert_int_eq(ftpc_mode_from_fact("0O600", 5), 0600);
    ck_assert_int_eq(ftpc_mode_from_fact("0o", 2), -1);
    ck_assert_int_eq(ftpc_mode_from_fact("0x755", 5), -1);
    ck_assert_int_eq(ftpc_mode_from_fact("o755", 4), -1);
}
END_TEST

static Suite *mlstopts_suite(void)
{
    Suite *s = suite_create("ftpc_mlstopts");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_mode_off_is_turned_on);
    tcase_add_test(tc, test_nothing_to_ask);
    tcase_add_test(tc, test_mode_values);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mlstopts_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
