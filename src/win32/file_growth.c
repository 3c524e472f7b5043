/* Mapped files whose size changes behind their mappings. */
#include "internal.h"

bool wm_resolve_past_eof(uintptr_t addr)
{
    (void)addr;
    return false; /* replaced by the shared-memory/file life-cycle work (issue 8) */
}
