/* winmmap: sigsetjmp/siglongjmp on top of mingw-w64's <setjmp.h>.  On POSIX
 * systems it is the system header unchanged.
 *
 * siglongjmp out of a signal handler is a plain register restore: winmmap
 * runs handlers outside Windows' exception dispatch, so nothing needs to be
 * unwound.  sigsetjmp(env, 1) saves the thread's mask of SIGSEGV/SIGBUS and
 * siglongjmp restores it; with 0 the mask stays as it is (in a handler: the
 * handled signal blocked, as POSIX says). */
#ifndef WINMMAP_SETJMP_H
#define WINMMAP_SETJMP_H

#include <winmmap_extern.h>

#include_next <setjmp.h>

#ifdef _WIN32
#include <signal.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct winmmap_sigjmp {
    jmp_buf buf;
    int savemask;
    sigset_t mask;
    int depth; /* handler nesting at sigsetjmp */
} sigjmp_buf[1];

/* Records the thread's signal state in env; returns env->buf. */
WINMMAP_EXTERN _JBTYPE *winmmap_sigsetjmp_prepare(sigjmp_buf env, int savemask);
WINMMAP_EXTERN __attribute__((noreturn)) void winmmap_siglongjmp(sigjmp_buf env, int val);

/* _setjmp with no frame: the matching longjmp restores registers without
 * unwinding (the frame is what makes mingw-w64's longjmp unwind). */
#define sigsetjmp(env, savemask) _setjmp(winmmap_sigsetjmp_prepare((env), (savemask)), NULL)
#define siglongjmp winmmap_siglongjmp

#ifdef __cplusplus
}
#endif
#endif /* _WIN32 */
#endif /* WINMMAP_SETJMP_H */
