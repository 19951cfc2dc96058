/* The names of ftpc's own work files beside a download: its part file (".NAME.ftpc-part",
 * xfer.h), a segmented download's file (".NAME.ftpc-seg", segget.h) and that one's status
 * file (".NAME.ftpc-seg.state", segstate.h, written as ".NAME.ftpc-seg.state.new" first);
 * and on the server, beside an upload: a segmented upload's temporary file
 * (".NAME.ftpc-up", segput.h). */
#ifndef FTPC_PARTNAME_H
#define FTPC_PARTNAME_H

#include <stdbool.h>
#include <stddef.h>

#define FTPC_PART_SUFFIX ".ftpc-part"
#define FTPC_SEG_SUFFIX ".ftpc-seg"
#define FTPC_SEG_STATE_EXT ".state"
#define FTPC_SEG_STATE_TMP_EXT ".new"
#define FTPC_UP_SUFFIX ".ftpc-up"

/* Whether the file name (len bytes, no '/') has the form of those work files. A download to
 * such a name would share it with the work file of NAME's download, which writes over it and
 * renames it away, or removes it once NAME is in place; a remote ".NAME.ftpc-up" is an
 * upload under way or cut short, not a file of the tree: mirror leaves such names out and
 * get wants another local name for them. */
bool ftpc_part_like(const char *name, size_t len);

#endif
