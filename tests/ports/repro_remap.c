/* repro_remap.c: the gdbm 1.23 "-maxmap=65536" failure under winmmap's
 * legacy strategy, reduced to mmap/munmap/msync/ftruncate and lseek+read on one
 * file (mingw has no pread).  NOT a winmmap bug: gdbm's own window arithmetic breaks whenever
 * sysconf(_SC_PAGESIZE) is larger than its 4 KiB block, and the legacy
 * strategy (the only one on Wine 8) reports 65536, its mmap offset
 * granularity.  gdbm fails the same way natively on Linux when it is given
 * an 8, 16, 32 or 64 KiB page size (sysconf wrapped, mmap lengths rounded up
 * to that page, as a kernel with that page size maps them): same record
 * (1352), same corrupted dump.
 *
 * What gdbm does (src/mmap.c, _gdbm_mapped_remap + _gdbm_internal_remap,
 * at most one mapping at a time):
 *
 *   to write LEN bytes at file position POS outside the current window:
 *     munmap(old window)
 *     size = min(maxmap, file_size - POS)          (clipped at the file end)
 *     delta = POS % sysconf(_SC_PAGESIZE)          (offset must be aligned)
 *     mapped_off = POS - delta; mapped_pos = delta; mapped_size = size
 *     p = mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_SHARED, fd, mapped_off)
 *     nbytes = mapped_size - mapped_pos            (size_t)
 *     if nbytes == 0: write returns 0 -> "ENOSPC", need_recovery is set
 *     memcpy(p + mapped_pos, buf, min(nbytes, LEN))
 *
 * The size is not enlarged by delta.  With 4 KiB pages and 4 KiB blocks,
 * delta is 0 for every block write.  With 64 KiB pages, whenever
 * POS % 65536 == file_size - POS the window ends exactly at POS: in a
 * 155648-byte file (2 x 64 KiB + 24 KiB), POS = 143360 (size 12288, delta
 * 12288) and POS = 110592 (size 45056, delta 45056).  The write returns 0
 * and gdbm reports "item not inserted: Database needs recovery": in gdbm
 * (num2word 1:20000 | gtload -blocksize=4096 -bsexact -maxmap=65536, record
 * 1352) it is the 143360 one: mmap(len 12288, offset 131072), mapped_pos
 * 12288 == mapped_size 12288, a bucket write of 4096 bytes returns 0.  Blocks
 * with delta > size: nbytes wraps around, the memcpy goes to p + delta,
 * beyond the length asked of mmap but inside the mapped 64 KiB page and the
 * file, so it lands where it should.
 *
 * This program writes every 4 KiB block of a 155648-byte file through
 * windows made exactly that way, then reads the file back with lseek+read.
 *
 *   natively (4 KiB pages), Wine 10 with WINMMAP_STRATEGY=exact:
 *     page size 4096: 38 blocks, 0 empty windows, 0 wrong blocks, exit 0
 *   Wine 8 (legacy, also its default), Wine 10 WINMMAP_STRATEGY=legacy,
 *   and natively with REPRO_PAGESIZE=65536 (byte-identical output):
 *     page size 65536: 38 blocks, 2 empty windows (blocks 27 and 35, at
 *     110592 and 143360), 2 wrong blocks (they stay zero), exit 1
 *   natively with REPRO_PAGESIZE=8192: block 37 empty; =16384: blocks 35, 37
 *   and the corrected arithmetic (size + delta), run in the same program,
 *   writes and reads back all 38 blocks on every platform and strategy: the
 *   mappings winmmap's legacy strategy makes are right.
 *
 * Build: x86_64-w64-mingw32-gcc -D_FILE_OFFSET_BITS=64 -I PREFIX/include/winmmap
 *        repro_remap.c PREFIX/lib/libwinmmap.a      (natively: gcc repro_remap.c)
 * Not part of the shim library (ports.sh leaves repro_*.c out of it).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#ifndef O_BINARY
#define O_BINARY 0
#endif

enum { BLOCK = 4096, MAXMAP = 65536, NBLOCKS = 38 };
static const long long file_size = (long long)NBLOCKS * BLOCK; /* 155648 */
static int emulate;

static void fill(unsigned char *b, int blk) {
    for (int i = 0; i < BLOCK; i++) b[i] = (unsigned char)(blk * 7 + i % 251 + 1);
}

/* One gdbm window write; returns bytes written through the mapping. */
static long window_write(int fd, long page, long long pos, const unsigned char *buf, int fixed) {
    size_t size = MAXMAP;
    if (pos + (long long)size > file_size) size = (size_t)(file_size - pos);
    size_t delta = (size_t)(pos % page);
    long long off = pos - (long long)delta;
    if (fixed) size += delta; /* what gdbm should do */
    /* REPRO_PAGESIZE (natively): the page size a kernel with larger pages
       would have; such a kernel maps whole pages, so the length is rounded. */
    size_t maplen = emulate ? (size + page - 1) / page * page : size;
    unsigned char *p = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
    if (p == MAP_FAILED) { perror("mmap"); exit(2); }
    size_t nbytes = size - delta; /* gdbm: mapped_size - mapped_pos */
    if (nbytes > BLOCK) nbytes = BLOCK;
    if (nbytes) memcpy(p + delta, buf, nbytes);
    if (msync(p, maplen, MS_SYNC) != 0) { perror("msync"); exit(2); }
    if (munmap(p, maplen) != 0) { perror("munmap"); exit(2); }
    return (long)nbytes;
}

static int run(int fd, long page, int fixed) {
    unsigned char buf[BLOCK], got[BLOCK];
    int empty = 0, wrong = 0;
    if (ftruncate(fd, 0) != 0 || ftruncate(fd, file_size) != 0) { perror("ftruncate"); exit(2); }
    for (int b = 0; b < NBLOCKS; b++) {
        long long pos = (long long)b * BLOCK;
        fill(buf, b);
        long n = window_write(fd, page, pos, buf, fixed);
        if (n == 0) {
            printf("  block %2d at %lld: mmap(len %lld, offset %lld), the block at +%lld: the window ends"
                   " where the block begins, the write returns 0\n", b, pos, file_size - pos < MAXMAP ? file_size - pos : MAXMAP,
                   pos - pos % page, pos % page);
            empty++;
        }
    }
    for (int b = 0; b < NBLOCKS; b++) {
        fill(buf, b);
        if (lseek(fd, (off_t)b * BLOCK, SEEK_SET) != (off_t)b * BLOCK || read(fd, got, BLOCK) != BLOCK) {
            perror("read");
            exit(2);
        }
        if (memcmp(buf, got, BLOCK) != 0) {
            printf("  block %2d at %lld: read does not return the data written\n", b, (long long)b * BLOCK);
            wrong++;
        }
    }
    printf("%s arithmetic: %d blocks, %d empty windows, %d wrong blocks\n",
           fixed ? "corrected" : "gdbm's", NBLOCKS, empty, wrong);
    return empty + wrong;
}

int main(void) {
    const char *path = "repro_remap.dat";
    long page = sysconf(_SC_PAGESIZE);
#ifndef _WIN32
    if (getenv("REPRO_PAGESIZE")) { page = atol(getenv("REPRO_PAGESIZE")); emulate = 1; }
#endif
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_BINARY, 0644);
    if (fd < 0) { perror(path); return 2; }
    printf("page size %ld%s, file %lld bytes, window at most %d bytes\n", page, emulate ? " (REPRO_PAGESIZE)" : "", file_size, MAXMAP);
    int bad = run(fd, page, 0);
    int bad_fixed = run(fd, page, 1);
    close(fd);
    unlink(path);
    if (bad_fixed) { printf("the corrected arithmetic fails too: a mapping problem\n"); return 3; }
    return bad ? 1 : 0;
}
