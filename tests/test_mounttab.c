/* The mount table read to tell which file system a home lies on (ftpd/mounttab.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mounttab.h"

/* Lines as /proc/self/mountinfo has them: an NFS /home, a bind mount of one of its homes
 * elsewhere, a mount point with a space (\040), a FUSE mount under a home, a broken line. */
static const char TABLE[] =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "23 22 0:21 / /proc rw,nosuid shared:2 - proc proc rw\n"
    "40 22 0:45 / /home rw,relatime shared:20 - nfs4 srv:/home rw,vers=4.2\n"
    "41 22 0:45 /ann /srv/ftp/ann rw,relatime shared:20 - nfs4 srv:/home rw\n"
    "42 22 8:1 /data /srv/my\\040disk rw shared:1 - ext4 /dev/sda1 rw\n"
    "43 40 0:50 / /home/bob/fuse rw - fuse.slowfs slowfs rw\n"
    "garbage line\n"
    "44 22 8:2 / /mnt/new rw - ext4 /dev/sda2 rw\n"
    "45 22 8:3 / /mnt/new rw - ext4 /dev/sda3 rw";

START_TEST(test_longest_mount_point_names_the_device)
{
    mounttab t;
    ck_assert_int_eq(mounttab_parse(&t, TABLE), 0);
    ck_assert_uint_eq(t.n, 8);
    ck_assert_str_eq(mounttab_device(&t, "/home/ann"), "0:45");
    ck_assert_str_eq(mounttab_device(&t, "/home/ann/"), "0:45");
    /* A bind mount of the same file system: the same device. */
    ck_assert_str_eq(mounttab_device(&t, "/srv/ftp/ann/pub"), "0:45");
    /* A name that only starts like a mount point is not beneath it. */
    ck_assert_str_eq(mounttab_device(&t, "/homes/x"), "8:1");
    ck_assert_str_eq(mounttab_device(&t, "/srv/ftp/anna"), "8:1");
    ck_assert_str_eq(mounttab_device(&t, "/srv/my disk/u"), "8:1");
    ck_assert_str_eq(mounttab_device(&t, "/srv/my disk"), "8:1");
    ck_assert_str_eq(mounttab_device(&t, "/var/ftp"), "8:1");
    /* Of two mounts on one point, the later hides the earlier. */
    ck_assert_str_eq(mounttab_device(&t, "/mnt/new/x"), "8:3");
    ck_assert_str_eq(mounttab_device(&t, "/home/bob/fuse/a"), "0:50");
    /* Another mount lies beneath: its calls may reach either file system. */
    ck_assert_ptr_null(mounttab_device(&t, "/home/bob"));
    ck_assert_ptr_null(mounttab_device(&t, "/home"));
    ck_assert_ptr_null(mounttab_device(&t, "/"));
    ck_assert_ptr_null(mounttab_device(&t, "/srv"));
    mounttab_clear(&t);
    ck_assert_uint_eq(t.n, 0);
}
END_TEST

START_TEST(test_empty_and_unreadable)
{
    mounttab t;
    ck_assert_int_eq(mounttab_parse(&t, ""), 0);
    ck_assert_uint_eq(t.n, 0);
    ck_assert_ptr_null(mounttab_device(&t, "/home/ann"));
    mounttab_clear(&t);
    ck_assert_int_eq(mounttab_load(&t, "/nonexistent/mountinfo"), -1);
}
END_TEST

START_TEST(test_this_process_table)
{
    /* The real table has "/" at least: a home under /proc-less paths lies on some mount. */
    mounttab t;
    ck_assert_int_eq(mounttab_load(&t, "/proc/self/mountinfo"), 0);
    ck_assert_uint_gt(t.n, 0);
    ck_assert_ptr_nonnull(mounttab_device(&t, "/proc/self"));
    ck_assert_ptr_null(mounttab_device(&t, "/"));
    mounttab_clear(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mounttab");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_longest_mount_point_names_the_device);
    tcase_add_test(tc, test_empty_and_unreadable);
    tcase_add_test(tc, test_this_process_table);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
