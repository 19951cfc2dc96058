/* The names of ftpc's own work files beside a download: its part file (".NAME.ftpc-part",
 * xfer.h), a segmented download's file (".NAME.ftpc-seg", segget.h) and that one's status
 * file (".NAME.ftpc-seg.state", segstate.h, written as ".NAME.ftpc-seg.state.new" first). */
#ifndef FTPC_PARTNAME_H
#define FTPC_PARTNAME_H

#include <stdbool.h>
#include <stddef.h>

#define FTPC_PART_SUFFIX ".ftpc-part"
#define FTPC_SEG_SUFFIX ".ftpc-seg"
#define FTPC_SEG_STATE_EXT ".state"
#define FTPC_SEG_STATE_TMP_EXT ".new"

/* Whether the file name (len bytes, no '/') has the form of those work files. A download to
 * such a name would share it with the work file of NAME's download, which writes over it and
 * renames it away, or removes it once NAME is in place: mirror leaves such remote names out
 * and get wants another local name for them. */
bool ftpc_part_like(const char *name, size_t len);

#endif
