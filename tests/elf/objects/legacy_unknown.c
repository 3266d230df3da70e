// A 24-byte map record, a layout no loader defined, whose extra field is not zero: refused, naming the map.
#define SEC(name) __attribute__((section(name), used))

struct odd_map_def {
    unsigned int type, key_size, value_size, max_entries, map_flags, something;
};

struct odd_map_def SEC("maps") odd = {.type = 2, .key_size = 4, .value_size = 4, .max_entries = 1, .something = 5};

SEC("socket") int prog(void* ctx) { return 0; }
