// The same store into the packet in a hook that hands over a read-only packet (lwt_in, as Linux's) and in one whose
// packet the program may write (lwt_xmit).
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

char LICENSE[] SEC("license") = "GPL";

static __always_inline int mark_first_byte(struct __sk_buff* skb) {
    unsigned char* data = (unsigned char*)(long)skb->data;
    unsigned char* end = (unsigned char*)(long)skb->data_end;
    if (data + 1 > end) {
        return 2;
    }
    data[0] = 7;
    return 0;
}

SEC("lwt_in")
int write_in(struct __sk_buff* skb) { return mark_first_byte(skb); }

SEC("lwt_xmit")
int write_xmit(struct __sk_buff* skb) { return mark_first_byte(skb); }
