/* Failure injection for tests (see sys.h): wrappers that count the engine's
 * fallible Win32 calls and make the chosen one fail.  Not thread-aware on
 * purpose: injection tests drive one thread. */
#include "sys.h"

static struct wm_sys real;
static long countdown, calls;

static int hit(void)
{
    calls++;
    if (countdown > 0 && --countdown == 0) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return 1;
    }
    return 0;
}

static HANDLE WINAPI i_CreateFileMappingW(HANDLE f, LPSECURITY_ATTRIBUTES sa, DWORD p, DWORD hi,
                                          DWORD lo, LPCWSTR n)
{
    return hit() ? NULL : real.CreateFileMappingW(f, sa, p, hi, lo, n);
}

static LPVOID WINAPI i_MapViewOfFileEx(HANDLE s, DWORD a, DWORD hi, DWORD lo, SIZE_T n, LPVOID b)
{
    return hit() ? NULL : real.MapViewOfFileEx(s, a, hi, lo, n, b);
}

static BOOL WINAPI i_DuplicateHandle(HANDLE sp, HANDLE h, HANDLE tp, LPHANDLE out, DWORD a,
                                     BOOL inh, DWORD o)
{
    return hit() ? FALSE : real.DuplicateHandle(sp, h, tp, out, a, inh, o);
}

static LPVOID WINAPI i_VirtualAlloc(LPVOID a, SIZE_T n, DWORD t, DWORD p)
{
    return hit() ? NULL : real.VirtualAlloc(a, n, t, p);
}

static BOOL WINAPI i_VirtualFree(LPVOID a, SIZE_T n, DWORD t)
{
    /* Splitting or joining placeholders can fail; releasing cannot. */
    if ((t & (MEM_PRESERVE_PLACEHOLDER | MEM_COALESCE_PLACEHOLDERS)) && hit())
        return FALSE;
    return real.VirtualFree(a, n, t);
}

static BOOL WINAPI i_VirtualProtect(LPVOID a, SIZE_T n, DWORD p, PDWORD old)
{
    return hit() ? FALSE : real.VirtualProtect(a, n, p, old);
}

static SIZE_T WINAPI i_VirtualQuery(LPCVOID a, PMEMORY_BASIC_INFORMATION m, SIZE_T n)
{
    return hit() ? 0 : real.VirtualQuery(a, m, n);
}

static BOOL WINAPI i_FlushViewOfFile(LPCVOID a, SIZE_T n)
{
    return hit() ? FALSE : real.FlushViewOfFile(a, n);
}

static BOOL WINAPI i_FlushFileBuffers(HANDLE f)
{
    return hit() ? FALSE : real.FlushFileBuffers(f);
}

static BOOL WINAPI i_GetFileSizeEx(HANDLE f, PLARGE_INTEGER s)
{
    return hit() ? FALSE : real.GetFileSizeEx(f, s);
}

static BOOL WINAPI i_GetFileInformationByHandle(HANDLE f, LPBY_HANDLE_FILE_INFORMATION i)
{
    return hit() ? FALSE : real.GetFileInformationByHandle(f, i);
}

static BOOL WINAPI i_VirtualLock(LPVOID a, SIZE_T n)
{
    return hit() ? FALSE : real.VirtualLock(a, n);
}

static BOOL WINAPI i_GetProcessWorkingSetSize(HANDLE p, PSIZE_T lo, PSIZE_T hi)
{
    return hit() ? FALSE : real.GetProcessWorkingSetSize(p, lo, hi);
}

static BOOL WINAPI i_SetProcessWorkingSetSize(HANDLE p, SIZE_T lo, SIZE_T hi)
{
    return hit() ? FALSE : real.SetProcessWorkingSetSize(p, lo, hi);
}

static PVOID WINAPI i_VirtualAlloc2(HANDLE p, PVOID a, SIZE_T n, ULONG t, ULONG pr, void *x, ULONG c)
{
    return hit() ? NULL : real.VirtualAlloc2(p, a, n, t, pr, x, c);
}

static PVOID WINAPI i_MapViewOfFile3(HANDLE s, HANDLE p, PVOID a, ULONG64 o, SIZE_T n, ULONG t,
                                     ULONG pr, void *x, ULONG c)
{
    return hit() ? NULL : real.MapViewOfFile3(s, p, a, o, n, t, pr, x, c);
}

static BOOL WINAPI i_UnmapViewOfFile2(HANDLE p, PVOID a, ULONG f)
{
    if ((f & MEM_PRESERVE_PLACEHOLDER) && hit())
        return FALSE;
    return real.UnmapViewOfFile2(p, a, f);
}

static BOOL WINAPI i_QueryWorkingSetEx(HANDLE p, PVOID v, DWORD n)
{
    return hit() ? FALSE : real.QueryWorkingSetEx(p, v, n);
}

static LONG WINAPI i_NtQueryObject(HANDLE h, int c, PVOID info, ULONG n, PULONG ret)
{
    return hit() ? (LONG)0xC0000017 /* STATUS_NO_MEMORY */ : real.NtQueryObject(h, c, info, n, ret);
}

void wm_sys_inject_fail_at(long n)
{
    if (!real.CreateFileMappingW)
        real = wm_sys;
    countdown = n;
    calls = 0;
    if (n <= 0) {
        wm_sys = real;
        return;
    }
    wm_sys.CreateFileMappingW = i_CreateFileMappingW;
    wm_sys.MapViewOfFileEx = i_MapViewOfFileEx;
    wm_sys.DuplicateHandle = i_DuplicateHandle;
    wm_sys.VirtualAlloc = i_VirtualAlloc;
    wm_sys.VirtualFree = i_VirtualFree;
    wm_sys.VirtualProtect = i_VirtualProtect;
    wm_sys.VirtualQuery = i_VirtualQuery;
    wm_sys.FlushViewOfFile = i_FlushViewOfFile;
    wm_sys.FlushFileBuffers = i_FlushFileBuffers;
    wm_sys.GetFileSizeEx = i_GetFileSizeEx;
    wm_sys.GetFileInformationByHandle = i_GetFileInformationByHandle;
    wm_sys.VirtualLock = i_VirtualLock;
    wm_sys.GetProcessWorkingSetSize = i_GetProcessWorkingSetSize;
    wm_sys.SetProcessWorkingSetSize = i_SetProcessWorkingSetSize;
    if (real.VirtualAlloc2)
        wm_sys.VirtualAlloc2 = i_VirtualAlloc2;
    if (real.MapViewOfFile3)
        wm_sys.MapViewOfFile3 = i_MapViewOfFile3;
    if (real.QueryWorkingSetEx)
        wm_sys.QueryWorkingSetEx = i_QueryWorkingSetEx;
    if (real.UnmapViewOfFile2)
        wm_sys.UnmapViewOfFile2 = i_UnmapViewOfFile2;
    if (real.NtQueryObject)
        wm_sys.NtQueryObject = i_NtQueryObject;
}

long wm_sys_inject_calls(void)
{
    return calls;
}
