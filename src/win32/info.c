/* Page size and facts about the engine: sysconf, getpagesize, winmmap_*. */
#include "internal.h"

#include <errno.h>
#include <unistd.h>
#include <winmmap.h>

long winmmap_sysconf(int name)
{
    wm_init();
    switch (name) {
    case _SC_PAGESIZE:
        return (long)wm_engine.page;
    case _SC_NPROCESSORS_ONLN: {
        SYSTEM_INFO si;
        GetSystemInfo(&si);
        return (long)si.dwNumberOfProcessors;
    }
    default:
        errno = EINVAL;
        return -1;
    }
}

int getpagesize(void)
{
    wm_init();
    return (int)wm_engine.page;
}

const char *winmmap_version(void)
{
    return "0.1.0";
}

const char *winmmap_strategy(void)
{
    wm_init();
    return wm_engine.place->name;
}

size_t winmmap_region_count(void)
{
    wm_init();
    wm_lock_shared();
    size_t n = wm_engine.regions.count;
    wm_unlock_shared();
    return n;
}
