# Objects for the tail-call and host-helper tests of tests/api/test_tail_calls.cpp.
set(EMBPF_TEST_TAIL_DIR ${CMAKE_CURRENT_BINARY_DIR}/api_tail)
embpf_add_bpf_object(tail_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/tail_calls.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/tail_calls.o FLAGS -Wno-unused-parameter)
embpf_add_bpf_object(host_helper_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/tail/host_helper.c
                     OUTPUT ${EMBPF_TEST_TAIL_DIR}/host_helper.o FLAGS -Wno-unused-parameter)
add_custom_target(embpf_test_tail_objects DEPENDS ${tail_object} ${host_helper_object})
add_dependencies(embpf_tests embpf_test_tail_objects)
target_compile_definitions(embpf_tests PRIVATE EMBPF_TEST_TAIL_DIR="${EMBPF_TEST_TAIL_DIR}")
