/* Linked (natively, with -Wl,--wrap=sysconf,--wrap=mmap,--wrap=munmap) into
 * gdbm's gtload and gtdump by toolchain/ports.sh: a Linux with 64 KiB pages
 * as gdbm sees it.  sysconf(_SC_PAGESIZE) says 65536 and every mapping
 * covers whole 64 KiB pages, as such a kernel maps them.  This is the page
 * size winmmap's legacy strategy has (the only one on Wine 8), so the
 * Windows runs with that strategy are compared with these programs. */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 65536L
long __real_sysconf(int name);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_munmap(void *addr, size_t len);

long __wrap_sysconf(int name) { return name == _SC_PAGESIZE ? PAGE : __real_sysconf(name); }
static size_t whole(size_t len) { return (len + PAGE - 1) / PAGE * PAGE; }
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    return __real_mmap(addr, whole(len), prot, flags, fd, off);
}
int __wrap_munmap(void *addr, size_t len) { return __real_munmap(addr, whole(len)); }
