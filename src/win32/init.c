/* Engine state, its lock, and the one-time choice of placement strategy. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct wm_engine wm_engine = {.lock = SRWLOCK_INIT};

static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
static DWORD lock_owner; /* thread id holding the lock exclusively, 0 if none */

static void on_dup(struct wm_region *copy)
{
    wm_backing_hold(copy->backing);
}

/* Wine 8 exports VirtualAlloc2 but refuses MEM_RESERVE_PLACEHOLDER, so the
 * functions being present is not enough: try one placeholder round trip. */
static bool placeholders_work(void)
{
    if (!wm_sys.VirtualAlloc2 || !wm_sys.MapViewOfFile3 || !wm_sys.UnmapViewOfFile2)
        return false;
    size_t len = 2 * 65536;
    void *p = wm_sys.VirtualAlloc2(GetCurrentProcess(), NULL, len,
                                   MEM_RESERVE | MEM_RESERVE_PLACEHOLDER, PAGE_NOACCESS, NULL, 0);
    if (!p)
        return false;
    bool ok = VirtualFree(p, 4096, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER) != 0;
    if (ok)
        ok = VirtualFree(p, len, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS) != 0;
    VirtualFree(p, 0, MEM_RELEASE);
    return ok;
}

static BOOL CALLBACK init_once(PINIT_ONCE o, PVOID param, PVOID *ctx)
{
    (void)o, (void)param, (void)ctx;
    wm_sys_load();
    const char *want = getenv("WINMMAP_STRATEGY");
    bool exact_ok = placeholders_work();
    if (want && strcmp(want, "legacy") == 0)
        wm_engine.place = &wm_place_legacy;
    else if (want && strcmp(want, "exact") == 0 && exact_ok)
        wm_engine.place = &wm_place_exact;
    else
        wm_engine.place = exact_ok ? &wm_place_exact : &wm_place_legacy;
    wm_engine.page = wm_engine.place->page;
    wm_engine.regions.on_dup = on_dup;
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    wm_engine.max_address = (uintptr_t)si.lpMaximumApplicationAddress;
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    bool wine = ntdll && GetProcAddress(ntdll, "wine_get_version");
    wm_engine.reserve_unenforced = wine;
    wm_engine.placeholder_free_list_bug = wine;
    wm_fault_init();
    return TRUE;
}

void wm_init(void)
{
    InitOnceExecuteOnce(&once, init_once, NULL, NULL);
}

void wm_lock_exclusive(void)
{
    AcquireSRWLockExclusive(&wm_engine.lock);
    lock_owner = GetCurrentThreadId();
}

void wm_unlock_exclusive(void)
{
    lock_owner = 0;
    ReleaseSRWLockExclusive(&wm_engine.lock);
}

void wm_lock_shared(void)
{
    AcquireSRWLockShared(&wm_engine.lock);
}

void wm_unlock_shared(void)
{
    ReleaseSRWLockShared(&wm_engine.lock);
}

bool wm_lock_held_by_me(void)
{
    return lock_owner == GetCurrentThreadId();
}

/* ---- busy ranges ----
 * A call that makes a slow Win32 call (a wineserver round trip under Wine)
 * on a range lets go of the lock meanwhile, with the range marked busy: the
 * busy ranges are a list of the callers' own records, guarded by the lock.
 * Their regions are out of the table for the duration (removed before, or
 * inserted after), so nothing walking the table meets a half-made one; a
 * call on a busy range waits until it is published. */
static struct wm_busy *busy_list;
static CONDITION_VARIABLE published = CONDITION_VARIABLE_INIT;
static volatile LONG draining; /* threads waiting for every busy range */

bool wm_busy_mark(struct wm_busy *b, uintptr_t lo, uintptr_t hi)
{
    /* A wait for every range is under way: the caller makes its call under
     * the lock, so that wait ends. */
    if (draining)
        return false;
    b->lo = lo;
    b->hi = hi;
    b->next = busy_list;
    busy_list = b;
    return true;
}

void wm_busy_clear(struct wm_busy *b)
{
    for (struct wm_busy **p = &busy_list; *p; p = &(*p)->next)
        if (*p == b) {
            *p = b->next;
            break;
        }
    WakeAllConditionVariable(&published);
}

bool wm_busy_over(uintptr_t lo, uintptr_t hi)
{
    for (struct wm_busy *b = busy_list; b; b = b->next)
        if (b->lo < hi && lo < b->hi)
            return true;
    return false;
}

bool wm_busy_at(uintptr_t addr)
{
    return wm_busy_over(addr, addr + 1);
}

/* Sleep until another thread publishes a busy range, the lock let go
 * meanwhile and held again (as it was) on return. */
static void sleep_on_busy(bool shared)
{
    DWORD me = lock_owner;
    if (!shared)
        lock_owner = 0;
    SleepConditionVariableSRW(&published, &wm_engine.lock, INFINITE,
                              shared ? CONDITION_VARIABLE_LOCKMODE_SHARED : 0);
    if (!shared)
        lock_owner = me;
}

void wm_busy_wait(uintptr_t lo, uintptr_t hi, bool shared)
{
    while (lo < hi && wm_busy_over(lo, hi))
        sleep_on_busy(shared);
}

void wm_busy_wait_all(bool shared)
{
    InterlockedIncrement(&draining);
    while (busy_list)
        sleep_on_busy(shared);
    InterlockedDecrement(&draining);
}

/* Where [addr, addr+len) ends, at most at the top of the address space
 * (the arguments are the caller's, not yet checked). */
static uintptr_t range_end(uintptr_t addr, size_t len)
{
    return len > UINTPTR_MAX - addr ? UINTPTR_MAX : addr + len;
}

void wm_lock_range(uintptr_t addr, size_t len)
{
    wm_lock_exclusive();
    wm_busy_wait(addr, range_end(addr, len), false);
}

void wm_lock_range_shared(uintptr_t addr, size_t len)
{
    wm_lock_shared();
    wm_busy_wait(addr, range_end(addr, len), true);
}

void wm_lock_all(void)
{
    wm_lock_exclusive();
    wm_busy_wait_all(false);
}

void wm_lock_all_shared(void)
{
    wm_lock_shared();
    wm_busy_wait_all(true);
}
