/* An outside program built against an installed winmmap (CMake package or
 * pkg-config, static library or DLL): maps shared memory, catches a fault with
 * sigaction + siglongjmp, and forks children with winmmap_fork_call, so the
 * fault handler and the fork entry are proven to work in each way of linking.
 * Prints "consumer: ok" and exits 0 when every check holds. */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <winmmap.h>

static sigjmp_buf env;
static void *volatile fault_addr;

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
    (void)sig, (void)ctx;
    fault_addr = si->si_addr;
    siglongjmp(env, 1);
}

static int add_one(void *arg)
{
    int *counter = *(int **)arg;
    *counter += 1;
    return 7;
}

static int crash(void *arg)
{
    (void)arg;
    volatile int *volatile nowhere = NULL;
    *nowhere = 1; /* unmapped page: SIGSEGV */
    return 0;
}

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            printf("consumer: failed: %s (line %d)\n", #c, __LINE__);                              \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

int main(void)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", WINMMAP_VERSION_MAJOR, WINMMAP_VERSION_MINOR,
             WINMMAP_VERSION_PATCH);
    printf("consumer: winmmap %s (%s)\n", winmmap_version(), winmmap_strategy());
    CHECK(strcmp(winmmap_version(), want) == 0);

    long page = sysconf(_SC_PAGESIZE);
    int *shared = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(shared != MAP_FAILED);

    /* A fault in a PROT_NONE page reaches the handler with its address. */
    char *guard = mmap(NULL, (size_t)page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(guard != MAP_FAILED);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGSEGV, &sa, NULL) == 0);
    if (sigsetjmp(env, 1) == 0) {
        guard[5] = 1;
        CHECK(!"the write to a PROT_NONE page did not fault");
    }
    CHECK(fault_addr == guard + 5);
    CHECK(munmap(guard, (size_t)page) == 0);
    sa.sa_handler = SIG_DFL; /* a child that faults must die of it */
    sa.sa_flags = 0;
    CHECK(sigaction(SIGSEGV, &sa, NULL) == 0);

    /* A child writes into the shared page; another dies of SIGSEGV. */
    int status;
    pid_t pid = winmmap_fork_call(add_one, &shared, sizeof shared);
    CHECK(pid > 0);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7);
    CHECK(*shared == 1);
    pid = winmmap_fork_call(crash, NULL, 0);
    CHECK(pid > 0);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
    CHECK(munmap(shared, (size_t)page) == 0);
    printf("consumer: ok\n");
    return 0;
}
