/* waitpid and wait for the children of winmmap_fork_call (<sys/wait.h>).
 * Windows has no parent-child bookkeeping a process can wait on by pid, so
 * the children's process handles are kept here until they are reaped.  The
 * status follows POSIX: a child ended by an exception is reported as killed
 * by the signal the exception stands for. */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

struct kid {
    DWORD pid;
    HANDLE process;
};

static SRWLOCK lock = SRWLOCK_INIT;
static struct kid *kids;
static size_t nkids, cap;

int wm_wait_register(HANDLE process, DWORD pid)
{
    AcquireSRWLockExclusive(&lock);
    int err = 0;
    if (nkids == cap) {
        size_t ncap = cap ? 2 * cap : 16;
        struct kid *k = realloc(kids, ncap * sizeof *k);
        if (k)
            kids = k, cap = ncap;
        else
            err = ENOMEM;
    }
    if (!err)
        kids[nkids++] = (struct kid){pid, process};
    ReleaseSRWLockExclusive(&lock);
    return err;
}

void wm_wait_forget(DWORD pid)
{
    AcquireSRWLockExclusive(&lock);
    for (size_t i = 0; i < nkids; i++)
        if (kids[i].pid == pid) {
            kids[i] = kids[--nkids];
            break;
        }
    ReleaseSRWLockExclusive(&lock);
}

/* The POSIX status for a process exit code. */
static int status_of(DWORD code)
{
    int sig = 0;
    switch (code) {
    case STATUS_ACCESS_VIOLATION:
    case STATUS_STACK_OVERFLOW:
        sig = SIGSEGV;
        break;
    case STATUS_IN_PAGE_ERROR: /* winmmap's SIGBUS default action */
        sig = SIGBUS;
        break;
    case STATUS_ILLEGAL_INSTRUCTION:
        sig = SIGILL;
        break;
    case STATUS_INTEGER_DIVIDE_BY_ZERO:
    case STATUS_FLOAT_DIVIDE_BY_ZERO:
        sig = SIGFPE;
        break;
    }
    return sig ? sig : (int)(code & 0xff) << 8;
}

pid_t waitpid(pid_t pid, int *status, int options)
{
    if (options & ~WNOHANG || pid == 0 || pid < -1) {
        errno = EINVAL; /* process groups do not exist here */
        return -1;
    }
    /* Wait on copies of the handles, so no lock is held while waiting. */
    HANDLE hs[MAXIMUM_WAIT_OBJECTS];
    DWORD pids[MAXIMUM_WAIT_OBJECTS], n = 0;
    AcquireSRWLockShared(&lock);
    for (size_t i = 0; i < nkids && n < MAXIMUM_WAIT_OBJECTS; i++)
        if (pid == -1 || kids[i].pid == (DWORD)pid) {
            hs[n] = kids[i].process;
            pids[n++] = kids[i].pid;
        }
    ReleaseSRWLockShared(&lock);
    if (n == 0) {
        errno = ECHILD;
        return -1;
    }
    DWORD w = WaitForMultipleObjects(n, hs, FALSE, (options & WNOHANG) ? 0 : INFINITE);
    if (w == WAIT_TIMEOUT)
        return 0;
    if (w >= WAIT_OBJECT_0 + n) {
        errno = wm_last_errno();
        return -1;
    }
    DWORD i = w - WAIT_OBJECT_0, code = 0;
    GetExitCodeProcess(hs[i], &code);
    /* Reaped once: the first waiter to take it out of the table owns it. */
    bool mine = false;
    AcquireSRWLockExclusive(&lock);
    for (size_t k = 0; k < nkids; k++)
        if (kids[k].pid == pids[i]) {
            kids[k] = kids[--nkids];
            mine = true;
            break;
        }
    ReleaseSRWLockExclusive(&lock);
    if (!mine)
        return waitpid(pid, status, options); /* another thread reaped it */
    CloseHandle(hs[i]);
    if (status)
        *status = status_of(code);
    return (pid_t)pids[i];
}

pid_t wait(int *status)
{
    return waitpid(-1, status, 0);
}
