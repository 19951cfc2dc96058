/* Accounts: the users file (`name:crypt-hash:home:perms`, one a line) and password checks.
 * Checking a hash is slow by design: call users_check_password() from a worker thread. */
#ifndef USERS_H
#define USERS_H

#include <stdbool.h>
#include <stddef.h>

/* pyftpdlib's permission letters. */
enum {
    PERM_CWD = 1 << 0,    /* e: change directory */
    PERM_LIST = 1 << 1,   /* l: list */
    PERM_READ = 1 << 2,   /* r: download */
    PERM_APPEND = 1 << 3, /* a: append / resume */
    PERM_DELETE = 1 << 4, /* d: delete */
    PERM_RENAME = 1 << 5, /* f: rename */
    PERM_MKDIR = 1 << 6,  /* m: make directory */
    PERM_WRITE = 1 << 7,  /* w: upload */
    PERM_TLS = 1 << 8,    /* S: not a permission but a policy: login and data only over TLS */
    PERM_MTIME = 1 << 9,  /* T: set a file's modification time (MFMT) */
    PERM_CHMOD = 1 << 10, /* M: change permission bits (SITE CHMOD) */
};
#define PERM_DEFAULT (PERM_CWD | PERM_LIST | PERM_READ)

typedef struct ftpd_user {
    char *name;
    char *hash; /* crypt(3) hash */
    char *home; /* absolute or relative to the users file's directory, resolved at load */
    unsigned perms;
} ftpd_user;

typedef struct ftpd_users {
    ftpd_user *v; /* in the file's order */
    size_t n;
    /* v's entries sorted by name, for users_find: a table of 100,000 accounts is looked up
     * per account when a SIGHUP compares the old and new tables. NULL in a table built by
     * hand, which users_find then reads in order. */
    const ftpd_user **by_name;
} ftpd_users;

/* Parses "elradfmwSTM" letters into *perms. Returns 0, or -1 on an unknown letter. */
int users_parse_perms(const char *s, unsigned *perms);
/* Writes the letters of perms into out (>= 12 bytes). */
void users_format_perms(unsigned perms, char *out);
/* Loads a users file; blank lines and '#' comments are skipped. Returns 0, or -1 with
 * "FILE:LINE: message" in err. */
int users_load(const char *path, ftpd_users *users, char *err, size_t err_size);
void users_free(ftpd_users *users);
const ftpd_user *users_find(const ftpd_users *users, const char *name);
/* "anonymous" and "ftp": the names of an anonymous login while anonymous access is on. */
bool users_is_anonymous_name(const char *name);
/* Checks password against hash with crypt_r(). A NULL hash still spends the time of a real
 * check (against a fixed dummy hash) and returns false, so unknown names cannot be told from
 * wrong passwords by timing. Thread-safe. */
bool users_check_password(const char *hash, const char *password);
/* Makes a SHA-512-crypt hash of password with a random salt into out. Returns 0 or -1. */
int users_hash_password(const char *password, char *out, size_t out_size);

#endif
