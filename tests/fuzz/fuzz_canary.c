/* Canary fuzz target: crashes on the 4-byte input "SCCA" (and any input starting with it), and
 * on nothing else. Under the fuzz preset its test passes only when libFuzzer finds that crash
 * (run_fuzz.sh with SC_FUZZ_EXPECT_CRASH=1): proof that instrumentation, comparison feedback and
 * crash detection work, so a fuzz job that silently fuzzes nothing fails CI. The bytes are
 * compared one at a time so each matching prefix is new coverage. Holds no state. */
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 4 && data[0] == 'S') {
        if (data[1] == 'C') {
            if (data[2] == 'C') {
                if (data[3] == 'A') __builtin_trap();
            }
        }
    }
    return 0;
}
