/* PASV EPSV PORT EPRT REST RETR STOR STOU APPE LIST NLST MLSD ABOR. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands_int.h"
#include "dataarg.h"
#include "dirlist.h"
#include "fsgate.h"
#include "fsjob.h"
#include "ftps.h"
#include "log.h"
#include "logpath.h"
#include "net.h"
#include "ownfiles.h"
#include "path.h"
#include "server.h"
#include "workq.h"
#include "xfer.h"
#include "xfer_io.h"

/* The IPv4 address to announce in a 227 reply, or -1 for a session on IPv6: its passive
 * listener is IPv6 too, and no IPv4 address (--pasv-address included) would reach it. */
static int pasv_ipv4(session *s, const struct sockaddr_storage *bound, unsigned char out[4])
{
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)bound)->sin6_addr;
    bool mapped = bound->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(a6);
    if (bound->ss_family != AF_INET && !mapped)
        return -1;
    const char *cfg_addr = s->srv->cfg->pasv_address;
    struct in_addr a;
    if (cfg_addr && inet_pton(AF_INET, cfg_addr, &a) == 1) {
        memcpy(out, &a, 4);
        return 0;
    }
    if (mapped)
        memcpy(out, a6->s6_addr + 12, 4);
    else
        memcpy(out, &((const struct sockaddr_in *)bound)->sin_addr, 4);
    return 0;
}

/* The client is told; the operator is warned too (at most every 10 s, as a busy server can
 * fail many in a row), since a passive range too small for the load is theirs to widen. */
static void pasv_failed(session *s, int err)
{
    server *srv = s->srv;
    long long now = ev_now(srv->loop);
    if (srv->pasv_warned_ms == 0 || now - srv->pasv_warned_ms >= 10000) {
        srv->pasv_warned_ms = now;
        const ftpd_config *cfg = srv->cfg;
        if (cfg->pasv_first > 0)
            log_warn("cannot open a passive port: %s (--pasv-ports %d-%d; each data "
                     "connection being set up holds a port of that range)",
                     strerror(err), cfg->pasv_first, cfg->pasv_last);
        else
            log_warn("cannot open a passive port: %s", strerror(err));
    }
    session_reply(s, FTP_CANT_OPEN_DATA, "Cannot open passive port: %s.", strerror(err));
}

void cmd_pasv(session *s, const char *arg)
{
    if (s->flags & SF_EPSV_ALL) {
        session_reply(s, FTP_BAD_SEQUENCE, "EPSV ALL in effect: use EPSV.");
        return;
    }
    unsigned char ip[4];
    if (pasv_ipv4(s, &s->local, ip) < 0) {
        session_reply(s, FTP_CANT_OPEN_DATA, "PASV needs IPv4: use EPSV.");
        return;
    }
    xfer *x = xfer_pasv(s);
    if (!x) {
        pasv_failed(s, errno);
        return;
    }
    struct sockaddr_storage bound;
    net_local_addr(x->listen_fd, &bound);
    int port = net_port(&bound);
    session_reply(s, FTP_PASV_OK, "Entering Passive Mode (%u,%u,%u,%u,%d,%d).", ip[0], ip[1], ip[2],
                  ip[3], port >> 8, port & 0xff);
}

/* RFC 2428's number for the control connection's network protocol: 2 for IPv6, 1 for IPv4
 * (an IPv4 client on a dual-stack socket included). Data connections go to or come from the
 * control connection's peer, so this is the one protocol EPSV and EPRT can use. */
static int control_family(const session *s)
{
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&s->local;
    return s->local.ss_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr) ? 2 : 1;
}

void cmd_epsv(session *s, const char *arg)
{
    if (strcasecmp(arg, "ALL") == 0) {
        s->flags |= SF_EPSV_ALL;
        session_reply(s, FTP_CMD_OK, "EPSV ALL ok.");
        return;
    }
    int fam = control_family(s);
    if (arg[0] && strspn(arg, "0123456789") != strlen(arg)) {
        session_reply(s, FTP_ARG_SYNTAX_ERROR, "EPSV: bad argument.");
        return;
    }
    /* Any other number is a protocol we do not speak: RFC 2428 wants 522 and the list of
     * those we do, which is the one family the control connection's address allows. */
    if (arg[0] && !(arg[0] - '0' == fam && arg[1] == '\0')) {
        session_reply(s, FTP_EPSV_PROTO, "Network protocol not supported, use (%d).", fam);
        return;
    }
    xfer *x = xfer_pasv(s);
    if (!x) {
        pasv_failed(s, errno);
        return;
    }
    struct sockaddr_storage bound;
    net_local_addr(x->listen_fd, &bound);
    session_reply(s, FTP_EPSV_OK, "Entering Extended Passive Mode (|||%d|).", net_port(&bound));
}

/* A data target must be the client's own address and not a privileged port (RFC 2577). */
static void set_port_target(session *s, struct sockaddr_storage *target)
{
    /* The unspecified address names no host, and the only one the client can mean is its
     * own: lftp binds no address to its data socket on a loopback control connection, and
     * over IPv6 announces what that socket has (EPRT |2|::|port|). vsftpd goes along; a
     * refusal cost lftp users a reconnect before its fallback to passive mode. */
    if (net_is_unspecified(target)) {
        int port = net_port(target);
        *target = s->peer;
        net_set_port(target, port);
    }
    if (!net_same_host(target, &s->peer)) {
        session_log(s, "refused PORT/EPRT to a foreign address");
        session_reply(s, FTP_SYNTAX_ERROR, "Illegal PORT command: address is not yours.");
        return;
    }
    if (net_port(target) < 1024) {
        session_reply(s, FTP_SYNTAX_ERROR, "Illegal PORT command: port below 1024.");
        return;
    }
    if (!xfer_port(s, target)) {
        session_reply(s, FTP_LOCAL_ERROR, "Out of memory.");
        return;
    }
    session_reply(s, FTP_CMD_OK, "PORT command successful.");
}

/* An IPv4 client on a dual-stack socket is an IPv4-mapped IPv6 peer: the data connection
 * goes out from that socket's family, so its target is written the same way. */
static void match_control_family(const session *s, struct sockaddr_storage *target)
{
    if (target->ss_family != AF_INET || s->peer.ss_family != AF_INET6)
        return;
    struct sockaddr_in v4 = *(struct sockaddr_in *)target;
    memset(target, 0, sizeof *target);
    struct sockaddr_in6 *t6 = (struct sockaddr_in6 *)target;
    t6->sin6_family = AF_INET6;
    t6->sin6_port = v4.sin_port;
    t6->sin6_addr.s6_addr[10] = 0xff;
    t6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&t6->sin6_addr.s6_addr[12], &v4.sin_addr, 4);
}

void cmd_port(session *s, const char *arg)
{
    if (s->flags & SF_EPSV_ALL) {
        session_reply(s, FTP_BAD_SEQUENCE, "EPSV ALL in effect: use EPSV.");
        return;
    }
    struct sockaddr_storage target;
    if (dataarg_port(arg, &target) != DATAARG_OK) {
        session_reply(s, FTP_ARG_SYNTAX_ERROR, "PORT: expected h1,h2,h3,h4,p1,p2 (each 0-255).");
        return;
    }
    /* An IPv4 address is never an IPv6 client's own: said as for PASV, not logged as a
     * PORT to a foreign address (a bounce attempt) when it is only the wrong command. */
    if (control_family(s) == 2) {
        session_reply(s, FTP_SYNTAX_ERROR, "Illegal PORT command: PORT needs IPv4, use EPRT.");
        return;
    }
    match_control_family(s, &target);
    set_port_target(s, &target);
}

void cmd_eprt(session *s, const char *arg)
{
    if (s->flags & SF_EPSV_ALL) {
        session_reply(s, FTP_BAD_SEQUENCE, "EPSV ALL in effect: use EPSV.");
        return;
    }
    struct sockaddr_storage target;
    /* RFC 2428: a protocol the server cannot use gets 522 and the ones it can, which is the
     * control connection's alone (an address of the other family is never the client's
     * own). A client told so can retry with that one; a 500 would leave it nowhere. */
    int fam = control_family(s);
    switch (dataarg_eprt(arg, &target)) {
    case DATAARG_PROTO:
        session_reply(s, FTP_EPSV_PROTO, "Network protocol not supported, use (%d).", fam);
        return;
    case DATAARG_SYNTAX:
        session_reply(s, FTP_ARG_SYNTAX_ERROR,
                      "EPRT: expected |1|IPv4 address|port| or "
                      "|2|IPv6 address|port|.");
        return;
    case DATAARG_OK:
        break;
    }
    if ((target.ss_family == AF_INET6 ? 2 : 1) != fam) {
        session_reply(s, FTP_EPSV_PROTO, "Network protocol not supported, use (%d).", fam);
        return;
    }
    match_control_family(s, &target);
    set_port_target(s, &target);
}

void cmd_rest(session *s, const char *arg)
{
    char *end;
    errno = 0;
    /* digits only: strtoll would also take blanks, a sign, "-0" */
    long long v = isdigit((unsigned char)arg[0]) ? strtoll(arg, &end, 10) : -1;
    if (v < 0 || errno || *end) {
        session_reply(s, FTP_ARG_SYNTAX_ERROR, "REST: expected a byte offset.");
        return;
    }
    s->rest = (off_t)v;
    session_reply(s, FTP_PENDING_MORE, "Restarting at %lld. Send STOR or RETR.", v);
}

/* The byte count ALLO announced for this upload, or -1: it is for the next one only, which
 * takes it even when it fails (any other line drops it: commands_dispatch). */
static long long take_allo(session *s)
{
    long long v = s->allo_set ? s->allo : -1;
    s->allo_set = false;
    return v;
}

/* The data channel a transfer command needs, or a 425 reply. */
static xfer *need_channel(session *s)
{
    const char *refusal = ftps_data_refusal(s);
    if (refusal) {
        session_reply(s, FTP_PROT_NEEDED, "%s", refusal);
        return NULL;
    }
    if (!s->xfer || xfer_busy(s->xfer)) {
        session_reply(s, FTP_CANT_OPEN_DATA, "Use PORT, PASV or EPSV first.");
        return NULL;
    }
    return s->xfer;
}

static int set_vpath(xfer *x, const char *vpath)
{
    free(x->vpath);
    x->vpath = strdup(vpath);
    return x->vpath ? 0 : -1;
}

/* A job that opens the path of the transfer data channel x is to carry. */
static fsjob *opening_job(session *s, const xfer *x, const char *vpath, const char *arg)
{
    fsjob *j = fsjob_new(s, vpath, arg);
    if (j) {
        j->xfer_seq = x->seq;
        j->opens_transfer = true;
    }
    return j;
}

/* TYPE A: found becomes the bytes the download will send, for its 150, or -1 when not told
 * (a file too large to count, or unreadable: the download's own reads find that out). Only
 * work on a worker may count them: false when the count would have to be made on the loop. */
static bool retr_ascii_size(fsjob *j, bool may_read)
{
    j->found = -1;
    if (!j->ascii || j->rc < 0 || !S_ISREG(j->st.st_mode) || j->rest > j->st.st_size ||
        j->st.st_size > ASCIISIZE_MAX)
        return true;
    if (j->rest == 0 && (j->found = asciisize_lookup(j->ascii_sizes, &j->st)) >= 0)
        return true;
    if (j->ascii_sizes == NULL)
        return true; /* a remote root: no count read first (asciisize.h) */
    if (!may_read)
        return false;
    /* From a REST offset: not the whole file's, so not one to keep. */
    j->found = j->rest == 0 ? asciisize_of(j->ascii_sizes, j->fd, &j->st)
                            : asciisize_count(j->fd, j->rest, j->st.st_size);
    return true;
}

static void retr_work(fsjob *j)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused in the reply. */
    j->fd = vfs_open(&j->v, j->vpath, O_RDONLY | O_NONBLOCK, 0);
    j->rc = j->fd < 0 ? -1 : fstat(j->fd, &j->st);
    j->err = errno;
    retr_ascii_size(j, j->on_worker);
}

static bool retr_fast(fsjob *j)
{
    j->fd = vfs_open_cached(&j->v, j->vpath, O_RDONLY | O_NONBLOCK);
    if (j->fd < 0 && errno == EAGAIN)
        return false;
    j->rc = j->fd < 0 ? -1 : fstat(j->fd, &j->st);
    j->err = errno;
    if (retr_ascii_size(j, false))
        return true;
    close(j->fd); /* the worker opens it again, and counts */
    j->fd = -1;
    return false;
}

static void retr_reply(session *s, fsjob *j)
{
    xfer *x = s->xfer;
    if (!x || x->seq != j->xfer_seq || xfer_busy(x)) {
        /* The data channel ended while the file was being opened. */
        session_reply(s, FTP_CANT_OPEN_DATA, "Data connection lost; use PORT, PASV or EPSV.");
        return;
    }
    if (refused_own_file(s, j->rc, &j->st, "RETR", j->arg))
        return;
    /* As for an upload (upload_failed): a download refused before any data moved has no
     * transfer line, and the operator learns from this one what was refused and why. */
    char shown[LOG_PATH_BUF];
    if (j->rc < 0) {
        session_log(s, "RETR %s refused: %s", log_path(j->vpath, shown, sizeof shown),
                    strerror(j->err));
        reply_errno(s, j->err, "RETR", j->arg);
        return;
    }
    if (!S_ISREG(j->st.st_mode)) {
        session_log(s, "RETR %s refused: not a regular file",
                    log_path(j->vpath, shown, sizeof shown));
        reply_named(s, FTP_FILE_UNAVAILABLE, "RETR", j->arg, "Not a regular file.");
        return;
    }
    if (j->rest > j->st.st_size) {
        session_reply(s, FTP_BAD_REST, "Invalid REST parameter: beyond the end of the file.");
        return;
    }
    if (set_vpath(x, j->vpath) < 0) {
        session_reply(s, FTP_LOCAL_ERROR, "Out of memory.");
        return;
    }
    x->kind = XK_RETR;
    x->file_fd = j->fd;
    j->fd = -1;
    x->offset = j->rest;
    x->rest = j->rest;
    x->total = j->st.st_size;
    x->ascii_total = j->found;
    xfer_start(x);
}

void cmd_retr(session *s, const char *arg)
{
    char vpath[PATH_VMAX];
    off_t rest = s->rest;
    s->rest = 0;
    xfer *x = need_channel(s);
    if (!x || session_resolve(s, arg, vpath) < 0)
        return;
    fsjob *j = opening_job(s, x, vpath, arg);
    if (!j)
        return;
    j->rest = rest;
    /* In TYPE A its 150 tells the bytes it sends, which may take reading the file. */
    j->ascii = j->long_work = (s->flags & SF_ASCII) != 0;
    j->fast = retr_fast;
    fsjob_run(j, retr_work, retr_reply);
}

/* verb is the command the client sent (STOR, APPE, STOU), and vpath the file. */
static void upload_failed(session *s, int err, const char *verb, const char *vpath,
                          upload_mode mode)
{
    if (err == OWNFILES_REFUSED) { /* logged there, without an errno's words */
        reply_errno(s, err, verb, vpath);
        return;
    }
    /* Only a restart has a REST offset to blame: EINVAL elsewhere is some other fault. */
    bool bad_rest = err == EINVAL && mode == UPLOAD_RESTART;
    bool other = err == UPLOAD_OTHER_PARTIAL;
    bool changed = err == UPLOAD_CHANGED;
    /* An upload refused before its data came has no transfer line: without this one the
     * operator of a server whose uploads fail (a folder the server's user cannot write, a
     * full disk) would find nothing in the log but the logins. */
    char shown[LOG_PATH_BUF];
    session_log(s, "%s %s refused: %s", verb, log_path(vpath, shown, sizeof shown),
                bad_rest  ? "REST beyond what was uploaded"
                : other   ? "REST at the file's size, but the interrupted upload kept for it "
                            "begins with other bytes"
                : changed ? "the file or the interrupted upload kept for it was cut short while "
                            "they were compared"
                          : strerror(err));
    if (bad_rest)
        session_reply(s, FTP_BAD_REST, "Invalid REST parameter: beyond what was uploaded.");
    else if (other) /* 5xx: the same REST would meet the same bytes again */
        session_reply(s, FTP_BAD_REST,
                      "Invalid REST parameter: %s holds other bytes than the interrupted upload "
                      "kept for it; send the file whole (STOR without REST).",
                      vpath);
    else if (changed) /* 4xx: a fresh SIZE (and HASH) may well resume */
        session_reply(s, FTP_LOCAL_ERROR,
                      "%s: %s changed while the interrupted upload kept for it was compared "
                      "with it; try again.",
                      verb, vpath);
    else if (err == EISDIR)
        reply_named(s, FTP_FILE_UNAVAILABLE, verb, vpath, "Is a directory.");
    else if (err == EBUSY) /* its resume point is being moved: a moment's wait (upload.h) */
        session_reply(s, FTP_FILE_BUSY, "%s: In use right now; try again.", verb);
    else
        reply_errno(s, err, verb, vpath);
}

/* verb: STOR, APPE or STOU, a string literal; a STOU's 150 names the file it chose (RFC 1123
 * 4.1.2.9). */
static void upload_ready(session *s, xfer *x, const char *verb)
{
    x->uploading = true;
    x->unique = strcmp(verb, "STOU") == 0;
    x->verb = verb;
    x->kind = XK_STOR;
    x->offset = x->up.offset;
    x->total = -1;
    xfer_start(x);
}

/* Resuming or appending starts from a copy of what exists, which for a large file takes long
 * enough to belong on a worker; the session holds its input meanwhile. So does creating a
 * new file on a disk that may be slow to answer (fsjob.h). The copy runs in slices
 * of PREPARE_SLICE bytes, one job each, the next queued from the loop when the last reports:
 * password checks queued behind it wait for a slice, not for a whole file (two APPEs onto
 * 3 GiB files held a login for 16 s when each copy was one job). */
#define PREPARE_SLICE (16 * 1024 * 1024) /* ~5-20 ms of copying */

typedef struct prepare_job {
    session *s;
    unsigned long xfer_seq;
    vfs v; /* a duplicate of the session's root, valid even if the session closes */
    char *vpath;
    const char *verb; /* a string literal: STOR or APPE */
    upload_mode mode;
    off_t rest;
    upload up;
    bool begun;     /* upload_begin_staged has succeeded: up is open */
    bool cancelled; /* ABOR came: no further slice, the upload gets 426 */
    /* An APPE or a resumed STOR takes the append lock of its name (take_append_lock) before
     * it begins: the worker looks up the name's directory (on a slow disk that may wait),
     * the loop then takes the lock (the lock set is the loop's). */
    bool keying;    /* that lookup is the job's next step */
    bool key_found; /* the directory was found: dev and ino, the name at vpath + base_at */
    dev_t dev;
    ino_t ino;
    size_t base_at;
    int rc; /* -1 failed (err), 0 more to copy, 1 ready, 2 the name's directory looked up */
    int err;
} prepare_job;

/* The key of the append lock on vpath's name: its directory's device and inode, and the name.
 * false when the path has no parent to key it by (upload_begin meets the same fault and
 * names it). */
static bool name_key(const vfs *v, const char *vpath, dev_t *dev, ino_t *ino, size_t *base_at)
{
    const char *base;
    int dfd = vfs_open_parent(v, vpath, &base);
    if (dfd < 0)
        return false;
    struct stat st;
    bool found = fstat(dfd, &st) == 0;
    close(dfd);
    if (found) {
        *dev = st.st_dev;
        *ino = st.st_ino;
        *base_at = (size_t)(base - vpath);
    }
    return found;
}

static void prepare_fn(void *arg)
{
    prepare_job *j = arg;
    if (j->keying) {
        j->key_found = name_key(&j->v, j->vpath, &j->dev, &j->ino, &j->base_at);
        j->rc = 2;
        return;
    }
    if (!j->begun) {
        if (upload_begin_staged(&j->up, &j->v, j->vpath, j->mode, j->rest, j->s->id) < 0) {
            j->rc = -1;
            j->err = errno;
            return;
        }
        j->begun = true;
    }
    j->rc = upload_copy_step(&j->up, PREPARE_SLICE);
    if (j->rc < 0) {
        j->err = errno;
        upload_abort(&j->up, false);
        j->begun = false;
    }
}

static void free_prepare(prepare_job *j)
{
    vfs_close(&j->v);
    free(j->vpath);
    free(j);
}

/* At shutdown the worker pool drops jobs without delivering them; a prepared upload is kept
 * as a partial, as for any upload cut short. */
void session_discard_prepare(session *s)
{
    prepare_job *j = s->prepare;
    if (!j)
        return;
    if (j->begun)
        upload_abort(&j->up, true);
    free_prepare(j);
    s->prepare = NULL;
}

void session_cancel_prepare(session *s)
{
    if (s->prepare)
        s->prepare->cancelled = true; /* prepare_done acts on it, on this thread */
}

static void drop_append_lock(xfer *x)
{
    appendlock_release(&x->s->srv->append_locks, x->append_lock);
    x->append_lock = NULL;
}

/* Takes the transfer's append lock on the name base in the directory (dev, ino)
 * (appendlock.h). Returns 0, or -1 with errno EBUSY (another upload holds it) or ENOMEM. */
static int lock_name(session *s, dev_t dev, ino_t ino, const char *base)
{
    xfer *x = s->xfer;
    drop_append_lock(x);
    x->append_lock = appendlock_take(&s->srv->append_locks, dev, ino, base);
    return x->append_lock ? 0 : -1;
}

/* An APPE or a resumed STOR builds on the file's present bytes: a second one onto the same
 * file at once would lose the first one's bytes when it renames its copy over the file.
 * Returns 0, or -1 with the refusal sent. */
static int take_append_lock(session *s, const prepare_job *j)
{
    if (!j->key_found || lock_name(s, j->dev, j->ino, j->vpath + j->base_at) == 0)
        return 0;
    if (errno == EBUSY)
        session_reply(s, FTP_FILE_BUSY,
                      "%s: %s is being appended to, resumed or created (STOU) by another "
                      "upload; try again when it ends.",
                      j->verb, j->vpath);
    else
        session_reply(s, FTP_LOCAL_ERROR, "Out of memory.");
    return -1;
}

static void prepare_done(void *arg)
{
    prepare_job *j = arg;
    session *s = j->s;
    bool ours = s->state != SESS_CLOSED && s->xfer && s->xfer->seq == j->xfer_seq;
    if (ours && j->cancelled) {
        s->jobs--;
        s->prepare = NULL;
        drop_append_lock(s->xfer);
        bool comparing = j->begun && j->up.cmp_fd >= 0;
        if (j->begun) /* a claimed partial stays; a bare copy is dropped */
            server_close_later(s->srv, upload_abort_detach(&j->up, true));
        char shown[LOG_PATH_BUF];
        session_log(s, "%s %s aborted by the client (ABOR) while its file was being %s", j->verb,
                    log_path(j->vpath, shown, sizeof shown),
                    comparing                                           ? "compared"
                    : j->mode == UPLOAD_NEW || j->mode == UPLOAD_UNIQUE ? "created"
                                                                        : "copied");
        session_reply(s, FTP_TRANSFER_ABORTED, "%s aborted.", j->verb);
        s->flags |= SF_ABOR_DONE; /* the ABOR, still to run, did abort something */
        free_prepare(j);
        session_resume(s);
        return;
    }
    if (ours && j->rc == 2) {
        j->keying = false;
        if (take_append_lock(s, j) < 0) {
            s->jobs--;
            s->prepare = NULL;
            s->flags &= ~SF_READ_PAUSED;
            free_prepare(j);
            session_resume_after_job(s);
            return;
        }
        j->rc = 0; /* the upload begins in the next step */
    }
    if (ours && j->rc == 0) {
        /* More to do: the client is waiting, not idle. */
        s->last_activity = ev_now(s->srv->loop);
        if (workq_submit(server_work_queue(s->srv), prepare_fn, prepare_done, j) == 0)
            return;
        j->err = errno;
        j->rc = -1;
        if (j->begun)
            upload_abort(&j->up, false);
        j->begun = false;
    }
    s->jobs--;
    s->prepare = NULL;
    s->flags &= ~SF_READ_PAUSED; /* the prepare's own wait (session_resume_after_job) */
    if (j->rc == 1 && ours) {
        s->xfer->up = j->up;
        upload_ready(s, s->xfer, j->verb);
    } else if (j->begun) {
        if (j->rc == 0)
            log_info("[%lu] %s %s: the %s of the existing file stopped at %jd of %jd bytes: "
                     "the session or its data channel has gone",
                     s->id, j->verb, j->vpath, j->up.cmp_fd >= 0 ? "comparison" : "copy",
                     (intmax_t)j->up.copied, (intmax_t)j->up.offset);
        /* the channel went away meanwhile: keep what was there */
        server_close_later(s->srv, upload_abort_detach(&j->up, true));
    } else if (ours) {
        drop_append_lock(s->xfer);
        upload_failed(s, j->err, j->verb, j->vpath, j->mode);
    }
    free_prepare(j);
    session_resume_after_job(s);
}

/* verb: the command being served, a string literal (it outlives a worker's job). */
static void start_upload(session *s, const char *verb, const char *vpath, upload_mode mode,
                         off_t rest)
{
    xfer *x = s->xfer;
    if (set_vpath(x, vpath) < 0) {
        drop_append_lock(x); /* a STOU's hold on its name */
        session_reply(s, FTP_LOCAL_ERROR, "Out of memory.");
        return;
    }
    bool fresh = mode == UPLOAD_NEW || mode == UPLOAD_UNIQUE;
    if (fresh && s->vfs.speed == VFS_MEMORY) { /* creating an empty file there never waits */
        if (upload_begin(&x->up, &s->vfs, vpath, mode, rest, s->id) < 0) {
            drop_append_lock(x); /* a STOU's hold on its name */
            upload_failed(s, errno, verb, vpath, mode);
        } else {
            upload_ready(s, x, verb);
        }
        return;
    }
    prepare_job *j = calloc(1, sizeof *j);
    if (j) {
        j->v.root_fd = fcntl(s->vfs.root_fd, F_DUPFD_CLOEXEC, 0);
        j->vpath = strdup(vpath);
    }
    if (!j || j->v.root_fd < 0 || !j->vpath) {
        if (j)
            free_prepare(j);
        drop_append_lock(x);
        session_reply(s, FTP_LOCAL_ERROR, "Out of resources.");
        return;
    }
    j->s = s;
    j->xfer_seq = x->seq;
    j->verb = verb;
    j->mode = mode;
    j->rest = rest;
    j->keying = !fresh;
    /* A new file's creation is part of moving data, not background work: the io pool. */
    workq *q = fresh ? xfer_io_queue(s->srv) : NULL;
    /* The io pool's jobs take turns per home (fsgate.h); the background pools' copies may
     * wait for an idle CPU long enough to look like a home that does not answer. */
    if ((q ? fsgate_submit(s->srv, s->root, q, prepare_fn, prepare_done, j, NULL)
           : workq_submit(server_work_queue(s->srv), prepare_fn, prepare_done, j)) < 0) {
        free_prepare(j);
        drop_append_lock(x);
        session_reply(s, FTP_LOCAL_ERROR, "Cannot start the upload now.");
        return;
    }
    s->jobs++;
    s->prepare = j;
    s->flags |= SF_READ_PAUSED;
}

static void dir_form_work(fsjob *j)
{
    j->rc = vfs_stat(&j->v, j->vpath, &j->st);
}

static bool dir_form_fast(fsjob *j)
{
    int fd = vfs_open_cached(&j->v, j->vpath, O_PATH);
    if (fd < 0 && errno == EAGAIN)
        return false;
    j->rc = fd < 0 ? -1 : fstat(fd, &j->st);
    if (fd >= 0)
        close(fd);
    return true;
}

/* A "name/" that names a file has had its 550 (fsjob.h). */
static void dir_form_reply(session *s, fsjob *j)
{
    const char *last = strrchr(j->arg, '/');
    last = last ? last + 1 : j->arg;
    if (j->rc == 0 && S_ISDIR(j->st.st_mode))
        session_reply(s, FTP_FILE_UNAVAILABLE, "%s: Is a directory.", j->arg);
    else if (last[0] == '\0')
        session_reply(s, FTP_BAD_FILENAME, "%s: A file name cannot end in '/'.", j->arg);
    else
        session_reply(s, FTP_BAD_FILENAME, "%s: Not a valid file name.", j->arg);
}

/* Resolves the file an upload names. path_resolve() drops a trailing '/' and folds "." and
 * "..", so without this "name/" would quietly create a file "name" (or replace one), and "/"
 * or "." would reach upload_begin as a path with no file name at all. Each names a
 * directory, never a file: -1, and the refusal, which says whether it is one (a stat, which
 * may wait for the disk: fsjob.h), comes from a job. */
static int upload_path(session *s, const char *arg, char *vpath)
{
    if (session_resolve(s, arg, vpath) < 0)
        return -1;
    const char *last = strrchr(arg, '/');
    last = last ? last + 1 : arg;
    bool dir_form = strcmp(vpath, "/") == 0 || last[0] == '\0' || strcmp(last, ".") == 0 ||
                    strcmp(last, "..") == 0;
    if (!dir_form)
        return 0;
    fsjob *j = fsjob_new(s, vpath, arg);
    if (j) {
        j->fast = dir_form_fast;
        fsjob_run(j, dir_form_work, dir_form_reply);
    }
    return -1;
}

void cmd_stor(session *s, const char *arg)
{
    char vpath[PATH_VMAX];
    off_t rest = s->rest;
    s->rest = 0;
    long long allo = take_allo(s);
    if (rest > 0 && !(s->perms & PERM_APPEND)) {
        refuse_for_perms(s, "STOR", arg, PERM_APPEND, "Permission denied: resuming needs append.");
        return;
    }
    xfer *x = need_channel(s);
    if (!x || upload_path(s, arg, vpath) < 0)
        return;
    x->allo = allo;
    start_upload(s, "STOR", vpath, rest > 0 ? UPLOAD_RESTART : UPLOAD_NEW, rest);
}

void cmd_appe(session *s, const char *arg)
{
    char vpath[PATH_VMAX];
    s->rest = 0;
    long long allo = take_allo(s);
    xfer *x = need_channel(s);
    if (!x || upload_path(s, arg, vpath) < 0)
        return;
    x->allo = allo;
    start_upload(s, "APPE", vpath, UPLOAD_APPEND, 0);
}

/* Candidate i for STOU's name: the suggestion itself first, then "<suggestion>.<session>.<i>".
 * A suggestion that is already a long name is cut (at a character boundary, not inside a UTF-8
 * sequence) so that the whole name fits in an upload's UPLOAD_NAME_MAX bytes. */
static void stou_candidate(const char *base, unsigned long session_id, unsigned i, char *out,
                           size_t out_size)
{
    char suffix[48] = "";
    if (i > 0)
        snprintf(suffix, sizeof suffix, ".%lu.%u", session_id, i - 1);
    const char *slash = strrchr(base, '/');
    size_t dir_len = slash ? (size_t)(slash - base) + 1 : 0;
    size_t name_len = strlen(base) - dir_len;
    size_t room = UPLOAD_NAME_MAX - strlen(suffix);
    if (name_len > room) {
        name_len = room;
        while (name_len > 0 && ((unsigned char)base[dir_len + name_len] & 0xC0) == 0x80)
            name_len--;
    }
    snprintf(out, out_size, "%.*s%s", (int)(dir_len + name_len), base, suffix);
}

#define STOU_TRIES 1000 /* candidates after the suggestion itself */

/* STOU's search for a free name: a stat or two for each name it tries, which on a slow disk
 * wait (fsjob.h). In: j->vpath the directory the names are resolved in (the cwd), j->arg
 * the suggestion ("" for none), found the first candidate to try. Out: rc 0 with found the
 * candidate chosen and j->vpath its path (keyed: st.st_dev and st.st_ino its directory's,
 * the key of its append lock), 1 when none is free, 2 when a candidate's path is invalid, or
 * -1 with err. */
static void stou_work(fsjob *j)
{
    char name[PATH_VMAX], vpath[PATH_VMAX];
    const char *base = j->arg[0] ? j->arg : "ftpd";
    struct stat st;
    j->rc = 1;
    for (long long i = j->found; i <= STOU_TRIES; i++) {
        stou_candidate(base, j->s->id, (unsigned)i, name, sizeof name);
        if (path_resolve(j->vpath, name, vpath, sizeof vpath) < 0) {
            j->rc = 2;
            return;
        }
        if (vfs_stat(&j->v, vpath, &st) == 0)
            continue; /* taken */
        int err = errno;
        if (err == ENOENT && upload_resume_size(&j->v, vpath) >= 0)
            continue;        /* an interrupted upload's, which its client may resume: taken too */
        if (err != ENOENT) { /* no such folder, not allowed: no name will do */
            j->rc = -1;
            j->err = err;
            return;
        }
        char *chosen = strdup(vpath);
        if (!chosen) {
            j->rc = -1;
            j->err = ENOMEM;
            return;
        }
        free(j->vpath);
        j->vpath = chosen;
        j->found = i;
        size_t base_at;
        j->keyed = name_key(&j->v, j->vpath, &j->st.st_dev, &j->st.st_ino, &base_at);
        j->rc = 0;
        return;
    }
}

static void run_stou(session *s, xfer *x, const char *arg, long long first, bool cancelled);

static void stou_reply(session *s, fsjob *j)
{
    xfer *x = s->xfer;
    if (!x || x->seq != j->xfer_seq || xfer_busy(x)) {
        session_reply(s, FTP_CANT_OPEN_DATA, "Data connection lost; use PORT, PASV or EPSV.");
        return;
    }
    if (j->rc == 2) {
        session_reply(s, FTP_BAD_FILENAME, "Path too long or invalid.");
        return;
    }
    if (j->rc < 0) {
        reply_errno(s, j->err, "STOU", j->arg);
        return;
    }
    /* A free name may still be another STOU's, whose file is not there until its end: each
     * holds its name (as an append holds its file) until then, and its commit never
     * replaces a file that took the name meanwhile (UPLOAD_UNIQUE). */
    if (j->rc == 0 && j->keyed &&
        lock_name(s, j->st.st_dev, j->st.st_ino, strrchr(j->vpath, '/') + 1) < 0) {
        if (errno != EBUSY) {
            session_reply(s, FTP_LOCAL_ERROR, "Out of memory.");
            return;
        }
        if (j->found < STOU_TRIES) { /* taken: the search goes on from the next one */
            run_stou(s, x, j->arg, j->found + 1, j->cancelled);
            return;
        }
        j->rc = 1;
    }
    if (j->rc == 1) {
        session_reply(s, FTP_FILE_UNAVAILABLE, "STOU: no unique name found.");
        return;
    }
    start_upload(s, "STOU", j->vpath, UPLOAD_UNIQUE, 0);
    if (j->cancelled && s->prepare) /* the ABOR that came during the search is for it */
        session_cancel_prepare(s);
}

/* cancelled: an ABOR came during an earlier part of the search, which this one goes on. */
static void run_stou(session *s, xfer *x, const char *arg, long long first, bool cancelled)
{
    fsjob *j = opening_job(s, x, s->cwd ? s->cwd : "/", arg);
    if (!j)
        return;
    j->names_dir = false; /* vpath is the directory the names are resolved in */
    j->found = first;
    j->cancelled = cancelled;
    fsjob_run(j, stou_work, stou_reply);
}

void cmd_stou(session *s, const char *arg)
{
    char vpath[PATH_VMAX];
    s->rest = 0;
    long long allo = take_allo(s);
    /* The suggested name must itself be a file name: "dir/" would put "dir/.N.0" inside. */
    xfer *x = need_channel(s);
    if (!x || (arg[0] && upload_path(s, arg, vpath) < 0))
        return;
    x->allo = allo;
    run_stou(s, x, arg, arg[0] ? 0 : 1, false);
}

/* The option words clients send on their own ("LIST -a" from wget, "LIST -la" from lftp and
 * Midnight Commander, "-al", "-aL", "-1", "-R" and "-lR" from a classic client's ls -R):
 * options even where an entry has that name. */
static bool common_option_word(const char *w, size_t len)
{
    if (len < 2)
        return false;
    for (size_t i = 1; i < len; i++)
        if (!strchr("aAlLF1R", w[i]))
            return false;
    return true;
}

/* LIST/NLST take ls-style options before the path ("LIST -la dir"). Other than a common
 * option word, what is left that names an entry as a whole is its path, as for ProFTPD:
 * curl's nocwd method and Python's ftplib send "NLST -dir" for a directory named -dir,
 * whose listing is wanted, not the current directory's. exists says whether the rest names
 * an entry: 1, 0, or -1 when it cannot tell without waiting for the disk (NULL: never can).
 * Returns the offset of the path in arg, or -1 (and *all and *recursive untouched) when
 * exists could not tell. */
static long skip_option_words(const char *arg, bool *all, bool *recursive,
                              int (*exists)(fsjob *, const char *), fsjob *j)
{
    const char *p = arg;
    bool a = *all, r = *recursive;
    while (p[0] == '-') {
        const char *sp = strchr(p, ' ');
        size_t len = sp ? (size_t)(sp - p) : strlen(p);
        if (len == 2 && p[1] == '-') {
            /* "--" ends the options, as for ls: lftp's "ls -- -l" asks for the entry -l,
             * which a word of the common letters could not name otherwise, and one that
             * names nothing gets 550, not the directory's listing. */
            int e = exists ? exists(j, p) : -1;
            if (e < 0)
                return -1;
            if (e == 0) {
                p += len;
                while (*p == ' ')
                    p++;
            }
            break;
        }
        bool common = common_option_word(p, len);
        if (!common) {
            int e = exists ? exists(j, p) : -1;
            if (e < 0)
                return -1;
            if (e > 0)
                break;
        }
        if (memchr(p, 'a', len))
            a = true;
        /* Only a word of the common letters recurses: a mistyped name that names nothing
         * ("NLST -Ry") is skipped as options, and must not walk the whole tree instead. */
        if (common && memchr(p, 'R', len))
            r = true;
        p += len;
        while (*p == ' ')
            p++;
    }
    *all = a;
    *recursive = r;
    return p - arg;
}

/* Whether rest, resolved against the directory in j->vpath, names an entry. */
static int name_exists(fsjob *j, const char *rest)
{
    char vpath[PATH_VMAX];
    struct stat st;
    return path_resolve(j->vpath, rest, vpath, sizeof vpath) == 0 &&
           vfs_stat(&j->v, vpath, &st) == 0;
}

/* The same from the kernel's caches alone (fsjob.h): -1 when it would need the disk. */
static int name_exists_cached(fsjob *j, const char *rest)
{
    char vpath[PATH_VMAX];
    if (path_resolve(j->vpath, rest, vpath, sizeof vpath) < 0)
        return 0;
    int fd = vfs_open_cached(&j->v, vpath, O_PATH);
    if (fd < 0)
        return errno == EAGAIN ? -1 : 0;
    close(fd);
    return 1;
}

void list_options_work(fsjob *j)
{
    j->found = skip_option_words(j->arg, &j->all, &j->recursive, name_exists, j);
}

static bool list_options_fast(fsjob *j)
{
    j->found = skip_option_words(j->arg, &j->all, &j->recursive, name_exists_cached, j);
    return j->found >= 0;
}

const char *list_options_path(const fsjob *j)
{
    return j->arg + j->found;
}

const char *list_skip_options(session *s, const char *arg, bool *all, bool *recursive, fsjob **job)
{
    *job = NULL;
    long at = skip_option_words(arg, all, recursive, NULL, NULL);
    if (at >= 0)
        return arg + at;
    /* "-dir": an option, or a name? The stat that tells may wait for the disk. */
    fsjob *j = fsjob_new(s, s->cwd ? s->cwd : "/", arg);
    if (j) {
        j->names_dir = false; /* vpath is the directory the words are resolved in */
        j->all = *all;
        j->recursive = *recursive;
        j->fast = list_options_fast;
    }
    *job = j;
    return NULL;
}

dirlist *open_wildcard(session *s, const char *arg, dirlist_format fmt)
{
    const char *slash = strrchr(arg, '/');
    const char *pattern = slash ? slash + 1 : arg;
    char prefix[PATH_VMAX], dir[PATH_VMAX];
    size_t plen = (size_t)(pattern - arg);
    if (!strpbrk(pattern, "*?[") || plen >= sizeof prefix) {
        errno = ENOENT;
        return NULL;
    }
    memcpy(prefix, arg, plen);
    prefix[plen] = '\0';
    if (path_resolve(s->cwd ? s->cwd : "/", plen ? prefix : ".", dir, sizeof dir) < 0) {
        errno = ENOENT;
        return NULL;
    }
    return dirlist_open_glob(&s->vfs, dir, pattern, prefix, fmt, s->perms);
}

/* The session only waits meanwhile: its root, cwd and perms, which open_wildcard reads, stay
 * as they are, and the listing keeps pointing at its root (dirlist_open). */
static void list_open_work(fsjob *j)
{
    if (j->recursive)
        j->dl = dirlist_open_recursive(&j->s->vfs, j->vpath, j->arg[0] ? j->arg : ".", j->fmt,
                                       j->perms, j->all);
    else
        j->dl = dirlist_open(&j->s->vfs, j->vpath, j->fmt, j->perms, j->s->mlst_facts, j->all);
    if (!j->dl && errno == ENOENT && j->fmt != DL_MLSD)
        j->dl = open_wildcard(j->s, j->arg, j->fmt);
    j->err = errno;
}

static void list_open_reply(session *s, fsjob *j)
{
    const char *verb = j->fmt == DL_NLST ? "NLST" : j->fmt == DL_MLSD ? "MLSD" : "LIST";
    xfer *x = s->xfer;
    if (!x || x->seq != j->xfer_seq || xfer_busy(x)) {
        session_reply(s, FTP_CANT_OPEN_DATA, "Data connection lost; use PORT, PASV or EPSV.");
        return;
    }
    if (!j->dl) {
        if (j->err == ENOTDIR && j->fmt == DL_MLSD)
            reply_named(s, FTP_ARG_SYNTAX_ERROR, "MLSD", j->arg, "Not a directory.");
        else
            reply_errno(s, j->err, verb, j->arg);
        return;
    }
    if (dirlist_name_as_typed(j->dl, j->arg) < 0 || set_vpath(x, j->vpath) < 0) {
        session_reply(s, FTP_LOCAL_ERROR, "Out of memory.");
        return;
    }
    x->dl = j->dl;
    j->dl = NULL;
    x->kind = j->fmt == DL_NLST ? XK_NLST : j->fmt == DL_MLSD ? XK_MLSD : XK_LIST;
    x->total = -1;
    xfer_start(x);
}

/* cancelled: an ABOR came while the option words were looked at (list_options_reply). */
static void open_listing(session *s, xfer *x, const char *arg, dirlist_format fmt, bool all,
                         bool recursive, bool cancelled)
{
    char vpath[PATH_VMAX];
    if (session_resolve(s, arg, vpath) < 0)
        return;
    fsjob *j = opening_job(s, x, vpath, arg);
    if (!j)
        return;
    j->fmt = fmt;
    j->all = all;
    j->recursive = recursive;
    j->cancelled = cancelled;
    fsjob_run(j, list_open_work, list_open_reply);
}

static void list_options_reply(session *s, fsjob *j)
{
    xfer *x = s->xfer;
    if (!x || x->seq != j->xfer_seq || xfer_busy(x)) {
        session_reply(s, FTP_CANT_OPEN_DATA, "Data connection lost; use PORT, PASV or EPSV.");
        return;
    }
    open_listing(s, x, list_options_path(j), j->fmt, j->all, j->recursive, j->cancelled);
}

static void start_listing(session *s, const char *arg, dirlist_format fmt)
{
    bool all = fmt != DL_LIST, recursive = false;
    s->rest = 0;
    xfer *x = need_channel(s);
    if (!x)
        return;
    if (fmt != DL_MLSD) {
        fsjob *opts;
        arg = list_skip_options(s, arg, &all, &recursive, &opts);
        if (!arg) {
            if (opts) { /* an ABOR meanwhile is for the listing it leads to */
                opts->xfer_seq = x->seq;
                opts->opens_transfer = true;
                opts->fmt = fmt;
                fsjob_run(opts, list_options_work, list_options_reply);
            }
            return;
        }
    }
    open_listing(s, x, arg, fmt, all, recursive, false);
}

void cmd_list(session *s, const char *arg)
{
    start_listing(s, arg, DL_LIST);
}

void cmd_nlst(session *s, const char *arg)
{
    start_listing(s, arg, DL_NLST);
}

void cmd_mlsd(session *s, const char *arg)
{
    start_listing(s, arg, DL_MLSD);
}

void cmd_abor(session *s, const char *arg)
{
    xfer_abort(s);
}
