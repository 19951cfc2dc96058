/* Option parsing for `ftpc stress`. */
#include "stress_opts.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ratelimit.h"
#include "strutil.h"
#include "url.h"

enum {
    O_CLIENTS = 256,
    O_DURATION,
    O_ITERATIONS,
    O_RAMP,
    O_MIX,
    O_SIZE,
    O_FILES,
    O_THINK,
    O_LIMIT_RATE,
    O_TLS,
    O_INSECURE,
    O_CACERT,
    O_COMPRESS,
    O_ABORT,
    O_DROP,
    O_SEED,
    O_JSON,
    O_CSV,
    O_NO_VIEW,
    O_DIR,
    O_VERIFY,
    O_TIMEOUT,
    O_CLEAN,
    O_MAX_ERRORS,
};

static const struct option long_opts[] = {
    {"clients", required_argument, NULL, O_CLIENTS},
    {"duration", required_argument, NULL, O_DURATION},
    {"iterations", required_argument, NULL, O_ITERATIONS},
    {"ramp-up", required_argument, NULL, O_RAMP},
    {"mix", required_argument, NULL, O_MIX},
    {"size", required_argument, NULL, O_SIZE},
    {"files", required_argument, NULL, O_FILES},
    {"think", required_argument, NULL, O_THINK},
    {"limit-rate", required_argument, NULL, O_LIMIT_RATE},
    {"tls", no_argument, NULL, O_TLS},
    {"insecure", no_argument, NULL, O_INSECURE},
    {"cacert", required_argument, NULL, O_CACERT},
    {"compress", no_argument, NULL, O_COMPRESS},
    {"abort-fraction", required_argument, NULL, O_ABORT},
    {"drop-fraction", required_argument, NULL, O_DROP},
    {"seed", required_argument, NULL, O_SEED},
    {"json", required_argument, NULL, O_JSON},
    {"csv", required_argument, NULL, O_CSV},
    {"no-view", no_argument, NULL, O_NO_VIEW},
    {"dir", required_argument, NULL, O_DIR},
    {"verify-put", required_argument, NULL, O_VERIFY},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"clean", no_argument, NULL, O_CLEAN},
    {"max-errors", required_argument, NULL, O_MAX_ERRORS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

void stress_opts_usage(FILE *f)
{
    fputs("Usage: ftpc stress URL [OPTIONS]\n"
          "Many simulated FTP clients in one process; every byte is verified.\n"
          "URL: ftp://[user[:password]@]host[:port][/dir] (anonymous without a user)\n"
          "\n"
          "  --clients N             simulated clients (default 10)\n"
          "  --duration SECS         run for SECS (default 10)\n"
          "  --iterations N          or: N operations per client, then stop\n"
          "  --ramp-up SECS          spread the first connects over SECS (default 0; less\n"
          "                          than --duration)\n"
          "  --mix SPEC              operation weights login=W,get=W,put=W,list=W, or a\n"
          "                          preset: login, get, put, list, mixed (default:\n"
          "                          mixed = login=1,get=4,put=2,list=1)\n"
          "  --size SIZE|MIN-MAX     file size, or uniform in MIN..MAX (K, M, G suffixes;\n"
          "                          default 64K)\n"
          "  --files N               download fixtures (default 8); uploaded at start\n"
          "                          unless present with the right size (then verified),\n"
          "                          and kept (see --clean); a mix without get needs none\n"
          "  --think MS              pause between a client's operations (default 0)\n"
          "  --limit-rate RATE       per-transfer rate limit of the clients, bytes/s\n"
          "                          (k, M, G; the set-up runs at full speed)\n"
          "  --tls                   explicit FTPS: AUTH TLS, PROT P, TLS session reuse\n"
          "  --cacert FILE           trust the PEM certificate(s) in FILE\n"
          "  --insecure              do not verify the server certificate\n"
          "  --compress              MODE Z (deflate) transfers\n"
          "  --abort-fraction F      share of transfers aborted midway with ABOR\n"
          "  --drop-fraction F       share of transfers whose connections are dropped\n"
          "                          midway (control and data); the client reconnects\n"
          "  --verify-put retr|hash  read uploads back (default), or compare the server's\n"
          "                          HASH (SHA-256; falls back to retr without it in FEAT)\n"
          "  --seed S                content and choices derive from S (default 1)\n"
          "  --timeout SECS          connect and inactivity limit (default 30)\n"
          "  --dir DIR               remote working directory (default: the URL's path);\n"
          "                          created (one level) when missing\n"
          "  --clean                 when the run ends, delete the fixtures, and the\n"
          "                          directory if this run created it\n"
          "  --json FILE|-           write the report as JSON\n"
          "  --csv FILE|-            write per-command latency as CSV\n"
          "  --no-view               no live view on standard error\n"
          "  --max-errors N          exit status 1 when the run counts more than N errors\n"
          "                          (default: errors are reported, the status stays 0)\n"
          "Environment: FTPC_STRESS_TRACE=1 prints every command and reply (PASS masked).\n"
          "\n"
          "Exit status: 0 done (errors are reported, not fatal), 1 more errors than\n"
          "--max-errors, 8 verification failures, 7 every transfer and listing failed\n"
          "(with --mix login: every login) or the run was interrupted, 3 cannot connect,\n"
          "4 login refused, 5 the set-up failed (directory, fixtures, MODE Z), 6 a report\n"
          "cannot be written, 9 TLS failed, 2 usage error.\n",
          f);
}

/* The report path p ("-": standard output) as an absolute name, for one that need not exist
 * yet: its directory resolved, then its last part. Returns false when that cannot be done. */
static bool destination_name(const char *p, char *out, size_t out_size)
{
    const char *slash = strrchr(p, '/');
    char dir[PATH_MAX], real[PATH_MAX];
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", slash == p ? 1 : (int)(slash - p), p);
    if (realpath(dir, real) == NULL)
        return false;
    int n = snprintf(out, out_size, "%s/%s", real, slash ? slash + 1 : p);
    return n >= 0 && (size_t)n < out_size;
}

/* Whether --json a and --csv b reach one file: the same words, or the same file by another
 * name ("./r" for "r", "/dev/stdout" for "-", a link), where one would clobber the other. */
static bool same_destination(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return true;
    struct stat sa, sb;
    bool ha = strcmp(a, "-") == 0 ? fstat(STDOUT_FILENO, &sa) == 0 : stat(a, &sa) == 0;
    bool hb = strcmp(b, "-") == 0 ? fstat(STDOUT_FILENO, &sb) == 0 : stat(b, &sb) == 0;
    if (ha || hb)
        return ha && hb && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char na[PATH_MAX + 256], nb[PATH_MAX + 256];
    return destination_name(a, na, sizeof(na)) && destination_name(b, nb, sizeof(nb)) &&
           strcmp(na, nb) == 0;
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t err_size, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    ftpc_redact_passwords(err); /* messages quote the URL as typed */
    return -1;
}

static int parse_ms(const char *s, double scale, long *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !(v >= 0.0) || v * scale > 1e12)
        return -1;
    *out = (long)(v * scale + 0.5);
    return 0;
}

static int parse_fraction(const char *s, double *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !(v >= 0.0 && v <= 1.0))
        return -1;
    *out = v;
    return 0;
}

int stress_parse_size(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno != 0 || !(v >= 0.0))
        return -1;
    double mult = 1.0;
    if (*end != '\0') {
        switch (*end) {
        case 'k':
        case 'K':
            mult = 1024.0;
            break;
        case 'm':
        case 'M':
            mult = 1024.0 * 1024.0;
            break;
        case 'g':
        case 'G':
            mult = 1024.0 * 1024.0 * 1024.0;
            break;
        default:
            return -1;
        }
        end++;
        if (*end == 'i' && end[1] == 'B')
            end += 2;
        else if (*end == 'B')
            end++;
    }
    if (*end != '\0')
        return -1;
    double b = v * mult;
    if (b > 1099511627776.0) /* 1 TiB: beyond any sensible stress file */
        return -1;
    *out = (uint64_t)(b + 0.5);
    return 0;
}

int stress_parse_mix(const char *s, unsigned mix[STRESS_OP_COUNT])
{
    unsigned m[STRESS_OP_COUNT] = {0};
    if (strcmp(s, "mixed") == 0) {
        m[STRESS_OP_LOGIN] = 1;
        m[STRESS_OP_GET] = 4;
        m[STRESS_OP_PUT] = 2;
        m[STRESS_OP_LIST] = 1;
        memcpy(mix, m, sizeof(m));
        return 0;
    }
    for (int i = 0; i < STRESS_OP_COUNT; i++) {
        if (strcmp(s, stress_op_name((stress_op)i)) == 0) {
            m[i] = 1;
            memcpy(mix, m, sizeof(m));
            return 0;
        }
    }
    const char *p = s;
    unsigned total = 0;
    bool named[STRESS_OP_COUNT] = {false};
    while (*p != '\0') {
        const char *eq = strchr(p, '=');
        if (eq == NULL)
            return -1;
        int which = -1;
        for (int i = 0; i < STRESS_OP_COUNT; i++) {
            const char *n = stress_op_name((stress_op)i);
            if (strlen(n) == (size_t)(eq - p) && strncmp(p, n, (size_t)(eq - p)) == 0)
                which = i;
        }
        if (which < 0 || named[which]) /* get=1,get=2: which one was meant? */
            return -1;
        named[which] = true;
        char *end = NULL;
        errno = 0;
        long w = strtol(eq + 1, &end, 10);
        if (end == eq + 1 || errno != 0 || w < 0 || w > 1000 || (*end != ',' && *end != '\0'))
            return -1;
        m[which] = (unsigned)w;
        total += (unsigned)w;
        p = *end == ',' ? end + 1 : end;
    }
    if (total == 0)
        return -1;
    memcpy(mix, m, sizeof(m));
    return 0;
}

int stress_opts_parse(int argc, char **argv, stress_opts *o, char *err, size_t err_size)
{
    memset(o, 0, sizeof(*o));
    o->clients = 10;
    o->size_min = o->size_max = 64 * 1024;
    o->files = 8;
    o->seed = 1;
    o->timeout_ms = 30000;
    o->max_errors = -1;
    stress_parse_mix("mixed", o->mix);
    bool have_duration = false;
    optind = 0; /* glibc: a full reset of getopt state */
    opterr = 0;
    int ch;
    long v;
    while ((ch = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        switch (ch) {
        case O_CLIENTS:
            if (str_to_long(optarg, 1, STRESS_MAX_CLIENTS, &v) < 0)
                return fail(err, err_size, "--clients needs a number from 1 to %d",
                            STRESS_MAX_CLIENTS);
            o->clients = (int)v;
            break;
        case O_DURATION:
            if (parse_ms(optarg, 1000.0, &o->duration_ms) < 0 || o->duration_ms < 1)
                return fail(err, err_size,
                            "--duration needs seconds, from 0.001 to 1000000000, not '%s'", optarg);
            have_duration = true;
            break;
        case O_MAX_ERRORS:
            if (str_to_long(optarg, 0, 1000000000000L, &o->max_errors) < 0)
                return fail(err, err_size,
                            "--max-errors needs a number from 0 to 1000000000000, not '%s'",
                            optarg);
            break;
        case O_ITERATIONS:
            if (str_to_long(optarg, 1, 1000000000L, &o->iterations) < 0)
                return fail(err, err_size,
                            "--iterations needs a number from 1 to 1000000000, not '%s'", optarg);
            break;
        case O_RAMP:
            if (parse_ms(optarg, 1000.0, &o->ramp_ms) < 0)
                return fail(err, err_size,
                            "--ramp-up needs seconds, from 0 to 1000000000, not '%s'", optarg);
            break;
        case O_MIX:
            if (stress_parse_mix(optarg, o->mix) < 0)
                return fail(err, err_size,
                            "--mix: a preset (login, get, put, list, mixed) or weights like "
                            "get=3,put=1 (0..1000, each once, not all 0), not '%s'",
                            optarg);
            break;
        case O_SIZE: {
            const char *dash = strchr(optarg, '-');
            int bad;
            if (dash != NULL) {
                char lo[64];
                size_t n = (size_t)(dash - optarg);
                bad = n >= sizeof(lo);
                if (!bad) {
                    memcpy(lo, optarg, n);
                    lo[n] = '\0';
                    bad = stress_parse_size(lo, &o->size_min) < 0 ||
                          stress_parse_size(dash + 1, &o->size_max) < 0 ||
                          o->size_min > o->size_max;
                }
            } else {
                bad = stress_parse_size(optarg, &o->size_min) < 0;
                o->size_max = o->size_min;
            }
            if (bad)
                return fail(err, err_size,
                            "--size: SIZE or MIN-MAX with K, M, G suffixes (e.g. 64K, 1K-4M), "
                            "at most 1024G, not '%s'",
                            optarg);
            break;
        }
        case O_FILES:
            if (str_to_long(optarg, 1, 100000, &v) < 0)
                return fail(err, err_size, "--files needs a number from 1 to 100000");
            o->files = (unsigned)v;
            break;
        case O_THINK:
            if (parse_ms(optarg, 1.0, &o->think_ms) < 0)
                return fail(err, err_size,
                            "--think needs milliseconds, from 0 to 1000000000000, not '%s'",
                            optarg);
            break;
        case O_LIMIT_RATE:
            if (ftpc_parse_rate(optarg, &o->limit_rate) < 0)
                return fail(err, err_size, "--limit-rate: bad rate '%s' (e.g. 500k, 2M)", optarg);
            break;
        case O_TLS:
            o->tls = true;
            break;
        case O_INSECURE:
            o->insecure = true;
            break;
        case O_CACERT:
            o->cacert = optarg;
            break;
        case O_COMPRESS:
            o->compress = true;
            break;
        case O_ABORT:
            if (parse_fraction(optarg, &o->abort_fraction) < 0)
                return fail(err, err_size, "--abort-fraction needs a number from 0 to 1");
            break;
        case O_DROP:
            if (parse_fraction(optarg, &o->drop_fraction) < 0)
                return fail(err, err_size, "--drop-fraction needs a number from 0 to 1");
            break;
        case O_SEED: {
            char *end = NULL;
            errno = 0;
            unsigned long long s = strtoull(optarg, &end, 0);
            if (end == optarg || *end != '\0' || errno != 0 || optarg[0] == '-')
                return fail(err, err_size, "--seed needs a non-negative integer");
            o->seed = s;
            break;
        }
        case O_JSON:
            o->json = optarg;
            break;
        case O_CSV:
            o->csv = optarg;
            break;
        case O_NO_VIEW:
            o->no_view = true;
            break;
        case O_CLEAN:
            o->clean = true;
            break;
        case O_DIR:
            if (strlen(optarg) >= sizeof(o->dir) || strpbrk(optarg, "\r\n") != NULL)
                return fail(err, err_size, "--dir: bad directory name");
            snprintf(o->dir, sizeof(o->dir), "%s", optarg);
            break;
        case O_VERIFY:
            if (strcmp(optarg, "retr") == 0)
                o->verify = STRESS_VERIFY_RETR;
            else if (strcmp(optarg, "hash") == 0)
                o->verify = STRESS_VERIFY_HASH;
            else
                return fail(err, err_size, "--verify-put: retr or hash");
            break;
        case O_TIMEOUT:
            if (parse_ms(optarg, 1000.0, &o->timeout_ms) < 0 || o->timeout_ms < 100)
                return fail(err, err_size,
                            "--timeout needs seconds, from 0.1 to 1000000000, not '%s'", optarg);
            break;
        case 'h':
            o->show_help = true;
            return 0;
        case ':':
            return fail(err, err_size, "option %s needs an argument", argv[optind - 1]);
        default:
            if (optopt != 0)
                return fail(err, err_size, "unknown option -%c", optopt);
            const char *near = str_nearest_option(argv[optind - 1], long_opts);
            if (near != NULL)
                return fail(err, err_size, "unknown option %s (did you mean --%s?)",
                            argv[optind - 1], near);
            return fail(err, err_size, "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return fail(err, err_size, "stress needs a URL (ftp://user:pass@host:port/dir)");
    if (optind + 1 < argc)
        return fail(err, err_size, "stress takes one URL; unexpected '%s'", argv[optind + 1]);
    char why[128];
    if (ftpc_url_parse(argv[optind], &o->url, why, sizeof(why)) < 0)
        return fail(err, err_size, "%s: %s", argv[optind], why);
    if (o->url.tls == 2)
        o->implicit_tls = true;
    if (o->url.tls != 0)
        o->tls = true; /* ftpes:// or ftps:// */
    if (have_duration && o->iterations > 0)
        return fail(err, err_size, "--duration and --iterations exclude each other");
    if (!have_duration && o->iterations == 0)
        o->duration_ms = 10000;
    /* Clients due to connect at or after the end would never start, and be reported as
     * never logged in. With --iterations every client runs its operations, so any ramp does. */
    if (o->duration_ms > 0 && o->ramp_ms > 0 && o->ramp_ms >= o->duration_ms)
        return fail(err, err_size,
                    "--ramp-up (%.3g s) must be shorter than --duration (%.3g s%s): clients "
                    "due after the end would never start",
                    (double)o->ramp_ms / 1000.0, (double)o->duration_ms / 1000.0,
                    have_duration ? "" : ", the default");
    if ((o->insecure || o->cacert) && !o->tls)
        return fail(err, err_size, "--insecure and --cacert need --tls");
    if (o->insecure && o->cacert)
        return fail(err, err_size, "--insecure and --cacert exclude each other");
    if (o->abort_fraction + o->drop_fraction > 1.0)
        return fail(err, err_size, "--abort-fraction plus --drop-fraction exceeds 1");
    /* One destination for both would hold neither: the CSV after the JSON, or over it. */
    if (o->json && o->csv && same_destination(o->json, o->csv))
        return fail(err, err_size, "--json and --csv cannot both write to %s",
                    strcmp(o->json, "-") == 0 ? "standard output" : o->json);
    if (o->dir[0] == '\0') {
        /* The URL's path names the directory; trailing slashes add nothing. */
        snprintf(o->dir, sizeof(o->dir), "%s", o->url.path);
        size_t n = strlen(o->dir);
        while (n > 1 && o->dir[n - 1] == '/')
            o->dir[--n] = '\0';
    }
    if (!o->url.has_user) {
        snprintf(o->url.user, sizeof(o->url.user), "anonymous");
        snprintf(o->url.pass, sizeof(o->url.pass), "ftpc-stress@");
        o->url.has_user = o->url.has_pass = true;
    } else if (!o->url.has_pass) {
        o->url.pass[0] = '\0';
        o->url.has_pass = true;
    }
    return 0;
}
