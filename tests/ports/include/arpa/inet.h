/* ports shim: <arpa/inet.h> byte-order functions, which mingw-w64 has only
 * in winsock2.h (with -lws2_32).  Portable file formats (gdbm's binary
 * export) use htonl/ntohl; here they are plain byte swaps (x86 is
 * little-endian), with no socket library. */
#ifndef PORTS_ARPA_INET_H
#define PORTS_ARPA_INET_H
#include <stdint.h>

static inline uint32_t ports_bswap32(uint32_t x) { return __builtin_bswap32(x); }
static inline uint16_t ports_bswap16(uint16_t x) { return __builtin_bswap16(x); }
#define htonl(x) ports_bswap32(x)
#define ntohl(x) ports_bswap32(x)
#define htons(x) ports_bswap16(x)
#define ntohs(x) ports_bswap16(x)
#endif
