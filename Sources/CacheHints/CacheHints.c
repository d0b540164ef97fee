// The target's only contents are inline functions in include/CacheHints.h; this file exists because a
// C target needs at least one source file.
#include "CacheHints.h"
