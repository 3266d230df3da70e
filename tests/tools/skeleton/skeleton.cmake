# embpf gen skeleton: headers generated at build time and compiled into a host. Included by tests/tools/tools.cmake
# (its `seeds`, `request_host` and `request_plugin_object`), so CMAKE_CURRENT_BINARY_DIR is that of tests/.
#   - embpf_skeleton_tests (doctest) includes the headers of skeleton_plugin.c (every kind of type the generator
#     declares), typed_maps.o, two seeds and the request hook's plugin (a platform described in JSON), checks their
#     types at compile time and loads, runs and reads each object through its header;
#   - skeleton_compile_* compile a host against the headers: under clang++ too, and with a wrong type, which must not
#     compile, the compiler naming it.
set(skeleton_dir ${CMAKE_CURRENT_BINARY_DIR}/skeletons)
embpf_add_bpf_object(skeleton_plugin_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/skeleton_plugin.c
                     OUTPUT ${skeleton_dir}/skeleton_plugin.o NO_PLUGIN_HEADERS)

set(skeleton_headers)
function(embpf_test_skeleton name object)
    cmake_parse_arguments(ARG "" "" "ARGS;DEPENDS" ${ARGN})
    set(header ${skeleton_dir}/${name}.skel.hpp)
    add_custom_command(OUTPUT ${header}
                       COMMAND embpf_cli gen skeleton ${object} --name ${name} ${ARG_ARGS} -o ${header}
                       DEPENDS embpf_cli ${object} ${ARG_DEPENDS}
                       COMMENT "Generating the skeleton ${name}.skel.hpp" VERBATIM)
    set(skeleton_headers ${skeleton_headers} ${header} PARENT_SCOPE)
endfunction()
embpf_test_skeleton(skeleton_plugin ${skeleton_plugin_object} ARGS --ring-record events=record)
embpf_test_skeleton(typed_maps ${EMBPF_TEST_API_DIR}/typed_maps.o)
embpf_test_skeleton(trace_connections ${seeds}/TraceConnections.o ARGS --platform windows)
embpf_test_skeleton(myxdp ${seeds}/myxdp_stage4.o ARGS --ring-record xdp_map=FiveTuple)
embpf_test_skeleton(request_plugin ${request_plugin_object} ARGS --platform ${request_host} DEPENDS ${request_host})

add_executable(embpf_skeleton_tests ${CMAKE_CURRENT_SOURCE_DIR}/main.cpp ${CMAKE_CURRENT_LIST_DIR}/test_skeleton.cpp
                                    ${skeleton_headers})
target_include_directories(embpf_skeleton_tests PRIVATE ${skeleton_dir} ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(embpf_skeleton_tests PRIVATE embpf::embpf doctest::doctest)
target_compile_definitions(embpf_skeleton_tests PRIVATE EMBPF_TEST_REQUEST_HOST="${request_host}")
embpf_set_warnings(embpf_skeleton_tests)
add_test(NAME skeleton_unit COMMAND embpf_skeleton_tests --force-colors=false)

# A host compiled against the headers with the project's warnings as errors: as it is (status 0), and with one type
# wrong (status 1, and the compiler's message naming the type). clang++ compiles it too where it is installed.
set(skeleton_compile ${CMAKE_CURRENT_LIST_DIR}/compile_host.cpp)
function(embpf_skeleton_compile_test name compiler)
    cmake_parse_arguments(ARG "" "FAILS_WITH" "FLAGS" ${ARGN})
    set(status 0)
    if(ARG_FAILS_WITH)
        set(status 1)
    endif()
    add_test(NAME ${name}
             COMMAND ${CMAKE_COMMAND} -DEXPECTED_EXIT=${status}
                     -P ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/../scripts/expect_exit.cmake --
                     ${compiler} -std=c++20 -fsyntax-only -Wall -Wextra -Wshadow -Werror -I${PROJECT_SOURCE_DIR}/include
                     -I${skeleton_dir} ${ARG_FLAGS} ${skeleton_compile})
    set_tests_properties(${name} PROPERTIES FAIL_REGULAR_EXPRESSION "unexpected exit status")
    if(ARG_FAILS_WITH)
        set_tests_properties(${name} PROPERTIES PASS_REGULAR_EXPRESSION "${ARG_FAILS_WITH}")
    endif()
endfunction()
embpf_skeleton_compile_test(skeleton_compile_host ${CMAKE_CXX_COMPILER})
find_program(EMBPF_TEST_CLANGXX NAMES clang++-14 clang++ DOC "clang++, to compile generated skeletons with")
if(EMBPF_TEST_CLANGXX)
    embpf_skeleton_compile_test(skeleton_compile_host_clang ${EMBPF_TEST_CLANGXX})
endif()
# Each wrong type in a call the compiler reports with the type it wanted.
embpf_skeleton_compile_test(skeleton_compile_wrong_key ${CMAKE_CXX_COMPILER} FLAGS -DWRONG_KEY FAILS_WITH "flow_key")
embpf_skeleton_compile_test(skeleton_compile_wrong_value ${CMAKE_CXX_COMPILER} FLAGS -DWRONG_VALUE
                            FAILS_WITH "flow_stats")
embpf_skeleton_compile_test(skeleton_compile_wrong_global ${CMAKE_CXX_COMPILER} FLAGS -DWRONG_GLOBAL
                            FAILS_WITH "verdict")
embpf_skeleton_compile_test(skeleton_compile_wrong_record ${CMAKE_CXX_COMPILER} FLAGS -DWRONG_RECORD
                            FAILS_WITH "record")
embpf_skeleton_compile_test(skeleton_compile_queue_lookup ${CMAKE_CXX_COMPILER} FLAGS -DWRONG_QUEUE
                            FAILS_WITH "lookup")
