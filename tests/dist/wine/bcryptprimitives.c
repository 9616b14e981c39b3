/* A stand-in for Windows' bcryptprimitives.dll, for wine 8 only (Debian's wine lacks it; Windows 10
 * and later ship it). Rust's std (>= 1.78) takes its random seeds from ProcessPrng there; this
 * forwards to RtlGenRandom (advapi32). tests/dist/run.sh builds it into the temporary wine prefix's
 * system32; it is never shipped.
 *   x86_64-w64-mingw32-gcc -shared -O2 bcryptprimitives.c bcryptprimitives.def -ladvapi32 -o bcryptprimitives.dll
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length); /* RtlGenRandom */

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
