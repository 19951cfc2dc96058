/* Small string helpers shared by the config, users and netrc readers. */
#ifndef STRUTIL_H
#define STRUTIL_H

/* Trims leading and trailing white space in place; returns the first non-space byte. */
char *str_trim(char *s);

#endif
