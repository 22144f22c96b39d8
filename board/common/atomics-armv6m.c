/*
 * ARMv6-M (Cortex-M0/M0+) has no exclusive load/store, so the compiler lowers Swift's atomic
 * operations (reference counting, swift_once) to calls to these libatomic functions. On a
 * single-core part, masking interrupts around a plain load/modify/store is enough.
 *
 * Only linked for armv6m; with --gc-sections any that nothing calls cost no flash.
 */
#include <stdbool.h>
#include <stdint.h>

static inline uint32_t irq_save(void)
{
    uint32_t primask;
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask) : : "memory");
    return primask;
}

static inline void irq_restore(uint32_t primask)
{
    __asm__ volatile("msr primask, %0" : : "r"(primask) : "memory");
}

uint32_t __atomic_load_4(const volatile void *ptr, int order)
{
    (void)order;
    uint32_t flags = irq_save();
    uint32_t value = *(const volatile uint32_t *)ptr;
    irq_restore(flags);
    return value;
}

void __atomic_store_4(volatile void *ptr, uint32_t value, int order)
{
    (void)order;
    uint32_t flags = irq_save();
    *(volatile uint32_t *)ptr = value;
    irq_restore(flags);
}

uint32_t __atomic_exchange_4(volatile void *ptr, uint32_t value, int order)
{
    (void)order;
    uint32_t flags = irq_save();
    uint32_t old = *(volatile uint32_t *)ptr;
    *(volatile uint32_t *)ptr = value;
    irq_restore(flags);
    return old;
}

uint32_t __atomic_fetch_add_4(volatile void *ptr, uint32_t value, int order)
{
    (void)order;
    uint32_t flags = irq_save();
    uint32_t old = *(volatile uint32_t *)ptr;
    *(volatile uint32_t *)ptr = old + value;
    irq_restore(flags);
    return old;
}

uint32_t __atomic_fetch_sub_4(volatile void *ptr, uint32_t value, int order)
{
    (void)order;
    uint32_t flags = irq_save();
    uint32_t old = *(volatile uint32_t *)ptr;
    *(volatile uint32_t *)ptr = old - value;
    irq_restore(flags);
    return old;
}

bool __atomic_compare_exchange_4(volatile void *ptr, void *expected, uint32_t desired,
                                 bool weak, int success, int failure)
{
    (void)weak; (void)success; (void)failure;
    uint32_t flags = irq_save();
    uint32_t current = *(volatile uint32_t *)ptr;
    bool equal = current == *(uint32_t *)expected;
    if (equal)
        *(volatile uint32_t *)ptr = desired;
    else
        *(uint32_t *)expected = current;
    irq_restore(flags);
    return equal;
}
