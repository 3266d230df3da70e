# The eBPF ISA conformance suite, run through embpf-plugin as the public runner would.
set(EMBPF_CONFORMANCE_DIR "${PROJECT_SOURCE_DIR}/../shared/conformance"
    CACHE PATH "Directory of the conformance .data cases")
add_executable(embpf_conformance ${CMAKE_CURRENT_LIST_DIR}/run_conformance.cpp)
embpf_set_warnings(embpf_conformance)
if(TARGET embpf_plugin)
    add_test(NAME conformance_interpreter
             COMMAND embpf_conformance $<TARGET_FILE:embpf_plugin> ${EMBPF_CONFORMANCE_DIR} -- --engine interpreter)
    add_test(NAME conformance_interpreter_fast
             COMMAND embpf_conformance $<TARGET_FILE:embpf_plugin> ${EMBPF_CONFORMANCE_DIR} -- --mode fast)
    add_test(NAME conformance_interpreter_portable
             COMMAND embpf_conformance $<TARGET_FILE:embpf_plugin> ${EMBPF_CONFORMANCE_DIR} -- --portable-dispatch)
    set_tests_properties(conformance_interpreter conformance_interpreter_fast conformance_interpreter_portable
                         PROPERTIES SKIP_RETURN_CODE 77)
endif()
