/*
 * MPS2 AN386 (Cortex-M4, `qemu-system-arm -M mps2-an386`): vector table and the CMSDK APB
 * UART0 console. Start-up, SysTick and semihosting exit are in board/common/cortexm.c.
 */
#include "cortexm.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* CMSDK APB UART0. */
#define UART0_BASE    0x40004000u
#define UART_DATA     REG32(UART0_BASE + 0x00u)
#define UART_STATE    REG32(UART0_BASE + 0x04u)  /* bit 0: TX buffer full */
#define UART_CTRL     REG32(UART0_BASE + 0x08u)  /* bit 0: TX enable */
#define UART_BAUDDIV  REG32(UART0_BASE + 0x10u)

const uint32_t board_core_hz = 25000000u;  /* AN386 system clock (QEMU: 25 MHz) */
const char board_name[] = "mps2-an386";

void board_init(void)
{
    UART_BAUDDIV = board_core_hz / 115200u;  /* must be >= 16 */
    UART_CTRL = 1u;                          /* TX enable; no interrupts */
}

void board_uart_putc(uint8_t byte)
{
    while (UART_STATE & 1u) {
    }
    UART_DATA = byte;
}

/* 16 core exceptions + 32 external interrupts (unused: all go to Default_Handler). */
__attribute__((section(".vectors"), used))
void (*const vector_table[16 + 32])(void) = {
    (void (*)(void))__stack_top,
    Reset_Handler,
    Default_Handler,    /* NMI */
    HardFault_Handler,
    Default_Handler,    /* MemManage */
    Default_Handler,    /* BusFault */
    Default_Handler,    /* UsageFault */
    0, 0, 0, 0,
    Default_Handler,    /* SVCall */
    Default_Handler,    /* DebugMonitor */
    0,
    Default_Handler,    /* PendSV */
    SysTick_Handler,
    [16 ... 47] = Default_Handler,
};
