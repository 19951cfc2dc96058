#include "appendlock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct appendlock {
    dev_t dev;
    ino_t ino;
    appendlock *prev, *next;
    char name[]; /* the file's name in the directory */
};

appendlock *appendlock_take(appendlocks *set, dev_t dev, ino_t ino, const char *name)
{
    for (appendlock *l = set->head; l; l = l->next)
        if (l->dev == dev && l->ino == ino && strcmp(l->name, name) == 0) {
            errno = EBUSY;
            return NULL;
        }
    size_t len = strlen(name);
    appendlock *l = malloc(sizeof *l + len + 1);
    if (!l) {
        errno = ENOMEM;
        return NULL;
    }
    l->dev = dev;
    l->ino = ino;
    memcpy(l->name, name, len + 1);
    l->prev = NULL;
    l->next = set->head;
    if (set->head)
        set->head->prev = l;
    set->head = l;
    return l;
}

void appendlock_release(appendlocks *set, appendlock *lock)
{
    if (!lock)
        return;
    if (lock->prev)
        lock->prev->next = lock->next;
    else
        set->head = lock->next;
    if (lock->next)
        lock->next->prev = lock->prev;
    free(lock);
}

void appendlocks_free(appendlocks *set)
{
    while (set->head)
        appendlock_release(set, set->head);
}
