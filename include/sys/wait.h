/* winmmap: <sys/wait.h> for Windows, where mingw-w64 has none: waitpid and
 * wait for the children of winmmap_fork_call, with the POSIX status macros.
 * A child ended by an access violation is reported as killed by SIGSEGV, by
 * an in-page error (winmmap's SIGBUS) as killed by SIGBUS.  On POSIX systems
 * it is the system header unchanged. */
#ifndef WINMMAP_SYS_WAIT_H
#define WINMMAP_SYS_WAIT_H

#include <winmmap_extern.h>

#ifndef _WIN32
#include_next <sys/wait.h>
#else
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WNOHANG 1

#define WTERMSIG(s) ((s) & 0x7f)
#define WIFEXITED(s) (WTERMSIG(s) == 0)
#define WEXITSTATUS(s) (((s) >> 8) & 0xff)
#define WIFSIGNALED(s) (WTERMSIG(s) != 0 && WTERMSIG(s) != 0x7f)
#define WIFSTOPPED(s) 0
#define WCOREDUMP(s) 0

/* pid -1: any child.  ECHILD when there is no such child. */
WINMMAP_EXTERN pid_t waitpid(pid_t pid, int *status, int options);
WINMMAP_EXTERN pid_t wait(int *status);

#ifdef __cplusplus
}
#endif
#endif /* _WIN32 */
#endif
