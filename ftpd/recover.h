/* Start-up recovery of uploads a dead server left behind. A server that is killed, crashes or
 * loses power leaves every upload it was receiving under its hidden temporary name, where no
 * SIZE, REST or APPE finds it. At start a background thread walks the homes of the accounts
 * that may upload, turns each such leftover into its target's resume point (upload.h,
 * upload_recover_stale) and logs what it recovered. Uploads of the running server are locked
 * and left alone, so sessions are served while it walks.
 */
#ifndef RECOVER_H
#define RECOVER_H

#include "users.h"

typedef struct recovery recovery;

/* Starts the walk over the homes of accounts with the w or a permission (anonymous sessions
 * cannot upload). Each home is walked from itself, so a home inside another is reached even
 * where the outer walk cannot go (another filesystem, a directory it may not read); a
 * directory reached twice (shared homes, bind mounts) is walked once. Returns NULL when
 * there is nothing to walk or the thread cannot start (that is logged; the server runs
 * without it). */
recovery *recovery_start(const ftpd_users *users);
/* Stops a walk still running, waits for its thread (a little: one stuck on a dead mount is
 * left to the process's exit) and frees it. NULL is fine. */
void recovery_stop(recovery *r);
/* Waits for the walk to finish (for tests). */
void recovery_wait(recovery *r);

#endif
