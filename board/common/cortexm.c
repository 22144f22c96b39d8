/*
 * Start-up and services shared by the Cortex-M boards (mps2-an386: Cortex-M4, microbit:
 * Cortex-M0). Our own start-up, not picolibc's crt0: the vector tables are in
 * board/<board>/board.c, the memory layout in board/<board>/link.ld + board/common/cortexm.ld.
 *
 * Reset_Handler: copies .data from flash, zeroes .bss, paints the stack (to measure its
 * high-water mark), enables the FPU on Cortex-M4, starts SysTick at 1 kHz, calls board_init()
 * and main(), and ends QEMU through semihosting with main's return value as exit status.
 *
 * No heap: nothing in the firmware calls malloc (the build checks that no allocator is linked).
 * No TLS: nothing uses errno or other thread-locals (the linker script asserts .tdata/.tbss
 * are empty, so _set_tls is not needed).
 */
#include "cortexm.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* System control space. */
#define SYST_CSR  REG32(0xE000E010u)
#define SYST_RVR  REG32(0xE000E014u)
#define SYST_CVR  REG32(0xE000E018u)
#define SCB_CPACR REG32(0xE000ED88u)

#define STACK_PAINT 0xA5A5A5A5u

extern uint32_t __data_source[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_limit[];  /* lowest address the stack may grow to (end of .bss) */

int main(void);

static volatile uint32_t ticks_low;   /* milliseconds, low word; written only by SysTick */
static volatile uint32_t ticks_high;  /* carries of ticks_low */

void SysTick_Handler(void)
{
    uint32_t next = ticks_low + 1;
    if (next == 0)
        ticks_high = ticks_high + 1;
    ticks_low = next;
}

int64_t board_millis(void)
{
    uint32_t high, low;
    do {  /* re-read if SysTick carried in between (no 64-bit atomic load on Cortex-M) */
        high = ticks_high;
        low = ticks_low;
    } while (high != ticks_high);
    return (int64_t)(((uint64_t)high << 32) | low);
}

void board_wait_for_interrupt(void)
{
    __asm__ volatile("wfi" ::: "memory");
}

static inline int semihost(int operation, void *argument)
{
    register int r0 __asm__("r0") = operation;
    register void *r1 __asm__("r1") = argument;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void board_exit(int status)
{
    /* SYS_EXIT_EXTENDED (0x20): ADP_Stopped_ApplicationExit with a status code, which QEMU
     * makes its own exit status. (Plain SYS_EXIT on 32-bit Arm cannot carry a status.) */
    volatile uint32_t block[2] = {0x20026u, (uint32_t)status};
    semihost(0x20, (void *)block);
    for (;;)
        __asm__ volatile("wfi");
}

void semihost_putc(uint8_t byte)
{
    volatile uint8_t c = byte;
    semihost(0x03, (void *)&c);  /* SYS_WRITEC */
}

/* The modem line's receive ring: written by the board's receive interrupt, read by
 * board_modem_read. The firmware drains it into its frame reader while it waits, so it only has
 * to absorb what arrives between two reads. */
#define MODEM_RING_SIZE 1024u  /* a power of two */
static uint8_t modem_ring[MODEM_RING_SIZE];
static volatile uint32_t modem_head;  /* next write (interrupt) */
static volatile uint32_t modem_tail;  /* next read (firmware) */
static volatile uint32_t modem_overruns;

void modem_ring_reset(void)
{
    modem_head = modem_tail = 0;
    modem_overruns = 0;
}

void modem_ring_push(uint8_t byte)
{
    uint32_t head = modem_head;
    if (head - modem_tail == MODEM_RING_SIZE) {
        modem_overruns++;
        return;
    }
    modem_ring[head & (MODEM_RING_SIZE - 1u)] = byte;
    modem_head = head + 1u;
}

uint32_t board_modem_read(uint8_t *buffer, uint32_t capacity)
{
    uint32_t tail = modem_tail, head = modem_head, n = 0;
    while (tail != head && n < capacity)
        buffer[n++] = modem_ring[tail++ & (MODEM_RING_SIZE - 1u)];
    modem_tail = tail;
    return n;
}

uint32_t board_modem_overruns(void) { return modem_overruns; }

/* The boards' vector tables point at modem_uart_interrupt; it reaches the receive code only
 * through this pointer, set by board_modem_init, so a firmware that never uses the modem links
 * neither that code nor the ring. */
static void (*volatile modem_receive_handler)(void);

void modem_set_receive_handler(void (*handler)(void)) { modem_receive_handler = handler; }

void modem_uart_interrupt(void)
{
    if (modem_receive_handler)
        modem_receive_handler();
}

/* Swift's print() writes through putchar. */
int putchar(int c)
{
    if (c == '\n')
        board_uart_putc('\r');
    board_uart_putc((uint8_t)c);
    return c;
}

static void puts_raw(const char *s)
{
    while (*s)
        putchar(*s++);
}

static void put_hex(uint32_t v)
{
    for (int shift = 28; shift >= 0; shift -= 4)
        putchar("0123456789abcdef"[(v >> shift) & 0xF]);
}

/* A Swift trap (precondition, overflow, bounds check) is a `udf`, which ends up here. */
void hardfault_report(uint32_t *frame)
{
    puts_raw("\nboard: hard fault (Swift trap?) pc=0x");
    put_hex(frame[6]);
    puts_raw(" lr=0x");
    put_hex(frame[5]);
    puts_raw("\n");
    board_exit(99);
}

__attribute__((naked)) void HardFault_Handler(void)
{
    __asm__ volatile(
        "mrs r0, msp\n"
        "ldr r1, =hardfault_report\n"
        "bx r1\n"
        ".ltorg\n");
}

/* Swift's stack protector (on by default). Ours, so that picolibc's (abort, signals, errno
 * in thread-local storage) is not linked. */
uint32_t __stack_chk_guard = 0x5EED5EEDu;

void __stack_chk_fail(void)
{
    puts_raw("\nboard: stack smashing detected\n");
    board_exit(97);
}

void Default_Handler(void)
{
    puts_raw("\nboard: unexpected exception\n");
    board_exit(98);
}

uint32_t board_stack_size(void)
{
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)__stack_limit);
}

uint32_t board_stack_used(void)
{
    const uint32_t *p = __stack_limit;
    while (p < __stack_top && *p == STACK_PAINT)
        p++;
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}

const char *board_get_name(void) { return board_name; }

__attribute__((noinline)) static void paint_stack(void)
{
    /* Everything below this function's own frame (with a margin) is still unused. */
    uint32_t *top = (uint32_t *)__builtin_frame_address(0) - 16;
    for (uint32_t *p = __stack_limit; p < top; p++)
        *p = STACK_PAINT;
}

void board_stack_repaint(void) { paint_stack(); }

void Reset_Handler(void)
{
    for (uint32_t *s = __data_source, *d = __data_start; d < __data_end;)
        *d++ = *s++;
    for (uint32_t *d = __bss_start; d < __bss_end;)
        *d++ = 0;
    paint_stack();
#ifdef __ARM_FP
    SCB_CPACR |= 0xFu << 20;  /* CP10/CP11 full access: the softfp code may use the FPU */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    board_init();
    SYST_RVR = board_core_hz / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = 7;  /* processor clock, interrupt, enable */
    board_exit(main());
}
