/* winmmap_fork_call on POSIX systems: the real fork. */
#include <winmmap.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

pid_t winmmap_fork_call(int (*fn)(void *arg), const void *arg, size_t arg_size)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid; /* the parent, or -1 with errno */
    /* The child runs fn on its own copy, as the Windows version does. */
    void *copy = malloc(arg_size ? arg_size : 1);
    if (!copy)
        _exit(127);
    if (arg_size)
        memcpy(copy, arg, arg_size);
    _exit(fn(copy));
}
