/* The Win32 calls the engine makes, through one replaceable table.  Production
 * code always calls wm_sys.X(...); a test can swap in wrappers that make the
 * N-th call fail (sys_inject.c) to prove every error path recovers.  Functions
 * missing on this system (placeholder APIs before Windows 10 1803 / Wine 10)
 * are NULL. */
#ifndef WM_SYS_H
#define WM_SYS_H

#include <stdbool.h>
#include <windows.h>
#include <winternl.h>

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

/* ntdll's NtQueryObject with ObjectBasicInformation (class 0): the access a
 * handle was granted, which no kernel32 call reports. */
struct wm_object_basic_information {
    ULONG Attributes;
    ACCESS_MASK GrantedAccess;
    ULONG HandleCount, PointerCount, Reserved[10];
};

/* Every Win32 call the engine makes through the table, once:
 *   X(return type, name, value on failure, (parameters), (arguments), injectable)
 * injectable is an expression of the parameters: whether failure injection
 * may fail this call (pure releases never fail: the engine orders its work so
 * that every fallible step comes before them). */
#define WM_SYS_LINKED(X)                                                                           \
    X(HANDLE, CreateFileMappingW, NULL,                                                            \
      (HANDLE f, LPSECURITY_ATTRIBUTES sa, DWORD p, DWORD hi, DWORD lo, LPCWSTR n),                \
      (f, sa, p, hi, lo, n), 1)                                                                    \
    X(LPVOID, MapViewOfFileEx, NULL, (HANDLE s, DWORD a, DWORD hi, DWORD lo, SIZE_T n, LPVOID b),  \
      (s, a, hi, lo, n, b), 1)                                                                     \
    X(BOOL, UnmapViewOfFile, FALSE, (LPCVOID a), (a), 0)                                           \
    X(BOOL, CloseHandle, FALSE, (HANDLE h), (h), 0)                                                \
    X(BOOL, DuplicateHandle, FALSE,                                                                \
      (HANDLE sp, HANDLE h, HANDLE tp, LPHANDLE out, DWORD a, BOOL inh, DWORD o),                  \
      (sp, h, tp, out, a, inh, o), 1)                                                              \
    X(LPVOID, VirtualAlloc, NULL, (LPVOID a, SIZE_T n, DWORD t, DWORD p), (a, n, t, p), 1)         \
    /* Splitting or joining placeholders can fail; releasing cannot. */                            \
    X(BOOL, VirtualFree, FALSE, (LPVOID a, SIZE_T n, DWORD t), (a, n, t),                          \
      (t & (MEM_PRESERVE_PLACEHOLDER | MEM_COALESCE_PLACEHOLDERS)) != 0)                           \
    X(BOOL, VirtualProtect, FALSE, (LPVOID a, SIZE_T n, DWORD p, PDWORD old), (a, n, p, old), 1)   \
    X(SIZE_T, VirtualQuery, 0, (LPCVOID a, PMEMORY_BASIC_INFORMATION m, SIZE_T n), (a, m, n), 1)   \
    X(BOOL, FlushViewOfFile, FALSE, (LPCVOID a, SIZE_T n), (a, n), 1)                              \
    X(BOOL, FlushFileBuffers, FALSE, (HANDLE f), (f), 1)                                           \
    X(BOOL, GetFileSizeEx, FALSE, (HANDLE f, PLARGE_INTEGER s), (f, s), 1)                         \
    X(BOOL, GetFileInformationByHandle, FALSE, (HANDLE f, LPBY_HANDLE_FILE_INFORMATION i), (f, i), \
      1)                                                                                           \
    X(BOOL, GetFileInformationByHandleEx, FALSE,                                                   \
      (HANDLE f, FILE_INFO_BY_HANDLE_CLASS c, LPVOID i, DWORD n), (f, c, i, n), 1)                 \
    X(BOOL, SetFileInformationByHandle, FALSE,                                                     \
      (HANDLE f, FILE_INFO_BY_HANDLE_CLASS c, LPVOID i, DWORD n), (f, c, i, n), 1)                 \
    X(HANDLE, CreateFileW, INVALID_HANDLE_VALUE,                                                   \
      (LPCWSTR p, DWORD a, DWORD s, LPSECURITY_ATTRIBUTES sa, DWORD d, DWORD f, HANDLE t),         \
      (p, a, s, sa, d, f, t), 1)                                                                   \
    X(BOOL, MoveFileExW, FALSE, (LPCWSTR from, LPCWSTR to, DWORD f), (from, to, f), 1)             \
    X(BOOL, DeleteFileW, FALSE, (LPCWSTR p), (p), 0)                                               \
    X(HANDLE, ReOpenFile, INVALID_HANDLE_VALUE, (HANDLE h, DWORD a, DWORD s, DWORD f),             \
      (h, a, s, f), 1)                                                                             \
    X(BOOL, VirtualLock, FALSE, (LPVOID a, SIZE_T n), (a, n), 1)                                   \
    X(BOOL, VirtualUnlock, FALSE, (LPVOID a, SIZE_T n), (a, n), 0)                                 \
    X(BOOL, GetProcessWorkingSetSize, FALSE, (HANDLE p, PSIZE_T lo, PSIZE_T hi), (p, lo, hi), 1)   \
    X(BOOL, SetProcessWorkingSetSize, FALSE, (HANDLE p, SIZE_T lo, SIZE_T hi), (p, lo, hi), 1)   \
    X(DWORD, GetModuleFileNameW, 0, (HMODULE m, LPWSTR f, DWORD n), (m, f, n), 1)                  \
    X(BOOL, CreateProcessW, FALSE,                                                                 \
      (LPCWSTR a, LPWSTR c, LPSECURITY_ATTRIBUTES pa, LPSECURITY_ATTRIBUTES ta, BOOL inh, DWORD f, \
       LPVOID e, LPCWSTR d, LPSTARTUPINFOW si, LPPROCESS_INFORMATION pi),                          \
      (a, c, pa, ta, inh, f, e, d, si, pi), 1)                                                     \
    X(LPVOID, VirtualAllocEx, NULL, (HANDLE p, LPVOID a, SIZE_T n, DWORD t, DWORD pr),             \
      (p, a, n, t, pr), 1)                                                                         \
    X(BOOL, WriteProcessMemory, FALSE, (HANDLE p, LPVOID a, LPCVOID b, SIZE_T n, SIZE_T *done),    \
      (p, a, b, n, done), 1)                                                                       \
    X(DWORD, ResumeThread, (DWORD)-1, (HANDLE t), (t), 1)                                          \
    X(HANDLE, CreateEventW, NULL, (LPSECURITY_ATTRIBUTES sa, BOOL m, BOOL i, LPCWSTR n),           \
      (sa, m, i, n), 1)                                                                            \
    X(BOOL, SetEvent, FALSE, (HANDLE e), (e), 1)                                                   \
    X(BOOL, TerminateProcess, FALSE, (HANDLE p, UINT c), (p, c), 0)

/* Looked up at run time (NULL where missing: the placeholder APIs before
 * Windows 10 1803 and Wine 10):
 *   X(return type, name, value on failure, (parameters), (arguments), injectable, dll, export) */
#define WM_SYS_LOADED(X)                                                                           \
    X(PVOID, VirtualAlloc2, NULL, (HANDLE p, PVOID a, SIZE_T n, ULONG t, ULONG pr, void *x, ULONG c), \
      (p, a, n, t, pr, x, c), 1, "kernelbase.dll", "VirtualAlloc2")                                \
    X(PVOID, MapViewOfFile3, NULL,                                                                 \
      (HANDLE s, HANDLE p, PVOID a, ULONG64 o, SIZE_T n, ULONG t, ULONG pr, void *x, ULONG c),     \
      (s, p, a, o, n, t, pr, x, c), 1, "kernelbase.dll", "MapViewOfFile3")                         \
    X(BOOL, UnmapViewOfFile2, FALSE, (HANDLE p, PVOID a, ULONG f), (p, a, f),                      \
      (f & MEM_PRESERVE_PLACEHOLDER) != 0, "kernelbase.dll", "UnmapViewOfFile2")                   \
    X(BOOL, PrefetchVirtualMemory, FALSE, (HANDLE p, ULONG_PTR n, void *e, ULONG f), (p, n, e, f), \
      0, "kernelbase.dll", "PrefetchVirtualMemory")                                                \
    X(BOOL, QueryWorkingSetEx, FALSE, (HANDLE p, PVOID v, DWORD n), (p, v, n), 1,                  \
      "kernelbase.dll", "K32QueryWorkingSetEx")                                                    \
    X(LONG, NtQueryObject, (LONG)0xC0000017 /* STATUS_NO_MEMORY */,                                \
      (HANDLE h, int c, PVOID i, ULONG n, PULONG r), (h, c, i, n, r), 1, "ntdll.dll",              \
      "NtQueryObject") \
    X(LONG, NtQueryInformationFile, (LONG)0xC0000017,                                              \
      (HANDLE h, PIO_STATUS_BLOCK io, PVOID i, ULONG n, int c), (h, io, i, n, c), 1, "ntdll.dll",  \
      "NtQueryInformationFile")                                                                    \
    X(LONG, NtQueryVirtualMemory, (LONG)0xC0000017,                                                \
      (HANDLE p, PVOID a, int c, PVOID i, SIZE_T n, PSIZE_T r), (p, a, c, i, n, r), 1, "ntdll.dll", \
      "NtQueryVirtualMemory")                                                                      \
    X(LONG, NtOpenFile, (LONG)0xC0000017,                                                          \
      (PHANDLE h, ACCESS_MASK a, POBJECT_ATTRIBUTES oa, PIO_STATUS_BLOCK io, ULONG s, ULONG o),    \
      (h, a, oa, io, s, o), 1, "ntdll.dll", "NtOpenFile")

#define WM_SYS_FIELD(ret, name, fail, params, args, inj, ...) ret(WINAPI *name) params;
struct wm_sys {
    WM_SYS_LINKED(WM_SYS_FIELD)
    WM_SYS_LOADED(WM_SYS_FIELD)
};
#undef WM_SYS_FIELD

extern struct wm_sys wm_sys;

/* Fill wm_sys (idempotent; called under the one-time initialisation). */
void wm_sys_load(void);

/* Failure injection for tests: after wm_sys_inject(n, error, persistent)
 * with n > 0, the n-th injectable call from now fails with the Win32 error
 * given (and, when persistent, every injectable call after it too); n == 0
 * switches injection off.  wm_sys_inject_fail_at(n) is wm_sys_inject(n,
 * ERROR_NOT_ENOUGH_MEMORY, false).  Returns how many injectable calls were
 * made since the last wm_sys_inject(). */
void wm_sys_inject(long n, DWORD error, bool persistent);
void wm_sys_inject_fail_at(long n);
/* From the next wm_sys_inject on, only calls of the function named (as in
 * the table: "VirtualAlloc2") are counted and made to fail; NULL: all. */
void wm_sys_inject_only(const char *name);
long wm_sys_inject_calls(void);

#endif
