/* Isolated runner: "--isolated [--junit FILE] [--timeout S] [FILTER]" (or
 * "--junit FILE ...") runs each selected test in a fresh copy of this program
 * ("--run-one ID"), so a crash (NTSTATUS exit code / signal) or a hang of one
 * test is that test's failure and the run goes on.  Writes a JUnit XML report
 * and ends with "N passed, N failed, N skipped".  WMT_SELFTEST=1 adds two
 * tests that crash and hang, to check the runner itself. */
#define _GNU_SOURCE /* kill, usleep, strsignal, readlink under -std=c11 */
#include "runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

enum { WMT_PASS, WMT_FAIL, WMT_SKIP };

struct outcome {
    int status;
    char why[512];
    double secs;
};

/* Runs "self --run-one id"; status and a failure reason. */
static void run_child(const char *self, const char *id, unsigned timeout, struct outcome *o)
{
#ifdef _WIN32
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "\"%s\" --run-one %s", self, id);
    STARTUPINFOA si = {.cb = sizeof si};
    PROCESS_INFORMATION pi;
    if (!CreateProcessA(self, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        snprintf(o->why, sizeof o->why, "cannot start child: Win32 error %lu", GetLastError());
        o->status = WMT_FAIL;
        return;
    }
    DWORD code = 0;
    if (WaitForSingleObject(pi.hProcess, timeout * 1000u) == WAIT_TIMEOUT) {
        TerminateProcess(pi.hProcess, 124);
        WaitForSingleObject(pi.hProcess, INFINITE);
        snprintf(o->why, sizeof o->why, "time-out after %u s", timeout);
        o->status = WMT_FAIL;
    } else {
        GetExitCodeProcess(pi.hProcess, &code);
        o->status = code == 0 ? WMT_PASS : WMT_FAIL;
        if (code >= 0xC0000000u)
            snprintf(o->why, sizeof o->why, "crashed: exception 0x%08lX", (unsigned long)code);
        else if (code)
            snprintf(o->why, sizeof o->why, "assertion failed (exit code %lu)", (unsigned long)code);
    }
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
#else
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execl(self, self, "--run-one", id, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    time_t end = time(NULL) + timeout;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (time(NULL) >= end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            snprintf(o->why, sizeof o->why, "time-out after %u s", timeout);
            o->status = WMT_FAIL;
            return;
        }
        usleep(10000);
    }
    o->status = WIFEXITED(st) && WEXITSTATUS(st) == 0 ? WMT_PASS : WMT_FAIL;
    if (WIFSIGNALED(st))
        snprintf(o->why, sizeof o->why, "crashed: signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else if (o->status == WMT_FAIL)
        snprintf(o->why, sizeof o->why, "assertion failed (exit code %d)", WEXITSTATUS(st));
#endif
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '"')
            fputs("&quot;", f);
        else
            fputc(*s, f);
    }
}

static void selftest_crash(void)
{
    volatile int *p = NULL;
    *p = 1;
}

static void selftest_hang(void)
{
    for (;;)
#ifdef _WIN32
        Sleep(1000);
#else
        sleep(1);
#endif
}

static const struct wmt_entry selftests[] = {
    {"selftest", "selftest/crash", "a test that crashes is reported failed", selftest_crash, NULL},
    {"selftest", "selftest/hang", "a test that hangs is reported failed", selftest_hang, NULL},
};

/* The child's lookup also sees the self-tests (main.c asks here). */
const struct wmt_entry *wmt_selftest(const char *id)
{
    if (!getenv("WMT_SELFTEST"))
        return NULL;
    for (size_t i = 0; i < 2; i++)
        if (strcmp(selftests[i].id, id) == 0)
            return &selftests[i];
    return NULL;
}

/* A crashing child must exit with its exception code, not start a debugger
 * (Wine's winedbg, Windows Error Reporting) and sit there. */
void wmt_child_quiet(void)
{
#ifdef _WIN32
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX | SEM_NOOPENFILEERRORBOX);
#endif
}

int wmt_isolated_main(int argc, char **argv)
{
    const char *junit = NULL, *filter = NULL;
    unsigned timeout = 120;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--junit") == 0 && i + 1 < argc)
            junit = argv[++i];
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--isolated") != 0)
            filter = argv[i];
    }
    char self[1024];
#ifdef _WIN32
    GetModuleFileNameA(NULL, self, sizeof self);
#else
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = 0;
#endif
    setvbuf(stdout, NULL, _IONBF, 0);
    size_t extra = getenv("WMT_SELFTEST") ? 2 : 0, total = wmt_ntests + extra;
    struct outcome *res = calloc(total, sizeof *res);
    unsigned pass = 0, fail = 0, skip = 0;
    for (size_t i = 0; i < total; i++) {
        const struct wmt_entry *t = i < wmt_ntests ? &wmt_tests[i] : &selftests[i - wmt_ntests];
        struct outcome *o = &res[i];
        o->status = -1;
        if (filter && !strstr(t->id, filter))
            continue;
        const char *why = i < wmt_ntests ? wmt_skip_reason(t) : NULL;
        time_t t0 = time(NULL);
        if (why) {
            o->status = WMT_SKIP;
            snprintf(o->why, sizeof o->why, "%s", why);
        } else {
            run_child(self, t->id, timeout, o);
        }
        o->secs = difftime(time(NULL), t0);
        const char *word[] = {"PASS", "FAIL", "SKIP"};
        /* A child that crashed or hung may have left a line unfinished. */
        int cut = o->status == WMT_FAIL && (strncmp(o->why, "crashed", 7) == 0 || strncmp(o->why, "time-out", 8) == 0);
        printf("%s%s %s: %s%s%s\n", cut ? "\n" : "", word[o->status], t->id, t->rule, o->why[0] ? " -- " : "", o->why);
        pass += o->status == WMT_PASS;
        fail += o->status == WMT_FAIL;
        skip += o->status == WMT_SKIP;
    }
    if (junit) {
        FILE *f = fopen(junit, "w");
        if (!f) {
            perror(junit);
            return 2;
        }
        fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<testsuites name=\"winmmap-conformance\" tests=\"%u\" failures=\"%u\" skipped=\"%u\">\n",
                pass + fail + skip, fail, skip);
        const char *open_suite = NULL;
        for (size_t i = 0; i < total; i++) {
            const struct wmt_entry *t = i < wmt_ntests ? &wmt_tests[i] : &selftests[i - wmt_ntests];
            if (res[i].status < 0)
                continue;
            if (!open_suite || strcmp(open_suite, t->suite) != 0) {
                if (open_suite)
                    fputs("  </testsuite>\n", f);
                open_suite = t->suite;
                fprintf(f, "  <testsuite name=\"%s\">\n", t->suite);
            }
            fprintf(f, "    <testcase classname=\"%s\" name=\"%s\" time=\"%.0f\">\n", t->suite,
                    t->id + strlen(t->suite) + 1, res[i].secs);
            fputs("      <system-out>rule: ", f);
            xml_text(f, t->rule);
            fputs("</system-out>\n", f);
            if (res[i].status != WMT_PASS) {
                fputs(res[i].status == WMT_FAIL ? "      <failure message=\"" : "      <skipped message=\"", f);
                xml_text(f, res[i].why);
                fputs("\"/>\n", f);
            }
            fputs("    </testcase>\n", f);
        }
        if (open_suite)
            fputs("  </testsuite>\n", f);
        fputs("</testsuites>\n", f);
        fclose(f);
    }
    free(res);
    printf("%u passed, %u failed, %u skipped\n", pass, fail, skip);
    return fail ? 1 : 0;
}
