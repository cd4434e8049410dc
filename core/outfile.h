/* core/outfile.h — opening the files runctl writes (reports, journals,
 * metrics) without following a symlink someone planted at the path or at
 * its temporary file. Plain C. */
#ifndef RC_OUTFILE_H
#define RC_OUTFILE_H

#include <stddef.h>

/* Flags for rc_outfile_open. */
#define RC_OUT_APPEND 1         /* append (and read: a journal reads its tail); else truncate */
#define RC_OUT_FOLLOW 2         /* a symlink at path is followed (the user asked for it) */

/* Opens path for writing, created with mode when it does not exist. A
 * symlink at path is refused (O_NOFOLLOW) unless RC_OUT_FOLLOW or the path is
 * under /dev/ (/dev/stdout, /dev/fd/N are the system's links); a path that
 * is not a regular file (a FIFO, a device such as /dev/stdout or /dev/null)
 * is opened as it is. Returns the descriptor, or -1 with a message in err
 * that names the problem and the fix. */
int rc_outfile_open(const char *path, int flags, int mode, char *err, size_t errsz);

/* Creates a new file next to path, named "PATH.tmp-XXXXXX" with a random
 * suffix, exclusively (it never opens a file or a link that exists), with
 * mode. With RC_OUT_FOLLOW and a symlink at path, next to the link's
 * target. Returns the descriptor and sets *tmp (malloc'd), or -1 with err. */
int rc_outfile_temp(const char *path, int flags, int mode, char **tmp, char *err, size_t errsz);

/* Renames tmp over path (atomically: readers see the old file or the new
 * one). A symlink at path is refused (tmp removed) unless RC_OUT_FOLLOW,
 * which replaces the link's target instead. Returns 0, or -1 with err. */
int rc_outfile_replace(const char *tmp, const char *path, int flags, char *err, size_t errsz);

#endif
