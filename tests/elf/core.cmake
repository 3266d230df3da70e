# eBPF objects for tests/elf/test_core.cpp: core/program.c, compiled with CO-RE relocations against its own types
# (core/local.h), and core/target_*.c, compiled only for their BTF, which lays the same types out differently.
# Included by tests/CMakeLists.txt, so CMAKE_CURRENT_BINARY_DIR is that of tests/.

if(NOT EMBPF_BPF_CLANG)
    message(FATAL_ERROR "the tests need clang with the BPF target (tools/install-deps.sh installs it)")
endif()

set(EMBPF_TEST_CORE_DIR "${CMAKE_CURRENT_BINARY_DIR}/elf/core")
file(GLOB core_headers CONFIGURE_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/core/*.h")
set(core_objects "")
foreach(name program target_v1 target_v2 target_ambiguous)
    embpf_add_bpf_object(object SOURCE "${CMAKE_CURRENT_LIST_DIR}/core/${name}.c"
                         OUTPUT "${EMBPF_TEST_CORE_DIR}/${name}.o" FLAGS -ffreestanding NO_PLUGIN_HEADERS
                         DEPENDS ${core_headers})
    list(APPEND core_objects "${object}")
endforeach()

add_custom_target(embpf_test_core_objects DEPENDS ${core_objects})
add_dependencies(embpf_tests embpf_test_core_objects)
target_compile_definitions(embpf_tests PRIVATE EMBPF_TEST_CORE_DIR="${EMBPF_TEST_CORE_DIR}")
