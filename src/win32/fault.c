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
 * A handler never runs inside Windows' exception dispatch: the faulting
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

/* One signal being handled on a thread. */
struct delivery {
    CONTEXT ctx; /* where the fault happened: restored when the handler returns */
    siginfo_t info;
    struct winmmap_sigaction act;
    sigset_t prev_blocked;
};

struct thread_state {
    sigset_t blocked;
    int depth;
    uintptr_t retry_addr;
    int retries;
    struct delivery d[MAX_NESTING];
};

/* A thread-local object, not a pointer to heap memory: the C runtime frees
 * it when the thread ends (its first use allocates it). */
static __thread struct thread_state ts;

static SRWLOCK act_lock = SRWLOCK_INIT;
static struct winmmap_sigaction actions[2]; /* SIGSEGV, SIGBUS */
static LPTOP_LEVEL_EXCEPTION_FILTER previous_filter;
static INIT_ONCE filter_once = INIT_ONCE_STATIC_INIT;

static struct winmmap_sigaction *action_of(int sig)
{
    return sig == SIGSEGV ? &actions[0] : sig == SIGBUS ? &actions[1] : NULL;
}

static struct thread_state *thread_state(void)
{
    return &ts;
}

#ifndef _WIN64
static LONG(NTAPI *nt_continue)(CONTEXT *ctx, BOOLEAN alert);
#endif

static sigset_t bit(int sig)
{
    return (sigset_t)1 << (sig - 1);
}

/* Runs on the faulting thread's own stack, outside exception dispatch. */
static __attribute__((noreturn, used)) void deliver(struct delivery *d)
{
    struct thread_state *t = &ts;
    int sig = d->info.si_signo;
    if (d->act.sa_flags & SA_SIGINFO)
        d->act.sa_sigaction(sig, &d->info, &d->ctx);
    else
        d->act.sa_handler(sig);
    t->blocked = d->prev_blocked;
    t->depth--;
#ifdef _WIN64
    RtlRestoreContext(&d->ctx, NULL);
#else
    /* x86 has no RtlRestoreContext; NtContinue resumes the context as well. */
    nt_continue(&d->ctx, FALSE);
#endif
    abort(); /* not reached */
}

/* Send the thread to deliver() with sig, or say that the default action
 * applies (returns false). */
static bool redirect(EXCEPTION_POINTERS *ep, int sig, int code, void *addr)
{
    struct thread_state *t = thread_state();
    if (t->depth == MAX_NESTING || (t->blocked & bit(sig)))
        return false; /* Linux too kills a thread faulting with the signal blocked */
    AcquireSRWLockExclusive(&act_lock);
    struct winmmap_sigaction act = *action_of(sig);
    if (act.sa_handler != SIG_DFL && act.sa_handler != SIG_IGN && (act.sa_flags & SA_RESETHAND))
        action_of(sig)->sa_handler = SIG_DFL;
    ReleaseSRWLockExclusive(&act_lock);
    if (act.sa_handler == SIG_DFL || act.sa_handler == SIG_IGN)
        return false; /* ignoring a fault is not possible: Linux kills too */
    struct delivery *d = &t->d[t->depth++];
    d->ctx = *ep->ContextRecord;
    /* The exception's context may announce extended state (AVX) stored after
     * the CONTEXT; our copy has none, and NtContinue refuses such a claim. */
    d->ctx.ContextFlags = CONTEXT_FULL | CONTEXT_SEGMENTS;
    d->info = (siginfo_t){.si_signo = sig, .si_code = code, .si_addr = addr};
    d->act = act;
    d->prev_blocked = t->blocked;
    t->blocked |= act.sa_mask;
    if (!(act.sa_flags & SA_NODEFER))
        t->blocked |= bit(sig);
    CONTEXT *c = ep->ContextRecord;
#ifdef _WIN64
    /* As if the faulting instruction had called deliver(d): a return address,
     * 32 bytes of shadow space for the callee, 16-byte alignment at the call. */
    DWORD64 sp = ((c->Rsp - 512) & ~(DWORD64)15) - 8;
    *(DWORD64 *)sp = c->Rip;
    c->Rsp = sp;
    c->Rip = (DWORD64)(uintptr_t)deliver;
    c->Rcx = (DWORD64)(uintptr_t)d;
#else
    /* The same for x86 cdecl: the argument, then the return address. */
    DWORD sp = ((c->Esp - 512) & ~(DWORD)15) - 8;
    ((DWORD *)(uintptr_t)sp)[1] = (DWORD)(uintptr_t)d;
    ((DWORD *)(uintptr_t)sp)[0] = c->Eip;
    c->Esp = sp;
    c->Eip = (DWORD)(uintptr_t)deliver;
#endif
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

static enum fault_kind classify(uintptr_t addr, ULONG_PTR access)
{
    enum fault_kind k = NOT_OURS;
    wm_lock_shared();
    struct wm_region *r = wm_region_find(&wm_engine.regions, addr);
    if (r) {
        /* Linux checks the protection first: SIGBUS only for an access the
         * protection allows on a page past end of file. */
        if (!allowed(r->prot, access))
            k = ACCERR;
        else if (addr >= r->start + wm_region_mapped_len(r))
            k = PAST_EOF; /* also legacy's unmappable tail of a file's last 64 KiB page */
        else
            k = RETRY;
    }
    wm_unlock_shared();
    return k;
}

static LONG CALLBACK on_exception(EXCEPTION_POINTERS *ep)
{
    EXCEPTION_RECORD *er = ep->ExceptionRecord;
    if ((er->ExceptionCode != EXCEPTION_ACCESS_VIOLATION && er->ExceptionCode != EXCEPTION_IN_PAGE_ERROR) ||
        er->NumberParameters < 2 || wm_lock_held_by_me())
        return EXCEPTION_CONTINUE_SEARCH;
    uintptr_t addr = (uintptr_t)er->ExceptionInformation[1];
    enum fault_kind k = classify(addr, er->ExceptionInformation[0]);
    if (k == NOT_OURS)
        return EXCEPTION_CONTINUE_SEARCH;
    struct thread_state *t = thread_state();
    if (k == RETRY) {
        /* The table allows the access: Windows' view is being rebuilt by
         * another thread (legacy split), which the shared lock waited for.
         * A bounded number of tries guards against a table that is wrong. */
        if (t->retry_addr == addr && ++t->retries > RETRY_LIMIT)
            k = ACCERR;
        else {
            if (t->retry_addr != addr) {
                t->retry_addr = addr;
                t->retries = 0;
            }
            return EXCEPTION_CONTINUE_EXECUTION;
        }
    }
    if (t)
        t->retry_addr = 0;
    if (k == PAST_EOF && wm_resolve_past_eof(addr))
        return EXCEPTION_CONTINUE_EXECUTION;
    int sig = (k == PAST_EOF || er->ExceptionCode == EXCEPTION_IN_PAGE_ERROR) ? SIGBUS : SIGSEGV;
    int code = sig == SIGBUS ? BUS_ADRERR : SEGV_ACCERR;
    if (redirect(ep, sig, code, (void *)addr))
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
        wm_lock_shared();
        bool spare = wm_engine.place->spare_end((uintptr_t)addr) != 0;
        wm_unlock_shared();
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
    env->mask = t->blocked;
    env->depth = t->depth;
    return env->buf;
}

void winmmap_siglongjmp(sigjmp_buf env, int val)
{
    struct thread_state *t = thread_state();
    if (env->savemask)
        t->blocked = env->mask;
    t->depth = env->depth; /* the handlers jumped out of are over */
    longjmp(env->buf, val);
}
