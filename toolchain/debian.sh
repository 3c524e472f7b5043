# Sourced by setup.sh and ports.sh: the Debian mirror this machine already
# uses (for deb-src and the trixie chroot) and its keyring, and
# ensure_deb_src, which makes `apt-get source` work.  The caller defines
# say, die and as_root.

mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\{0,1\}$/\1/p' \
           /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
[ -n "$mirror" ] || mirror=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\{0,1\}\(http[^[:space:]]*\/debian\)\/\{0,1\}[[:space:]].*/\2/p' \
           /etc/apt/sources.list 2>/dev/null | head -n1)
mirror=${mirror:-http://deb.debian.org/debian}
# apt refuses two entries for one mirror with different Signed-By values.
keyring=$(awk -v m="$mirror" '/^URIs:/ { hit = index($0, m) > 0 }
                               hit && /^Signed-By:/ { print $2; exit }' \
            /etc/apt/sources.list.d/*.sources 2>/dev/null || true)

# ensure_deb_src PACKAGE: adds a deb-src entry for the mirror (with its own
# Signed-By) when the machine has none, then updates the package lists.
ensure_deb_src() {
    apt-get source --print-uris -q "$1" >/dev/null 2>&1 && return 0
    local srcs=/etc/apt/sources.list.d/winmmap-deb-src.list
    if ! grep -rqs '^deb-src\|^Types:.*deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        say "adding a deb-src entry ($srcs) to fetch Debian's $1 source"
        echo "deb-src ${keyring:+[signed-by=$keyring] }$mirror bookworm main" | as_root tee "$srcs" >/dev/null
    fi
    as_root apt-get update -q >/dev/null || die "apt-get update failed: is the package mirror ($mirror) reachable?"
}
