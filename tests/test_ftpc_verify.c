/* Check suite for ftpc/verify: the FEAT HASH line and the HASH reply parsers. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "verify.h"

START_TEST(test_feat_ftpd)
{
    ftpc_hash_feat f;
    ftpc_hash_feat_parse("Features:\nEPRT\nEPSV\nHASH SHA-256*;SHA-1;MD5;\nMDTM\nREST STREAM\nEnd",
                         &f);
    ck_assert(f.offered);
    ck_assert_uint_eq(f.algos, 7);
    ck_assert_int_eq(f.current, DIGEST_SHA256);
    ck_assert(!f.rang_listed);
    ck_assert_int_eq(ftpc_hash_choose(&f), DIGEST_SHA256);
}
END_TEST

START_TEST(test_feat_leading_space_and_star_elsewhere)
{
    /* RFC 2389 puts a space before each feature; the draft allows the star on any name. */
    ftpc_hash_feat f;
    ftpc_hash_feat_parse("Extensions supported:\n SIZE\n HASH SHA-1;MD5*\n RANG STREAM\nEND", &f);
    ck_assert(f.offered);
    ck_assert_uint_eq(f.algos, (1u << DIGEST_SHA1) | (1u << DIGEST_MD5));
    ck_assert_int_eq(f.current, DIGEST_MD5);
    ck_assert(f.rang_listed);
    /* No SHA-256 listed: SHA-1 is preferred to MD5. */
    ck_assert_int_eq(ftpc_hash_choose(&f), DIGEST_SHA1);
}
END_TEST

START_TEST(test_feat_absent_and_unknown)
{
    ftpc_hash_feat f;
    ftpc_hash_feat_parse("Features:\n SIZE\n HASHES x\n MDTM\nEnd", &f);
    ck_assert(!f.offered);
    ck_assert_int_eq(ftpc_hash_choose(&f), -1);
    ftpc_hash_feat_parse("Features:\n HASH CRC32*;SHA-512\nEnd", &f);
    ck_assert(f.offered);
    ck_assert_uint_eq(f.algos, 0);
    ck_assert_int_eq(f.current, -1);
    ck_assert_int_eq(ftpc_hash_choose(&f), -1);
    ftpc_hash_feat_parse("", &f);
    ck_assert(!f.offered);
}
END_TEST

START_TEST(test_reply_ok)
{
    ftpc_hash_reply r;
    const char *hex = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
    char text[256];
    snprintf(text, sizeof(text), "SHA-256 0-0 %s dir/a file.txt", hex);
    ck_assert_int_eq(ftpc_hash_reply_parse(text, &r), 0);
    ck_assert_int_eq(r.algo, DIGEST_SHA256);
    ck_assert_int_eq(r.first, 0);
    ck_assert_int_eq(r.last, 0);
    ck_assert_str_eq(r.hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    ck_assert_int_eq(
        ftpc_hash_reply_parse("MD5 1048576-2097151 d41d8cd98f00b204e9800998ecf8427e x", &r), 0);
    ck_assert_int_eq(r.algo, DIGEST_MD5);
    ck_assert_int_eq(r.first, 1048576);
    ck_assert_int_eq(r.last, 2097151);
    /* The path is optional. */
    ck_assert_int_eq(
        ftpc_hash_reply_parse("sha-1 0-9 da39a3ee5e6b4b0d3255bfef95601890afd80709", &r), 0);
    ck_assert_int_eq(r.algo, DIGEST_SHA1);
    /* ProFTPD's mod_digest: a line of its own first, the digest in the last line. */
    ck_assert_int_eq(ftpc_hash_reply_parse("Computing SHA-256 digest\nSHA-256 0-300000 "
                                           "bf0bcccfe8f112a5a70c6c9aab3b0c2c40207386ba280c8a0939"
                                           "293e721a10a8 h.bin",
                                           &r),
                     0);
    ck_assert_int_eq(r.algo, DIGEST_SHA256);
    ck_assert_int_eq(r.last, 300000);
    ck_assert_str_eq(r.hex, "bf0bcccfe8f112a5a70c6c9aab3b0c2c40207386ba280c8a0939293e721a10a8");
}
END_TEST

START_TEST(test_reply_bad)
{
    ftpc_hash_reply r;
    const char *bad[] = {
        "",
        "SHA-256",
        "SHA-256 0-9",
        "CRC32 0-9 12345678 f",
        "SHA-256 9-0 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 f",
        "SHA-256 0_9 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 f",
        "SHA-256 -1-9 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 f",
        /* the hex one digit short, one too long, not hex */
        "SHA-256 0-9 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85 f",
        "SHA-256 0-9 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555 f",
        "SHA-256 0-9 g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 f",
        "MD5 0-9 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 f",
        "SHA-256 0-99999999999999999999 "
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "Computing SHA-256 digest\nnot a digest either",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(ftpc_hash_reply_parse(bad[i], &r) < 0, "accepted: %s", bad[i]);
}
END_TEST

START_TEST(test_labels)
{
    ck_assert_str_eq(ftpc_hash_label(DIGEST_SHA256), "sha256");
    ck_assert_str_eq(ftpc_hash_label(DIGEST_SHA1), "sha1");
    ck_assert_str_eq(ftpc_hash_label(DIGEST_MD5), "md5");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ftpc_verify");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_feat_ftpd);
    tcase_add_test(tc, test_feat_leading_space_and_star_elsewhere);
    tcase_add_test(tc, test_feat_absent_and_unknown);
    tcase_add_test(tc, test_reply_ok);
    tcase_add_test(tc, test_reply_bad);
    tcase_add_test(tc, test_labels);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
