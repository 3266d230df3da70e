# The seed programs of examples/seeds compiled against the plugin headers (include/embpf/plugin), unchanged. The
# platform test checks their sections; later loader and verifier tests load them from EMBPF_TEST_SEEDS_DIR.
# Included by tests/CMakeLists.txt, so CMAKE_CURRENT_BINARY_DIR is that of tests/.

if(NOT EMBPF_BPF_CLANG)
    message(FATAL_ERROR "the tests need clang with the BPF target (tools/install-deps.sh installs it)")
endif()

set(EMBPF_TEST_SEEDS_DIR "${CMAKE_CURRENT_BINARY_DIR}/seeds")
file(GLOB_RECURSE _embpf_plugin_headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/embpf/plugin/*.h)
set(_embpf_seed_objects "")
foreach(seed myxdp_stage1 myxdp_stage2 myxdp_stage3 myxdp_stage4 TraceConnections)
    set(flags "")
    if(seed STREQUAL "myxdp_stage2")
        # The tutorial's second stage leaves data_end unused; it built without -Wall.
        set(flags -Wno-unused-variable)
    endif()
    embpf_add_bpf_object(object
        SOURCE "${PROJECT_SOURCE_DIR}/examples/seeds/${seed}.c"
        OUTPUT "${EMBPF_TEST_SEEDS_DIR}/${seed}.o"
        FLAGS ${flags}
        DEPENDS ${_embpf_plugin_headers} "${PROJECT_SOURCE_DIR}/examples/seeds/packets.h")
    list(APPEND _embpf_seed_objects "${object}")
endforeach()

add_custom_target(embpf_seed_objects DEPENDS ${_embpf_seed_objects})
add_dependencies(embpf_tests embpf_seed_objects)
target_compile_definitions(embpf_tests PRIVATE EMBPF_TEST_SEEDS_DIR="${EMBPF_TEST_SEEDS_DIR}")
