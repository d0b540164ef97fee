#ifndef CACHE_HINTS_H
#define CACHE_HINTS_H

/// Asks the CPU to start loading the cache line holding `address` for reading (a hint only: it never
/// faults and changes no result). Swift has no spelling for it, and the kernels need it where the
/// hardware prefetchers cannot guess the next address in time.
static inline __attribute__((always_inline)) void cache_hint_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
