/* Remote glob patterns: a URL whose last component is a pattern, such as logs/[*].gz with
 * the brackets left out, names every plain file of the directory whose name matches, as a
 * shell would (fnmatch; '*' and '?' do not match a leading dot). The pattern
 * is only in the last component; the directory is listed (MLSD when the server offers it,
 * which tells files from directories, else NLST) and the names are matched here. */
#ifndef FTPC_RGLOB_H
#define FTPC_RGLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when s has a glob character ('*', '?' or '['). */
bool ftpc_glob_magic(const char *s);
/* True when s has a glob character that no backslash escapes: "a\*b" is no pattern (fnmatch
 * reads it as the name "a*b"). */
bool ftpc_glob_unescaped_magic(const char *s);
/* Removes the backslash escapes of s in place: "a\*b" becomes "a*b". */
void ftpc_glob_unescape(char *s);

/* The names in a listing (LF-separated lines; MLSD lines when mlsd) that match pattern,
 * sorted; for MLSD only entries of type "file". Returns the count (0: none) with *names a
 * malloc'd array of malloc'd strings, or -1 when out of memory. NLST lines that carry a
 * directory ("dir/name") are reduced to the name. A matching MLSD name with a '/' in it
 * (only a hostile or broken server lists one) is left out and counted in *refused: the local
 * file is named after it. */
int ftpc_glob_match(const char *listing, size_t len, bool mlsd, const char *pattern, char ***names,
                    size_t *refused);
/* The same, and when sizes is not NULL, each match's size from its MLSD "size" fact in
 * (*sizes)[i] (-1 when it has none, and always from NLST), a malloc'd array (NULL when
 * there is no match). */
int ftpc_glob_match_sized(const char *listing, size_t len, bool mlsd, const char *pattern,
                          char ***names, int64_t **sizes, size_t *refused);
void ftpc_glob_free(char **names, int n);

#endif
