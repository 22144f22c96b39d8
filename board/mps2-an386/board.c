/*
 * MPS2 AN386 (Cortex-M4, `qemu-system-arm -M mps2-an386`): vector table, the CMSDK APB UART0
 * console and the UART1 modem line. Start-up, SysTick and semihosting exit are in
 * board/common/cortexm.c.
 */
#include "cortexm.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* CMSDK APB UARTs: UART0 is the console, UART1 the modem line. */
#define UART0_BASE    0x40004000u
#define UART1_BASE    0x40005000u
#define UART_DATA(base)      REG32((base) + 0x00u)
#define UART_STATE(base)     REG32((base) + 0x04u)  /* bit 0: TX buffer full, bit 1: RX buffer full */
#define UART_CTRL(base)      REG32((base) + 0x08u)  /* bit 0: TX enable, 1: RX enable, 3: RX interrupt */
#define UART_INTCLEAR(base)  REG32((base) + 0x0Cu)  /* write 1 to bit 1: clear the RX interrupt */
#define UART_BAUDDIV(base)   REG32((base) + 0x10u)
#define UART_TX_FULL  0x1u
#define UART_RX_FULL  0x2u

/* UART1's receive interrupt (QEMU's mps2: UARTn RX is IRQ 2n, TX is 2n + 1). */
#define UART1_RX_IRQ  2u
#define NVIC_ISER0    REG32(0xE000E100u)

const uint32_t board_core_hz = 25000000u;  /* AN386 system clock (QEMU: 25 MHz) */
const char board_name[] = "mps2-an386";

void board_init(void)
{
    UART_BAUDDIV(UART0_BASE) = board_core_hz / 115200u;  /* must be >= 16 */
    UART_CTRL(UART0_BASE) = 1u;                          /* TX enable; no interrupts */
}

void board_uart_putc(uint8_t byte)
{
    while (UART_STATE(UART0_BASE) & UART_TX_FULL) {
    }
    UART_DATA(UART0_BASE) = byte;
}

static void modem_receive(void)
{
    UART_INTCLEAR(UART1_BASE) = UART_RX_FULL;
    while (UART_STATE(UART1_BASE) & UART_RX_FULL)
        modem_ring_push((uint8_t)UART_DATA(UART1_BASE));
}

void board_modem_init(void)
{
    modem_set_receive_handler(modem_receive);
    modem_ring_reset();
    UART_BAUDDIV(UART1_BASE) = board_core_hz / 115200u;
    UART_CTRL(UART1_BASE) = 0x1u | 0x2u | 0x8u;  /* TX, RX, RX interrupt */
    NVIC_ISER0 = 1u << UART1_RX_IRQ;
}

void board_modem_write(const uint8_t *bytes, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        while (UART_STATE(UART1_BASE) & UART_TX_FULL) {
        }
        UART_DATA(UART1_BASE) = bytes[i];
    }
}

/* 16 core exceptions + 32 external interrupts (all Default_Handler but UART1 receive, the modem line). */
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
    [16 + UART1_RX_IRQ] = modem_uart_interrupt,
};
