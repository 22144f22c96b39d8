/*
 * BBC micro:bit v1 (nRF51822: Cortex-M0, 256 KB flash, 16 KB RAM; `qemu-system-arm -M microbit`):
 * vector table and the nRF51 UART console. Start-up, SysTick and semihosting exit are in
 * board/common/cortexm.c.
 */
#include "cortexm.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* nRF51 UART0. */
#define UART0_BASE      0x40002000u
#define UART_STARTTX    REG32(UART0_BASE + 0x008u)
#define UART_TXDRDY     REG32(UART0_BASE + 0x11Cu)
#define UART_ENABLE     REG32(UART0_BASE + 0x500u)
#define UART_PSELTXD    REG32(UART0_BASE + 0x50Cu)
#define UART_TXD        REG32(UART0_BASE + 0x51Cu)
#define UART_BAUDRATE   REG32(UART0_BASE + 0x524u)

const uint32_t board_core_hz = 16000000u;  /* nRF51 HFCLK (QEMU: 16 MHz) */
const char board_name[] = "microbit";

void board_init(void)
{
    UART_PSELTXD = 24u;            /* micro:bit v1 USB UART TX pin (P0.24) */
    UART_BAUDRATE = 0x01D7E000u;   /* 115200 baud */
    UART_ENABLE = 4u;
    UART_STARTTX = 1u;
}

void board_uart_putc(uint8_t byte)
{
    UART_TXDRDY = 0u;
    UART_TXD = byte;
    while (UART_TXDRDY == 0u) {
    }
}

/* 16 core exceptions (ARMv6-M has no MemManage/BusFault/UsageFault) + 32 nRF51 interrupts. */
__attribute__((section(".vectors"), used))
void (*const vector_table[16 + 32])(void) = {
    (void (*)(void))__stack_top,
    Reset_Handler,
    Default_Handler,    /* NMI */
    HardFault_Handler,
    0, 0, 0, 0, 0, 0, 0,
    Default_Handler,    /* SVCall */
    0, 0,
    Default_Handler,    /* PendSV */
    SysTick_Handler,
    [16 ... 47] = Default_Handler,
};
