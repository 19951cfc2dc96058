/* What a server's FEAT says of HASH (draft-bryan-ftpext-hash) and RANG: parsed once at login
 * by the connection (conn.h) and read by every check (verify.h). */
#ifndef FTPC_HASHFEAT_H
#define FTPC_HASHFEAT_H

#include <stdbool.h>

typedef struct ftpc_hash_feat {
    bool offered;     /* FEAT has a HASH line */
    unsigned algos;   /* bit (1 << digest_algo) per algorithm listed that ftpc knows */
    int current;      /* the starred algorithm, -1 when none is starred or known */
    bool rang_listed; /* FEAT has a RANG line */
} ftpc_hash_feat;

/* Reads the HASH and RANG lines from a FEAT reply's text (lines joined by '\n'). */
void ftpc_hash_feat_parse(const char *text, ftpc_hash_feat *out);
/* The algorithm to use: SHA-256 when listed, else SHA-1, else MD5; -1 when none is. */
int ftpc_hash_choose(const ftpc_hash_feat *f);

#endif
