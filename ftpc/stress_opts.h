/* The command line of `ftpc stress` (see stress_opts_usage for every option). */
#ifndef FTPC_STRESS_OPTS_H
#define FTPC_STRESS_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "stress_stats.h"
#include "url.h"

#define STRESS_MAX_CLIENTS 100000

typedef enum { STRESS_VERIFY_RETR = 0, STRESS_VERIFY_HASH } stress_verify_mode;

typedef struct stress_opts {
    ftpc_url url;                  /* credentials: anonymous when the URL names no user */
    char dir[FTPC_URL_PATH_MAX];   /* remote working directory ("" = the login directory) */
    int clients;                   /* simulated clients */
    long duration_ms;              /* run time (0 when iterations is set) */
    long iterations;               /* operations per client (0 when duration_ms is set) */
    long ramp_ms;                  /* connects spread over this time */
    unsigned mix[STRESS_OP_COUNT]; /* weights of login/get/put/list */
    uint64_t size_min, size_max;   /* file sizes, uniform in [min, max] */
    unsigned files;                /* download fixtures */
    long think_ms;                 /* pause between operations */
    uint64_t limit_rate;           /* bytes/s per transfer, 0 = unlimited */
    bool tls, insecure;            /* FTPS: AUTH TLS (or implicit), PROT P */
    bool implicit_tls;             /* ftps:// URL: TLS from the first byte */
    const char *cacert;            /* trust this PEM file instead of the system's CAs */
    bool compress;                 /* MODE Z */
    double abort_fraction;         /* transfers aborted midway with ABOR */
    double drop_fraction;          /* transfers whose connections are dropped midway */
    uint64_t seed;
    const char *json, *csv;    /* report files ("-" = standard output) */
    bool no_view;              /* no live view */
    bool clean;                /* delete the fixtures (and a directory made) at the end */
    stress_verify_mode verify; /* how uploads are checked */
    long timeout_ms;           /* connect and inactivity limit */
    long max_errors;           /* more errors make the exit status 1; -1: no limit */
    bool show_help;
} stress_opts;

/* Parses argv (argv[0] = "stress"). Returns 0, or -1 with a message in err. */
int stress_opts_parse(int argc, char **argv, stress_opts *o, char *err, size_t err_size);

/* Parses "4096", "64K", "1.5M", "2G" (binary units). Returns 0 or -1. */
int stress_parse_size(const char *s, uint64_t *out);
/* Parses a --mix value: a preset (login, get, put, list, mixed) or "get=3,put=1,..."
 * (weights 0..1000, at least one non-zero; missing names weigh 0). Returns 0 or -1. */
int stress_parse_mix(const char *s, unsigned mix[STRESS_OP_COUNT]);

void stress_opts_usage(FILE *f);

#endif
