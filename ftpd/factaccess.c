#include "factaccess.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "listfmt.h"
#include "users.h"

/* Whether the server may; a kernel without faccessat2 (before Linux 5.8) refuses AT_EMPTY_PATH
 * with EINVAL, and there the user's letters alone decide, as they did before. */
static bool may(int fd, const char *name, int mode, int at_flags)
{
    return faccessat(fd, name, mode, AT_EACCESS | at_flags) == 0 || errno == EINVAL ||
           errno == ENOSYS;
}

unsigned factaccess_entry(int fd, const char *name, int at_flags, const struct stat *st,
                          unsigned perms)
{
    unsigned no = 0;
    if (S_ISDIR(st->st_mode)) {
        if ((perms & (PERM_CWD | PERM_LIST | PERM_WRITE | PERM_MKDIR | PERM_DELETE)) &&
            !may(fd, name, X_OK, at_flags))
            return LISTFMT_NO_SEARCH; /* nothing in it can be reached: the rest does not matter */
        if ((perms & PERM_LIST) && !may(fd, name, R_OK, at_flags))
            no |= LISTFMT_NO_READ;
        if ((perms & (PERM_WRITE | PERM_MKDIR | PERM_DELETE)) && !may(fd, name, W_OK, at_flags))
            no |= LISTFMT_NO_WRITE;
    } else if (S_ISREG(st->st_mode)) {
        if ((perms & (PERM_READ | PERM_APPEND)) && !may(fd, name, R_OK, at_flags))
            no |= LISTFMT_NO_READ;
        if ((perms & (PERM_WRITE | PERM_APPEND)) && !may(fd, name, W_OK, at_flags))
            no |= LISTFMT_NO_WRITE;
    }
    return no;
}

unsigned factaccess_names(int dir_fd, unsigned perms)
{
    if (!(perms & (PERM_WRITE | PERM_APPEND | PERM_DELETE | PERM_RENAME)))
        return 0;
    if (!may(dir_fd, "", W_OK | X_OK, AT_EMPTY_PATH))
        return LISTFMT_NO_NAMES;
    struct stat st;
    /* The kernel's rule for a sticky directory (/tmp): only the owner of a name, or of the
     * directory, may remove or replace it; root may always. */
    uid_t me = geteuid();
    if (me != 0 && fstat(dir_fd, &st) == 0 && (st.st_mode & S_ISVTX) && st.st_uid != me)
        return FACTACCESS_OWN_NAMES_ONLY;
    return 0;
}

unsigned factaccess_name(unsigned names, int dir_fd, const char *name, const struct stat *own)
{
    if (!(names & FACTACCESS_OWN_NAMES_ONLY))
        return names;
    struct stat st;
    if (own == NULL && fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        own = &st;
    return own != NULL && own->st_uid == geteuid() ? 0 : LISTFMT_NO_NAMES;
}
