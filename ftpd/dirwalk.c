#include "dirwalk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"

/* A directory of the walk, from the listed one (level 0) down. */
struct level {
    dirlist_names subdirs; /* the subdirectories it listed, to be entered in that order */
    size_t next;           /* offset in subdirs.names of the next one */
    size_t rel_len;        /* length of its path from the listed directory in w->rel */
};

struct dirwalk {
    const vfs *v;
    dirlist_format fmt;
    unsigned perms;
    bool show_hidden;
    char *vpath; /* the listed directory */
    char *shown; /* how LIST's headers name it */
    dirlist *top;
    dirlist *cur; /* the directory whose entries are being listed; NULL between two */
    struct level levels[DIRLIST_MAX_DEPTH + 1];
    int depth;           /* cur's level, or the deepest one still to be finished */
    char rel[PATH_VMAX]; /* that level's path from the listed directory: "" or "sub/dir" */
    unsigned budget;     /* entries that may still be listed */
    bool done;
    /* what was left out, for the reply (dirwalk_note) */
    bool cut_entries, cut_depth;
    unsigned unreadable;
    char first_unreadable[PATH_VMAX];
};

dirwalk *dirwalk_new(const vfs *v, const char *vpath, const char *shown, dirlist_format fmt,
                     unsigned perms, bool show_hidden)
{
    dirwalk *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->v = v;
    w->fmt = fmt;
    w->perms = perms;
    w->show_hidden = show_hidden;
    w->budget = DIRLIST_MAX_ENTRIES;
    /* "dir/" and "dir" head their subdirectories alike: "dir/sub:", as ls has it; and "/"
     * heads them "/sub:", the header's own slash the only one. */
    size_t slen = strlen(shown);
    while (slen > 0 && shown[slen - 1] == '/')
        slen--;
    if (!(w->vpath = strdup(vpath)) || !(w->shown = strndup(shown, slen)))
        goto fail;
    /* The listed directory itself is opened as the client named it, a link and all, as ls
     * follows a link named on its command line. */
    w->top = dirlist_open_entries(v, vpath, fmt, perms, show_hidden, NULL, &w->budget,
                                  &w->levels[0].subdirs, false);
    if (!w->top)
        goto fail;
    w->cur = w->top;
    return w;
fail:;
    int err = errno;
    dirwalk_free(w);
    errno = err;
    return NULL;
}

dirlist *dirwalk_top(dirwalk *w)
{
    return w->top;
}

/* How the reply names a directory: as LIST's header does, or as NLST names its entries. */
static void note_unreadable(dirwalk *w, const char *rel)
{
    if (w->unreadable++ > 0)
        return;
    if (w->fmt == DL_LIST)
        snprintf(w->first_unreadable, sizeof w->first_unreadable, "%s/%s", w->shown, rel);
    else
        snprintf(w->first_unreadable, sizeof w->first_unreadable, "%s", rel);
}

/* The current directory's entries are all listed: its own listing is done with. */
static void finish_current(dirwalk *w)
{
    if (dirlist_cut(w->cur)) {
        w->cut_entries = true;
        w->done = true;
    }
    if (w->cur == w->top)
        dirlist_drop_names(w->top); /* the handle stays open while the walk goes on */
    else
        dirlist_free(w->cur);
    w->cur = NULL;
    dirlist_names *sd = &w->levels[w->depth].subdirs;
    w->unreadable += sd->lost;
    sd->lost = 0;
}

static void leave_level(dirwalk *w)
{
    struct level *l = &w->levels[w->depth];
    free(l->subdirs.names);
    memset(l, 0, sizeof *l);
    w->depth--;
    if (w->depth >= 0)
        w->rel[w->levels[w->depth].rel_len] = '\0';
}

/* Starts on the next subdirectory to be listed: its header (LIST) goes into out. Returns 0
 * when one is opened or passed over, 1 when out has no room for its header (nothing
 * changed), -1 when the walk is over. */
static int enter_next(dirwalk *w, buf *out)
{
    while (w->depth >= 0) {
        struct level *l = &w->levels[w->depth];
        if (l->next >= l->subdirs.len) {
            leave_level(w);
            continue;
        }
        if (w->depth == DIRLIST_MAX_DEPTH) {
            w->cut_depth = true; /* these are a level too deep: none is entered */
            l->next = l->subdirs.len;
            continue;
        }
        if (w->budget == 0) { /* its header would be a line more than the limit allows */
            w->cut_entries = true;
            return -1;
        }
        const char *name = l->subdirs.names + l->next;
        size_t name_len = strlen(name);
        char rel[PATH_VMAX], vpath[PATH_VMAX], line[PATH_VMAX + 512];
        const char *sep = strcmp(w->vpath, "/") == 0 ? "" : "/";
        int n = w->fmt == DL_LIST
                    ? snprintf(line, sizeof line, "\r\n%s/%s%s%s:\r\n", w->shown, w->rel,
                               w->rel[0] ? "/" : "", name)
                    : snprintf(line, sizeof line, "%s%s%s/", w->rel, w->rel[0] ? "/" : "", name);
        if ((size_t)snprintf(rel, sizeof rel, "%s%s%s", w->rel, w->rel[0] ? "/" : "", name) >=
                sizeof rel ||
            (size_t)snprintf(vpath, sizeof vpath, "%s%s%s", w->vpath, sep, rel) >= sizeof vpath ||
            n < 0 || (size_t)n >= sizeof line) {
            /* a path too long to name: not listed, and the reply says so */
            l->next += name_len + 1;
            note_unreadable(w, name);
            continue;
        }
        if (w->fmt == DL_LIST && buf_append_all(out, line, (size_t)n) < 0)
            return 1;
        l->next += name_len + 1;
        /* NLST names each entry by its path from the listed directory, the name to fetch it
         * by; LIST's header says where its entries are. */
        dirlist *c = dirlist_open_entries(w->v, vpath, w->fmt, w->perms, w->show_hidden,
                                          w->fmt == DL_NLST ? line : NULL, &w->budget,
                                          &w->levels[w->depth + 1].subdirs, true);
        if (!c) {
            /* As ls: its header with no entries, and a word on it (here, in the reply). */
            note_unreadable(w, rel);
            continue;
        }
        w->depth++;
        w->levels[w->depth].rel_len = strlen(rel);
        memcpy(w->rel, rel, strlen(rel) + 1);
        w->cur = c;
        return 0;
    }
    return -1;
}

int dirwalk_fill(dirwalk *w, buf *out)
{
    for (;;) {
        if (w->cur) {
            if (dirlist_fill_entries(w->cur, out) != 0)
                return 1;
            finish_current(w);
        }
        if (w->done)
            return 0;
        int r = enter_next(w, out);
        if (r > 0)
            return 1;
        if (r < 0) {
            w->done = true;
            return 0;
        }
    }
}

bool dirwalk_note(const dirwalk *w, char *out, size_t size)
{
    if (!w->cut_entries && !w->cut_depth && !w->unreadable)
        return false;
    char entries[96] = "", depth[96] = "", unreadable[PATH_VMAX + 96] = "";
    if (w->cut_entries)
        snprintf(entries, sizeof entries, "cut short at %u entries", DIRLIST_MAX_ENTRIES);
    if (w->cut_depth)
        snprintf(depth, sizeof depth, "%sdirectories more than %d levels down not listed",
                 w->cut_entries ? "; " : "", DIRLIST_MAX_DEPTH);
    if (w->unreadable == 1 && w->first_unreadable[0])
        snprintf(unreadable, sizeof unreadable, "%s%s could not be read",
                 w->cut_entries || w->cut_depth ? "; " : "", w->first_unreadable);
    else if (w->unreadable)
        snprintf(unreadable, sizeof unreadable, "%s%u directories could not be read%s%s%s",
                 w->cut_entries || w->cut_depth ? "; " : "", w->unreadable,
                 w->first_unreadable[0] ? " (" : "", w->first_unreadable,
                 w->first_unreadable[0] ? " first)" : "");
    snprintf(out, size, "%s%s%s", entries, depth, unreadable);
    return true;
}

void dirwalk_free(dirwalk *w)
{
    if (!w)
        return;
    if (w->cur != w->top)
        dirlist_free(w->cur);
    dirlist_free(w->top);
    for (int i = 0; i <= DIRLIST_MAX_DEPTH; i++)
        free(w->levels[i].subdirs.names);
    free(w->vpath);
    free(w->shown);
    free(w);
}
