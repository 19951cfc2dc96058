/* Check suite for ftpd/dlslots: downloads beyond the limit wait in line and get free slots
 * first come first served; a holder that stops moving gives its slot up for good, one whose
 * long turn keeps others waiting goes to the back of the line; leaving, in line or with a
 * slot, keeps the books; no limit lets every download go. */
#include <check.h>
#include <stddef.h>

#include "dlslots.h"

#define N 6

typedef struct dl {
    dlslot sl;
    long long progress; /* last_progress, ms */
    int resumed;        /* resume callbacks */
} dl;

static dl dls[N];
static int resume_order[32];
static int resumes;

static void on_resume(void *owner)
{
    dl *d = owner;
    d->resumed++;
    if (resumes < (int)(sizeof resume_order / sizeof resume_order[0]))
        resume_order[resumes] = (int)(d - dls);
    resumes++;
}

static void setup(void)
{
    for (int i = 0; i < N; i++) {
        dls[i] = (dl){.sl = {.owner = &dls[i], .last_progress = &dls[i].progress}};
    }
    resumes = 0;
}

START_TEST(test_limit_and_fifo)
{
    dlslots d;
    dlslots_init(&d, 2, on_resume);
    ck_assert(dlslots_enter(&d, &dls[0].sl, 0));
    ck_assert(dlslots_enter(&d, &dls[1].sl, 0));
    ck_assert(!dlslots_enter(&d, &dls[2].sl, 0));
    ck_assert(!dlslots_enter(&d, &dls[3].sl, 0));
    ck_assert_int_eq(dls[2].sl.state, DLS_WAITING);
    ck_assert(dlslots_busy(&d));
    /* asking again changes nothing */
    ck_assert(dlslots_enter(&d, &dls[0].sl, 1));
    ck_assert(!dlslots_enter(&d, &dls[2].sl, 1));
    ck_assert_int_eq(d.active, 2);

    dlslots_leave(&d, &dls[1].sl, 5);
    ck_assert_int_eq(dls[1].sl.state, DLS_NONE);
    ck_assert_int_eq(resumes, 1);
    ck_assert_int_eq(resume_order[0], 2); /* first in line */
    ck_assert_int_eq(dls[2].sl.state, DLS_ACTIVE);
    ck_assert_int_eq(dls[2].sl.turn_start, 5);

    /* a newcomer queues behind those already in line, even with a slot free */
    dlslots_leave(&d, &dls[0].sl, 6); /* hands its slot to 3 */
    ck_assert_int_eq(resume_order[1], 3);
    ck_assert(!dlslots_busy(&d));
    ck_assert(!dlslots_enter(&d, &dls[4].sl, 7));
    dlslots_leave(&d, &dls[2].sl, 8);
    ck_assert_int_eq(resume_order[2], 4);
    ck_assert_int_eq(d.active, 2);
}
END_TEST

START_TEST(test_leave_while_waiting)
{
    dlslots d;
    dlslots_init(&d, 1, on_resume);
    ck_assert(dlslots_enter(&d, &dls[0].sl, 0));
    ck_assert(!dlslots_enter(&d, &dls[1].sl, 0));
    ck_assert(!dlslots_enter(&d, &dls[2].sl, 0));
    ck_assert(!dlslots_enter(&d, &dls[3].sl, 0));
    dlslots_leave(&d, &dls[2].sl, 1); /* from the middle of the line */
    dlslots_leave(&d, &dls[3].sl, 1); /* from its tail */
    ck_assert_int_eq(resumes, 0);
    dlslots_leave(&d, &dls[0].sl, 2);
    ck_assert_int_eq(resumes, 1);
    ck_assert_int_eq(resume_order[0], 1);
    ck_assert(!dlslots_busy(&d));
    ck_assert(!dlslots_enter(&d, &dls[5].sl, 3)); /* the tail was reset: 5 queues alone */
    dlslots_leave(&d, &dls[1].sl, 4);
    ck_assert_int_eq(resume_order[1], 5);
    dlslots_leave(&d, &dls[0].sl, 5); /* leaving twice is harmless */
    ck_assert_int_eq(d.active, 1);
}
END_TEST

START_TEST(test_stalled_holder_gives_up_its_slot)
{
    dlslots d;
    dlslots_init(&d, 1, on_resume);
    dls[0].progress = 100;
    ck_assert(dlslots_enter(&d, &dls[0].sl, 100));
    ck_assert(!dlslots_enter(&d, &dls[1].sl, 110));
    dlslots_tick(&d, 100 + DLSLOT_STALL_MS - 1);
    ck_assert_int_eq(resumes, 0);
    dlslots_tick(&d, 100 + DLSLOT_STALL_MS);
    ck_assert_int_eq(dls[0].sl.state, DLS_FREE);
    ck_assert_int_eq(dls[1].sl.state, DLS_ACTIVE);
    ck_assert_int_eq(resume_order[0], 1);
    /* a free runner keeps going without a slot, and its end frees nothing */
    ck_assert(dlslots_enter(&d, &dls[0].sl, 200));
    dlslots_leave(&d, &dls[0].sl, 201);
    ck_assert_int_eq(d.active, 1);
    /* a holder's stall counts from its turn, not from before it */
    dls[1].progress = 0;
    dlslots_tick(&d, 100 + DLSLOT_STALL_MS + 1);
    ck_assert_int_eq(dls[1].sl.state, DLS_ACTIVE);
}
END_TEST

START_TEST(test_long_turn_goes_to_the_back)
{
    dlslots d;
    dlslots_init(&d, 1, on_resume);
    ck_assert(dlslots_enter(&d, &dls[0].sl, 0));
    /* alone, a long turn goes on */
    dls[0].progress = DLSLOT_TURN_MS + 5;
    dlslots_tick(&d, DLSLOT_TURN_MS + 10);
    ck_assert_int_eq(dls[0].sl.state, DLS_ACTIVE);
    ck_assert(!dlslots_enter(&d, &dls[1].sl, DLSLOT_TURN_MS + 10));
    dls[0].progress = DLSLOT_TURN_MS + 15;
    dlslots_tick(&d, DLSLOT_TURN_MS + 20);
    ck_assert_int_eq(dls[0].sl.state, DLS_WAITING);
    ck_assert_int_eq(dls[1].sl.state, DLS_ACTIVE);
    ck_assert_int_eq(resume_order[0], 1);
    ck_assert(!dlslots_enter(&d, &dls[0].sl, DLSLOT_TURN_MS + 21));
    /* and it comes back when the other ends */
    dlslots_leave(&d, &dls[1].sl, DLSLOT_TURN_MS + 30);
    ck_assert_int_eq(dls[0].sl.state, DLS_ACTIVE);
    ck_assert_int_eq(resume_order[1], 0);
}
END_TEST

START_TEST(test_no_limit)
{
    dlslots d;
    dlslots_init(&d, 0, on_resume);
    for (int i = 0; i < N; i++)
        ck_assert(dlslots_enter(&d, &dls[i].sl, 0));
    ck_assert(!dlslots_busy(&d));
    dlslots_tick(&d, 100000);
    for (int i = 0; i < N; i++)
        dlslots_leave(&d, &dls[i].sl, 100001);
    ck_assert_int_eq(resumes, 0);
    ck_assert_int_eq(d.active, 0);
}
END_TEST

static Suite *dlslots_suite(void)
{
    Suite *s = suite_create("dlslots");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_limit_and_fifo);
    tcase_add_test(tc, test_leave_while_waiting);
    tcase_add_test(tc, test_stalled_holder_gives_up_its_slot);
    tcase_add_test(tc, test_long_turn_goes_to_the_back);
    tcase_add_test(tc, test_no_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dlslots_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
