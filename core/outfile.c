/* core/outfile.c — output files opened without following planted symlinks
 * (O_NOFOLLOW), temporary files created exclusively with random names, and
 * atomic replacement. See outfile.h. */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int refuse_link(const char *path, char *err, size_t errsz)
{
    snprintf(err, errsz, "%.300s is a symbolic link: refusing to write through it (someone could "
             "have planted it to overwrite another file); remove it, or pass --follow-symlinks "
             "(RUNCTL_FOLLOW_SYMLINKS=1) if you made it", path);
    errno = ELOOP;
    return -1;
}

static int is_link(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

int rc_outfile_open(const char *path, int flags, int mode, char *err, size_t errsz)
{
    /* The system's own links (/dev/stdout -> /proc/self/fd/1) are nobody's plant. */
    if (strncmp(path, "/dev/", 5) == 0)
        flags |= RC_OUT_FOLLOW;
    int oflags = O_CREAT | O_CLOEXEC | ((flags & RC_OUT_APPEND) ? O_RDWR | O_APPEND : O_WRONLY);
    if (!(flags & RC_OUT_FOLLOW))
        oflags |= O_NOFOLLOW;
    int fd = open(path, oflags, mode);
    if (fd < 0) {
        if (errno == ELOOP && !(flags & RC_OUT_FOLLOW) && is_link(path))
            return refuse_link(path, err, errsz);
        snprintf(err, errsz, "%.300s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    /* Truncate only a regular file (truncating a FIFO or /dev/stdout fails). */
    if (!(flags & RC_OUT_APPEND) && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ftruncate(fd, 0) != 0) {
        snprintf(err, errsz, "%.300s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* The path to write through: path itself, or with RC_OUT_FOLLOW and a
 * symlink there, the file it leads to (malloc'd). NULL on error. */
static char *target_of(const char *path, int flags, char *err, size_t errsz)
{
    if ((flags & RC_OUT_FOLLOW) && is_link(path)) {
        char *real = realpath(path, NULL);
        if (real == NULL)
            snprintf(err, errsz, "%.300s: the symbolic link leads nowhere: %s", path, strerror(errno));
        return real;
    }
    char *copy = strdup(path);
    if (copy == NULL)
        snprintf(err, errsz, "out of memory");
    return copy;
}

int rc_outfile_temp(const char *path, int flags, int mode, char **tmp, char *err, size_t errsz)
{
    *tmp = NULL;
    char *target = target_of(path, flags, err, errsz);
    if (target == NULL)
        return -1;
    size_t n = strlen(target) + sizeof ".tmp-XXXXXX";
    char *name = malloc(n);
    if (name == NULL) {
        free(target);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    snprintf(name, n, "%s.tmp-XXXXXX", target);
    free(target);
    int fd = mkostemp(name, O_CLOEXEC);         /* O_CREAT | O_EXCL: never an existing file or link */
    if (fd < 0 || fchmod(fd, (mode_t)mode) != 0) {
        snprintf(err, errsz, "cannot create a temporary file next to %.300s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(name);
        }
        free(name);
        return -1;
    }
    *tmp = name;
    return fd;
}

int rc_outfile_replace(const char *tmp, const char *path, int flags, char *err, size_t errsz)
{
    if (!(flags & RC_OUT_FOLLOW) && is_link(path)) {
        unlink(tmp);
        return refuse_link(path, err, errsz);
    }
    char *target = target_of(path, flags, err, errsz);
    if (target == NULL) {
        unlink(tmp);
        return -1;
    }
    int rc = rename(tmp, target);
    if (rc != 0) {
        snprintf(err, errsz, "cannot rename %.300s over %.300s: %s", tmp, target, strerror(errno));
        unlink(tmp);
    }
    free(target);
    return rc;
}
