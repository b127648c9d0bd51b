/* Test-only shim for Wine 8, which lacks bcryptprimitives.dll!ProcessPrng: Rust's standard
 * library for Windows 10+ imports it, and a binary exits with code 53 before main without
 * it. Forwards to RtlGenRandom (advapi32!SystemFunction036), the generator ProcessPrng
 * replaced. Copied into the private Wine prefix by wine.sh; never shipped: real Windows
 * 10 and later have ProcessPrng. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length) {
        ULONG n = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        length -= n;
    }
    return TRUE;
}
