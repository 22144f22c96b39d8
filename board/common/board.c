/*
 * Board support shared by the bare-metal Swift programs under board/: things picolibc's
 * crt0 (--crt0=hosted) and semihosting layer (--oslib=semihost) do not provide.
 *
 * picolibc supplies the vector table, the startup (data/bss init, TLS, FPU enable on
 * Cortex-M4), stdio over semihosting (putchar, used by Swift's print) and exit(), which ends
 * QEMU with the program's status when run with -semihosting-config enable=on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/*
 * A Swift runtime trap (precondition failure, overflow, out-of-range index) executes `udf`,
 * which escalates to HardFault. picolibc's default handler spins forever; report and exit with
 * a distinct status instead, so a trap fails the test at once rather than at the QEMU timeout.
 */
void arm_hardfault_isr(void)
{
    fputs("board: hard fault (Swift trap?)\n", stdout);
    _exit(99);
}
