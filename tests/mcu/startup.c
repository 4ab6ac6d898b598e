/* startup.c — reset and vector table for a Cortex-M4F (qemu-system-arm -M mps2-an386): no
 * vendor code, no crt0. Reset enables the FPU, copies .data from flash, zeroes .bss, calls
 * main and hands its status to the host through semihosting (io_exit). A fault prints its
 * name and exits with status 3, so a crash is a failed test, not a hang. */
#include <stdint.h>

#include "mcu_io.h"

int main(void);

/* From mcu.ld. */
extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[], _estack[];

void Reset_Handler(void);
static void fault(const char *what) {
  io_write(what);
  io_exit(3);
}
static void NMI_Handler(void) { fault("NMI\n"); }
static void HardFault_Handler(void) { fault("HardFault\n"); }
static void MemManage_Handler(void) { fault("MemManage fault\n"); }
static void BusFault_Handler(void) { fault("BusFault\n"); }
static void UsageFault_Handler(void) { fault("UsageFault\n"); }
static void Other_Handler(void) { fault("unexpected exception\n"); }

/* The first 16 words: initial stack pointer, then the system exceptions (no interrupt is
 * ever enabled, so no external vectors). */
typedef void (*handler)(void);
__attribute__((section(".isr_vector"), used)) static const struct {
  uint32_t *initial_sp;
  handler exceptions[15];
} vectors = {
    _estack,
    {Reset_Handler, NMI_Handler, HardFault_Handler, MemManage_Handler, BusFault_Handler,
     UsageFault_Handler, 0, 0, 0, 0, Other_Handler /* SVCall */, Other_Handler /* DebugMon */, 0,
     Other_Handler /* PendSV */, Other_Handler /* SysTick */},
};

#define STACK_PAINT 0x5a5aa5a5u
#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_SHCSR (*(volatile uint32_t *)0xE000ED24u)

void Reset_Handler(void) {
  /* CP10 and CP11 full access: the FPU is off after reset and the first VFP instruction would
   * fault. Nothing before this point may touch a floating-point register. */
  SCB_CPACR |= 0xFu << 20;
  /* MemManage, BusFault and UsageFault get their own handlers instead of HardFault. */
  SCB_SHCSR |= 7u << 16;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
  for (uint32_t *s = _sidata, *d = _sdata; d < _edata;) *d++ = *s++;
  for (uint32_t *d = _sbss; d < _ebss;) *d++ = 0;
  /* Paint the stack below this frame, so mcu_stack_used can find the deepest point. */
  uint32_t *sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  for (uint32_t *d = _ebss; d < sp - 16;) *d++ = STACK_PAINT;
  io_exit(main());
}

uint32_t mcu_stack_used(void) {
  const uint32_t *d = _ebss;
  while (d < _estack && *d == STACK_PAINT) d++;
  return (uint32_t)((const char *)_estack - (const char *)d);
}

uint32_t mcu_ram_static(void) {
  return (uint32_t)(((const char *)_edata - (const char *)_sdata) +
                    ((const char *)_ebss - (const char *)_sbss));
}
