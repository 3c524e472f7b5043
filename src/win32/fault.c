/* Memory faults as POSIX signals.
 *
 * A vectored exception handler sees every access violation first.  For an
 * address in a region of the table it decides: the access is allowed by the
 * region's protection (a legacy view being split by another thread, a page
 * of a reserve-only section not committed yet) -> retry; a page past end of
 * file -> SIGBUS unless the file has grown (wm_resolve_past_eof); otherwise
 * SIGSEGV with SEGV_ACCERR.  Faults elsewhere are left to Windows (SEH
 * frames, debuggers); if nothing handles them and the program has a SIGSEGV
 * handler, the unhandled-exception filter delivers SIGSEGV.
 *
 * The vectored handler neither waits nor allocates: it reads the table
 * under a shared lock only if it can take it at once, and touches no heap.
 * What needs a wait or an allocation (the table while another thread changes
 * it, a file that may have grown) is done by resolve(), which the thread is
 * sent to outside exception dispatch, as a page fault waits in Linux: as if
 * the faulting instruction had called it.
 *
 * A handler never runs inside Windows' exception dispatch either: the faulting
 * context is saved per thread and the thread is sent to deliver(), as if the
 * faulting instruction had called it.  When the handler returns, the saved
 * context is restored and the access retried; siglongjmp out of it is a
 * plain register restore (see include/setjmp.h).
 *
 * Default action (no handler, SIG_IGN, or the signal blocked): SIGSEGV goes
 * on as the access violation it is (the process ends with 0xC0000005 unless
 * something else handles it); SIGBUS ends the process with 0xC0000006
 * (STATUS_IN_PAGE_ERROR).  These exit codes are how a parent tells that a
 * child was killed by SIGSEGV or SIGBUS. */
#include "internal.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>

#undef sigaction
#undef signal
#undef sigprocmask

enum { MAX_NESTING = 4, RETRY_LIMIT = 1000 };

/* One signal being handled (or fault being resolved) on a thread. */
struct delivery {
    CONTEXT ctx; /* where the fault happened: restored when the handler returns */
    siginfo_t info;
    struct winmmap_sigaction act;
    sigset_t prev_blocked;
    ULONG_PTR access; /* resolve(): the faulting access (0 read, 1 write, 8 execute) */
    DWORD code;       /* resolve(): the exception code */
};

struct thread_state {
    SLIST_ENTRY link; /* on the free list while no thread has it */
    sigset_t blocked;
    int depth;
    uintptr_t retry_addr;
    int retries;
    /* resolve() found a SIGSEGV with no handler: the access retried at
     * pass_ip faults again, and goes on as an access violation. */
    uintptr_t pass_addr, pass_ip;
    struct delivery d[MAX_NESTING];
};

/* Per-thread state lives in memory of our own, reached through a TLS slot:
 * mingw's __thread allocates from the C runtime's heap on a thread's first
 * use, and a first fault could then wait for a heap lock that the faulting
 * thread, or the thread it is waiting for, holds.  A thread's state goes back
 * to the free list when it ends (on_thread_exit). */
static DWORD tls_slot = TLS_OUT_OF_INDEXES;
static INIT_ONCE tls_once = INIT_ONCE_STATIC_INIT;
static SLIST_HEADER free_states;

static BOOL CALLBACK alloc_slot(PINIT_ONCE o, PVOID p, PVOID *c)
{
    (void)o, (void)p, (void)c;
    InitializeSListHead(&free_states);
    tls_slot = TlsAlloc();
    return TRUE;
}

static SRWLOCK act_lock = SRWLOCK_INIT;
static struct winmmap_sigaction actions[2]; /* SIGSEGV, SIGBUS */
static LPTOP_LEVEL_EXCEPTION_FILTER previous_filter;
static INIT_ONCE filter_once = INIT_ONCE_STATIC_INIT;

static struct winmmap_sigaction *action_of(int sig)
{
    return sig == SIGSEGV ? &actions[0] : sig == SIGBUS ? &actions[1] : NULL;
}

/* Thread states are carved from one range reserved when the library starts
 * (wm_fault_init) and committed a batch at a time: a thread's first signal
 * call (sigsetjmp saves the mask) must not take address space munmap has
 * just freed, where the program expects a fault (under Wine 8 the next
 * VirtualAlloc(NULL) takes exactly that range, and the access then reads
 * the batch). */
#define ARENA_BYTES ((size_t)1 << 20)
static volatile uintptr_t arena;
static volatile LONG arena_used;

static struct thread_state *new_batch(size_t len)
{
    if (arena) {
        LONG at = InterlockedExchangeAdd(&arena_used, (LONG)len);
        /* Batches need not end on a page: committing a page twice keeps it. */
        if ((size_t)at + len <= ARENA_BYTES)
            return VirtualAlloc((void *)(arena + (size_t)at), len, MEM_COMMIT, PAGE_READWRITE)
                       ? (struct thread_state *)(arena + (size_t)at)
                       : NULL;
    }
    return VirtualAlloc(NULL, len, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
}

/* This thread's state; NULL only when the system has no memory for it.
 * Leaves GetLastError() as it was: the faulting code may be reading it. */
static struct thread_state *thread_state(void)
{
    DWORD saved = GetLastError();
    InitOnceExecuteOnce(&tls_once, alloc_slot, NULL, NULL);
    if (tls_slot == TLS_OUT_OF_INDEXES)
        return NULL;
    struct thread_state *t = TlsGetValue(tls_slot);
    if (!t) {
        t = (struct thread_state *)InterlockedPopEntrySList(&free_states);
        if (!t) {
            /* A batch; all but the first go on the free list. */
            enum { BATCH = 16 };
            t = new_batch(BATCH * sizeof *t);
            for (int i = 1; t && i < BATCH; i++)
                InterlockedPushEntrySList(&free_states, &t[i].link);
        }
        if (t) {
            memset(t, 0, sizeof *t);
            TlsSetValue(tls_slot, t);
        }
    }
    SetLastError(saved);
    return t;
}

/* The TLS callback (a .CRT$XL entry, run by the loader for every thread of
 * the module's process): an ending thread's state is free again. */
static void NTAPI on_thread_exit(PVOID module, DWORD reason, PVOID reserved)
{
    (void)module, (void)reserved;
    if (reason != DLL_THREAD_DETACH || tls_slot == TLS_OUT_OF_INDEXES)
        return;
    struct thread_state *t = TlsGetValue(tls_slot);
    if (t) {
        TlsSetValue(tls_slot, NULL);
        InterlockedPushEntrySList(&free_states, &t->link);
    }
}
__attribute__((section(".CRT$XLW"), used)) static const PIMAGE_TLS_CALLBACK wm_thread_exit_callback =
    on_thread_exit;

#ifndef _WIN64
static LONG(NTAPI *nt_continue)(CONTEXT *ctx, BOOLEAN alert);
#endif

static sigset_t bit(int sig)
{
    return (sigset_t)1 << (sig - 1);
}

static __attribute__((noreturn)) void resume(CONTEXT *ctx)
{
#ifdef _WIN64
    RtlRestoreContext(ctx, NULL);
#else
    /* x86 has no RtlRestoreContext; NtContinue resumes the context as well. */
    nt_continue(ctx, FALSE);
#endif
    abort(); /* not reached */
}

/* Runs on the faulting thread's own stack, outside exception dispatch. */
static __attribute__((noreturn, used)) void deliver(struct delivery *d)
{
    struct thread_state *t = thread_state();
    int sig = d->info.si_signo;
    if (d->act.sa_flags & SA_SIGINFO)
        d->act.sa_sigaction(sig, &d->info, &d->ctx);
    else
        d->act.sa_handler(sig);
    t->blocked = d->prev_blocked;
    t->depth--;
    resume(&d->ctx);
}

/* Make the faulting thread continue in fn(d), d the next delivery slot
 * holding the faulting context, as if the faulting instruction had called
 * it.  NULL when the thread is too deeply nested already. */
static struct delivery *call_out(EXCEPTION_POINTERS *ep, struct thread_state *t, void (*fn)(struct delivery *))
{
    if (t->depth == MAX_NESTING)
        return NULL;
    struct delivery *d = &t->d[t->depth++];
    d->ctx = *ep->ContextRecord;
    /* The exception's context may announce extended state (AVX) stored after
     * the CONTEXT; our copy has none, and NtContinue refuses such a claim. */
    d->ctx.ContextFlags = CONTEXT_FULL | CONTEXT_SEGMENTS;
    CONTEXT *c = ep->ContextRecord;
#ifdef _WIN64
    /* A return address, 32 bytes of shadow space for the callee, 16-byte
     * alignment at the call. */
    DWORD64 sp = ((c->Rsp - 512) & ~(DWORD64)15) - 8;
    *(DWORD64 *)sp = c->Rip;
    c->Rsp = sp;
    c->Rip = (DWORD64)(uintptr_t)fn;
    c->Rcx = (DWORD64)(uintptr_t)d;
#else
    /* The same for x86 cdecl: the argument, then the return address. */
    DWORD sp = ((c->Esp - 512) & ~(DWORD)15) - 8;
    ((DWORD *)(uintptr_t)sp)[1] = (DWORD)(uintptr_t)d;
    ((DWORD *)(uintptr_t)sp)[0] = c->Eip;
    c->Esp = sp;
    c->Eip = (DWORD)(uintptr_t)fn;
#endif
    return d;
}

/* Fill d to run the handler of sig; false when the default action applies
 * (no handler, or the signal blocked: Linux too kills a thread faulting
 * with it blocked; ignoring a fault is not possible either). */
static bool prepare_signal(struct thread_state *t, struct delivery *d, int sig, int code, void *addr)
{
    if (t->blocked & bit(sig))
        return false;
    AcquireSRWLockExclusive(&act_lock);
    struct winmmap_sigaction act = *action_of(sig);
    if (act.sa_handler != SIG_DFL && act.sa_handler != SIG_IGN && (act.sa_flags & SA_RESETHAND))
        action_of(sig)->sa_handler = SIG_DFL;
    ReleaseSRWLockExclusive(&act_lock);
    if (act.sa_handler == SIG_DFL || act.sa_handler == SIG_IGN)
        return false;
    d->info = (siginfo_t){.si_signo = sig, .si_code = code, .si_addr = addr};
    d->act = act;
    d->prev_blocked = t->blocked;
    t->blocked |= act.sa_mask;
    if (!(act.sa_flags & SA_NODEFER))
        t->blocked |= bit(sig);
    return true;
}

/* Send the thread to deliver() with sig, or say that the default action
 * applies (returns false). */
static bool redirect(EXCEPTION_POINTERS *ep, int sig, int code, void *addr)
{
    struct thread_state *t = thread_state();
    if (!t || t->depth == MAX_NESTING || !prepare_signal(t, &t->d[t->depth], sig, code, addr))
        return false;
    call_out(ep, t, deliver);
    return true;
}

static LONG default_action(int sig)
{
    if (sig == SIGBUS)
        TerminateProcess(GetCurrentProcess(), (UINT)STATUS_IN_PAGE_ERROR);
    return EXCEPTION_CONTINUE_SEARCH;
}

enum fault_kind { NOT_OURS, RETRY, ACCERR, PAST_EOF };

static bool allowed(int prot, ULONG_PTR access)
{
    if (access == 1)
        return (prot & PROT_WRITE) != 0;
    if (access == 8)
        return (prot & PROT_EXEC) != 0;
    return prot != PROT_NONE;
}

/* The signal for a fault of kind k (ACCERR or PAST_EOF) raised as Windows
 * exception code: SIGBUS past end of file or for a page Windows could not
 * read in, else SIGSEGV. */
static int signal_of(enum fault_kind k, DWORD code)
{
    return k == PAST_EOF || code == EXCEPTION_IN_PAGE_ERROR ? SIGBUS : SIGSEGV;
}

static int si_code_of(int sig)
{
    return sig == SIGBUS ? BUS_ADRERR : SEGV_ACCERR;
}

/* With the engine lock held (shared). */
static enum fault_kind classify(uintptr_t addr, ULONG_PTR access)
{
    struct wm_region *r = wm_region_find(&wm_engine.regions, addr);
    if (!r)
        return NOT_OURS;
    /* Linux checks the protection first: SIGBUS only for an access the
     * protection allows on a page past end of file. */
    if (!allowed(r->prot, access))
        return ACCERR;
    if (addr >= r->start + wm_region_mapped_len(r))
        return PAST_EOF; /* also legacy's unmappable tail of a file's last 64 KiB page */
    return RETRY;
}

/* A retry of the access at addr is allowed: the table allows it, and
 * Windows' view was being rebuilt by another thread (legacy split), or the
 * region was unmapped meanwhile.  A bounded number of tries guards against
 * a table that is wrong. */
static bool may_retry(struct thread_state *t, uintptr_t addr)
{
    if (t->retry_addr == addr)
        return ++t->retries <= RETRY_LIMIT;
    t->retry_addr = addr;
    t->retries = 0;
    return true;
}

static uintptr_t fault_ip(const CONTEXT *c)
{
#ifdef _WIN64
    return (uintptr_t)c->Rip;
#else
    return (uintptr_t)c->Eip;
#endif
}

/* Runs on the faulting thread's own stack, outside exception dispatch (so it
 * may wait for the engine lock and allocate): decides a fault the handler
 * could not, then retries the access or delivers the signal. */
static __attribute__((noreturn, used)) void resolve(struct delivery *d)
{
    struct thread_state *t = thread_state();
    uintptr_t addr = (uintptr_t)d->info.si_addr;
    wm_lock_range_shared(addr, 1); /* a busy range is decided once published */
    enum fault_kind k = classify(addr, d->access);
    wm_unlock_shared();
    if (k == PAST_EOF && wm_resolve_past_eof(addr))
        k = RETRY; /* the file has grown: the page is mapped now */
    if (k == RETRY || k == NOT_OURS) {
        /* NOT_OURS: unmapped meanwhile; the retried access decides again. */
        if (may_retry(t, addr)) {
            t->depth--;
            resume(&d->ctx);
        }
        k = ACCERR;
    }
    t->retry_addr = 0;
    int sig = signal_of(k, d->code);
    if (prepare_signal(t, d, sig, si_code_of(sig), (void *)addr))
        deliver(d);
    t->depth--;
    if (sig == SIGBUS)
        default_action(sig);
    /* The default action of SIGSEGV: the access, retried, goes on as the
     * access violation it is (on_exception lets it pass). */
    t->pass_addr = addr;
    t->pass_ip = fault_ip(&d->ctx);
    resume(&d->ctx);
}

/* Send the thread to resolve() for the fault at addr. */
static bool defer(EXCEPTION_POINTERS *ep, struct thread_state *t, uintptr_t addr)
{
    struct delivery *d = t ? call_out(ep, t, resolve) : NULL;
    if (!d)
        return false;
    EXCEPTION_RECORD *er = ep->ExceptionRecord;
    d->info = (siginfo_t){.si_addr = (void *)addr};
    d->access = er->ExceptionInformation[0];
    d->code = er->ExceptionCode;
    return true;
}

static LONG CALLBACK on_exception(EXCEPTION_POINTERS *ep)
{
    EXCEPTION_RECORD *er = ep->ExceptionRecord;
    if ((er->ExceptionCode != EXCEPTION_ACCESS_VIOLATION && er->ExceptionCode != EXCEPTION_IN_PAGE_ERROR) ||
        er->NumberParameters < 2 || wm_lock_held_by_me())
        return EXCEPTION_CONTINUE_SEARCH;
    uintptr_t addr = (uintptr_t)er->ExceptionInformation[1];
    struct thread_state *t = thread_state();
    if (t && t->pass_addr) {
        bool pass = t->pass_addr == addr && t->pass_ip == fault_ip(ep->ContextRecord);
        t->pass_addr = 0;
        if (pass)
            return EXCEPTION_CONTINUE_SEARCH;
    }
    /* Another thread is changing the table: the decision waits for it, which
     * resolve() does outside exception dispatch.  (Without a thread state,
     * which only a system out of memory leaves, wait here.) */
    bool locked = TryAcquireSRWLockShared(&wm_engine.lock);
    if (locked && wm_busy_at(addr)) {
        wm_unlock_shared(); /* being mapped or unmapped: wait as for the lock */
        locked = false;
    }
    if (!locked) {
        if (defer(ep, t, addr))
            return EXCEPTION_CONTINUE_EXECUTION;
        wm_lock_range_shared(addr, 1);
    }
    enum fault_kind k = classify(addr, er->ExceptionInformation[0]);
    wm_unlock_shared();
    if (k == NOT_OURS)
        return EXCEPTION_CONTINUE_SEARCH;
    if (k == RETRY) {
        if (t && may_retry(t, addr))
            return EXCEPTION_CONTINUE_EXECUTION;
        k = ACCERR;
    }
    if (t)
        t->retry_addr = 0;
    /* Whether the file has grown: locks and Win32 calls, outside dispatch. */
    if (k == PAST_EOF && er->ExceptionCode != EXCEPTION_IN_PAGE_ERROR) {
        if (defer(ep, t, addr))
            return EXCEPTION_CONTINUE_EXECUTION;
        if (wm_resolve_past_eof(addr))
            return EXCEPTION_CONTINUE_EXECUTION;
    }
    int sig = signal_of(k, er->ExceptionCode);
    if (redirect(ep, sig, si_code_of(sig), (void *)addr))
        return EXCEPTION_CONTINUE_EXECUTION;
    return default_action(sig);
}

/* Faults nothing else handled, outside the library's regions: SIGSEGV for
 * the program's handler, if it has one. */
static LONG WINAPI on_unhandled(EXCEPTION_POINTERS *ep)
{
    EXCEPTION_RECORD *er = ep->ExceptionRecord;
    if (er->ExceptionCode == EXCEPTION_ACCESS_VIOLATION && er->NumberParameters >= 2 &&
        !wm_lock_held_by_me()) {
        void *addr = (void *)er->ExceptionInformation[1];
        /* Committed or reserved memory is mapped in POSIX terms (foreign.c):
         * a forbidden access there is SEGV_ACCERR; only free pages are MAPERR. */
        MEMORY_BASIC_INFORMATION mi;
        bool spare = false; /* when the table is busy: rarely wrong, never waiting */
        if (TryAcquireSRWLockShared(&wm_engine.lock)) {
            spare = wm_engine.place->spare_end((uintptr_t)addr) != 0;
            wm_unlock_shared();
        }
        int code = !spare && VirtualQuery(addr, &mi, sizeof mi) && mi.State != MEM_FREE
                       ? SEGV_ACCERR
                       : SEGV_MAPERR;
        if (redirect(ep, SIGSEGV, code, addr))
            return EXCEPTION_CONTINUE_EXECUTION;
    }
    return previous_filter ? previous_filter(ep) : EXCEPTION_CONTINUE_SEARCH;
}

static BOOL CALLBACK install_filter(PINIT_ONCE o, PVOID p, PVOID *c)
{
    (void)o, (void)p, (void)c;
    previous_filter = SetUnhandledExceptionFilter(on_unhandled);
    return TRUE;
}

void wm_fault_init(void)
{
#ifndef _WIN64
    nt_continue = (LONG(NTAPI *)(CONTEXT *, BOOLEAN))(void (*)(void))GetProcAddress(
        GetModuleHandleW(L"ntdll.dll"), "NtContinue");
#endif
    arena = (uintptr_t)VirtualAlloc(NULL, ARENA_BYTES, MEM_RESERVE, PAGE_NOACCESS);
    /* First in line: a fault in our memory is ours before any SEH frame's. */
    AddVectoredExceptionHandler(1, on_exception);
}

int winmmap_sigaction(int sig, const struct winmmap_sigaction *act, struct winmmap_sigaction *old)
{
    wm_init();
    struct winmmap_sigaction *slot = action_of(sig);
    if (!slot) {
        /* Other signals: the C runtime's signal(), without SA_ flags. */
        if (sig <= 0 || sig >= NSIG || (act && (act->sa_flags & SA_SIGINFO))) {
            errno = EINVAL;
            return -1;
        }
        if (act) {
            winmmap_sighandler_t prev = signal(sig, act->sa_handler);
            if (prev == SIG_ERR)
                return -1;
            if (old)
                *old = (struct winmmap_sigaction){.sa_handler = prev};
        } else if (old) {
            winmmap_sighandler_t prev = signal(sig, SIG_IGN);
            signal(sig, prev);
            *old = (struct winmmap_sigaction){.sa_handler = prev};
        }
        return 0;
    }
    if (act && sig == SIGSEGV)
        InitOnceExecuteOnce(&filter_once, install_filter, NULL, NULL);
    /* The caller's structures are read and written outside the lock: a fault
     * there (a bad pointer) must not leave the lock held. */
    struct winmmap_sigaction in = act ? *act : (struct winmmap_sigaction){0}, prev;
    AcquireSRWLockExclusive(&act_lock);
    prev = *slot;
    if (act)
        *slot = in;
    ReleaseSRWLockExclusive(&act_lock);
    if (old)
        *old = prev;
    return 0;
}

winmmap_sighandler_t winmmap_signal(int sig, winmmap_sighandler_t handler)
{
    if (!action_of(sig))
        return signal(sig, handler);
    /* BSD semantics, as glibc's signal(): the handler stays installed. */
    struct winmmap_sigaction act = {.sa_handler = handler}, old;
    if (winmmap_sigaction(sig, &act, &old))
        return SIG_ERR;
    return old.sa_handler;
}

int winmmap_sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    struct thread_state *t = thread_state();
    if (!t) {
        errno = ENOMEM; /* no memory for the thread's signal state */
        return -1;
    }
    if (old)
        *old = t->blocked;
    if (!set)
        return 0;
    sigset_t mask = *set & (bit(SIGSEGV) | bit(SIGBUS)); /* the only ones delivered here */
    switch (how) {
    case SIG_BLOCK: t->blocked |= mask; break;
    case SIG_UNBLOCK: t->blocked &= ~mask; break;
    case SIG_SETMASK: t->blocked = mask; break;
    default: errno = EINVAL; return -1;
    }
    return 0;
}

static int valid(int sig)
{
    return sig > 0 && sig <= (int)(8 * sizeof(sigset_t));
}

int sigemptyset(sigset_t *set)
{
    *set = 0;
    return 0;
}

int sigfillset(sigset_t *set)
{
    *set = ~(sigset_t)0;
    return 0;
}

int sigaddset(sigset_t *set, int sig)
{
    if (!valid(sig)) {
        errno = EINVAL;
        return -1;
    }
    *set |= bit(sig);
    return 0;
}

int sigdelset(sigset_t *set, int sig)
{
    if (!valid(sig)) {
        errno = EINVAL;
        return -1;
    }
    *set &= ~bit(sig);
    return 0;
}

int sigismember(const sigset_t *set, int sig)
{
    if (!valid(sig)) {
        errno = EINVAL;
        return -1;
    }
    return (*set & bit(sig)) != 0;
}

_JBTYPE *winmmap_sigsetjmp_prepare(sigjmp_buf env, int savemask)
{
    struct thread_state *t = thread_state();
    env->savemask = savemask;
    env->mask = t ? t->blocked : 0;
    env->depth = t ? t->depth : 0;
    return env->buf;
}

void winmmap_siglongjmp(sigjmp_buf env, int val)
{
    struct thread_state *t = thread_state();
    if (t && env->savemask)
        t->blocked = env->mask;
    if (t)
        t->depth = env->depth; /* the handlers jumped out of are over */
    longjmp(env->buf, val);
}
