/* wmdiff probes: what reading or writing one page does (no fault, SIGSEGV
 * with its code, SIGBUS), through a SIGSEGV/SIGBUS handler that leaves with
 * siglongjmp (winmmap's <signal.h>/<setjmp.h> on Windows). */
#include "diff.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile int wd_armed;
sigjmp_buf wd_cenv;
static sigjmp_buf penv;
static volatile int probing;
static volatile int last_sig, last_code;

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    last_sig = sig;
    last_code = si->si_code;
    if (probing)
        siglongjmp(penv, 1);
    if (wd_armed) {
        wd_armed = 0;
        siglongjmp(wd_cenv, sig);
    }
    static const char msg[] = "wmdiff: fault outside a probe or call\n";
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(5);
    _exit(4);
}

void wd_probe_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
}

static char fault_class(void)
{
    if (last_sig == SIGBUS)
        return 'B';
    if (last_sig == SIGSEGV)
        return last_code == SEGV_MAPERR ? 'M' : last_code == SEGV_ACCERR ? 'A' : '?';
    return '?';
}

char wd_probe_read(const unsigned char *p, size_t len, int *summary)
{
    volatile const unsigned char *q = p;
    *summary = -1;
    probing = 1;
    if (sigsetjmp(penv, 1)) {
        probing = 0;
        return fault_class();
    }
    unsigned char first = q[0];
    int uniform = 1;
    for (size_t i = 1; i < len; i++)
        if (q[i] != first)
            uniform = 0;
    probing = 0;
    *summary = uniform ? first : -1;
    return '.';
}

char wd_probe_write(unsigned char *p, size_t len, int v)
{
    volatile unsigned char *q = p;
    probing = 1;
    if (sigsetjmp(penv, 1)) {
        probing = 0;
        return fault_class();
    }
    if (v < 0) {
        /* Write back what is there: tells the write fault and changes no byte
         * (a private page becomes the process's own copy, as on Linux). */
        q[0] = q[0];
    } else {
        for (size_t i = 0; i < len; i++)
            q[i] = (unsigned char)v;
    }
    probing = 0;
    return '.';
}

const char *wd_errno_name(int e)
{
    switch (e) {
    case 0: return "0";
#define N(x) case x: return #x;
    N(EINVAL) N(ENOMEM) N(EACCES) N(EBADF) N(EFAULT) N(EAGAIN) N(EBUSY) N(ENODEV)
    N(EOVERFLOW) N(EFBIG) N(EPERM) N(ENXIO) N(EIO) N(ENOENT) N(EEXIST) N(ENOSYS)
    N(ENOTSUP) N(EMFILE) N(ENFILE) N(ERANGE) N(ENOSPC) N(ETXTBSY)
#undef N
    default: {
        static char buf[16];
        snprintf(buf, sizeof buf, "E%d", e);
        return buf;
    }
    }
}
