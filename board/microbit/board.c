/*
 * BBC micro:bit v1 (nRF51822: Cortex-M0, 256 KB flash, 16 KB RAM; `qemu-system-arm -M microbit`):
 * vector table and the nRF51 UART, which is the console, or the modem line for
 * board/modem-demo (the console then goes through semihosting). Start-up, SysTick and
 * semihosting exit are in board/common/cortexm.c.
 */
#include "cortexm.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* nRF51 UART0. */
#define UART0_BASE      0x40002000u
#define UART_STARTRX    REG32(UART0_BASE + 0x000u)
#define UART_STARTTX    REG32(UART0_BASE + 0x008u)
#define UART_RXDRDY     REG32(UART0_BASE + 0x108u)
#define UART_TXDRDY     REG32(UART0_BASE + 0x11Cu)
#define UART_INTENSET   REG32(UART0_BASE + 0x304u)  /* bit 2: RXDRDY */
#define UART_ENABLE     REG32(UART0_BASE + 0x500u)
#define UART_PSELTXD    REG32(UART0_BASE + 0x50Cu)
#define UART_PSELRXD    REG32(UART0_BASE + 0x514u)
#define UART_RXD        REG32(UART0_BASE + 0x518u)
#define UART_TXD        REG32(UART0_BASE + 0x51Cu)
#define UART_BAUDRATE   REG32(UART0_BASE + 0x524u)
#define UART0_IRQ       2u
#define NVIC_ISER0      REG32(0xE000E100u)

/* Set once the UART is the modem line: console output then goes through semihosting. */
static int uart_is_modem_line;

const uint32_t board_core_hz = 16000000u;  /* nRF51 HFCLK (QEMU: 16 MHz) */
const char board_name[] = "microbit";

void board_init(void)
{
    UART_PSELTXD = 24u;            /* micro:bit v1 USB UART TX pin (P0.24) */
    UART_BAUDRATE = 0x01D7E000u;   /* 115200 baud */
    UART_ENABLE = 4u;
    UART_STARTTX = 1u;
}

static void uart_write(uint8_t byte)
{
    UART_TXDRDY = 0u;
    UART_TXD = byte;
    while (UART_TXDRDY == 0u) {
    }
}

void board_uart_putc(uint8_t byte)
{
    if (uart_is_modem_line)
        semihost_putc(byte);
    else
        uart_write(byte);
}

static void modem_receive(void)
{
    while (UART_RXDRDY) {
        UART_RXDRDY = 0u;  /* reading RXD raises it again while more bytes wait */
        modem_ring_push((uint8_t)UART_RXD);
    }
}

void board_modem_init(void)
{
    modem_set_receive_handler(modem_receive);
    uart_is_modem_line = 1;
    modem_ring_reset();
    UART_PSELRXD = 25u;  /* micro:bit v1 USB UART RX pin (P0.25) */
    UART_INTENSET = 1u << 2;
    UART_STARTRX = 1u;
    NVIC_ISER0 = 1u << UART0_IRQ;
}

void board_modem_write(const uint8_t *bytes, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        uart_write(bytes[i]);
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
    [16 + UART0_IRQ] = modem_uart_interrupt,
};
