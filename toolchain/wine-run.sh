#!/bin/bash
# Runs a Windows program under Wine, for ctest (CMAKE_CROSSCOMPILING_EMULATOR)
# and the demo.  WINMMAP_WINE=8 uses Debian bookworm's wine64; WINMMAP_WINE=10
# uses Debian trixie's, in the chroot toolchain/setup.sh provisions.
#
# Each Wine gets a private prefix, WINMMAP_PREFIX_DIR/wineprefix<N> (default:
# the current directory, i.e. the build tree under ctest), and one persistent
# wineserver that exits 30 s after its last program, so a test session starts
# Wine once.  The program's exit status is passed through.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${WINMMAP_CACHE:-$(dirname "$here")/.cache}
wine=${WINMMAP_WINE:-8}
die() { echo "wine-run.sh: $*" >&2; exit 125; }

[ $# -ge 1 ] || die "usage: [WINMMAP_WINE=8|10] wine-run.sh PROGRAM.exe [ARGS...]"
exe=$(realpath "$1") || die "no such program: $1"
shift
prefix=$(realpath -m "${WINMMAP_PREFIX_DIR:-$PWD}/wineprefix$wine")
mkdir -p "$prefix" || die "cannot create the Wine prefix $prefix"
# Quiet, no Mono/Gecko installers on first start of a prefix, and no
# debugger on a crash: the process ends with the exception code, as on Windows.
# WINMMAP_WINEDEBUG replaces -all when Wine's own traces are wanted.
export WINEDEBUG=${WINMMAP_WINEDEBUG:--all} WINEPREFIX=$prefix WINEDLLOVERRIDES="mscoree,mshtml=;winedbg.exe=d"
# Wine 10 wants a private runtime directory (else it says "XDG_RUNTIME_DIR is
# invalid" in the program's output).
export XDG_RUNTIME_DIR=$prefix.xdg
mkdir -p -m 700 "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR" || die "cannot create $XDG_RUNTIME_DIR"

case $wine in
8)
    [ -x /usr/lib/wine/wine64 ] || die "Wine 8 is not installed; run toolchain/setup.sh"
    server=/usr/lib/wine/wineserver64
    [ -x "$server" ] || server=/usr/lib/wine/wineserver
    wine_do() {
        # The server must not inherit our stdout: ctest would wait for it to exit.
        "$server" -p30 </dev/null >/dev/null 2>&1
        "$@"
    }
    winebin=/usr/lib/wine/wine64
    ;;
10)
    root=$cache/wine10-root
    [ -x "$root/usr/lib/wine/wine64" ] || die "Wine 10 is not set up in $root; run toolchain/setup.sh"
    # A private mount namespace: /proc, /dev and every top-level directory of
    # the host that is not part of the system (/work, /tmp, /root, /home, ...)
    # appear inside the chroot at their own paths and vanish with it.  The
    # persistent wineserver keeps the namespace of the call that started it
    # and opens programs by path there, so every call mounts the same set:
    # a program anywhere outside the system directories starts at any time.
    dirs=$(for d in /*/; do
               d=${d%/}
               case $d in
               /bin|/boot|/dev|/etc|/lib|/lib32|/lib64|/libx32|/lost+found|/proc|/run|/sbin|/sys|/usr|/var) ;;
               *) [ -L "$d" ] || echo "$d" ;;
               esac
           done)
    wine_do() {
        unshare --mount --propagation private /bin/bash -c '
            set -e
            root=$1 dirs=$2 cwd=$3
            shift 3
            mount -t proc proc "$root/proc"
            mount --rbind /dev "$root/dev"
            while read -r d; do
                mkdir -p "$root$d"
                mount --rbind "$d" "$root$d"
            done <<<"$dirs"
            exec chroot "$root" /bin/sh -c "cd \"\$0\" &&
                /usr/lib/wine/wineserver -p30 </dev/null >/dev/null 2>&1; exec \"\$@\"" "$cwd" "$@"
        ' wine10 "$root" "$dirs" "$PWD" "$@"
    }
    winebin=/usr/lib/wine/wine64
    ;;
*) die "WINMMAP_WINE must be 8 or 10, not '$wine'" ;;
esac

# Create the prefix once, quietly, and not twice at the same time.
if [ ! -f "$prefix/.winmmap-ready" ]; then
    (
        flock 9
        if [ ! -f "$prefix/.winmmap-ready" ]; then
            wine_do "$winebin" wineboot -i >/dev/null 2>&1 || die "wineboot failed in $prefix"
            touch "$prefix/.winmmap-ready"
        fi
    ) 9>"$prefix.lock" || exit 125
fi
# The program writes into files, copied out when it ends: Wine's system
# processes (services.exe, a wineserver started to replace one that was
# exiting) inherit its stdout and stderr and live until the server's 30 s
# linger ends, so a caller reading a pipe (ctest, $(...)) would wait for them.
# Wine's own messages (stderr) come first: the program's last line stays last.
out=$(mktemp "${TMPDIR:-/tmp}/wine-run.XXXXXX") || die "cannot create a temporary file"
finish() { cat "$out.err" >&2; cat "$out"; rm -f "$out" "$out.err"; }
trap finish EXIT
trap 'exit 143' TERM INT
wine_do "$winebin" "$exe" "$@" >"$out" 2>"$out.err"
