/* ports shim: <sys/file.h> flock(), which mingw-w64 lacks.  Whole-file
 * advisory locks for database libraries (gdbm locks its file with flock when
 * it opens it, and refuses to open without some lock unless told not to).
 * Implemented in flock.c with LockFileEx on one byte far past any real data,
 * so the (mandatory) Windows lock never blocks anyone's reads, writes or
 * mappings, only other flock() calls: like flock, it belongs to the open
 * file (each open() has its own handle), not to the process. */
#ifndef PORTS_SYS_FILE_H
#define PORTS_SYS_FILE_H
#include <fcntl.h>

#define LOCK_SH 1
#define LOCK_EX 2
#define LOCK_NB 4
#define LOCK_UN 8

int flock(int fd, int operation);
#endif
