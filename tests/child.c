/* Child processes for tests that need a second process (a fault with no
 * handler, an object seen from another process): the suite runs itself again
 * as "winmmap_tests --child NAME ARG". */
#define _GNU_SOURCE
#include "wmtest.h"

#include <stdlib.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <sys/wait.h>
#include <unistd.h>
#endif

#define WMT_CHILD(name) int child_##name(const char *arg);
#include "child-list.h"
#undef WMT_CHILD

static const struct {
    const char *name;
    int (*fn)(const char *arg);
} children[] = {
#define WMT_CHILD(name) {#name, child_##name},
#include "child-list.h"
#undef WMT_CHILD
};

int wmt_child_main(int argc, char **argv)
{
    if (argc < 3)
        return 100;
    for (size_t i = 0; i < sizeof children / sizeof children[0]; i++)
        if (strcmp(children[i].name, argv[2]) == 0)
            return children[i].fn(argc > 3 ? argv[3] : "");
    fprintf(stderr, "no child called %s\n", argv[2]);
    return 101;
}

int wmt_spawn_child(const char *name, const char *arg, struct wmt_child_status *st)
{
    memset(st, 0, sizeof *st);
#ifdef _WIN32
    char exe[MAX_PATH], cmd[2 * MAX_PATH];
    if (!GetModuleFileNameA(NULL, exe, sizeof exe))
        return -1;
    snprintf(cmd, sizeof cmd, "\"%s\" --child %s \"%s\"", exe, name, arg ? arg : "");
    STARTUPINFOA si = {.cb = sizeof si};
    PROCESS_INFORMATION pi;
    if (!CreateProcessA(exe, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi))
        return -1;
    WaitForSingleObject(pi.hProcess, INFINITE);
    DWORD code = 0;
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    st->code = (unsigned long)code;
    st->exited = 1;
    return 0;
#else
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0)
        return -1;
    exe[n] = 0;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execl(exe, exe, "--child", name, arg ? arg : "", (char *)NULL);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0)
        return -1;
    if (WIFEXITED(status)) {
        st->exited = 1;
        st->code = (unsigned long)WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        st->signal = WTERMSIG(status);
    }
    return 0;
#endif
}
