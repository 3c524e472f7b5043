/* The Win32 call table (see sys.h) and its loader.  Newer APIs are looked up
 * with GetProcAddress so the library still loads where they are missing. */
#include "sys.h"

struct wm_sys wm_sys;

static FARPROC lookup(const char *name)
{
    /* kernelbase.dll holds the placeholder APIs on Windows 10 and Wine 10;
     * kernel32.dll forwards some of them. */
    static const char *const dlls[] = {"kernelbase.dll", "kernel32.dll"};
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
    wm_sys.CreateFileMappingW = CreateFileMappingW;
    wm_sys.MapViewOfFileEx = MapViewOfFileEx;
    wm_sys.UnmapViewOfFile = UnmapViewOfFile;
    wm_sys.CloseHandle = CloseHandle;
    wm_sys.DuplicateHandle = DuplicateHandle;
    wm_sys.VirtualAlloc = VirtualAlloc;
    wm_sys.VirtualFree = VirtualFree;
    wm_sys.VirtualProtect = VirtualProtect;
    wm_sys.VirtualQuery = VirtualQuery;
    wm_sys.FlushViewOfFile = FlushViewOfFile;
    wm_sys.FlushFileBuffers = FlushFileBuffers;
    wm_sys.GetFileSizeEx = GetFileSizeEx;
    wm_sys.GetFileInformationByHandle = GetFileInformationByHandle;
    wm_sys.VirtualLock = VirtualLock;
    wm_sys.VirtualUnlock = VirtualUnlock;
    wm_sys.GetProcessWorkingSetSize = GetProcessWorkingSetSize;
    wm_sys.SetProcessWorkingSetSize = SetProcessWorkingSetSize;
    wm_sys.VirtualAlloc2 = (wm_VirtualAlloc2_fn)(void (*)(void))lookup("VirtualAlloc2");
    wm_sys.MapViewOfFile3 = (wm_MapViewOfFile3_fn)(void (*)(void))lookup("MapViewOfFile3");
    wm_sys.UnmapViewOfFile2 = (wm_UnmapViewOfFile2_fn)(void (*)(void))lookup("UnmapViewOfFile2");
    wm_sys.PrefetchVirtualMemory =
        (wm_PrefetchVirtualMemory_fn)(void (*)(void))lookup("PrefetchVirtualMemory");
    wm_sys.QueryWorkingSetEx = (wm_QueryWorkingSetEx_fn)(void (*)(void))lookup("K32QueryWorkingSetEx");
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    wm_sys.NtQueryObject =
        (wm_NtQueryObject_fn)(void (*)(void))(ntdll ? GetProcAddress(ntdll, "NtQueryObject") : NULL);
}
