/* winmmap's extensions on POSIX systems, where the system's own mmap does the
 * work: they describe it. */
#include <winmmap.h>

const char *winmmap_version(void)
{
    return "0.1.0";
}

const char *winmmap_strategy(void)
{
    return "native";
}

size_t winmmap_region_count(void)
{
    return 0;
}
