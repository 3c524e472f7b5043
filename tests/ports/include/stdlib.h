/* ports shim: random() and srandom(), which mingw-w64's <stdlib.h> lacks
 * (gdbm's test data generator num2word links them), on top of the real
 * header.  Implemented in random.c on rand(): a different sequence from
 * glibc's, which no output compared here depends on. */
#ifndef PORTS_STDLIB_H
#define PORTS_STDLIB_H
#include_next <stdlib.h>

long random(void);
void srandom(unsigned int seed);
#endif
