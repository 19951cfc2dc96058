/* Private to the command handlers. */
#ifndef COMMANDS_INT_H
#define COMMANDS_INT_H

#include <sys/stat.h>

#include "dirlist.h"
#include "ftp_reply.h"
#include "session.h"

#define FTP_BAD_REST 554 /* RFC 3659: "554 Requested action not taken: invalid REST parameter" */
#define FTP_EPSV_PROTO 522

typedef void (*cmd_handler)(session *s, const char *arg);

/* Replies with the code that fits errno (550 for most, 452 for a full disk, 553 for a bad
 * name, 451 for the server's own shortage of descriptors or memory), naming the file (name: the
 * client's argument, or the path an upload resolved to), or the command (verb) when there is none:
 * "550 notes.txt: No such file or directory." */
void reply_errno(session *s, int err, const char *verb, const char *name);
/* When rc is 0 and st is what the client's path leads to: whether that is one of the server's
 * own files (ownfiles.h), which has then had its 550 (reply_errno's OWNFILES_REFUSED). */
bool refused_own_file(session *s, int rc, const struct stat *st, const char *verb,
                      const char *name);
/* For a command about to change what vpath names, on whatever thread its calls run: whether
 * that is one of the server's own files, the entry itself (follow false: a symlink to one is
 * the client's to remove or replace) or what it leads to. */
bool names_own_file(const vfs *v, const char *vpath, bool follow);
/* For SITE CHMOD, which follows links: whether what vpath leads to is one of them or a
 * folder one's path passes through (ownfiles_guards). Mode 000 there would fail the next
 * SIGHUP's reading; o+w would let any local user replace the file. */
bool leads_to_guarded(const vfs *v, const char *vpath);
/* Refuses a command the account's permission letters do not allow: replies 550 with text, and
 * logs the refusal with the path (arg resolved against the working directory, or as sent for
 * a listing, whose argument may be options) and the letters it needed (need: PERM_ bits, any
 * one of which would do). */
void refuse_for_perms(session *s, const char *verb, const char *arg, unsigned need,
                      const char *text);
/* "name: text" (verb when name is empty), as reply_errno words a failure. */
void reply_named(session *s, int code, const char *verb, const char *name, const char *text);

/* The user's root, as session_resolve resolves every way of naming it ("/", ".." at the top, "."
 * there). Commands that would remove, rename or lock it refuse it by this test. */
bool is_root(const char *vpath);

/* "NLST *.txt", "LIST -l sub/a?.bin", "STAT *": a name that no entry has, whose last part
 * holds a wildcard, lists the entries of its directory that match (what a client's mget asks
 * for). Only the last part may hold one. Returns NULL with errno (ENOENT: nothing matches).
 * In cmd_data.c. */
dirlist *open_wildcard(session *s, const char *arg, dirlist_format fmt);

/* LIST, NLST, STAT: the path after the ls-style option words ("-la dir"), all set when an
 * option word holds an a, recursive when one holds an R. Whether a word such as "-dir" is an option
 * or a name takes a stat, which may wait for the disk: then NULL is returned and *job is a job
 * (fsjob.h) to run with list_options_work and a reply that finds the path with list_options_path,
 * all in j->all and recursive in j->recursive (*job NULL too when out of memory: the 451 is sent).
 * In cmd_data.c. */
const char *list_skip_options(session *s, const char *arg, bool *all, bool *recursive,
                              struct fsjob **job);
void list_options_work(struct fsjob *j);
const char *list_options_path(const struct fsjob *j);

/* Login (cmd_login.c) */
void cmd_user(session *s, const char *arg);
void cmd_pass(session *s, const char *arg);
void cmd_quit(session *s, const char *arg);

/* Information and settings (cmd_info.c) */
void cmd_syst(session *s, const char *arg);
void cmd_feat(session *s, const char *arg);
void cmd_opts(session *s, const char *arg);
void cmd_help(session *s, const char *arg);
void cmd_noop(session *s, const char *arg);
void cmd_clnt(session *s, const char *arg);
void cmd_type(session *s, const char *arg);
void cmd_mode(session *s, const char *arg);
void cmd_stru(session *s, const char *arg);
void cmd_allo(session *s, const char *arg);
void cmd_stat(session *s, const char *arg);

/* Files and directories (cmd_fs.c) */
void cmd_pwd(session *s, const char *arg);
void cmd_cwd(session *s, const char *arg);
void cmd_cdup(session *s, const char *arg);
void cmd_mkd(session *s, const char *arg);
void cmd_rmd(session *s, const char *arg);
void cmd_dele(session *s, const char *arg);
void cmd_rnfr(session *s, const char *arg);
void cmd_rnto(session *s, const char *arg);
void cmd_size(session *s, const char *arg);
void cmd_mdtm(session *s, const char *arg);
void cmd_mfmt(session *s, const char *arg);
void cmd_site(session *s, const char *arg);
void cmd_mlst(session *s, const char *arg);

/* FTPS (cmd_tls.c) */
void cmd_auth(session *s, const char *arg);
void cmd_pbsz(session *s, const char *arg);
void cmd_prot(session *s, const char *arg);
void cmd_ccc(session *s, const char *arg);

/* Digests (cmd_hash.c) */
void cmd_hash(session *s, const char *arg);
void cmd_rang(session *s, const char *arg);
/* With a RANG pending: false (after replying) when the next command must not run. */
bool hash_rang_allows(session *s, cmd_handler next);
/* OPTS HASH [name]: true when arg was for HASH (and has been answered). */
bool hash_opts(session *s, const char *arg);
/* The FEAT line, "HASH SHA-256*;SHA-1;MD5;". */
void hash_feat(const session *s, char *out, size_t size);

/* Data channel and transfers (cmd_data.c) */
void cmd_pasv(session *s, const char *arg);
void cmd_epsv(session *s, const char *arg);
void cmd_port(session *s, const char *arg);
void cmd_eprt(session *s, const char *arg);
void cmd_rest(session *s, const char *arg);
void cmd_retr(session *s, const char *arg);
void cmd_stor(session *s, const char *arg);
void cmd_stou(session *s, const char *arg);
void cmd_appe(session *s, const char *arg);
void cmd_list(session *s, const char *arg);
void cmd_nlst(session *s, const char *arg);
void cmd_mlsd(session *s, const char *arg);
void cmd_abor(session *s, const char *arg);

#endif
