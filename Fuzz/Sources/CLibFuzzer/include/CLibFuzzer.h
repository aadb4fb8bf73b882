#ifndef TASKMASTER_FUZZ_CLIBFUZZER_H
#define TASKMASTER_FUZZ_CLIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver for programs that have their own `main` (libFuzzer 11 and later): parses
/// the libFuzzer flags in `argv` and runs `callback` on every input, exactly as libFuzzer's own
/// `main` does. Linked from the toolchain's `libclang_rt.fuzzer` by `-sanitize=fuzzer`.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
