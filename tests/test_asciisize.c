/* asciisize: the count of a file as TYPE A sends it, and the cache of counts that SIZE and an
 * ASCII RETR's 150 share. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asciisize.h"

static const struct timespec later = {.tv_sec = 2000000000}; /* long after any key's ctime */

/* A file's stat as a key: one regular file, changed long ago. */
static struct stat key(ino_t ino)
{
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_mode = S_IFREG | 0644;
    st.st_dev = 7;
    st.st_ino = ino;
    st.st_size = 1000;
    st.st_mtim = (struct timespec){.tv_sec = 1700000000, .tv_nsec = 123456789};
    st.st_ctim = (struct timespec){.tv_sec = 1700000001, .tv_nsec = 987654321};
    return st;
}

START_TEST(test_hit_for_the_same_file_as_it_was)
{
    asciisize_cache c;
    ck_assert_int_eq(asciisize_cache_init(&c), 0);
    struct stat st = key(1);
    ck_assert_int_eq(asciisize_lookup(&c, &st), -1);
    ck_assert(asciisize_store(&c, &st, 1040, &later));
    ck_assert_int_eq(asciisize_lookup(&c, &st), 1040);
    ck_assert_int_eq(asciisize_lookup(&c, &st), 1040);
    /* A count of 0 (an empty file) is one too. */
    struct stat empty = key(2);
    empty.st_size = 0;
    ck_assert(asciisize_store(&c, &empty, 0, &later));
    ck_assert_int_eq(asciisize_lookup(&c, &empty), 0);
    asciisize_cache_free(&c);
}
END_TEST

START_TEST(test_miss_when_any_part_of_the_key_changed)
{
    asciisize_cache c;
    ck_assert_int_eq(asciisize_cache_init(&c), 0);
    struct stat st = key(1);
    ck_assert(asciisize_store(&c, &st, 1040, &later));
    struct stat other[7];
    for (int i = 0; i < 7; i++)
        other[i] = st;
    other[0].st_dev++;
    other[1].st_ino++;
    other[2].st_size++;
    other[3].st_mtim.tv_sec++;
    other[4].st_mtim.tv_nsec++; /* a write in the same second */
    other[5].st_ctim.tv_sec++;
    other[6].st_ctim.tv_nsec++; /* new bytes with the mtime set back: only the ctime tells */
    for (int i = 0; i < 7; i++)
        ck_assert_msg(asciisize_lookup(&c, &other[i]) == -1, "key change %d still hit", i);
    ck_assert_int_eq(asciisize_lookup(&c, &st), 1040);
    asciisize_cache_free(&c);
}
END_TEST

START_TEST(test_a_file_counted_again_replaces_its_entry)
{
    asciisize_cache c;
    ck_assert_int_eq(asciisize_cache_init(&c), 0);
    struct stat before = key(1), after = key(1);
    after.st_ctim.tv_sec += 60;
    ck_assert(asciisize_store(&c, &before, 1040, &later));
    ck_assert(asciisize_store(&c, &after, 1010, &later));
    ck_assert_int_eq(asciisize_lookup(&c, &after), 1010);
    ck_assert_int_eq(asciisize_lookup(&c, &before), -1);
    int entries = 0;
    for (size_t i = 0; i < ASCIISIZE_ENTRIES; i++)
        entries += c.e[i].used != 0;
    ck_assert_int_eq(entries, 1);
    asciisize_cache_free(&c);
}
END_TEST

START_TEST(test_bounded_and_the_least_recently_used_goes)
{
    asciisize_cache c;
    ck_assert_int_eq(asciisize_cache_init(&c), 0);
    for (ino_t i = 1; i <= ASCIISIZE_ENTRIES; i++) {
        struct stat st = key(i);
        ck_assert(asciisize_store(&c, &st, 1000 + (long long)i, &later));
    }
    for (ino_t i = 1; i <= ASCIISIZE_ENTRIES; i++) {
        struct stat st = key(i);
        ck_assert_int_eq(asciisize_lookup(&c, &st), 1000 + (long long)i);
    }
    struct stat first = key(1);
    ck_assert_int_eq(asciisize_lookup(&c, &first), 1001); /* used again: now the newest */
    /* Two more files: the two least recently used (2 and 3) give way, not 1. */
    for (ino_t i = ASCIISIZE_ENTRIES + 1; i <= ASCIISIZE_ENTRIES + 2; i++) {
        struct stat st = key(i);
        ck_assert(asciisize_store(&c, &st, 1000 + (long long)i, &later));
    }
    for (ino_t i = 1; i <= ASCIISIZE_ENTRIES + 2; i++) {
        struct stat st = key(i);
        long long want = i == 2 || i == 3 ? -1 : 1000 + (long long)i;
        ck_assert_msg(asciisize_lookup(&c, &st) == want, "file %lu", (unsigned long)i);
    }
    asciisize_cache_free(&c);
}
END_TEST

START_TEST(test_a_file_changed_just_before_its_count_is_not_kept)
{
    /* A change in the same tick of the filesystem's clock would keep every part of the key. */
    asciisize_cache c;
    ck_assert_int_eq(asciisize_cache_init(&c), 0);
    struct stat st = key(1);
    struct timespec at = st.st_ctim;
    ck_assert(!asciisize_store(&c, &st, 1040, &at));
    at.tv_sec += ASCIISIZE_SETTLE_S - 1;
    ck_assert(!asciisize_store(&c, &st, 1040, &at));
    ck_assert_int_eq(asciisize_lookup(&c, &st), -1);
    at.tv_sec += 1;
    ck_assert(asciisize_store(&c, &st, 1040, &at));
    ck_assert_int_eq(asciisize_lookup(&c, &st), 1040);
    /* Not a regular file, or no count: nothing kept. */
    struct stat dir = key(2);
    dir.st_mode = S_IFDIR | 0755;
    ck_assert(!asciisize_store(&c, &dir, 10, &later));
    struct stat failed = key(3);
    ck_assert(!asciisize_store(&c, &failed, -1, &later));
    asciisize_cache_free(&c);
}
END_TEST

static int temp_file(const char *data, size_t len)
{
    char path[] = "/tmp/test_asciisize.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    return fd;
}

START_TEST(test_count_converts_bare_lf_only)
{
    /* A CRLF split across the 32 KiB reads, bare LFs, a lone CR, a leading LF. */
    size_t len = 1 + 32766 + 2 + 13;
    char *data = malloc(len);
    ck_assert_ptr_nonnull(data);
    data[0] = '\n';
    memset(data + 1, 'x', 32766);
    memcpy(data + 32767, "\r\n", 2);
    memcpy(data + 32769, "unix\nlone\rcr\n", 13);
    int fd = temp_file(data, len);
    ck_assert_int_eq(asciisize_count(fd, 0, (off_t)len), (long long)len + 3);
    /* From a REST offset, the byte before it counts: between the CR and its LF, no CR. */
    ck_assert_int_eq(asciisize_count(fd, 32768, (off_t)len), (long long)(len - 32768) + 2);
    ck_assert_int_eq(asciisize_count(fd, 1, (off_t)len), (long long)(len - 1) + 2);
    ck_assert_int_eq(asciisize_count(fd, (off_t)len, (off_t)len), 0);
    /* Beyond the end (a file that shrank): as far as it goes. */
    ck_assert_int_eq(asciisize_count(fd, 0, (off_t)len + 100), (long long)len + 3);
    ck_assert_int_eq(asciisize_count(fd, (off_t)len + 50, (off_t)len + 100), 0);
    close(fd);
    free(data);
}
END_TEST

START_TEST(test_of_counts_once_then_answers_from_the_cache)
{
    asciisize_cache c;
    ck_assert_int_eq(asciisize_cache_init(&c), 0);
    int fd = temp_file("a\nb\nc\n", 6);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    /* Just written: counted, not kept. */
    ck_assert_int_eq(asciisize_of(&c, fd, &st), 9);
    ck_assert_int_eq(asciisize_lookup(&c, &st), -1);
    /* Written long ago (the key says so): kept, and then the file is not read again. */
    struct stat old = st;
    old.st_ctim.tv_sec -= 3600;
    ck_assert_int_eq(asciisize_of(&c, fd, &old), 9);
    ck_assert_int_eq(asciisize_lookup(&c, &old), 9);
    ck_assert_int_eq(ftruncate(fd, 0), 0);
    ck_assert_int_eq(asciisize_of(&c, fd, &old), 9);
    close(fd);
    ck_assert_int_eq(asciisize_of(&c, fd, &old), 9); /* not even open */
    /* Too large to count. */
    struct stat huge = key(9);
    huge.st_size = ASCIISIZE_MAX + 1;
    errno = 0;
    ck_assert_int_eq(asciisize_of(&c, -1, &huge), -1);
    ck_assert_int_eq(errno, EFBIG);
    asciisize_cache_free(&c);
}
END_TEST

/* The loop and the workers at once: lookups and stores from several threads, each of its own
 * files, never see another's count. Without the lock two stores into one entry would mix two
 * files' keys and counts now and then; ThreadSanitizer or Helgrind tell it every time. */
static asciisize_cache shared;

static void *hammer(void *arg)
{
    ino_t base = (ino_t)(uintptr_t)arg * 1000;
    for (int round = 0; round < 2000; round++) {
        struct stat st = key(base + (ino_t)(round % 100));
        long long want = (long long)st.st_ino * 3;
        long long got = asciisize_lookup(&shared, &st);
        if (got != -1 && got != want)
            return (void *)1;
        asciisize_store(&shared, &st, want, &later);
    }
    return NULL;
}

START_TEST(test_threads_share_it)
{
    ck_assert_int_eq(asciisize_cache_init(&shared), 0);
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, (void *)(i + 1)), 0);
    for (int i = 0; i < 4; i++) {
        void *rc;
        ck_assert_int_eq(pthread_join(t[i], &rc), 0);
        ck_assert_ptr_null(rc);
    }
    asciisize_cache_free(&shared);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("asciisize");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_hit_for_the_same_file_as_it_was);
    tcase_add_test(tc, test_miss_when_any_part_of_the_key_changed);
    tcase_add_test(tc, test_a_file_counted_again_replaces_its_entry);
    tcase_add_test(tc, test_bounded_and_the_least_recently_used_goes);
    tcase_add_test(tc, test_a_file_changed_just_before_its_count_is_not_kept);
    tcase_add_test(tc, test_count_converts_bare_lf_only);
    tcase_add_test(tc, test_of_counts_once_then_answers_from_the_cache);
    tcase_add_test(tc, test_threads_share_it);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
