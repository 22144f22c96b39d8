/*
 * What the per-board C code (board/<board>/board.c) and the shared Cortex-M code
 * (board/common/cortexm.c) provide to each other, and what Swift calls (board/swift/).
 */
#ifndef CORTEXM_H
#define CORTEXM_H
#include <stdint.h>

/* Per board (board/<board>/board.c). */
void board_init(void);                 /* console UART on, before main */
void board_uart_putc(uint8_t byte);    /* blocking write of one byte to the console UART */
extern const uint32_t board_core_hz;   /* core clock, for the SysTick reload */
extern const char board_name[];

/* The modem UART, for board/modem-demo: mps2-an386's UART1; the micro:bit's only UART, whose
 * console output then goes through semihosting.
 * Received bytes go into a ring buffer from the UART's receive interrupt, so that WFI wakes up
 * as they arrive and none are lost while the firmware is busy. */
void board_modem_init(void);                                    /* per board */
void board_modem_write(const uint8_t *bytes, uint32_t count);  /* per board; blocking */
uint32_t board_modem_read(uint8_t *buffer, uint32_t capacity);   /* shared: what has arrived, at once */
uint32_t board_modem_overruns(void);                            /* shared: bytes lost (ring full) */
void modem_ring_reset(void);                                    /* shared, for board_modem_init */
void modem_ring_push(uint8_t byte);                             /* shared, for the receive interrupt */
void modem_set_receive_handler(void (*handler)(void));          /* shared: what the interrupt runs */
void modem_uart_interrupt(void);                                /* shared: the vector table's entry */
void semihost_putc(uint8_t byte);  /* console output through the debugger (SYS_WRITEC), for boards
                                      whose only UART becomes the modem line */

/* Shared (board/common/cortexm.c), called from Swift through @_extern(c). */
int64_t board_millis(void);            /* milliseconds since reset, from SysTick */
void board_wait_for_interrupt(void);   /* WFI: sleeps until the next interrupt (at most 1 ms) */
uint32_t board_stack_used(void);       /* stack high-water mark so far, in bytes */
void board_stack_repaint(void);        /* paint the stack below the caller again: the high-water mark starts over from there */
uint32_t board_stack_size(void);       /* bytes between the end of .bss/.heap and the stack top */
const char *board_get_name(void);
void board_exit(int status) __attribute__((noreturn));  /* semihosting exit: QEMU's status */

/* Exception handlers the per-board vector tables point at. */
void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
void SysTick_Handler(void);

/* From the linker script (board/common/cortexm.ld). */
extern uint32_t __stack_top[];
#endif
