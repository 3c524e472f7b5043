/* ports shim: random() and srandom() for mingw-w64 (see include/stdlib.h).
 * msvcrt's rand() gives 15 bits; three calls make the 31 random() gives. */
#include <stdlib.h>

long random(void)
{
    unsigned long r = (unsigned long)rand();
    r = (r << 15) ^ (unsigned long)rand();
    r = (r << 15) ^ (unsigned long)rand();
    return (long)(r & 0x7fffffffUL);
}

void srandom(unsigned int seed)
{
    srand(seed);
}
