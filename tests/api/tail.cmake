# Objects for the tail-call and host-helper tests of tests/api/test_tail_calls.cpp and test_invocation.cpp.
set(EMBPF_TEST_TAIL_DIR ${CMAKE_CURRENT_BINARY_DIR}/api_tail)
embpf_add_bpf_object(tail_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/tail_calls.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/tail_calls.o FLAGS -Wno-unused-parameter)
embpf_add_bpf_object(host_helper_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/host_helper.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/host_helper.o FLAGS -Wno-unused-parameter)
embpf_add_bpf_object(nested_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/nested.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/nested.o FLAGS -Wno-unused-parameter)
embpf_add_bpf_object(printk_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/printk.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/printk.o FLAGS -Wno-unused-parameter)
embpf_add_bpf_object(churn_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/churn.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/churn.o FLAGS -Wno-unused-parameter)
# One source, twice: the program array initialized by the object's definition, and left for the host to fill.
embpf_add_bpf_object(mixed_types_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/mixed_types.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/mixed_types.o NO_PLUGIN_HEADERS FLAGS -Wno-unused-parameter)
embpf_add_bpf_object(mixed_types_init_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/mixed_types.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/mixed_types_init.o NO_PLUGIN_HEADERS
                     FLAGS -Wno-unused-parameter -DINIT_ENTRIES)
embpf_add_bpf_object(ring_loop_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/ring_loop.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/ring_loop.o NO_PLUGIN_HEADERS FLAGS -Wno-unused-parameter)
embpf_add_bpf_object(xdp_return_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/xdp_return.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/xdp_return.o NO_PLUGIN_HEADERS)
embpf_add_bpf_object(legacy_packet_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/../isa/bpf/legacy_packet.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/legacy_packet.o NO_PLUGIN_HEADERS)
embpf_add_bpf_object(unchecked_arguments_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/unchecked_arguments.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/unchecked_arguments.o NO_PLUGIN_HEADERS FLAGS -Wno-unused-parameter)
embpf_add_bpf_object(inner_cycle_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/inner_cycle.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/inner_cycle.o NO_PLUGIN_HEADERS FLAGS -Wno-unused-parameter)
embpf_add_bpf_object(library_calls_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/library_calls.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/library_calls.o NO_PLUGIN_HEADERS FLAGS -fno-builtin)
embpf_add_bpf_object(huge_map_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/huge_map.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/huge_map.o NO_PLUGIN_HEADERS FLAGS -Wno-unused-parameter)
embpf_add_bpf_object(long_loops_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/long_loops.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/long_loops.o NO_PLUGIN_HEADERS FLAGS -Wno-unused-parameter)
embpf_add_bpf_object(helper_costs_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/helper_costs.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/helper_costs.o FLAGS -Wno-unused-parameter)
embpf_add_bpf_object(zero_seed_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/zero_seed.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/zero_seed.o FLAGS -Wno-unused-parameter)
embpf_add_bpf_object(tail_loop_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/tail_loop.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/tail_loop.o NO_PLUGIN_HEADERS)
embpf_add_bpf_object(packet_meta_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/packet_meta.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/packet_meta.o NO_PLUGIN_HEADERS)
embpf_add_bpf_object(heap_packet_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/heap_packet.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/heap_packet.o NO_PLUGIN_HEADERS)
add_custom_target(embpf_test_tail_objects DEPENDS ${tail_object} ${host_helper_object} ${nested_object} ${printk_object} ${churn_object}
                                                  ${mixed_types_object} ${mixed_types_init_object} ${ring_loop_object}
                                                  ${xdp_return_object} ${legacy_packet_object}
                                                  ${unchecked_arguments_object} ${inner_cycle_object}
                                                  ${library_calls_object} ${huge_map_object}
                                                  ${long_loops_object} ${helper_costs_object}
                                                  ${zero_seed_object} ${tail_loop_object}
                                                  ${packet_meta_object} ${heap_packet_object})
add_dependencies(embpf_tests embpf_test_tail_objects)
target_compile_definitions(embpf_tests PRIVATE EMBPF_TEST_TAIL_DIR="${EMBPF_TEST_TAIL_DIR}")
