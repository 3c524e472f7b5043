/* The Win32 calls the engine makes, through one replaceable table.  Production
 * code always calls wm_sys.X(...); a test can swap in wrappers that make the
 * N-th call fail (sys_inject.c) to prove every error path recovers.  Functions
 * missing on this system (placeholder APIs before Windows 10 1803 / Wine 10)
 * are NULL. */
#ifndef WM_SYS_H
#define WM_SYS_H

#include <windows.h>

#ifndef MEM_RESERVE_PLACEHOLDER
#define MEM_RESERVE_PLACEHOLDER 0x00040000
#endif
#ifndef MEM_REPLACE_PLACEHOLDER
#define MEM_REPLACE_PLACEHOLDER 0x00004000
#endif
#ifndef MEM_PRESERVE_PLACEHOLDER
#define MEM_PRESERVE_PLACEHOLDER 0x00000002
#endif
#ifndef MEM_COALESCE_PLACEHOLDERS
#define MEM_COALESCE_PLACEHOLDERS 0x00000001
#endif

typedef PVOID(WINAPI *wm_VirtualAlloc2_fn)(HANDLE, PVOID, SIZE_T, ULONG, ULONG, void *, ULONG);
typedef PVOID(WINAPI *wm_MapViewOfFile3_fn)(HANDLE, HANDLE, PVOID, ULONG64, SIZE_T, ULONG, ULONG,
                                            void *, ULONG);
typedef BOOL(WINAPI *wm_UnmapViewOfFile2_fn)(HANDLE, PVOID, ULONG);
typedef BOOL(WINAPI *wm_PrefetchVirtualMemory_fn)(HANDLE, ULONG_PTR, void *, ULONG);
typedef BOOL(WINAPI *wm_QueryWorkingSetEx_fn)(HANDLE, PVOID, DWORD);
/* ntdll's NtQueryObject, for ObjectBasicInformation (class 0): the access a
 * handle was granted, which no kernel32 call reports. */
typedef LONG(WINAPI *wm_NtQueryObject_fn)(HANDLE, int, PVOID, ULONG, PULONG);
struct wm_object_basic_information {
    ULONG Attributes;
    ACCESS_MASK GrantedAccess;
    ULONG HandleCount, PointerCount, Reserved[10];
};

struct wm_sys {
    HANDLE(WINAPI *CreateFileMappingW)(HANDLE, LPSECURITY_ATTRIBUTES, DWORD, DWORD, DWORD, LPCWSTR);
    LPVOID(WINAPI *MapViewOfFileEx)(HANDLE, DWORD, DWORD, DWORD, SIZE_T, LPVOID);
    BOOL(WINAPI *UnmapViewOfFile)(LPCVOID);
    BOOL(WINAPI *CloseHandle)(HANDLE);
    BOOL(WINAPI *DuplicateHandle)(HANDLE, HANDLE, HANDLE, LPHANDLE, DWORD, BOOL, DWORD);
    LPVOID(WINAPI *VirtualAlloc)(LPVOID, SIZE_T, DWORD, DWORD);
    BOOL(WINAPI *VirtualFree)(LPVOID, SIZE_T, DWORD);
    BOOL(WINAPI *VirtualProtect)(LPVOID, SIZE_T, DWORD, PDWORD);
    SIZE_T(WINAPI *VirtualQuery)(LPCVOID, PMEMORY_BASIC_INFORMATION, SIZE_T);
    BOOL(WINAPI *FlushViewOfFile)(LPCVOID, SIZE_T);
    BOOL(WINAPI *FlushFileBuffers)(HANDLE);
    BOOL(WINAPI *GetFileSizeEx)(HANDLE, PLARGE_INTEGER);
    BOOL(WINAPI *GetFileInformationByHandle)(HANDLE, LPBY_HANDLE_FILE_INFORMATION);
    BOOL(WINAPI *VirtualLock)(LPVOID, SIZE_T);
    BOOL(WINAPI *VirtualUnlock)(LPVOID, SIZE_T);
    BOOL(WINAPI *GetProcessWorkingSetSize)(HANDLE, PSIZE_T, PSIZE_T);
    BOOL(WINAPI *SetProcessWorkingSetSize)(HANDLE, SIZE_T, SIZE_T);
    /* Loaded at run time; NULL when absent. */
    wm_VirtualAlloc2_fn VirtualAlloc2;
    wm_MapViewOfFile3_fn MapViewOfFile3;
    wm_UnmapViewOfFile2_fn UnmapViewOfFile2;
    wm_PrefetchVirtualMemory_fn PrefetchVirtualMemory;
    wm_QueryWorkingSetEx_fn QueryWorkingSetEx; /* K32QueryWorkingSetEx */
    wm_NtQueryObject_fn NtQueryObject;
};

extern struct wm_sys wm_sys;

/* Fill wm_sys (idempotent; called under the one-time initialisation). */
void wm_sys_load(void);

/* Failure injection for tests: after wm_sys_inject_fail_at(n) with n > 0, the
 * n-th injectable call from now fails (with ERROR_NOT_ENOUGH_MEMORY) and later
 * calls succeed again; n == 0 switches injection off.  Pure releases
 * (CloseHandle, UnmapViewOfFile, VirtualFree(MEM_RELEASE) of a whole
 * allocation) are never failed: the engine orders its work so that every
 * fallible step comes before them.  Returns how many injectable calls were made
 * since the last wm_sys_inject_fail_at(). */
void wm_sys_inject_fail_at(long n);
long wm_sys_inject_calls(void);

#endif
