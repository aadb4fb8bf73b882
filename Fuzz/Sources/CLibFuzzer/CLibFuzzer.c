// Only the declaration in include/CLibFuzzer.h; the definition comes from libFuzzer.
#include "CLibFuzzer.h"
