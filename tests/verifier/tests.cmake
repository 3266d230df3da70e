# eBPF objects for the verifier's tests (tests/verifier/test_verifier_objects.cpp): the same cases written in C for
# eBPF for Windows with the plugin headers and for Linux with libbpf's headers.
# Included by tests/CMakeLists.txt, so CMAKE_CURRENT_BINARY_DIR is that of tests/.

if(NOT EMBPF_BPF_CLANG)
    message(FATAL_ERROR "the tests need clang with the BPF target (tools/install-deps.sh installs it)")
endif()

set(EMBPF_TEST_VERIFIER_DIR "${CMAKE_CURRENT_BINARY_DIR}/verifier_objects")
file(GLOB_RECURSE _embpf_verifier_plugin_headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/embpf/plugin/*.h)
embpf_add_bpf_object(_embpf_verifier_windows
    SOURCE "${CMAKE_CURRENT_LIST_DIR}/programs/windows_cases.c"
    OUTPUT "${EMBPF_TEST_VERIFIER_DIR}/windows_cases.o"
    DEPENDS ${_embpf_verifier_plugin_headers})
embpf_add_bpf_object(_embpf_verifier_linux
    SOURCE "${CMAKE_CURRENT_LIST_DIR}/programs/linux_cases.c"
    OUTPUT "${EMBPF_TEST_VERIFIER_DIR}/linux_cases.o"
    NO_PLUGIN_HEADERS)
embpf_add_bpf_object(_embpf_verifier_linux_seeds
    SOURCE "${CMAKE_CURRENT_LIST_DIR}/programs/linux_seeds.c"
    OUTPUT "${EMBPF_TEST_VERIFIER_DIR}/linux_seeds.o"
    NO_PLUGIN_HEADERS)
add_custom_target(embpf_test_verifier_objects
    DEPENDS ${_embpf_verifier_windows} ${_embpf_verifier_linux} ${_embpf_verifier_linux_seeds})
add_dependencies(embpf_tests embpf_test_verifier_objects)
target_compile_definitions(embpf_tests PRIVATE EMBPF_TEST_VERIFIER_DIR="${EMBPF_TEST_VERIFIER_DIR}")
