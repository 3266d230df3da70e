# The libbpf-compatible C API (tests/compat): its object, built Linux libbpf style, the unit tests' link to
# embpf::compat, and a C program that uses the header from C.
# Included by tests/CMakeLists.txt, so CMAKE_CURRENT_BINARY_DIR is that of tests/.

set(EMBPF_TEST_COMPAT_DIR "${CMAKE_CURRENT_BINARY_DIR}/compat_objects")
embpf_add_bpf_object(compat_object SOURCE "${CMAKE_CURRENT_LIST_DIR}/objects/compat.c"
                     OUTPUT "${EMBPF_TEST_COMPAT_DIR}/compat.o" NO_PLUGIN_HEADERS)
add_custom_target(embpf_compat_test_objects DEPENDS ${compat_object})
add_dependencies(embpf_tests embpf_compat_test_objects)
target_link_libraries(embpf_tests PRIVATE embpf::compat)
target_compile_definitions(embpf_tests PRIVATE EMBPF_TEST_COMPAT_DIR="${EMBPF_TEST_COMPAT_DIR}")

# The header compiles as C (C11, every warning an error) and a C host loads, attaches and reads maps through it.
enable_language(C)
add_executable(embpf_compat_c_host ${CMAKE_CURRENT_LIST_DIR}/c_host.c)
set_target_properties(embpf_compat_c_host PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_compile_options(embpf_compat_c_host PRIVATE -Wall -Wextra -Wpedantic -Werror)
target_link_libraries(embpf_compat_c_host PRIVATE embpf::compat)
add_dependencies(embpf_compat_c_host embpf_compat_test_objects)
add_test(NAME compat_c_host COMMAND embpf_compat_c_host ${EMBPF_TEST_COMPAT_DIR}/compat.o)
set_tests_properties(compat_c_host PROPERTIES PASS_REGULAR_EXPRESSION
    "programs: count_packets tail_target jumper\nmaps:.*lengths.*slots.*\nretval 2, data_out\\[0\\] 0xaa\nlength 60 seen 3 times\nevents: 3\nok\n")
