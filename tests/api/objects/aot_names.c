// Programs whose names collide with the names generated C gives a program's static functions (x_f0), its descriptor
// (x_program), the module (module, under the default prefix) and the prelude (embpf_opaque under prefix "embpf"), and
// one whose fetch-and-add result is added to the value it added (the fold GCC 12 gets wrong).
#define SEC(name) __attribute__((section(name), used))

static unsigned long long counter_slot(unsigned long long* slot, unsigned long long value) {
    unsigned long long old = __sync_fetch_and_add(slot, value);
    return value + old;
}

SEC("socket") int x(void* ctx) {
    (void)ctx;
    return 1;
}
SEC("socket") int x_f0(void* ctx) {
    (void)ctx;
    return 2;
}
SEC("socket") int x_program(void* ctx) {
    (void)ctx;
    return 3;
}
SEC("socket") int module(void* ctx) {
    (void)ctx;
    return 4;
}
SEC("socket") int opaque(void* ctx) {
    (void)ctx;
    return 5;
}
unsigned long long total = 7; // in .data: a map's value, whose address the C reads from the environment

SEC("socket") int fetch_add_sum(void* ctx) {
    unsigned long long value = *(unsigned int*)ctx + 1000ULL; // a number the compiler cannot know
    unsigned long long sum = counter_slot(&total, value);
    return (int)(sum ^ (sum >> 32));
}
char _license[] SEC("license") = "GPL";
