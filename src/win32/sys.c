/* The Win32 call table (see sys.h) and its loader.  Newer APIs are looked up
 * with GetProcAddress so the library still loads where they are missing. */
#include "sys.h"

struct wm_sys wm_sys;

static FARPROC lookup(const char *dll, const char *name)
{
    /* kernelbase.dll holds the placeholder APIs on Windows 10 and Wine 10;
     * kernel32.dll forwards some of them. */
    const char *const dlls[] = {dll, "kernel32.dll"};
    for (size_t i = 0; i < sizeof dlls / sizeof dlls[0]; i++) {
        HMODULE m = GetModuleHandleA(dlls[i]);
        FARPROC f = m ? GetProcAddress(m, name) : NULL;
        if (f)
            return f;
    }
    return NULL;
}

void wm_sys_load(void)
{
#define LINK(ret, name, fail, params, args, inj) wm_sys.name = name;
#define LOAD(ret, name, fail, params, args, inj, dll, export)                                      \
    wm_sys.name = (ret(WINAPI *) params)(void (*)(void))lookup(dll, export);
    WM_SYS_LINKED(LINK)
    WM_SYS_LOADED(LOAD)
#undef LINK
#undef LOAD
}
