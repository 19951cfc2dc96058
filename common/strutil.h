/* Small string helpers shared by the config, users and netrc readers and ftpc's options. */
#ifndef STRUTIL_H
#define STRUTIL_H

/* Trims leading and trailing white space in place; returns the first non-space byte. */
char *str_trim(char *s);
/* A decimal number (as strtol reads it) that fills all of s and lies in lo..hi. Returns 0, or
 * -1 and leaves *out alone. */
int str_to_long(const char *s, long lo, long hi, long *out);

#endif
