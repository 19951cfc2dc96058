/* Start-up recovery of uploads a dead server left behind, and expiry of old partials. A
 * server that is killed, crashes or loses power leaves every upload it was receiving under
 * its hidden temporary name, where no SIZE, REST or APPE finds it. At start a background
 * thread walks the homes of the accounts that may upload, turns each such leftover into its
 * target's resume point (upload.h, upload_recover_stale) and logs what it recovered. Uploads
 * of the running server are locked and left alone, so sessions are served while it walks.
 *
 * Partials nobody resumes would fill the disk of a long-running server: with a maximum age
 * (--partial-max-age) the same thread walks again every max-age / 24 (1 s to a day apart)
 * and removes the partials, and the leftovers, last written longer ago than that
 * (upload_expire_partial). A partial being resumed is under a temp name and locked, so it is
 * never removed.
 */
#ifndef RECOVER_H
#define RECOVER_H

#include "users.h"

typedef struct recovery recovery;

/* Starts the walk over the homes of accounts with the w or a permission (anonymous sessions
 * cannot upload). Each home is walked from itself, so a home inside another is reached even
 * where the outer walk cannot go (another filesystem, a directory it may not read); a
 * directory reached twice (shared homes, bind mounts) is walked once. max_age: seconds after
 * which an unwritten partial is removed, 0 for never (one walk, at start). Returns NULL when
 * there is nothing to walk (no home and no expiry) or the thread cannot start (that is
 * logged; the server runs without it). */
recovery *recovery_start(const ftpd_users *users, long long max_age);
/* The accounts read again (SIGHUP): the walks from the next one on go over their homes.
 * NULL r is fine. */
void recovery_set_homes(recovery *r, const ftpd_users *users);
/* Stops a walk still running, waits for its thread (a little: one stuck on a dead mount is
 * left to the process's exit) and frees it. NULL is fine. */
void recovery_stop(recovery *r);
/* Waits for the first walk to finish (for tests). */
void recovery_wait(recovery *r);

#endif
