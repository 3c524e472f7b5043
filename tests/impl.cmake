# Which implementation the conformance suite judges.
#
# Default (WINMMAP_SUITE_IMPL empty): winmmap itself, every test file built.
# With -DWINMMAP_SUITE_IMPL=<library> -DWINMMAP_SUITE_INCLUDE=<dir with its
# sys/mman.h>: that implementation.  Each function (and each winmmap
# extension the tests use) is detected at configure time against the given
# header directory and library; a test file is compiled only when everything
# it calls exists.  The tests of a file that is not built stay in the table
# (same names and count) as stubs the runner reports "not built, skipped:
# <reason>" (wmt_unbuilt.c, generated below).  Tests inside a built file that
# need something missing are skipped by their skip predicate (wmtest.h
# wmt_needs_*), which reads the same WMT_HAVE_* values from wmt_config.h.
#
# Sets: wmt_suite_sources (the .c files to compile), wmt_suite_includes,
# wmt_suite_libraries, wmt_impl_name; writes wmt_config.h and wmt_unbuilt.c
# into the current binary directory.
include(CheckSymbolExists)
include(CheckCSourceCompiles)

# Everything a test file may need: functions of <sys/mman.h>, then the
# extensions (lower case; WMT_HAVE_<UPPER> in C).
set(wmt_functions mmap munmap mprotect msync madvise posix_madvise mlock munlock
    mlockall munlockall mincore mremap shm_open shm_unlink)
set(wmt_extensions signals fork_call info hooks pagesize fsync)

# What each tests/test_<file>.c calls (besides the C runtime and CUnit).
set(wmt_req_mmap     mmap munmap mprotect)
set(wmt_req_munmap   mmap munmap mprotect)
set(wmt_req_protect  mmap munmap mprotect)
set(wmt_req_sync     mmap munmap msync)
set(wmt_req_advice   mmap munmap mprotect madvise)
set(wmt_req_lock     mmap munmap mprotect mlock munlock madvise)
set(wmt_req_mincore  mmap munmap mprotect mincore)
set(wmt_req_mremap   mmap munmap mprotect mremap)
set(wmt_req_private  mmap munmap mprotect madvise mlock munlock mincore mremap)
set(wmt_req_shm      mmap munmap shm_open shm_unlink)
set(wmt_req_truncate mmap munmap mprotect)
set(wmt_req_fault    mmap munmap mprotect signals)
set(wmt_req_fork     mmap munmap mprotect madvise msync signals fork_call)
set(wmt_req_engine   mmap munmap mprotect msync madvise mlock mremap info hooks)
set(wmt_req_foreign  mmap munmap mprotect msync madvise posix_madvise mlock munlock mincore signals hooks)

# Why a missing extension matters (printed with the skip).
set(wmt_why_signals "no sigaction/sigsetjmp/siglongjmp delivering memory faults (winmmap's signal.h and setjmp.h)")
set(wmt_why_fork_call "no winmmap_fork_call (winmmap.h)")
set(wmt_why_info "no winmmap_version/winmmap_strategy/winmmap_region_count (winmmap.h)")
set(wmt_why_hooks "no test hooks (wm_audit, wm_sys_inject: winmmap's src/ white-box interface)")
set(wmt_why_pagesize "no sysconf(_SC_PAGESIZE)/getpagesize in unistd.h")
set(wmt_why_fsync "no fsync/fdatasync in unistd.h")

file(GLOB wmt_all_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.c)
set(wmt_suite_sources "")
set(wmt_unbuilt_files "")

if(NOT WINMMAP_SUITE_IMPL)
  set(wmt_impl_name "")
  set(wmt_suite_includes ${PROJECT_SOURCE_DIR}/src)
  set(wmt_suite_libraries winmmap::winmmap)
  foreach(f IN LISTS wmt_functions wmt_extensions)
    set(wmt_have_${f} 1)
  endforeach()
else()
  if(NOT WINMMAP_SUITE_INCLUDE OR NOT EXISTS "${WINMMAP_SUITE_INCLUDE}/sys/mman.h")
    message(FATAL_ERROR "WINMMAP_SUITE_IMPL needs WINMMAP_SUITE_INCLUDE: a directory holding sys/mman.h "
                        "(got '${WINMMAP_SUITE_INCLUDE}')")
  endif()
  if(NOT EXISTS "${WINMMAP_SUITE_IMPL}")
    message(FATAL_ERROR "WINMMAP_SUITE_IMPL: no such library: ${WINMMAP_SUITE_IMPL}")
  endif()
  get_filename_component(wmt_impl_name "${WINMMAP_SUITE_IMPL}" NAME)
  set(wmt_suite_includes ${WINMMAP_SUITE_INCLUDE})
  set(wmt_suite_libraries ${WINMMAP_SUITE_IMPL})
  # Check results are cached per implementation (another path: checked again).
  string(MD5 wmt_key "${WINMMAP_SUITE_IMPL}|${WINMMAP_SUITE_INCLUDE}")
  string(SUBSTRING ${wmt_key} 0 8 wmt_key)
  set(CMAKE_REQUIRED_INCLUDES ${WINMMAP_SUITE_INCLUDE})
  set(CMAKE_REQUIRED_LIBRARIES ${WINMMAP_SUITE_IMPL})
  set(CMAKE_REQUIRED_DEFINITIONS -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64)
  set(CMAKE_REQUIRED_QUIET ON)
  foreach(f IN LISTS wmt_functions)
    # Declared by the header and linked from the library.
    check_c_source_compiles("
      #include <sys/mman.h>
      typedef void (*any_fn)(void);
      int main(void) { volatile any_fn p = (any_fn)&${f}; return p != 0; }"
      WMT_IMPL_${wmt_key}_${f})
  endforeach()
  check_c_source_compiles("
    #include <setjmp.h>
    #include <signal.h>
    #include <string.h>
    static sigjmp_buf env;
    static void on(int s, siginfo_t *si, void *uc) { (void)s, (void)uc; siglongjmp(env, si->si_code == SEGV_ACCERR); }
    int main(void) {
      struct sigaction sa; memset(&sa, 0, sizeof sa);
      sa.sa_sigaction = on; sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESETHAND; sigemptyset(&sa.sa_mask);
      sigaction(SIGSEGV, &sa, 0); sigaction(SIGBUS, &sa, 0);
      return sigsetjmp(env, 1) + BUS_ADRERR + SEGV_MAPERR;
    }" WMT_IMPL_${wmt_key}_signals)
  check_c_source_compiles("
    #include <winmmap.h>
    #include <sys/wait.h>
    static int fn(void *a) { (void)a; return 0; }
    int main(void) { int st; pid_t p = winmmap_fork_call(fn, 0, 0); return (int)waitpid(p, &st, WNOHANG); }"
    WMT_IMPL_${wmt_key}_fork_call)
  check_c_source_compiles("
    #include <winmmap.h>
    int main(void) { return winmmap_version()[0] + winmmap_strategy()[0] + (int)winmmap_region_count(); }"
    WMT_IMPL_${wmt_key}_info)
  check_c_source_compiles("
    #include <unistd.h>
    int main(void) { return (int)sysconf(_SC_PAGESIZE) + getpagesize(); }"
    WMT_IMPL_${wmt_key}_pagesize)
  check_c_source_compiles("
    #include <unistd.h>
    int main(void) { return fsync(0) + fdatasync(0); }"
    WMT_IMPL_${wmt_key}_fsync)
  if(WIN32)
    # winmmap's white-box interface: its src/win32 headers beside the
    # include directory (a winmmap source tree) and the hooks compiled in.
    get_filename_component(wmt_impl_src "${WINMMAP_SUITE_INCLUDE}/../src" ABSOLUTE)
    set(CMAKE_REQUIRED_INCLUDES ${WINMMAP_SUITE_INCLUDE} ${wmt_impl_src})
    check_c_source_compiles("
      #include \"win32/internal.h\"
      int main(void) { wm_sys_inject_fail_at(0); return wm_audit() != 0 || wm_sys_inject_calls() != 0; }"
      WMT_IMPL_${wmt_key}_hooks)
    if(WMT_IMPL_${wmt_key}_hooks)
      list(APPEND wmt_suite_includes ${wmt_impl_src})
    endif()
  else()
    # Natively no test reaches into the implementation.
    set(WMT_IMPL_${wmt_key}_hooks 1)
  endif()
  unset(CMAKE_REQUIRED_INCLUDES)
  unset(CMAKE_REQUIRED_LIBRARIES)
  unset(CMAKE_REQUIRED_DEFINITIONS)
  set(wmt_found "")
  set(wmt_missing "")
  foreach(f IN LISTS wmt_functions wmt_extensions)
    if(WMT_IMPL_${wmt_key}_${f})
      set(wmt_have_${f} 1)
      list(APPEND wmt_found ${f})
    else()
      set(wmt_have_${f} 0)
      list(APPEND wmt_missing ${f})
    endif()
  endforeach()
  list(JOIN wmt_found " " wmt_found_text)
  list(JOIN wmt_missing " " wmt_missing_text)
  message(STATUS "conformance suite against ${WINMMAP_SUITE_IMPL}")
  message(STATUS "  provides: ${wmt_found_text}")
  message(STATUS "  lacks:    ${wmt_missing_text}")
endif()

# The test files to build; stubs for the tests of the others.
set(wmt_stubs "")
set(wmt_table "")
set(wmt_n 0)
foreach(src IN LISTS wmt_all_sources)
  get_filename_component(base ${src} NAME_WE)
  if(NOT base MATCHES "^test_(.+)$")
    list(APPEND wmt_suite_sources ${src})
    continue()
  endif()
  set(file ${CMAKE_MATCH_1})
  if(NOT DEFINED wmt_req_${file})
    message(FATAL_ERROR "tests/impl.cmake: say what ${base}.c needs (wmt_req_${file})")
  endif()
  set(lacks "")
  foreach(need IN LISTS wmt_req_${file})
    if(NOT wmt_have_${need})
      if(DEFINED wmt_why_${need})
        list(APPEND lacks "${wmt_why_${need}}")
      else()
        list(APPEND lacks "no ${need}()")
      endif()
    endif()
  endforeach()
  if(NOT lacks)
    list(APPEND wmt_suite_sources ${src})
    continue()
  endif()
  list(JOIN lacks ", " lacks)
  set(why "${base}.c: the implementation has ${lacks}")
  list(APPEND wmt_unbuilt_files ${base}.c)
  message(STATUS "  not built: ${base}.c (${lacks})")
  string(REPLACE "\"" "\\\"" why_c "${why}")
  string(APPEND wmt_stubs "\nstatic const char why_${wmt_n}[] = \"${why_c}\";\n")
  file(STRINGS ${src} defs REGEX "^(void test_[A-Za-z0-9_]+\\(void\\)|int child_[A-Za-z0-9_]+\\(const char \\*arg\\)|const char \\*wmt_[a-z_]+\\(void\\))$")
  foreach(def IN LISTS defs)
    if(def MATCHES "^void (test_[A-Za-z0-9_]+)")
      # Never run (the runner makes it inactive); fails if it ever is.
      string(APPEND wmt_stubs "${def}\n{\n    CU_FAIL(\"not built\");\n}\n")
      string(APPEND wmt_table "    {${CMAKE_MATCH_1}, why_${wmt_n}},\n")
    elseif(def MATCHES "^const char \\*wmt_")
      # A skip predicate the file defines for its own tests.
      string(APPEND wmt_stubs "${def}\n{\n    return why_${wmt_n};\n}\n")
    elseif(def MATCHES "^int (child_[A-Za-z0-9_]+)")
      string(APPEND wmt_stubs "${def}\n{\n    (void)arg;\n    fprintf(stderr, \"%s\\n\", why_${wmt_n});\n    return 99;\n}\n")
    endif()
  endforeach()
  math(EXPR wmt_n "${wmt_n} + 1")
endforeach()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${wmt_all_sources})

set(wmt_config "/* Generated by tests/impl.cmake: what the implementation under test has. */\n")
string(APPEND wmt_config "#ifndef WMT_CONFIG_H\n#define WMT_CONFIG_H\n")
if(wmt_impl_name)
  string(APPEND wmt_config "#define WMT_IMPL_NAME \"${wmt_impl_name}\"\n")
endif()
foreach(f IN LISTS wmt_functions wmt_extensions)
  string(TOUPPER ${f} F)
  string(APPEND wmt_config "#define WMT_HAVE_${F} ${wmt_have_${f}}\n")
endforeach()
string(APPEND wmt_config "#endif\n")
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/wmt_config.h CONTENT "${wmt_config}" @ONLY)
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/wmt_unbuilt.c CONTENT
"/* Generated by tests/impl.cmake: the tests of files not built. */
#include \"runner.h\"
${wmt_stubs}
const struct wmt_unbuilt wmt_unbuilt[] = {
${wmt_table}    {NULL, NULL},
};
" @ONLY)
list(APPEND wmt_suite_sources ${CMAKE_CURRENT_BINARY_DIR}/wmt_unbuilt.c)
