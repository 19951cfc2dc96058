/* Server configuration: one const struct built at start-up from flags and an optional
 * `key = value` config file (flags win), then passed down read-only. */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "log.h"

#define CONFIG_MAX_LISTEN 8

/* The live view of sessions and transfers below the log (liveview.h). */
typedef enum {
    FTPD_VIEW_AUTO = 0, /* on when standard error is a terminal */
    FTPD_VIEW_ON,
    FTPD_VIEW_OFF,
} ftpd_view_mode;

/* --local-congestion when none is given (ftpd.8 says why cubic). */
#define DEFAULT_LOCAL_CONGESTION "cubic"
/* What a default the system does not allow gives way to (ftpd.8). */
#define FALLBACK_LOCAL_CONGESTION "reno"
/* --partial-max-age when none is given (ftpd.8 says why a week), and the longest taken. */
#define DEFAULT_PARTIAL_MAX_AGE (7LL * 86400)
#define PARTIAL_MAX_AGE_MAX (3650LL * 86400)

typedef struct ftpd_config {
    struct sockaddr_storage listen[CONFIG_MAX_LISTEN];
    size_t listen_count;         /* default: 127.0.0.1:2121 */
    char *users_file;            /* NULL: no local accounts (default: sample_data/users) */
    char *anon_root;             /* NULL: anonymous off (default: sample_data/pub) */
    int pasv_first, pasv_last;   /* 0,0: any port the kernel picks */
    char *pasv_address;          /* address to announce in 227; NULL: the control socket's */
    int max_sessions;            /* 2000 */
    int max_per_ip;              /* 200 */
    int idle_timeout;            /* seconds, 300 */
    int login_timeout;           /* seconds to log in after connecting, 60 */
    int data_timeout;            /* seconds without data progress, 120 */
    int max_login_failures;      /* 3 failures, then the session is closed */
    int login_failure_delay_ms;  /* 1000: delay before "530 Login incorrect" */
    int login_ban_failures;      /* failed logins from one address (loginban.h) that ban it: 10;
                                  * 0: no bans */
    long long login_ban_window;  /* seconds those failures are counted over: 60 */
    long long login_ban_time;    /* seconds a first ban lasts: 60 */
    long long login_ban_max;     /* seconds a repeated ban doubles up to: 3600 */
    char *run_as_user;           /* --user NAME: drop to this user after binding */
    char *xferlog_file;          /* NULL: off */
    log_level_t log_level;       /* info */
    ftpd_view_mode view;         /* --progress; auto */
    int worker_threads;          /* 0: as many as cores */
    int inline_hash_max_us;      /* 250: hash methods cheaper than this are checked on the loop */
    char local_congestion[16];   /* TCP congestion control of data connections with a client
                                  * on this host; "": the system default (default "cubic") */
    bool local_congestion_given; /* named by the operator, not the default: never replaced */
    int local_download_slots;    /* downloads to clients on this host fed at once (dlslots.h);
                                  * 0 (default): no limit */
    unsigned long long max_rate; /* bytes a second one transfer may move; 0 (default): no limit */
    long long anon_max_rate;     /* the same for anonymous sessions; -1 (default): max_rate */
    int umask;                   /* applied to files and folders created (from 0666, 0777): 022 */
    char *banner;                /* the 220 greeting's text; NULL: "ftpd VERSION ready." */
    long long partial_max_age;   /* seconds a kept partial upload lives unwritten; 0: for
                                  * ever (default 7 days) */
    bool demo_account_warning;   /* set when the users file holds the shipped demo account */
    char *config_file;           /* the -c FILE that was read, for messages */
    struct stat config_stat;     /* ...as it was when read, for a SIGHUP to tell a change */
    bool check_only;             /* --check: read and judge everything, serve nothing */
    /* FTPS (RFC 4217) */
    bool tls;                   /* AUTH TLS offered; implied by require-tls* and listen-implicit */
    char *tls_cert;             /* PEM certificate chain; NULL: generated in state_dir */
    char *tls_key;              /* PEM private key; NULL: tls_cert (one file with both) */
    bool require_tls_login;     /* USER/PASS only on a protected control connection */
    bool require_tls_data;      /* data connections only under PROT P */
    bool require_tls_anonymous; /* the two above bind anonymous sessions too (default: exempt) */
    bool tls_require_reuse;     /* data connections must resume the control's session (yes) */
    /* implicit FTPS listeners */
    struct sockaddr_storage listen_implicit[CONFIG_MAX_LISTEN];
    size_t listen_implicit_count;
    char *state_dir; /* generated certificate's home; NULL: the default (ftpd(8)) */
} ftpd_config;

typedef enum {
    CONFIG_OK = 0,  /* run the server */
    CONFIG_EXIT_OK, /* --help, --version, --hash-password done: exit 0 */
    CONFIG_ERROR,   /* message written to stderr: exit 2 */
} config_result;

/* Fills cfg from defaults, then the config file named by -c, then the other flags.
 * `prog_dir` is the directory that holds the ftpd binary, used to find the shipped
 * sample_data/ when it is not in the working directory. */
config_result config_load(ftpd_config *cfg, int argc, char **argv);
/* Applies one `key = value` setting (the same keys as the long flags without "--").
 * Returns 0, or -1 with a message in err. */
int config_set(ftpd_config *cfg, const char *key, const char *value, char *err, size_t err_size);
/* Reads a config file. Returns 0, or -1 with "FILE:LINE: message" in err. */
int config_read_file(ftpd_config *cfg, const char *path, char *err, size_t err_size);
/* 0 when no `listen` and `listen-implicit` take the same port of an address (each list is
 * checked as it is built); -1 with the reason in err. */
int config_check_listeners(const ftpd_config *cfg, char *err, size_t err_size);
void config_defaults(ftpd_config *cfg);
void config_free(ftpd_config *cfg);

#endif
