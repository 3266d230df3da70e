# eBPF objects for the host API's tests: the map kinds the seeds lack (per-CPU array and hash, queue, stack, LRU hash;
# tests/api/test_typed_map.cpp), `.kconfig` externs (tests/api/test_kconfig.cpp) and callbacks
# (tests/api/test_callbacks.cpp), compiled Linux libbpf style.
# Included by tests/CMakeLists.txt, so CMAKE_CURRENT_BINARY_DIR is that of tests/.

if(NOT EMBPF_BPF_CLANG)
    message(FATAL_ERROR "the tests need clang with the BPF target (tools/install-deps.sh installs it)")
endif()

set(EMBPF_TEST_API_DIR "${CMAKE_CURRENT_BINARY_DIR}/api_objects")
embpf_add_bpf_object(typed_maps_object SOURCE "${CMAKE_CURRENT_LIST_DIR}/objects/typed_maps.c"
                     OUTPUT "${EMBPF_TEST_API_DIR}/typed_maps.o" NO_PLUGIN_HEADERS)
embpf_add_bpf_object(kconfig_object SOURCE "${CMAKE_CURRENT_LIST_DIR}/objects/kconfig.c"
                     OUTPUT "${EMBPF_TEST_API_DIR}/kconfig.o" NO_PLUGIN_HEADERS)
embpf_add_bpf_object(callbacks_object SOURCE "${CMAKE_CURRENT_LIST_DIR}/objects/callbacks.c"
                     OUTPUT "${EMBPF_TEST_API_DIR}/callbacks.o" NO_PLUGIN_HEADERS)
embpf_add_bpf_object(arrays_object SOURCE "${CMAKE_CURRENT_LIST_DIR}/objects/arrays.c"
                     OUTPUT "${EMBPF_TEST_API_DIR}/arrays.o" NO_PLUGIN_HEADERS)
embpf_add_bpf_object(fentry_object SOURCE "${CMAKE_CURRENT_LIST_DIR}/objects/fentry.c"
                     OUTPUT "${EMBPF_TEST_API_DIR}/fentry.o" NO_PLUGIN_HEADERS)
embpf_add_bpf_object(weak_externs_object SOURCE "${CMAKE_CURRENT_LIST_DIR}/objects/weak_externs.c"
                     OUTPUT "${EMBPF_TEST_API_DIR}/weak_externs.o" NO_PLUGIN_HEADERS)
embpf_add_bpf_object(host_externs_object SOURCE "${CMAKE_CURRENT_LIST_DIR}/objects/host_externs.c"
                     OUTPUT "${EMBPF_TEST_API_DIR}/host_externs.o" NO_PLUGIN_HEADERS)
embpf_add_bpf_object(read_only_packet_object SOURCE "${CMAKE_CURRENT_LIST_DIR}/objects/read_only_packet.c"
                     OUTPUT "${EMBPF_TEST_API_DIR}/read_only_packet.o" NO_PLUGIN_HEADERS)
embpf_add_bpf_object(spin_lock_object SOURCE "${CMAKE_CURRENT_LIST_DIR}/objects/spin_lock.c"
                     OUTPUT "${EMBPF_TEST_API_DIR}/spin_lock.o" NO_PLUGIN_HEADERS)
embpf_add_bpf_object(spin_lock_held_object SOURCE "${CMAKE_CURRENT_LIST_DIR}/objects/spin_lock_held.c"
                     OUTPUT "${EMBPF_TEST_API_DIR}/spin_lock_held.o" NO_PLUGIN_HEADERS)
embpf_add_bpf_object(regions_object SOURCE "${CMAKE_CURRENT_LIST_DIR}/objects/regions.c"
                     OUTPUT "${EMBPF_TEST_API_DIR}/regions.o" NO_PLUGIN_HEADERS
                     DEPENDS "${CMAKE_CURRENT_LIST_DIR}/objects/request.h")
embpf_add_bpf_object(regions_overread_object SOURCE "${CMAKE_CURRENT_LIST_DIR}/objects/regions_overread.c"
                     OUTPUT "${EMBPF_TEST_API_DIR}/regions_overread.o" NO_PLUGIN_HEADERS
                     DEPENDS "${CMAKE_CURRENT_LIST_DIR}/objects/request.h")
embpf_add_bpf_object(regions_layout_object SOURCE "${CMAKE_CURRENT_LIST_DIR}/objects/regions_layout.c"
                     OUTPUT "${EMBPF_TEST_API_DIR}/regions_layout.o" NO_PLUGIN_HEADERS)
embpf_add_bpf_object(test_double_object SOURCE "${CMAKE_CURRENT_LIST_DIR}/objects/test_double.c"
                     OUTPUT "${EMBPF_TEST_API_DIR}/test_double.o" NO_PLUGIN_HEADERS)
embpf_add_bpf_object(packet_helpers_object SOURCE "${CMAKE_CURRENT_LIST_DIR}/objects/packet_helpers.c"
                     OUTPUT "${EMBPF_TEST_API_DIR}/packet_helpers.o" NO_PLUGIN_HEADERS)
embpf_add_bpf_object(packet_nested_object SOURCE "${CMAKE_CURRENT_LIST_DIR}/objects/packet_nested.c"
                     OUTPUT "${EMBPF_TEST_API_DIR}/packet_nested.o" NO_PLUGIN_HEADERS)
embpf_add_bpf_object(aot_names_object SOURCE "${CMAKE_CURRENT_LIST_DIR}/objects/aot_names.c"
                     OUTPUT "${EMBPF_TEST_API_DIR}/aot_names.o" NO_PLUGIN_HEADERS)
embpf_add_bpf_object(verdicts_object SOURCE "${CMAKE_CURRENT_LIST_DIR}/objects/verdicts.c"
                     OUTPUT "${EMBPF_TEST_API_DIR}/verdicts.o" NO_PLUGIN_HEADERS FLAGS -Wno-unused-parameter)
add_custom_target(embpf_test_api_objects DEPENDS ${packet_nested_object} ${packet_helpers_object} ${test_double_object} ${verdicts_object} ${regions_object} ${regions_overread_object} ${regions_layout_object} ${typed_maps_object} ${kconfig_object} ${callbacks_object}
                                                 ${fentry_object} ${weak_externs_object}
                                                 ${host_externs_object} ${read_only_packet_object}
                                                 ${spin_lock_object} ${spin_lock_held_object} ${arrays_object}
                                                 ${aot_names_object})
add_dependencies(embpf_tests embpf_test_api_objects)
target_compile_definitions(embpf_tests PRIVATE EMBPF_TEST_API_DIR="${EMBPF_TEST_API_DIR}")

# A process that ends while the background compiler compiles (exit_while_compiling.cpp), ten times each way; one
# whose main thread ends with pthread_exit (whose thread_local destructors glibc never runs: under LeakSanitizer
# nothing the main thread kept may be lost with them but glibc's own list of those destructors, pthread_exit.supp); a
# fork while the compiler compiles, and one while it waits for
# work.
add_executable(embpf_exit_while_compiling ${CMAKE_CURRENT_LIST_DIR}/exit_while_compiling.cpp)
target_link_libraries(embpf_exit_while_compiling PRIVATE embpf::embpf)
embpf_set_warnings(embpf_exit_while_compiling)
add_dependencies(embpf_exit_while_compiling embpf_test_api_objects)
add_test(NAME api_exit_while_compiling
         COMMAND sh -c "for i in 1 2 3 4 5 6 7 8 9 10; do \"$0\" \"$1\" || exit 1; \"$0\" \"$1\" exit || exit 1; done; \
                        LSAN_OPTIONS=\"$LSAN_OPTIONS:suppressions=$2\" \"$0\" \"$1\" pthread_exit || exit 1; for i in 1 2 3; do \"$0\" \"$1\" fork || exit 1; \"$0\" \"$1\" fork_idle || exit 1; done"
                 $<TARGET_FILE:embpf_exit_while_compiling> ${EMBPF_TEST_API_DIR}/packet_helpers.o
                 ${CMAKE_CURRENT_LIST_DIR}/pthread_exit.supp)
set_tests_properties(api_exit_while_compiling PROPERTIES TIMEOUT 180) # a process that never ends fails it
