/* ports shim: Unix I/O is binary; mingw-w64's C runtime opens files (open,
 * fopen without "b") and stdin/stdout/stderr in text mode, where write()
 * turns "\n" into "\r\n" and read() does the reverse.  That corrupts binary
 * files written with write() (gdbm's database header and buckets) and makes
 * output differ from the native build's.  This constructor makes binary the
 * default mode and switches the three standard streams to it before main()
 * runs.  Nothing refers to it, so link with -Wl,--undefined=ports_binmode
 * to pull it out of the shim library. */
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>

void ports_binmode(void);

__attribute__((constructor)) void ports_binmode(void)
{
    _fmode = _O_BINARY;
    _setmode(0, _O_BINARY);
    _setmode(1, _O_BINARY);
    _setmode(2, _O_BINARY);
}
