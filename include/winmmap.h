/* winmmap extensions: facts about the running engine.  Available on every
 * platform; on POSIX systems they describe the system's own mmap. */
#ifndef WINMMAP_H
#define WINMMAP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WINMMAP_VERSION_MAJOR 0
#define WINMMAP_VERSION_MINOR 1
#define WINMMAP_VERSION_PATCH 0

/* "0.1.0" */
const char *winmmap_version(void);

/* The placement strategy in use: "exact" (placeholders, 4 KiB pages),
 * "legacy" (64 KiB pages) or "native" (a POSIX system's own mmap).  Chosen
 * once, at the first call into the library; WINMMAP_STRATEGY=exact|legacy|auto
 * in the environment overrides the automatic choice (exact falls back to
 * legacy where placeholders do not work). */
const char *winmmap_strategy(void);

/* Number of live page ranges the library tracks (0 on POSIX systems). */
size_t winmmap_region_count(void);

#ifdef __cplusplus
}
#endif

#endif
