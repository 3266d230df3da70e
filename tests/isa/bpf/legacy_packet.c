// Legacy packet loads as clang emits them for a socket filter: LD_ABS at constant offsets, LD_IND through a
// register. The objdump test compares our disassembly of them with llvm-objdump's.
#define SEC(name) __attribute__((section(name), used))

unsigned long long load_byte(void* skb, unsigned long long off) __asm__("llvm.bpf.load.byte");
unsigned long long load_half(void* skb, unsigned long long off) __asm__("llvm.bpf.load.half");
unsigned long long load_word(void* skb, unsigned long long off) __asm__("llvm.bpf.load.word");

SEC("socket")
int filter(void* skb) {
    unsigned long long proto = load_half(skb, 12);
    if (proto != 0x0800) {
        return 0;
    }
    unsigned long long header = (load_byte(skb, 14) & 0xf) << 2;
    unsigned long long ports = load_word(skb, 14 + header);
    return (int)(ports & 0xffff) == 53 ? -1 : (int)load_byte(skb, header + 23);
}
