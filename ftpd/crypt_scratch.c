#include "crypt_scratch.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CRYPT_SCRATCH_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define CRYPT_SCRATCH_OFF 1
#endif
#endif

/* Smaller mappings are not a hash's scratch (yescrypt's is 16 MiB at Debian's cost). */
#define SCRATCH_MIN_BYTES (1024 * 1024)

typedef struct scratch {
    /* volatile: set around a call into libxcrypt and read back from inside it, through
     * mmap(); the compiler must not drop the stores as dead. */
    volatile bool checking;
    bool lent; /* the region is handed out and not yet given back */
    void *region;
    size_t len;
} scratch;

static _Thread_local scratch t_scratch;
static atomic_ulong reuses;

void crypt_scratch_begin(void)
{
    t_scratch.checking = true;
}

void crypt_scratch_end(void)
{
    t_scratch.checking = false;
}

unsigned long crypt_scratch_reuses(void)
{
    return atomic_load(&reuses);
}

#ifdef CRYPT_SCRATCH_OFF

bool crypt_scratch_enabled(void)
{
    return false;
}

void crypt_scratch_release(void) {}

#else

static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static int sys_munmap(void *addr, size_t len)
{
    return (int)syscall(SYS_munmap, addr, len);
}

#define HUGE_PAGE (2u << 20)

/* Maps len bytes on a huge-page boundary and asks for huge pages. A worker gives its region
 * back when it goes idle, so the first check after a quiet spell maps it afresh: with 4 KiB
 * pages that was about 4,100 page faults, most of the check's 57 ms here, against 11 ms with
 * huge pages. */
static void *map_huge(size_t len, int prot, int flags)
{
    /* yescrypt asks for 16801856 bytes, not a whole number of pages; the tail to give back
     * must start on a page boundary or munmap() refuses it and 2 MiB of address space leaks. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    len = (len + page - 1) & ~(page - 1);
    size_t span = len + HUGE_PAGE;
    char *p = sys_mmap(NULL, span, prot, flags, -1, 0);
    if (p == MAP_FAILED)
        return p;
    char *start = (char *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (start > p)
        (void)sys_munmap(p, (size_t)(start - p));
    size_t tail = span - (size_t)(start - p) - len;
    if (tail > 0)
        (void)sys_munmap(start + len, tail);
    (void)madvise(start, len, MADV_HUGEPAGE); /* a hint: without it the pages are small */
    return start;
}

bool crypt_scratch_enabled(void)
{
    return true;
}

void crypt_scratch_release(void)
{
    scratch *s = &t_scratch;
    if (s->region == NULL || s->lent)
        return;
    (void)sys_munmap(s->region, s->len);
    s->region = NULL;
    s->len = 0;
}

static bool is_scratch_request(const scratch *s, void *addr, size_t len, int prot, int flags,
                               int fd, off_t off)
{
    return s->checking && !s->lent && addr == NULL && fd == -1 && off == 0 &&
           len >= SCRATCH_MIN_BYTES && prot == (PROT_READ | PROT_WRITE) &&
           flags == (MAP_PRIVATE | MAP_ANONYMOUS);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    scratch *s = &t_scratch;
    if (!is_scratch_request(s, addr, len, prot, flags, fd, off))
        return sys_mmap(addr, len, prot, flags, fd, off);
    if (s->region != NULL && s->len < len) {
        (void)sys_munmap(s->region, s->len);
        s->region = NULL;
        s->len = 0;
    }
    if (s->region == NULL) {
        void *p = map_huge(len, prot, flags);
        if (p == MAP_FAILED)
            return p;
        s->region = p;
        s->len = len;
    } else {
        atomic_fetch_add(&reuses, 1);
    }
    s->lent = true;
    return s->region;
}

int munmap(void *addr, size_t len)
{
    scratch *s = &t_scratch;
    if (s->lent && addr == s->region) {
        s->lent = false; /* kept for the next check; its contents are overwritten then */
        return 0;
    }
    return sys_munmap(addr, len);
}

#endif
