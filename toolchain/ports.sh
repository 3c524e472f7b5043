#!/bin/bash
# Builds real Unix programs, fetched from Debian as source packages, UNCHANGED
# for Windows with mingw-w64 against winmmap, runs their own test suites and a
# workload natively, under Wine 8 and under Wine 10, and compares.
#
#   bash toolchain/ports.sh            (after bash toolchain/setup.sh, as root)
#
# Environment:
#   WINMMAP_PREFIX  an installed winmmap, as `cmake --install` lays it out
#                   (include/winmmap/, lib/libwinmmap.a, lib/pkgconfig/).
#                   Default: `cmake --install build/win --prefix
#                   build/ports/prefix` after `cmake --build build/win` (or
#                   toolchain/build.sh when build/win is not configured).
#   WINMMAP_BUILD   build tree (default <repo>/build); everything goes to
#                   $WINMMAP_BUILD/ports, nothing of the packages is committed.
#   PORTS_WINES     which Wines to run (default "8 10").
#
# Packages, and what was checked so that they have NO Windows mapping code of
# their own (the mmap they use on Windows is winmmap's):
#   gdbm 1.23 (GNU dbm): src/mmap.c maps the database with mmap(MAP_SHARED),
#     remaps as the file grows (munmap + mmap), msync()s.  `grep -rIil
#     'CreateFileMapping|MapViewOfFile|_WIN32|mingw'` over src/, tests/,
#     tools/, compat/ finds nothing (only the generated configure and the
#     libtool scripts mention Windows).  configure decides mmap with
#     AC_FUNC_MMAP; autoconf.h must say HAVE_MMAP and HAVE_MSYNC, checked below.
#   libxml2 2.9.14: xmllint --memory, testSchemas --memory and testRelax
#     --memory mmap() their input files (PROT_READ, MAP_SHARED) under
#     #ifdef HAVE_MMAP.  libxml2 has Windows code (it supports mingw), but no
#     mapping code: `grep -rIl 'CreateFileMapping|MapViewOfFile'` over the
#     source finds nothing, so on Windows these paths exist only with
#     winmmap; config.h must say HAVE_MMAP and HAVE_MUNMAP, checked below.
#
# The gaps of mingw-w64 that have nothing to do with mmap (flock, pwd.h,
# htonl, text-mode I/O, ...) are filled by the small shims in tests/ports/
# (see tests/ports/README).  Exit status: 0 when every step passed.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")
build=${WINMMAP_BUILD:-$top/build}
work=$build/ports
wines=${PORTS_WINES:-8 10}
cross=x86_64-w64-mingw32
jobs=2
say() { printf '[ports] %s\n' "$*"; }
die() { printf '[ports] ERROR: %s\n' "$*" >&2; exit 2; }
mkdir -p "$work/logs" "$work/src" || die "cannot create $work"
work=$(cd "$work" && pwd)
logs=$work/logs

summary=()   # lines of the final table
failures=0
result() { # package platform what status detail
    summary+=("$(printf '%-6s %-8s %-24s %-5s %s' "$1" "$2" "$3" "$4" "$5")")
    [ "$4" = PASS ] || [ "$4" = INFO ] || failures=$((failures + 1))
}

# ---- prerequisites ----
for t in $cross-gcc gcc make; do
    command -v "$t" >/dev/null || die "$t not found: run toolchain/setup.sh"
done
if ! command -v dpkg-source >/dev/null; then
    say "installing dpkg-dev (for apt-get source)"
    apt-get install -y -q --no-install-recommends dpkg-dev >/dev/null || die "cannot install dpkg-dev"
fi
# A deb-src entry, as toolchain/setup.sh adds one (same mirror, same keyring).
as_root() { "$@"; }
. "$here/debian.sh"
ensure_deb_src gdbm

for w in $wines; do
    case $w in
    8) [ -x /usr/lib/wine/wine64 ] || die "Wine 8 missing: run toolchain/setup.sh" ;;
    10) [ -x "${WINMMAP_CACHE:-$top/.cache}/wine10-root/usr/lib/wine/wine64" ] \
            || die "Wine 10 chroot missing: run toolchain/setup.sh (or set WINMMAP_CACHE)" ;;
    *) die "PORTS_WINES: unknown Wine '$w'" ;;
    esac
done

# ---- winmmap prefix ----
if [ -n "${WINMMAP_PREFIX:-}" ]; then
    prefix=$(cd "$WINMMAP_PREFIX" && pwd) || die "WINMMAP_PREFIX=$WINMMAP_PREFIX does not exist"
else
    if [ -f "$build/win/build.ninja" ]; then
        # brought up to date (the sources may have changed since)
        cmake --build "$build/win" > "$logs/winmmap-build.log" 2>&1 \
            || die "cmake --build $build/win failed; see $logs/winmmap-build.log"
    else
        say "building winmmap (toolchain/build.sh)"
        WINMMAP_BUILD=$build bash "$here/build.sh" > "$logs/winmmap-build.log" 2>&1 \
            || die "toolchain/build.sh failed; see $logs/winmmap-build.log"
    fi
    prefix=$work/prefix
    rm -rf "$prefix"
    cmake --install "$build/win" --prefix "$prefix" > "$logs/winmmap-install.log" 2>&1 \
        || die "cmake --install $build/win failed; see $logs/winmmap-install.log"
fi
[ -f "$prefix/include/winmmap/sys/mman.h" ] && [ -f "$prefix/lib/libwinmmap.a" ] \
    || die "$prefix lacks include/winmmap/sys/mman.h or lib/libwinmmap.a (not a cmake --install prefix?)"
export WINMMAP_PREFIX=$prefix
say "winmmap prefix: $prefix"

# ---- the shims (tests/ports) ----
shimsrc=$top/tests/ports
shims=$work/shims
rm -rf "$shims" && mkdir -p "$shims"
for c in "$shimsrc"/*.c; do
    case $(basename "$c") in repro_*) continue ;; esac   # reproducers, not shims
    $cross-gcc -O2 -Wall -I"$shimsrc/include" -I"$prefix/include/winmmap" -D_FILE_OFFSET_BITS=64 -c "$c" \
        -o "$shims/$(basename "${c%.c}").o" || die "shim $c does not compile"
done
$cross-ar rcs "$shims/libports.a" "$shims"/*.o || die "ar failed"
# What a Windows configure gets besides toolchain/autoconf-winmmap.site:
# the shim headers (before winmmap's, they wrap them with #include_next), the
# shim library, and binmode.o's constructor pulled in by name.
win_env=(CONFIG_SITE="$here/autoconf-winmmap.site"
         CPPFLAGS="-I$shimsrc/include"
         LDFLAGS="-L$shims -Wl,--undefined=ports_binmode"
         LIBS="-lports")

# ---- helpers ----
fetch() { # package -> prints the unpacked source directory
    local pkg=$1 d=$work/src/$1
    if [ ! -f "$d/.unpacked" ]; then
        rm -rf "$d" && mkdir -p "$d"
        (cd "$d" && apt-get source -q "$pkg") > "$logs/$pkg-fetch.log" 2>&1 || return 1
        touch "$d/.unpacked"
    fi
    find "$d" -mindepth 1 -maxdepth 1 -type d | head -n1
}

wine_run() { # N exe args...: run a Windows program under Wine N
    local n=$1; shift
    WINMMAP_WINE=$n WINMMAP_PREFIX_DIR=$work/wine bash "$here/wine-run.sh" "$@"
}

# Wrappers named like the package's programs, so that its own test driver
# (which finds programs on PATH) runs the .exe under Wine N.  Windows names
# the program by its full DOS path in argv[0] ("Z:\...\gtfetch.exe"), which
# test outputs compare against the bare name: the wrapper turns such paths
# in stderr back into the bare name (and changes nothing else).  Programs
# that were not built for Windows get a wrapper that exits 77 ("skip").
make_wrappers() { # N exedir wrapdir [unbuilt...]
    local n=$1 exedir=$2 wrap=$3 e; shift 3
    rm -rf "$wrap" && mkdir -p "$wrap"
    for e in "$exedir"/*.exe; do
        cat > "$wrap/$(basename "${e%.exe}")" <<EOF
#!/bin/bash
err=\$(mktemp)
WINMMAP_WINE=$n WINMMAP_PREFIX_DIR='$work/wine' bash '$here/wine-run.sh' '$e' "\$@" 2>"\$err"
rc=\$?
sed -E 's#[A-Za-z]:\\\\([^:\\\\]*\\\\)*([^:\\\\]+)\\.exe#\\2#g' "\$err" >&2
rm -f "\$err"
exit \$rc
EOF
        chmod +x "$wrap/$(basename "${e%.exe}")"
    done
    for e in "$@"; do
        printf '#!/bin/sh\necho "%s: not built for Windows" >&2\nexit 77\n' "$e" > "$wrap/$e"
        chmod +x "$wrap/$e"
    done
}

# Autotest listing -> "number: title: status" lines.
autotest_results() {
    sed -n -E 's/^ *([0-9]+): (.*[^ ]) +(ok|FAILED|skipped|expected failure|UNEXPECTED PASS)( \(.*\))?$/\1: \2: \3/p' "$1" | sort -n
}
count() { grep -c ": $2\$" "$1" || true; }
secs_since() { local ms=$(( ($(date +%s%N) - $1) / 1000000 )); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }

# The two builds of a package from its source $src with configure options
# $conf (the caller's locals).  native_build PKG DIR DETAIL COMMAND...:
# configure and COMMAND in DIR/native; win_configure PKG DIR: the
# cross-configure in DIR/win.  Each reports its result; false on failure.
native_build() {
    local pkg=$1 dir=$2 detail=$3
    shift 3
    say "$pkg: native build"
    rm -rf "$dir/native" && mkdir -p "$dir/native"
    if (cd "$dir/native" && "$src/configure" "${conf[@]}" && "$@") > "$logs/$pkg-native-build.log" 2>&1; then
        result $pkg native build PASS "$detail"
    else
        result $pkg native build FAIL "see $logs/$pkg-native-build.log"
        return 1
    fi
}

win_configure() {
    local pkg=$1 dir=$2
    say "$pkg: Windows build (mingw-w64 + winmmap)"
    rm -rf "$dir/win" && mkdir -p "$dir/win"
    (cd "$dir/win" && env "${win_env[@]}" "$src/configure" --host=$cross "${conf[@]}") \
        > "$logs/$pkg-win-configure.log" 2>&1 ||
        { result $pkg windows configure FAIL "see $logs/$pkg-win-configure.log"; return 1; }
}

# =====================================================================
# gdbm
# =====================================================================
port_gdbm() {
    local src g=$work/gdbm p n t0 t1
    say "gdbm: fetching the Debian source package"
    src=$(fetch gdbm) && [ -n "$src" ] || { result gdbm all fetch FAIL "apt-get source gdbm failed ($logs/gdbm-fetch.log)"; return; }
    if grep -rIilE 'CreateFileMapping|MapViewOfFile|_WIN32|mingw' "$src/src" "$src/tests" "$src/tools" "$src/compat" >/dev/null; then
        result gdbm all "no Windows mapping code" FAIL "grep found Windows code in $src"
        return
    fi
    local progs="closerr fdop g_open_ce g_reorg_ce gtcacheopt gtconv gtdel gtdump gtfetch gtload gtopt gtrecover gtver num2word"
    local conf=(--disable-shared --disable-nls --without-readline)
    mkdir -p "$g"

    # native: the same source against glibc; Windows: cross-configured with
    # the CONFIG_SITE file
    gdbm_make() { make -j$jobs && make -j$jobs -C tests $progs t_wordwrap; }
    native_build gdbm "$g" "configure + make (glibc)" gdbm_make || return
    win_configure gdbm "$g" || return
    if grep -q '^#define HAVE_MMAP 1' "$g/win/autoconf.h" && grep -q '^#define HAVE_MSYNC 1' "$g/win/autoconf.h" \
       && grep -q '^#define HAVE_FLOCK 1' "$g/win/autoconf.h"; then
        result gdbm windows "configure sees mmap" PASS "autoconf.h: HAVE_MMAP 1, HAVE_MSYNC 1, HAVE_FLOCK 1"
    else
        result gdbm windows "configure sees mmap" FAIL "autoconf.h lacks HAVE_MMAP/HAVE_MSYNC/HAVE_FLOCK"; return
    fi
    # The library and the test programs; tools/ (gdbmtool, gdbm_dump,
    # gdbm_load) and t_wordwrap need termios and a tty (sys/ioctl.h): not
    # built, their tests are reported as skipped.
    if (cd "$g/win" && make -j$jobs -C src && make -j$jobs -C tests $(for p in $progs; do echo "$p.exe"; done)) \
            > "$logs/gdbm-win-build.log" 2>&1; then
        result gdbm windows build PASS "libgdbm + $(echo $progs | wc -w) test programs (gdbmtool, t_wordwrap not built)"
    else
        result gdbm windows build FAIL "see $logs/gdbm-win-build.log"; return
    fi

    # ---- gdbm's own test suite (autotest), driven from the native side ----
    local ts=$src/tests/testsuite plats="native" ref
    say "gdbm: test suite, native"
    (cd "$g/native/tests" && bash "$ts" -j$jobs AUTOTEST_PATH="$g/native/tests") > "$logs/gdbm-testsuite-native.log" 2>&1
    autotest_results "$logs/gdbm-testsuite-native.log" > "$g/results-native.txt"
    # The tests of the programs not built for Windows (gdbmtool*.at,
    # wordwrap.at) are not run there; all others are.
    local all skip_nums run_nums
    all=$(cd "$g/native/tests" && bash "$ts" -l | sed -n -E 's/^ +([0-9]+): ([^ ]+)\.at:.*/\1 \2/p')
    skip_nums=$(echo "$all" | awk '$2 ~ /^(gdbmtool|wordwrap)/ { print $1 }' | tr '\n' ' ')
    run_nums=$(echo "$all" | awk '$2 !~ /^(gdbmtool|wordwrap)/ { print $1 }' | tr '\n' ' ')
    for n in $wines; do
        say "gdbm: test suite, Wine $n (tests $skip_nums not run: gdbmtool, t_wordwrap not built)"
        make_wrappers "$n" "$g/win/tests" "$g/wrap$n" gdbmtool t_wordwrap
        t0=$(date +%s)
        (cd "$g/win/tests" && PATH=$g/wrap$n:$PATH bash "$ts" -j$jobs AUTOTEST_PATH="$g/wrap$n" $run_nums) > "$logs/gdbm-testsuite-wine$n.log" 2>&1
        t1=$(date +%s)
        autotest_results "$logs/gdbm-testsuite-wine$n.log" > "$g/results-wine$n.txt"
        echo "$((t1 - t0))" > "$g/time-wine$n.txt"
        plats="$plats wine$n"
    done
    for p in $plats; do
        local r=$g/results-$p.txt ok fail skip tot
        ok=$(count "$r" ok); fail=$(count "$r" FAILED); skip=$(count "$r" skipped); tot=$(wc -l < "$r")
        if [ "$tot" -gt 0 ] && [ "$fail" -eq 0 ]; then
            result gdbm "$p" "test suite" PASS "$ok passed, $fail failed, $skip skipped (by the suite) of $tot run$( [ -f "$g/time-$p.txt" ] && echo "; $(echo $skip_nums | wc -w) not run; $(cat "$g/time-$p.txt")s")"
        else
            result gdbm "$p" "test suite" FAIL "$ok passed, $fail failed, $skip skipped of $tot (see $logs/gdbm-testsuite-$p.log)"
        fi
    done
    # Same result, test by test, where both ran the test (not skipped).
    for p in $plats; do
        [ "$p" = native ] && continue
        local diffs
        diffs=$(join -t'|' <(sed 's/: \([^:]*\)$/|\1/' "$g/results-native.txt") \
                           <(sed 's/: \([^:]*\)$/|\1/' "$g/results-$p.txt") \
                | awk -F'|' '$2 != "skipped" && $3 != "skipped" && $2 != $3' | wc -l)
        if [ "$diffs" -eq 0 ]; then
            result gdbm "$p" "suite = native" PASS "every test run on both has the native result"
        else
            result gdbm "$p" "suite = native" FAIL "$diffs tests differ from native"
        fi
    done

    # ---- workload: 100,000 records through the mapped database ----
    # gtload stores num2word's "N<TAB>words" lines (mmap is gdbm's default);
    # a second database is built with a 64 KiB map limit (-maxmap), so gdbm
    # remaps (munmap + mmap at a new offset) thousands of times as it grows;
    # a third with -sync (msync on every change).  Then fetches, deletes, a
    # dump.  The dumps must be the same bytes on every platform, and the
    # native gtdump must read the databases Windows wrote.
    #
    # The -maxmap database depends on the page size: gdbm 1.23's remap
    # arithmetic fails when sysconf(_SC_PAGESIZE) is above its 4 KiB block
    # (tests/ports/repro_remap.c).  winmmap's legacy strategy (Wine 8) has
    # 64 KiB pages, so those steps are compared with gdbm on a Linux with
    # 64 KiB pages, emulated natively (tests/ports/native/page64k.c).
    local wl=$g/workload nat=$g/native/tests
    workload() { # platform runner...: runs the script with "$runner prog" commands
        local p=$1; shift
        local d=$wl/$p
        rm -rf "$d" && mkdir -p "$d"
        (
            cd "$d" || exit 1
            set -e
            "$@" num2word 1:100000 > input
            "$@" gtload -blocksize=4096 -bsexact big.db < input
            "$@" num2word 1:2000 | "$@" gtload -blocksize=4096 -bsexact -sync sync.db
            "$@" gtfetch big.db 1 2 77777 100000 > fetch.out
            if "$@" gtfetch big.db 100001 > missing.out 2> missing.err; then echo "fetch of a missing key succeeded"; exit 1; fi
            "$@" gtdel big.db $(seq 1 7 100000 | head -n 5000)
            "$@" gtdump big.db > big.dump
            "$@" gtdump sync.db > sync.dump
        ) > "$logs/gdbm-workload-$p.log" 2>&1 || return 1
        remap_steps "$p" "$@"
    }
    remap_steps() { # platform runner...: the -maxmap database; exit codes and messages recorded
        local p=$1; shift
        local d=$wl/$p
        (
            cd "$d" || exit 1
            rm -f remap.db
            "$@" num2word 1:20000 > in20k; "$@" num2word 1:5 > in5
            "$@" gtload -blocksize=4096 -bsexact -maxmap=65536 remap.db < in20k 2> remap.err
            echo "gtload -maxmap=65536: $?" > remap.status
            "$@" gtdump remap.db > remap.dump 2>> remap.err; echo "gtdump: $?" >> remap.status
            "$@" gtload -replace remap.db < in5 2>> remap.err; echo "gtload -replace: $?" >> remap.status
            "$@" gtdump remap.db > remap2.dump 2>> remap.err; echo "gtdump: $?" >> remap.status
            # the program names as on Linux (Windows gives the full path)
            sed -i -E 's#^([^ ]*[/\\])?(gt[a-z]+)(-page64k)?(\.exe)?: #\2: #' remap.err
            cat remap.status remap.err
        ) >> "$logs/gdbm-workload-$p.log" 2>&1
    }
    native_prog() { local prog=$1; shift; "$nat/$prog" "$@"; }
    say "gdbm: workload, native"
    t0=$(date +%s%N)
    if workload native native_prog && grep -q 'gtload -maxmap=65536: 0' "$wl/native/remap.status"; then
        result gdbm native workload PASS "100k stores, 20k with remaps, 2k synced ($(secs_since "$t0")s)"
    else
        result gdbm native workload FAIL "see $logs/gdbm-workload-native.log"; return
    fi
    # gtload and gtdump as on a Linux with 64 KiB pages
    local ok64=0
    if (cd "$g/native/tests" && for prog in gtload gtdump; do
            gcc -o "$prog-page64k" "$prog.o" "$top/tests/ports/native/page64k.c" ../src/.libs/libgdbm.a \
                -Wl,--wrap=sysconf,--wrap=mmap,--wrap=munmap || exit 1
        done) > "$logs/gdbm-page64k-build.log" 2>&1; then
        page64k_prog() { local prog=$1; shift; case $prog in gtload|gtdump) prog=$prog-page64k ;; esac; "$nat/$prog" "$@"; }
        rm -rf "$wl/native-page64k" && mkdir -p "$wl/native-page64k"
        remap_steps native-page64k page64k_prog
        ok64=1
        result gdbm native "64 KiB pages: -maxmap" INFO "$(head -n1 "$wl/native-page64k/remap.status")$(sed -n 's/^gtload: \([0-9]*: .*\)/, at record \1/p' "$wl/native-page64k/remap.err" | head -n1) (gdbm's remap arithmetic)"
    else
        result gdbm native "64 KiB pages build" FAIL "see $logs/gdbm-page64k-build.log"
    fi

    # The reproducer, reduced from gdbm: page size and outcome per platform.
    local rp=$g/repro
    mkdir -p "$rp"
    gcc -O2 -o "$rp/repro_remap" "$shimsrc/repro_remap.c" > "$logs/repro-build.log" 2>&1 \
      && $cross-gcc -O2 -D_FILE_OFFSET_BITS=64 $(PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" PKG_CONFIG_PATH= pkg-config --cflags winmmap-static) \
            -o "$rp/repro_remap.exe" "$shimsrc/repro_remap.c" \
            $(PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" PKG_CONFIG_PATH= pkg-config --libs winmmap-static) >> "$logs/repro-build.log" 2>&1 \
      || result repro all build FAIL "see $logs/repro-build.log"
    (cd "$rp" && ./repro_remap > native.out; echo "exit $?" >> native.out
     REPRO_PAGESIZE=65536 ./repro_remap > native-page64k.out; echo "exit $?" >> native-page64k.out)

    for n in $wines; do
        say "gdbm: workload, Wine $n"
        wine_prog() { local prog=$1; shift; wine_run "$WL_WINE" "$g/win/tests/$prog.exe" "$@"; }
        local page ref strat
        # the reproducer with the default strategy and with legacy (on Wine 8
        # the same); Windows writes CRLF to the console, hence tr
        for strat in default legacy; do
            (cd "$rp" && if [ $strat = default ]; then wine_run "$n" "$rp/repro_remap.exe"; else
                 WINMMAP_STRATEGY=$strat wine_run "$n" "$rp/repro_remap.exe"; fi | tr -d '\r' > "wine$n-$strat.out"
             echo "exit ${PIPESTATUS[0]}" >> "wine$n-$strat.out")
            page=$(sed -n 's/^page size \([0-9]*\).*/\1/p' "$rp/wine$n-$strat.out")
            if [ "$page" = 65536 ]; then ref=native-page64k; else ref=native; fi
            if cmp -s <(sed 1d "$rp/$ref.out") <(sed 1d "$rp/wine$n-$strat.out"); then
                result repro "wine$n" "$strat: = $ref" PASS "page size $page; gdbm's arithmetic: $(grep -c 'the write returns 0' "$rp/wine$n-$strat.out") empty windows, corrected: none; $(tail -n1 "$rp/wine$n-$strat.out")"
            else
                result repro "wine$n" "$strat: = $ref" FAIL "see $rp/wine$n-$strat.out"
            fi
        done
        # the workload's -maxmap database is compared with the native run of
        # the default strategy's page size
        page=$(sed -n 's/^page size \([0-9]*\).*/\1/p' "$rp/wine$n-default.out")
        if [ "$page" = 65536 ]; then ref=native-page64k; else ref=native; fi
        t0=$(date +%s%N)
        if WL_WINE=$n workload "wine$n" wine_prog; then
            local secs same=1 f
            secs=$(secs_since "$t0")
            for f in input fetch.out big.dump sync.dump; do
                cmp -s "$wl/native/$f" "$wl/wine$n/$f" || { same=0; echo "differs: $f" >> "$logs/gdbm-workload-wine$n.log"; }
            done
            if [ $same = 1 ]; then
                result gdbm "wine$n" workload PASS "ran (${secs}s); inputs, fetches and 2 dumps equal native, byte for byte"
            else
                result gdbm "wine$n" workload FAIL "outputs differ from native (see $logs/gdbm-workload-wine$n.log)"
            fi
            # the -maxmap database: the native one with the same page size
            if [ $ref = native-page64k ] && [ $ok64 = 0 ]; then
                result gdbm "wine$n" "-maxmap db" FAIL "page size $page and no 64 KiB-page reference"
            else
                same=1
                for f in remap.status remap.err remap.dump remap2.dump; do
                    cmp -s "$wl/$ref/$f" "$wl/wine$n/$f" || { same=0; echo "differs from $ref: $f" >> "$logs/gdbm-workload-wine$n.log"; }
                done
                if [ $same = 1 ]; then
                    result gdbm "wine$n" "-maxmap db = $ref" PASS "page size $page: $(head -n1 "$wl/wine$n/remap.status"); exit codes, messages, 2 dumps equal"
                else
                    result gdbm "wine$n" "-maxmap db = $ref" FAIL "page size $page; see $logs/gdbm-workload-wine$n.log"
                fi
                if [ $ref != native ]; then
                    result gdbm "wine$n" "-maxmap db vs 4 KiB" INFO "differs from native with 4 KiB pages: gdbm's bug with larger pages, not winmmap's (tests/ports/repro_remap.c)"
                fi
            fi
            # Windows-written databases read by the native (glibc) gtdump.
            if "$nat/gtdump" "$wl/wine$n/big.db" 2>/dev/null | cmp -s - "$wl/native/big.dump" \
               && "$nat/gtdump" "$wl/wine$n/sync.db" 2>/dev/null | cmp -s - "$wl/native/sync.dump" \
               && { [ $ref != native ] || "$nat/gtdump" "$wl/wine$n/remap.db" 2>/dev/null | cmp -s - "$wl/native/remap2.dump"; }; then
                result gdbm "wine$n" "db read natively" PASS "native gtdump of the Wine-written files = native dumps$( [ $ref != native ] && echo ' (big.db, sync.db)')"
            else
                result gdbm "wine$n" "db read natively" FAIL "native gtdump of $wl/wine$n/*.db differs"
            fi
            if cmp -s "$wl/native/big.db" "$wl/wine$n/big.db"; then
                result gdbm "wine$n" "db file bytes" INFO "big.db identical to the native one"
            else
                result gdbm "wine$n" "db file bytes" INFO "big.db differs from the native file (same contents, see the dumps)"
            fi
        else
            result gdbm "wine$n" workload FAIL "see $logs/gdbm-workload-wine$n.log"
        fi
    done
}

# =====================================================================
# libxml2
# =====================================================================
port_libxml2() {
    local src x=$work/libxml2 n t0 f same
    say "libxml2: fetching the Debian source package"
    src=$(fetch libxml2) && [ -n "$src" ] || { result libxml2 all fetch FAIL "apt-get source libxml2 failed ($logs/libxml2-fetch.log)"; return; }
    if grep -rIlE 'CreateFileMapping|MapViewOfFile' "$src" >/dev/null; then
        result libxml2 all "no Windows mapping code" FAIL "grep found Windows mapping code in $src"; return
    fi
    local conf=(--disable-shared --without-python --without-zlib --without-lzma --without-iconv
                --without-icu --without-http --without-ftp)
    # Debian's patches leave Makefile.am newer than Makefile.in: tell make
    # not to rerun automake (the shipped Makefile.in is used as it is).
    local mk=(ACLOCAL=true AUTOMAKE=true AUTOCONF=true AUTOHEADER=true)
    mkdir -p "$x"
    native_build libxml2 "$x" "configure + make xmllint testSchemas testRelax" \
        make -j$jobs "${mk[@]}" xmllint testSchemas testRelax || return
    win_configure libxml2 "$x" || return
    if grep -q '^#define HAVE_MMAP 1' "$x/win/config.h" && grep -q '^#define HAVE_MUNMAP 1' "$x/win/config.h"; then
        result libxml2 windows "configure sees mmap" PASS "config.h: HAVE_MMAP 1, HAVE_MUNMAP 1"
    else
        result libxml2 windows "configure sees mmap" FAIL "config.h lacks HAVE_MMAP/HAVE_MUNMAP"; return
    fi
    if (cd "$x/win" && make -j$jobs "${mk[@]}" xmllint.exe testSchemas.exe testRelax.exe) > "$logs/libxml2-win-build.log" 2>&1; then
        result libxml2 windows build PASS "xmllint.exe testSchemas.exe testRelax.exe"
    else
        result libxml2 windows build FAIL "see $logs/libxml2-win-build.log"; return
    fi
    # Workload: every .xml file of the source tree outside debian/ and .pc/
    # (quilt's copies, some empty) -- 24 in 2.9.14+dfsg, the largest the
    # 1.3 MB API description, two not well-formed (doc/examples/tst.xml and
    # an os400 file), so xmllint exits 1 everywhere -- parsed from a mapping
    # and written out again, plain and --format'ed, in one process each; the
    # schema tests' instances validated from mappings (the dfsg source keeps
    # only 2 of them).  stdout, stderr and exit status must be the native ones.
    xml_workload() { # platform runner...
        local p=$1; shift
        local d=$x/out/$p files
        rm -rf "$d" && mkdir -p "$d"
        files=$(cd "$src" && find . -name '*.xml' -not -path './debian/*' -not -path './.pc/*' | LC_ALL=C sort)
        (
            cd "$src" || exit 1
            "$@" xmllint --memory $files > "$d/plain.out" 2> "$d/plain.err"; echo "xmllint: $?" > "$d/status"
            "$@" xmllint --memory --format $files > "$d/format.out" 2> "$d/format.err"; echo "xmllint --format: $?" >> "$d/status"
            for xsd in test/schemas/*.xsd; do
                "$@" testSchemas --memory "$xsd" "${xsd%.xsd}.xml" >> "$d/schemas.out" 2>&1; echo "testSchemas $xsd: $?" >> "$d/status"
            done
        ) > "$logs/libxml2-workload-$p.log" 2>&1
        echo "$files" | wc -w > "$d/nfiles"
    }
    local nat=$x/native
    native_x() { local prog=$1; shift; "$nat/$prog" "$@"; }
    say "libxml2: workload, native"
    xml_workload native native_x
    result libxml2 native workload PASS "xmllint --memory over $(cat "$x/out/native/nfiles") files: $(tr '\n' ' ' < "$x/out/native/status")"
    for n in $wines; do
        say "libxml2: workload, Wine $n"
        wine_x() { local prog=$1; shift; wine_run "$XL_WINE" "$x/win/$prog.exe" "$@"; }
        t0=$(date +%s%N)
        XL_WINE=$n xml_workload "wine$n" wine_x
        same=1
        for f in plain.out plain.err format.out format.err schemas.out status; do
            cmp -s "$x/out/native/$f" "$x/out/wine$n/$f" || { same=0; echo "differs: $f" >> "$logs/libxml2-workload-wine$n.log"; }
        done
        if [ $same = 1 ]; then
            result libxml2 "wine$n" workload PASS "outputs, messages, exit codes equal native, byte for byte ($(wc -c < "$x/out/native/plain.out") + $(wc -c < "$x/out/native/format.out") bytes; $(secs_since "$t0")s)"
        else
            result libxml2 "wine$n" workload FAIL "outputs differ from native (see $logs/libxml2-workload-wine$n.log)"
        fi
    done
}

port_gdbm
port_libxml2

echo
echo "==================== ports summary ===================="
printf '%-6s %-8s %-24s %-5s %s\n' package platform check state detail
for l in "${summary[@]}"; do echo "$l"; done
echo "logs: $logs"
if [ $failures -eq 0 ]; then
    echo "ports: all checks passed"
else
    echo "ports: $failures check(s) FAILED"
    exit 1
fi
