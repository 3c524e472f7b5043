/* Failure injection for tests (see sys.h): wrappers, generated from the one
 * list of calls, that count the engine's injectable Win32 calls and make the
 * chosen ones fail with the chosen error.  Not thread-aware on purpose:
 * injection tests drive one thread. */
#include "sys.h"

#include <string.h>

static struct wm_sys real;
static long countdown, calls;
static DWORD error;
static bool persistent, failing;
static const char *only;

static int hit(const char *name)
{
    if (only && strcmp(name, only) != 0)
        return 0;
    calls++;
    if (failing || (countdown > 0 && --countdown == 0)) {
        failing = persistent;
        SetLastError(error);
        return 1;
    }
    return 0;
}

#define WRAP(ret, name, fail, params, args, inj, ...)                                              \
    static ret WINAPI i_##name params                                                              \
    {                                                                                              \
        if ((inj) && hit(#name))                                                                        \
            return fail;                                                                           \
        return real.name args;                                                                     \
    }
WM_SYS_LINKED(WRAP)
WM_SYS_LOADED(WRAP)
#undef WRAP

void wm_sys_inject(long n, DWORD err, bool keep_failing)
{
    if (!real.CreateFileMappingW)
        real = wm_sys;
    countdown = n;
    calls = 0;
    error = err;
    persistent = keep_failing;
    failing = false;
    if (n <= 0) {
        wm_sys = real;
        return;
    }
#define SWAP(ret, name, fail, params, args, inj, ...)                                              \
    if (real.name)                                                                                 \
        wm_sys.name = i_##name;
    WM_SYS_LINKED(SWAP)
    WM_SYS_LOADED(SWAP)
#undef SWAP
}

void wm_sys_inject_only(const char *name)
{
    only = name;
}

void wm_sys_inject_fail_at(long n)
{
    wm_sys_inject(n, ERROR_NOT_ENOUGH_MEMORY, false);
}

long wm_sys_inject_calls(void)
{
    return calls;
}
