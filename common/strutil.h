/* Small string helpers shared by the config, users and netrc readers and ftpc's options. */
#ifndef STRUTIL_H
#define STRUTIL_H

#include <stddef.h>

/* Trims leading and trailing white space in place; returns the first non-space byte. */
char *str_trim(char *s);
/* A decimal number (as strtol reads it) that fills all of s and lies in lo..hi. Returns 0, or
 * -1 and leaves *out alone. */
int str_to_long(const char *s, long lo, long hi, long *out);

/* The octal number of the n bytes at s (not NUL-terminated): 1 to max_digits digits 0-7 and
 * a value up to max, as a mode is written ("644", "0755"). Returns 0, or -1 and leaves *out
 * alone. */
int str_parse_octal(const char *s, size_t n, size_t max_digits, unsigned max, unsigned *out);

/* A rate in bytes per second as ftpc's --limit-rate and ftpd's --max-rate take it: "500",
 * "200k", "1.5M", "2G" (k, M, G: powers of 1024, either case), with an optional "B" or "B/s"
 * after the suffix ("10kB", "3MB/s"). "0" (in any of these forms) gives 0; a value between
 * 0 and 1 byte, a negative one or one above 1e15 is refused. Returns 0, or -1 and leaves
 * *out alone. */
int str_parse_rate(const char *s, unsigned long long *out);

/* A length of time in whole seconds: digits, then an optional unit s, m, h or d (seconds,
 * minutes, hours, days; without one, seconds), as "45", "90s", "30m", "12h", "7d". A value
 * above max seconds, a sign, a fraction or anything else is refused. Returns 0, or -1 and
 * leaves *out alone. */
int str_parse_duration(const char *s, long long max, long long *out);
/* secs in the syntax str_parse_duration reads, in its largest unit that is exact ("7d",
 * "36h", "90s"); returns out. */
char *str_format_duration(long long secs, char *out, size_t size);

/* Edit distance (insertions, deletions, substitutions) between a and b; any value above
 * cap comes back as cap + 1, as does a word longer than 63 bytes. */
unsigned str_distance(const char *a, const char *b, unsigned cap);

struct option;
/* For "did you mean": the long option of opts (getopt_long's table) nearest to word, a
 * name with or without its leading "--" and "=value"; NULL when none is close (two edits,
 * one for a word under five letters) or the word is exactly an option. */
const char *str_nearest_option(const char *word, const struct option *opts);

#endif
