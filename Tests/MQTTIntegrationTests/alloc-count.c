/*
 * Counts heap allocations made by one thread between alloccount_start() and alloccount_stop().
 *
 * Loaded with LD_PRELOAD, it takes the place of malloc and friends for the whole process and
 * forwards to glibc's own implementations (__libc_malloc...), so no dlsym(RTLD_NEXT) is needed
 * (dlsym may itself allocate). Counting is per thread, so allocations made by the test
 * framework's other threads are not charged to the code under measurement.
 *
 * Built by AllocationTests.swift: cc -O2 -shared -fPIC -o liballoccount.so alloc-count.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);
extern void __libc_free(void *pointer);

static __thread int counting __attribute__((tls_model("initial-exec")));
static __thread unsigned long allocations __attribute__((tls_model("initial-exec")));
static __thread unsigned long frees __attribute__((tls_model("initial-exec")));
static __thread unsigned long bytes __attribute__((tls_model("initial-exec")));

/* ALLOC_COUNT_TRACE=n prints the stacks of the first n counted allocations to stderr. */
static void trace(void) {
    static int limit = -1;
    if (limit < 0) {
        const char *setting = getenv("ALLOC_COUNT_TRACE");
        limit = setting ? atoi(setting) : 0;
    }
    if ((long)allocations > limit) return;
    counting = 0; /* backtrace() may allocate on first use */
    void *frames[24];
    int depth = backtrace(frames, 24);
    write(2, "-- counted allocation:\n", 23);
    backtrace_symbols_fd(frames, depth, 2);
    counting = 1;
}

static inline void count(size_t size) {
    if (counting) {
        allocations++;
        bytes += size;
        trace();
    }
}

void *malloc(size_t size) { count(size); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { count(n * size); return __libc_calloc(n, size); }
void *realloc(void *pointer, size_t size) { count(size); return __libc_realloc(pointer, size); }
void *memalign(size_t alignment, size_t size) { count(size); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { count(size); return __libc_memalign(alignment, size); }
void *valloc(size_t size) { count(size); return __libc_valloc(size); }
void *pvalloc(size_t size) { count(size); return __libc_pvalloc(size); }

int posix_memalign(void **result, size_t alignment, size_t size) {
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
    count(size);
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL && size != 0) return ENOMEM;
    *result = pointer;
    return 0;
}

void free(void *pointer) {
    if (counting && pointer != NULL) frees++;
    __libc_free(pointer);
}

/* The marker the test looks up with dlsym to know the counter is in place. */
void alloccount_start(void) {
    allocations = 0;
    frees = 0;
    bytes = 0;
    counting = 1;
}

/* Stops counting on this thread; returns the allocations since alloccount_start(). */
unsigned long alloccount_stop(unsigned long *freed, unsigned long *allocated_bytes) {
    counting = 0;
    if (freed) *freed = frees;
    if (allocated_bytes) *allocated_bytes = bytes;
    return allocations;
}
