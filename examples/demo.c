/* A small Unix program that maps a file, written against POSIX only: it
 * builds unchanged on Linux and, with winmmap, for Windows. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS under -std=c11 on glibc */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef O_BINARY
#define O_BINARY 0
#endif

static int die(const char *what)
{
    perror(what);
    return 1;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "winmmap-demo.txt";
    long page = sysconf(_SC_PAGESIZE);
    printf("page size: %ld\n", page);

    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_BINARY, 0644);
    if (fd < 0)
        return die("open");
    const char text[] = "hello from a file\n";
    if (write(fd, text, sizeof text - 1) != (long)(sizeof text - 1))
        return die("write");
    printf("wrote %zu bytes to %s\n", sizeof text - 1, path);

    /* A shared mapping: writes reach the file. */
    char *shared = mmap(NULL, sizeof text - 1, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (shared == MAP_FAILED)
        return die("mmap MAP_SHARED");
    printf("mapped it shared at %p: \"%.17s\"\n", (void *)shared, shared);
    memcpy(shared, "HELLO", 5);

    /* A private mapping: copy-on-write, the file never changes. */
    char *priv = mmap(NULL, sizeof text - 1, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (priv == MAP_FAILED)
        return die("mmap MAP_PRIVATE");
    memcpy(priv + 11, "memory", 6);
    printf("private copy reads \"%.17s\"\n", priv);

    char buf[sizeof text] = {0};
    if (lseek(fd, 0, SEEK_SET) != 0 || read(fd, buf, sizeof text - 1) != (long)(sizeof text - 1))
        return die("read");
    printf("read() of the file gives \"%.17s\"\n", buf);

    /* Anonymous memory, then a hole punched in its middle. */
    size_t len = 3 * (size_t)page;
    char *anon = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (anon == MAP_FAILED)
        return die("mmap MAP_ANONYMOUS");
    anon[0] = 'a';
    anon[2 * page] = 'c';
    if (munmap(anon + page, (size_t)page) != 0)
        return die("munmap (middle page)");
    printf("anonymous %zu bytes at %p, middle page unmapped, ends still hold '%c' and '%c'\n", len,
           (void *)anon, anon[0], anon[2 * page]);

    munmap(anon, len);
    munmap(priv, sizeof text - 1);
    munmap(shared, sizeof text - 1);
    close(fd);
    unlink(path);
    printf("done\n");
    return 0;
}
