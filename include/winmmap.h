/* winmmap extensions: facts about the running engine, and fork-style
 * inheritance.  Available on every platform; on POSIX systems they describe
 * the system's own mmap and use the real fork. */
#ifndef WINMMAP_H
#define WINMMAP_H

#include <stddef.h>
#include <sys/types.h>
#include <winmmap_extern.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WINMMAP_VERSION_MAJOR 0
#define WINMMAP_VERSION_MINOR 1
#define WINMMAP_VERSION_PATCH 0

/* "0.1.0" */
WINMMAP_EXTERN const char *winmmap_version(void);

/* The placement strategy in use: "exact" (placeholders, 4 KiB pages),
 * "legacy" (64 KiB pages) or "native" (a POSIX system's own mmap).  Chosen
 * once, at the first call into the library; WINMMAP_STRATEGY=exact|legacy|auto
 * in the environment overrides the automatic choice (exact falls back to
 * legacy where placeholders do not work). */
WINMMAP_EXTERN const char *winmmap_strategy(void);

/* Number of live page ranges the library tracks (0 on POSIX systems). */
WINMMAP_EXTERN size_t winmmap_region_count(void);

/* Start a child process that inherits this process's mappings by the rules
 * of fork() (MAP_SHARED stays shared, MAP_PRIVATE is copied as it is now,
 * MADV_DONTFORK ranges are absent, MADV_WIPEONFORK ranges read zeros; locks
 * are not inherited), at the same addresses, and runs fn on a copy of the
 * arg_size bytes at arg; the child exits with fn's return value (as _exit)
 * and never runs main.  Returns the child's pid for waitpid(), or -1 with
 * errno (EAGAIN: the child could not get the same addresses; ENOMEM).
 * The porting recipe for a fork site:
 *     pid_t pid = fork();  if (pid == 0) _exit(work(&ctx));
 * becomes
 *     pid_t pid = winmmap_fork_call(work, &ctx, sizeof ctx);
 * On POSIX systems it is fork() followed by _exit(fn(arg)) in the child. */
WINMMAP_EXTERN pid_t winmmap_fork_call(int (*fn)(void *arg), const void *arg, size_t arg_size);

#if defined(_WIN32) && defined(__GNUC__)
/* The child of winmmap_fork_call is the same program, started again: before
 * main, it maps what it inherits, runs fn and exits.  That start must run
 * from the program's own constructors, not from a DLL's initialisation (under
 * the loader lock fn could not wait for a thread it starts), so every file
 * that includes this header carries the hook; it returns at once, and does
 * nothing, in a process that is not such a child. */
WINMMAP_EXTERN void winmmap_fork_child_start(void);
__attribute__((constructor)) static void winmmap_fork_child_hook(void)
{
    winmmap_fork_child_start();
}
#endif

#ifdef __cplusplus
}
#endif

#endif
