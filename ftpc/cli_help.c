/* ftpc's help: the whole of it (ftpc --help), and one command's part (ftpc get --help), whose
 * option lines are taken from the whole so that the two never disagree. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char USAGE[] =
    "Usage: ftpc [OPTIONS] COMMAND ARGS...\n"
    "       ftpc [OPTIONS] [URL]   the interactive shell (type help in it; piped\n"
    "                              input runs as a script)\n"
    "\n"
    "Commands (URL: ftp://[user[:password]@]host[:port]/path, %-escapes decoded;\n"
    "anonymous login when no user is given; ftpes:// and ftps:// for FTPS):\n"
    "  get URL... [-o FILE|-] [-O DIR]  download files (to the current directory);\n"
    "                                   * ? [..] in a URL's last part match files\n"
    "  put FILE... URL                  upload files; URL is a directory when it ends\n"
    "                                   in / or several files are given\n"
    "  put - URL                        upload standard input as the file URL names,\n"
    "                                   read to its end (tar c dir | ftpc put - URL)\n"
    "  ls [-l] URL                      list a directory (-l: long listing)\n"
    "  cat URL...                       write remote files to standard output\n"
    "  rm URL...                        delete remote files\n"
    "  mkdir [-p] URL...                create directories (-p: parents too, no error\n"
    "                                   if one exists)\n"
    "  rmdir URL...                     remove empty directories\n"
    "  mv URL NEWNAME                   rename (NEWNAME relative to URL's directory,\n"
    "                                   or absolute)\n"
    "  mirror URL DIR                   download the remote tree URL into DIR\n"
    "  mirror -R DIR URL                upload the local tree DIR to URL\n"
    "                                   (files of the same size and time are skipped)\n"
    "  stress URL [OPTIONS]             many simulated clients against a server,\n"
    "                                   every byte verified, with a latency report\n"
    "                                   (see 'ftpc stress --help')\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE       download to FILE; '-' writes to standard output;\n"
    "                          FILE ending in / is a directory, as with -O\n"
    "  -O, --output-dir DIR    download into DIR (created if missing)\n"
    "  -c, --continue          resume partial downloads (REST) and uploads\n"
    "                          (SIZE, then REST+STOR or APPE), after checking the\n"
    "                          bytes kept against the server's HASH where it has one\n"
    "  -f, --force             get: replace a read-only local file too (without it\n"
    "                          the download of one fails with status 6)\n"
    "  -j, --jobs N            run N file transfers at once (default 1)\n"
    "      --segments N        get, mirror: split each download over N connections\n"
    "                          (REST at each part's offset; parts of at least 1 MiB);\n"
    "                          put: STOR the first part, then REST+STOR the others at\n"
    "                          once where the server writes them in place (else the\n"
    "                          rest goes sequentially)\n"
    "      --verify            after each transfer (and each segment) compare the\n"
    "                          server's HASH (SHA-256) with the local bytes; the\n"
    "                          default where the server's FEAT offers HASH\n"
    "      --no-verify         do not ask for HASH\n"
    "  -z, --compress          MODE Z (deflate) for transfers and listings where the\n"
    "                          server's FEAT offers it (else a warning, uncompressed)\n"
    "  -a, --ascii             get, put, cat: TYPE A, converting CRLF <-> LF (no\n"
    "                          resume, no size check)\n"
    "      --tls               FTPS for ftp:// URLs: AUTH TLS, required (as ftpes://\n"
    "                          does; ftps:// is implicit TLS, port 990); data\n"
    "                          connections protected (PROT P), resuming the session\n"
    "      --cacert FILE       trust the certificates in FILE instead of the system's\n"
    "      --pin sha256//B64   also require the server's public key to have this\n"
    "                          SHA-256 (base64; several separated by ';')\n"
    "      --insecure          do not verify the certificate chain or host name\n"
    "                          (a --pin is still checked)\n"
    "      --tls-max 1.2|1.3   highest TLS version to offer (default: 1.3)\n"
    "  -l, --long              ls: long listing (LIST instead of NLST)\n"
    "  -p, --parents           mkdir: create missing parents\n"
    "      --create-dirs       put: first create the target directory, with its\n"
    "                          parents, when missing (else a missing directory is\n"
    "                          one error and none of its files is sent)\n"
    "      --active            active mode (EPRT, falling back to PORT)\n"
    "      --passive           passive mode (EPSV, falling back to PASV; default)\n"
    "      --retry N           try a failed connection or transfer N more times,\n"
    "                          resuming where it stopped\n"
    "      --retry-delay SECS  first back-off delay (default 1; doubles each retry)\n"
    "      --limit-rate RATE   limit each transfer to RATE bytes/s (k, M, G suffixes)\n"
    "      --timeout SECS      connect and inactivity timeout (default 30)\n"
    "      --progress MODE     auto (bars on a terminal), bar, plain (a line per\n"
    "                          transfer every second), none (summaries only)\n"
    "      --no-glob           take * ? [ in URLs and local names literally\n"
    "  -R, --reverse           mirror: upload (DIR URL) instead of download\n"
    "      --only-newer        mirror: transfer only files newer than the target's\n"
    "      --delete            mirror: delete target files the source no longer has\n"
    "      --dry-run           mirror: print what would be done, change nothing\n"
    "      --no-perms          mirror: do not carry permission bits over\n"
    "      --exclude GLOB      mirror: skip paths or names matching GLOB (repeatable)\n"
    "      --include GLOB      mirror: only files whose path or name, or a parent\n"
    "                          directory's, matches GLOB (repeatable)\n"
    "      --netrc-file FILE   credentials from FILE (default $NETRC, else ~/.netrc)\n"
    "      --no-netrc          do not read a netrc file\n"
    "  -q, --quiet             no progress and no summaries; errors only\n"
    "  -v, --verbose           show the FTP dialogue on standard error\n"
    "  -h, --help              show this help; with a command, that command's help\n"
    "  -V, --version           show the version\n"
    "\n"
    "Downloads are written to .NAME.ftpc-part and renamed into place when complete.\n"
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  2  usage error\n"
    "  3  cannot connect (name lookup, connection refused, timeout, service refused)\n"
    "  4  login failed\n"
    "  5  remote file missing, permission denied or operation refused; a listing\n"
    "     (ls, a pattern, mirror) the server cut short\n"
    "  6  local I/O error\n"
    "  7  transfer interrupted (connection lost, timeout, signal)\n"
    "  8  verification failed (transferred size or HASH differs)\n"
    "  9  TLS failed: AUTH TLS refused, certificate or --pin check failed, handshake\n"
    "When several operations fail, the status is that of the first in command-line\n"
    "order.\n";

void ftpc_cli_usage(FILE *f)
{
    fputs(USAGE, f);
}

typedef struct cmd_help {
    const char *name;
    const char *usage; /* after "ftpc [OPTIONS] " */
    const char *what;
    const char *opts; /* long options that apply, separated by spaces */
} cmd_help;

#define XFER_OPTS "jobs verify no-verify compress limit-rate retry retry-delay no-glob"

static const cmd_help HELPS[] = {
    {"get", "get URL... [-o FILE|-] [-O DIR]",
     "Download files into the current directory (or -O DIR, or -o FILE; -o - writes\n"
     "to standard output). * ? [..] in the last part of a URL match files. Each\n"
     "download is written to .NAME.ftpc-part and renamed into place when complete.",
     "output output-dir continue force segments ascii " XFER_OPTS},
    {"put", "put FILE... URL | put - URL",
     "Upload files. A URL ending in / (or several files) names a directory.\n"
     "put - URL uploads standard input (a pipe, a terminal, a redirected file), read\n"
     "once to its end, as the file URL names (a file named - is ./-). Its SHA-256 is\n"
     "taken as it is read and compared with the server's HASH. It cannot be resumed\n"
     "or split: -c and --segments are refused, and --retry stops once bytes have been\n"
     "read. An upload abandoned midway (a read error, an interrupt) resets the data\n"
     "connection, so the server does not take what it got for the whole file.\n"
     "A pipe named as a FILE (put <(tar c dir) URL, a named FIFO) is read that way.\n"
     "Into a directory that is not there: one error, and no file is sent (or\n"
     "--create-dirs makes it first).",
     "continue segments ascii create-dirs " XFER_OPTS},
    {"ls", "ls [-l] URL",
     "List a directory on standard output. A listing the server says it cut short\n"
     "is printed as far as it goes, and the exit status is 5.",
     "long compress no-glob"},
    {"cat", "cat URL...", "Write remote files to standard output, in command-line order.",
     "ascii compress limit-rate retry retry-delay no-glob"},
    {"rm", "rm URL...", "Delete remote files.", "jobs"},
    {"mkdir", "mkdir [-p] URL...",
     "Create remote directories (-p: their missing parents too; one that exists is\n"
     "no error).",
     "parents"},
    {"rmdir", "rmdir URL...", "Remove empty remote directories.", ""},
    {"mv", "mv URL NEWNAME",
     "Rename a remote file or directory; NEWNAME is relative to URL's directory, or\n"
     "absolute.",
     ""},
    {"mirror", "mirror URL DIR | mirror -R DIR URL",
     "Download the remote tree URL into DIR, or with -R upload the local tree DIR to\n"
     "URL. Files of the same size and time are skipped. Permission bits go along\n"
     "(masked by the umask; SITE CHMOD on upload) unless --no-perms. Part files of\n"
     "interrupted downloads (.NAME.ftpc-part, .NAME.ftpc-seg[.state]) are left out.",
     "reverse only-newer delete dry-run no-perms exclude include segments " XFER_OPTS},
};

/* An option's first line: "  -o, --output FILE  ..." or "      --segments N  ...". */
static bool option_line(const char *line)
{
    return strncmp(line, "  -", 3) == 0 || strncmp(line, "      --", 8) == 0;
}

/* The width of the option column: description lines continue below at this indent. */
#define DESC_COLUMN 26

/* Prints the lines of USAGE that describe --name (name: len bytes): its first line and the
 * continuation lines below it. Returns false when USAGE has no such option. */
static bool print_option(FILE *f, const char *name, size_t len)
{
    const char *line = USAGE;
    while (*line) {
        size_t n = strcspn(line, "\n");
        const char *at = line;
        bool found = false;
        if (option_line(line) && n > DESC_COLUMN) {
            while ((at = strstr(at, "--")) != NULL && at < line + DESC_COLUMN) {
                if (strncmp(at + 2, name, len) == 0 &&
                    (at[2 + len] == ' ' || at[2 + len] == '\n')) {
                    found = true;
                    break;
                }
                at += 2;
            }
        }
        if (found) {
            do {
                fprintf(f, "%.*s\n", (int)n, line);
                line += n + (line[n] == '\n');
                n = strcspn(line, "\n");
            } while (strspn(line, " ") >= DESC_COLUMN);
            return true;
        }
        line += n + (line[n] == '\n');
    }
    return false;
}

bool ftpc_cli_command_help(FILE *f, const char *command)
{
    for (size_t i = 0; i < sizeof(HELPS) / sizeof(HELPS[0]); i++) {
        const cmd_help *h = &HELPS[i];
        if (strcmp(h->name, command) != 0)
            continue;
        fprintf(f, "Usage: ftpc [OPTIONS] %s\n%s\n", h->usage, h->what);
        if (h->opts[0] != '\0') {
            fprintf(f, "\nOptions:\n");
            for (const char *p = h->opts; *p;) {
                size_t n = strcspn(p, " ");
                if (!print_option(f, p, n))
                    fprintf(f, "  --%.*s\n", (int)n, p);
                p += n + (p[n] == ' ');
            }
        }
        fprintf(f, "\nEvery command also takes the connection options (--tls, --cacert, --pin,\n"
                   "--insecure, --tls-max, --active, --passive, --timeout, --netrc-file,\n"
                   "--no-netrc) and --progress, -q, -v: see 'ftpc --help' and man ftpc.\n");
        return true;
    }
    return false;
}
