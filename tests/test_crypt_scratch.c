/* The kept scratch region of password checks (ftpd/crypt_scratch.c), driven through
 * users_check_password() with a real yescrypt hash, and mappings that must not be touched. */
#include <check.h>
#include <crypt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "crypt_scratch.h"
#include "users.h"

/* A yescrypt hash of "s3cret" at libxcrypt's default cost, made once per run. */
static char g_hash[CRYPT_OUTPUT_SIZE];

static void make_hash(void)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    ck_assert_ptr_nonnull(crypt_gensalt_rn("$y$", 0, NULL, 0, setting, (int)sizeof(setting)));
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    ck_assert_ptr_nonnull(cd);
    const char *h = crypt_r("s3cret", setting, cd);
    ck_assert_ptr_nonnull(h);
    ck_assert_msg(h[0] == '$', "this libxcrypt cannot make yescrypt hashes: %s", h);
    strcpy(g_hash, h);
    free(cd);
}

START_TEST(test_checks_stay_correct_and_reuse)
{
    make_hash();
    unsigned long before = crypt_scratch_reuses();
    for (int i = 0; i < 3; i++) {
        ck_assert(users_check_password(g_hash, "s3cret"));
        ck_assert(!users_check_password(g_hash, "s3cref"));
    }
    unsigned long reused = crypt_scratch_reuses() - before;
    if (crypt_scratch_enabled())
        ck_assert_uint_eq(reused, 5); /* the first check maps, the other five reuse */
    else
        ck_assert_uint_eq(reused, 0);

    crypt_scratch_release();
    before = crypt_scratch_reuses();
    ck_assert(users_check_password(g_hash, "s3cret")); /* maps afresh after a release */
    ck_assert_uint_eq(crypt_scratch_reuses(), before);
    crypt_scratch_release();
}
END_TEST

/* Outside a check, and for anything that is not an anonymous read-write mapping inside one,
 * mmap() and munmap() behave as the kernel's. */
START_TEST(test_other_mappings_untouched)
{
    size_t len = 4u << 20;
    unsigned char *a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(a, MAP_FAILED);
    ck_assert_uint_eq(a[len - 1], 0);
    memset(a, 0xab, len);

    crypt_scratch_begin();
    unsigned char *b = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(b, MAP_FAILED);
    ck_assert_ptr_ne(b, a);
    ck_assert_uint_eq(b[0], 0); /* fresh zero pages, not a kept region */
    ck_assert_int_eq(munmap(b, len), 0);
    unsigned char *c = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *d = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(c, MAP_FAILED);
    ck_assert_ptr_ne(d, MAP_FAILED);
    ck_assert_ptr_ne(c, d); /* a second mapping inside a check is never the lent region */
    memset(c, 1, len);
    memset(d, 2, len);
    ck_assert_uint_eq(c[len / 2], 1);
    ck_assert_int_eq(munmap(d, len), 0);
    ck_assert_int_eq(munmap(c, len), 0);
    crypt_scratch_end();
    crypt_scratch_release();

    ck_assert_uint_eq(a[len / 2], 0xab);
    ck_assert_int_eq(munmap(a, len), 0);
    ck_assert_int_eq(munmap(NULL, 0), -1); /* errors still come from the kernel */
}
END_TEST

static void *check_on_thread(void *arg)
{
    bool *ok = arg;
    *ok = users_check_password(g_hash, "s3cret") && users_check_password(g_hash, "s3cret");
    crypt_scratch_release();
    return NULL;
}

/* The kept region starts on a huge-page boundary, where the kernel can back it with huge
 * pages: a fresh region then takes a few page faults instead of thousands. */
START_TEST(test_scratch_is_huge_page_aligned)
{
    if (!crypt_scratch_enabled())
        return;
    size_t len = 16u << 20;
    crypt_scratch_begin();
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    ck_assert_uint_eq((uintptr_t)p % (2u << 20), 0);
    memset(p, 0x5a, len); /* all of it is mapped and writable */
    ck_assert_int_eq(munmap(p, len), 0);
    crypt_scratch_end();
    crypt_scratch_release();
}
END_TEST

static long vm_size_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmSize: %ld kB", &kib) == 1)
            break;
    fclose(f);
    ck_assert_int_gt(kib, 0);
    return kib;
}

/* yescrypt's request is not a whole number of pages (16801856 bytes at Debian's cost). A
 * region mapped and given back again and again must leave the address space as it was. */
START_TEST(test_an_odd_sized_region_leaves_nothing_mapped)
{
    if (!crypt_scratch_enabled())
        return;
    size_t len = 16801856;
    long before = vm_size_kib();
    for (int i = 0; i < 8; i++) {
        crypt_scratch_begin();
        unsigned char *p =
            mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert_ptr_ne(p, MAP_FAILED);
        p[len - 1] = 1;
        ck_assert_int_eq(munmap(p, len), 0);
        crypt_scratch_end();
        crypt_scratch_release();
    }
    long grown = vm_size_kib() - before;
    ck_assert_msg(grown < 1024, "the address space grew by %ld KiB over 8 regions", grown);
}
END_TEST

/* Each thread keeps its own region: two checking at once must both be right. */
START_TEST(test_threads_keep_their_own)
{
    make_hash();
    pthread_t t[2];
    bool ok[2] = {false, false};
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, check_on_thread, &ok[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    ck_assert(ok[0]);
    ck_assert(ok[1]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("crypt_scratch");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_checks_stay_correct_and_reuse);
    tcase_add_test(tc, test_other_mappings_untouched);
    tcase_add_test(tc, test_threads_keep_their_own);
    tcase_add_test(tc, test_scratch_is_huge_page_aligned);
    tcase_add_test(tc, test_an_odd_sized_region_leaves_nothing_mapped);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
