/* winmmap: the POSIX signal API that memory-fault code uses, on top of
 * mingw-w64's <signal.h> (which has only signal() and raise()).  On POSIX
 * systems it is the system header unchanged.
 *
 * On Windows, memory faults (access violations) in memory mapped by winmmap
 * become SIGSEGV (SEGV_MAPERR / SEGV_ACCERR) or SIGBUS (BUS_ADRERR, pages
 * past end of file); with a SIGSEGV handler installed, faults anywhere else
 * that nothing else handles become SIGSEGV too.  Only SIGSEGV and SIGBUS are
 * delivered by winmmap; other signals keep the C runtime's signal().
 *
 * mingw-w64 already uses some of these names, so the real functions and
 * types are winmmap_*; macros give them their POSIX names ("struct
 * sigaction" is "struct winmmap_sigaction").  Include this header (winmmap's
 * include/ first on the path) in every file that uses them. */
#ifndef WINMMAP_SIGNAL_H
#define WINMMAP_SIGNAL_H

#include <winmmap_extern.h>

#include_next <signal.h>

#ifdef _WIN32
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SIGBUS
#define SIGBUS 7 /* Linux's number; free in mingw-w64 */
#endif

#ifndef _POSIX /* sys/types.h defines sigset_t only with _POSIX */
typedef _sigset_t sigset_t;
#endif

#define SEGV_MAPERR 1 /* address not mapped */
#define SEGV_ACCERR 2 /* mapped, access not allowed */
#define BUS_ADRERR 2  /* no backing: a page past end of file */

typedef struct winmmap_siginfo {
    int si_signo;
    int si_errno;
    int si_code;
    void *si_addr;
} siginfo_t;

#define SA_NODEFER 0x40000000
#define SA_RESETHAND 0x80000000
#define SA_SIGINFO 0x00000004
#define SA_RESTART 0x10000000 /* accepted; no system call is interrupted here */
#define SA_ONSTACK 0x08000000 /* accepted; handlers run on the faulting thread's stack */

#define SIG_BLOCK 0
#define SIG_UNBLOCK 1
#define SIG_SETMASK 2

typedef void (*winmmap_sighandler_t)(int);

/* The third argument of an SA_SIGINFO handler (POSIX ucontext_t) is the
 * faulting thread's CONTEXT (see <windows.h>). */
struct winmmap_sigaction {
    union {
        void (*sa_handler)(int);
        void (*sa_sigaction)(int, siginfo_t *, void *);
    };
    sigset_t sa_mask;
    int sa_flags;
};

WINMMAP_EXTERN int winmmap_sigaction(int sig, const struct winmmap_sigaction *act, struct winmmap_sigaction *old);
WINMMAP_EXTERN winmmap_sighandler_t winmmap_signal(int sig, winmmap_sighandler_t handler);
WINMMAP_EXTERN int winmmap_sigprocmask(int how, const sigset_t *set, sigset_t *old);
WINMMAP_EXTERN int sigemptyset(sigset_t *set);
WINMMAP_EXTERN int sigfillset(sigset_t *set);
WINMMAP_EXTERN int sigaddset(sigset_t *set, int sig);
WINMMAP_EXTERN int sigdelset(sigset_t *set, int sig);
WINMMAP_EXTERN int sigismember(const sigset_t *set, int sig);

#define sigaction winmmap_sigaction
#define signal winmmap_signal
#define sigprocmask winmmap_sigprocmask

#ifdef __cplusplus
}
#endif
#endif /* _WIN32 */
#endif /* WINMMAP_SIGNAL_H */
